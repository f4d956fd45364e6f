"""Several teachers as one: their probabilities, not their logits, averaged at the temperature."""

import tensorflow as tf


def ensemble_logits(member_logits, weights, temperature):
    """Logits whose `softmax(z / T)` is the weighted mean of the members' `softmax(t_i / T)`.

    `z = T * log(sum_i w_i * softmax(t_i / T))`, computed with `logsumexp` so it stays finite.
    Averaging logits instead would be a different (geometric) mixture; the ensemble's soft
    targets are the arithmetic mean of its members' softened probabilities.

    Args:
        member_logits: Tensor `[batch, ..., teachers, classes]`.
        weights: One non-negative weight per teacher, summing to 1.
        temperature: Positive number or scalar tensor.

    Returns:
        Tensor `[batch, ..., classes]`.

    Example:

    >>> import numpy as np
    >>> z = ensemble_logits(np.array([[[0.0, 2.0], [2.0, 0.0]]], "float32"), [0.5, 0.5], 1.0)
    >>> np.round(tf.nn.softmax(z).numpy(), 3).tolist()
    [[0.5, 0.5]]
    """
    member_logits = tf.cast(member_logits, tf.float32)
    temperature = tf.cast(temperature, tf.float32)
    log_weights = tf.math.log(tf.constant(weights, tf.float32))[:, tf.newaxis]
    log_probs = tf.nn.log_softmax(member_logits / temperature, axis=-1)
    return temperature * tf.reduce_logsumexp(log_probs + log_weights, axis=-2)
