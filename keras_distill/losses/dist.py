"""DIST (Huang et al., "Knowledge Distillation from A Stronger Teacher", NeurIPS 2022).

DIST matches *relations* of the softened predictions instead of their values, with the Pearson
correlation `rho`:

    inter = 1 - rho(p_t[i, :], p_s[i, :])       per example, over the classes
    intra = 1 - mean_c rho(p_t[:, c], p_s[:, c])  per class, over the batch
    DIST  = T^2 * (beta * inter + gamma * intra)

`p = softmax(z / T)`. The `T^2` factor, `eps=1e-8` in the correlation's denominator and the
defaults `beta = gamma = tau = 1` follow the official code (github.com/hunto/DIST_KD,
`dist_kd.py`); the paper's ImageNet runs use `tau = 1`.
"""

import keras
import tensorflow as tf

from keras_distill import validation
from keras_distill.losses import logits as logit_losses
from keras_distill.losses import registry

_EPSILON = 1e-8


def _safe_norm(x, axis):
    # sqrt(max(., tiny)) keeps the gradient finite when x is all zeros (uniform probabilities,
    # a one-example batch); the official code relies on PyTorch's subgradient 0 there.
    return tf.sqrt(tf.maximum(tf.reduce_sum(tf.square(x), axis=axis), 1e-30))


def pearson_correlation(a, b, axis=-1):
    """Pearson correlation of `a` and `b` along `axis`, `cov / (std_a * std_b + 1e-8)`.

    Example:

    >>> round(float(pearson_correlation([[1.0, 2.0, 3.0]], [[2.0, 4.0, 7.0]])[0]), 4)
    0.9934
    """
    a = tf.cast(a, tf.float32)
    b = tf.cast(b, tf.float32)
    a = a - tf.reduce_mean(a, axis=axis, keepdims=True)
    b = b - tf.reduce_mean(b, axis=axis, keepdims=True)
    return tf.reduce_sum(a * b, axis=axis) / (
        _safe_norm(a, axis) * _safe_norm(b, axis) + _EPSILON
    )


def dist_loss(teacher_logits, student_logits, temperature=1.0, beta=1.0, gamma=1.0):
    """DIST, `T^2 * (beta * inter + gamma * intra)`, per example.

    The intra-class relation is a property of the whole batch: its one value is broadcast to
    every example, so the batch mean of the result is the official loss and per-example sample
    weights still apply. For outputs `[batch, time, classes]` every (example, step) counts as a
    row of the batch. Under a `tf.distribute` strategy the intra-class term is computed within
    each replica's share of the batch.

    Args:
        teacher_logits: Tensor `[batch, ..., classes]`.
        student_logits: Tensor of the same shape.
        temperature: Positive number or scalar tensor `tau`. Defaults to `1.0`.
        beta: Weight of the inter-class relation. Defaults to `1.0`.
        gamma: Weight of the intra-class relation. Defaults to `1.0`.

    Returns:
        Float32 tensor `[batch, ...]`.

    Example:

    >>> t = [[3.0, 1.0, 0.0], [0.0, 2.0, 1.0]]
    >>> [round(float(v), 6) for v in dist_loss(t, t)]  # identical predictions: no loss
    [0.0, 0.0]
    """
    temperature = tf.cast(temperature, tf.float32)
    teacher_probs = tf.nn.softmax(tf.cast(teacher_logits, tf.float32) / temperature, axis=-1)
    student_probs = tf.nn.softmax(tf.cast(student_logits, tf.float32) / temperature, axis=-1)
    inter = 1.0 - pearson_correlation(teacher_probs, student_probs, axis=-1)
    classes = tf.shape(teacher_probs)[-1]
    rows_t = tf.reshape(teacher_probs, [-1, classes])
    rows_s = tf.reshape(student_probs, [-1, classes])
    intra = 1.0 - tf.reduce_mean(pearson_correlation(rows_t, rows_s, axis=0))
    return temperature**2 * (beta * inter + gamma * intra)


@registry.register_loss("dist")
@keras.saving.register_keras_serializable(package="keras_distill")
class DIST(logit_losses.LogitLoss):
    """DIST: inter- and intra-class Pearson relations of softened predictions; see `dist_loss`.

    Use it as `LogitsDistillation(loss="dist", temperature=1.0)` or
    `compile(distillation_loss_fn=DIST(), temperature=1.0)`; inside a `Distiller` the
    distiller's temperature is used (its default is 3.0, so pass `temperature=1.0` for the
    paper's setting). The intra-class term is computed over each replica's batch.

    Args:
        beta: Weight of the inter-class relation, `>= 0`. Defaults to `1.0`.
        gamma: Weight of the intra-class relation, `>= 0`. Defaults to `1.0`.
        temperature: Temperature `tau` used when the loss is called on its own. Defaults to
            `1.0`.
        reduction: Keras reduction. Defaults to `"sum_over_batch_size"`.
        name: Name of the loss. Defaults to `"dist"`.

    Example:

    >>> t = [[3.0, 1.0, 0.0], [0.0, 2.0, 1.0]]
    >>> round(float(DIST()(t, t)), 6)
    0.0
    """

    def __init__(self, beta=1.0, gamma=1.0, temperature=1.0, reduction="sum_over_batch_size",
                 name="dist", dtype=None):
        super().__init__(temperature=temperature, reduction=reduction, name=name, dtype=dtype)
        self.beta = validation.check_non_negative(beta, "beta")
        self.gamma = validation.check_non_negative(gamma, "gamma")

    def per_example(self, teacher_logits, student_logits, temperature, labels=None):
        del labels
        return dist_loss(teacher_logits, student_logits, temperature, self.beta, self.gamma)

    def get_config(self):
        config = super().get_config()
        config.update(beta=self.beta, gamma=self.gamma)
        return config
