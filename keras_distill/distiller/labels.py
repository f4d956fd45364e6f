"""Labels, sample weights and masks: shapes, unlabeled examples, broadcasting.

An example (or time step) is unlabeled when its integer label is negative (sklearn's `-1`
convention), or, for one-hot / soft labels, when its label row holds a negative value.
"""

import tensorflow as tf


def broadcast_weights(weights, values):
    """Broadcasts per-example weights `[batch, ...]` to the shape of `values`."""
    weights = tf.cast(weights, tf.float32)
    while weights.shape.rank > values.shape.rank:
        weights = tf.reduce_mean(weights, axis=-1)
    while weights.shape.rank < values.shape.rank:
        weights = weights[..., tf.newaxis]
    return tf.broadcast_to(weights, tf.shape(values))


def is_sparse(y, logits):
    if y.shape.rank == logits.shape.rank - 1:
        return True
    return y.shape.rank == logits.shape.rank and y.shape[-1] == 1 and logits.shape[-1] != 1


def check_label_shape(y, logits):
    """Raises `ValueError` (at trace time, before any step runs) if `y` cannot match `logits`."""
    expected = logits.shape[:-1] if is_sparse(y, logits) else logits.shape
    got = y.shape[: expected.rank] if is_sparse(y, logits) else y.shape
    if not got.is_compatible_with(expected) or y.shape.rank not in (
        logits.shape.rank - 1,
        logits.shape.rank,
    ):
        raise ValueError(
            f"Labels of shape {y.shape} cannot match the student's outputs of shape "
            f"{logits.shape}. Expected integer labels of shape {logits.shape[:-1]} (or with a "
            f"trailing 1) or one-hot/soft labels of shape {logits.shape}."
        )


def labeled_mask(y, logits):
    """Per-element presence of a label: integer labels < 0, or dense rows with a value < 0, are
    unlabeled (sklearn's `-1` convention). Returns `(mask, labels_with_missing_set_to_0)`."""
    if is_sparse(y, logits):
        if y.shape.rank == logits.shape.rank:
            y = tf.squeeze(y, axis=-1)
        present = y >= 0
        return present, tf.where(present, y, tf.zeros_like(y))
    present = tf.reduce_all(y >= 0, axis=-1)
    return present, tf.where(present[..., tf.newaxis], y, tf.zeros_like(y))


def class_labels(y, logits):
    """Integer class labels of the logits' element shape, `-1` where unlabeled."""
    present, labels = labeled_mask(y, logits)
    if not is_sparse(y, logits):
        labels = tf.argmax(labels, axis=-1)
    return tf.where(present, tf.cast(labels, tf.int32), -1)
