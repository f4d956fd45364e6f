"""Hinton's KD against a compact (top-k) teacher cache: the `k` largest logits plus one "rest".

A cache of every logit costs `4 * classes` bytes per example; for 1000 classes a top-k cache
stores `k` float16 logits, their `k` int32 classes and two float16 numbers summarising the other
`n = classes - k` logits (`keras_distill.data.teacher_outputs.top_k_outputs`):

    mu = mean(t_rest),    b = log(mean(exp(t_rest)))

which for k = 10 is 64 bytes, 1.6% of float32's 4000.

The approximation. Both distributions are *folded* onto k + 1 buckets: the top-k classes and
one bucket holding every other class, and the loss is `T^2 * KL(p_folded || q_folded)`:

    p_i    = exp(t_i / T) / Z_T,   i in top-k
    p_rest = R_T / Z_T,            Z_T = sum_i exp(t_i / T) + R_T
    q_i, q_rest: the student's softmax(s / T), its rest the mass outside the teacher's top-k
                 (exact: the student's full logits are at hand)

`R_T = sum_rest exp(t_j / T)` needs the rest logits at the current temperature, which change
with `T` (a tuner samples T; the cache is shared). Writing `f(p) = log(mean(exp(p * t_rest)))`
with `p = 1 / T`, `f` is convex with `f(0) = 0`, `f'(0) = mu` and `f(1) = b`; the loss uses the
quadratic through these,

    log R_T ~= log(n) + mu / T + (b - mu) / T^2,

which is exact at `T = 1`, exact to first order as `T -> inf`, and exact at every `T` when the
rest logits are normally distributed (the log-normal moment). Consequences:
  * The folded KL is at most the full KL (folding loses information) and equals it when the
    student's relative probabilities inside the rest bucket match the teacher's: the student
    learns the teacher's top-k and how much mass lies outside it, not how that mass is spread.
  * The student's gradient is exact for the folded objective; only `R_T` is approximated.
"""

import tensorflow as tf


def top_k_kd_loss(top_k_logits, top_k_indices, rest, student_logits, temperature=3.0):
    """`T^2 * KL` between the folded teacher and student distributions (see the module).

    Args:
        top_k_logits: `[batch, ..., k]`, the teacher's k largest logits.
        top_k_indices: `[batch, ..., k]` integer classes of `top_k_logits`.
        rest: `[batch, ..., 2]`: the mean and the log-mean-exp of the teacher's other logits.
        student_logits: `[batch, ..., classes]`, the student's logits (`classes > k`).
        temperature: Positive number or scalar tensor. Defaults to `3.0`.

    Returns:
        Tensor `[batch, ...]`: the per-example loss, in float32.

    Example:

    >>> t = tf.constant([[2.0, 1.0, 0.1, -1.0]])
    >>> s = tf.constant([[1.0, 0.5, 0.2, 0.0]])
    >>> values, indices = tf.math.top_k(t, 3)
    >>> rest = tf.constant([[-1.0, -1.0]])  # One rest logit: its mean and log-mean-exp.
    >>> round(float(top_k_kd_loss(values, indices, rest, s, 2.0)[0]), 4)
    0.2242
    >>> from keras_distill.losses import kd_loss
    >>> round(float(kd_loss(t, s, 2.0)[0]), 4)  # The same: one rest class folds nothing.
    0.2242
    """
    temperature = tf.cast(temperature, tf.float32)
    student_logits = tf.cast(student_logits, tf.float32) / temperature
    top_k_logits = tf.cast(top_k_logits, tf.float32) / temperature
    top_k_indices = tf.cast(top_k_indices, tf.int32)
    rest = tf.cast(rest, tf.float32)
    classes = tf.shape(student_logits)[-1]
    rest_count = tf.cast(classes - tf.shape(top_k_indices)[-1], tf.float32)
    mean, log_mean_exp = rest[..., 0], rest[..., 1]
    log_rest = (tf.math.log(rest_count) + mean / temperature
                + (log_mean_exp - mean) / tf.square(temperature))
    teacher = tf.nn.log_softmax(tf.concat([top_k_logits, log_rest[..., None]], axis=-1), axis=-1)

    log_norm = tf.reduce_logsumexp(student_logits, axis=-1, keepdims=True)
    student_top = tf.gather(student_logits, top_k_indices, batch_dims=top_k_indices.shape.rank - 1)
    in_top = tf.reduce_any(tf.cast(tf.one_hot(top_k_indices, classes), tf.bool), axis=-2)
    student_rest = tf.reduce_logsumexp(
        tf.where(in_top, tf.constant(float("-inf")), student_logits), axis=-1, keepdims=True)
    student = tf.concat([student_top, student_rest], axis=-1) - log_norm
    kl = tf.reduce_sum(tf.exp(teacher) * (teacher - student), axis=-1)
    return tf.square(temperature) * kl
