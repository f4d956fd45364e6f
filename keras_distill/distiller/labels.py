"""Labels, sample weights and masks: shapes, unlabeled examples, broadcasting, several outputs.

An example (or time step) is unlabeled when its integer label is negative (sklearn's `-1`
convention), or, for one-hot / soft labels, when its label row holds a negative value.
"""

import keras
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


def per_output(values, outputs, name="y"):
    """Splits labels (or sample weights, masks, losses) over a model's outputs.

    Args:
        values: For one output, anything (returned in a list of one). For several outputs
            (`outputs` a list or dict), `None`, one value shared by every output (only when
            `name` is not `"y"`), or a list/dict with one value per output.
        outputs: The model's outputs: a tensor, or a list/dict of them.
        name: The argument's name, for messages. Defaults to `"y"`.

    Returns:
        A list aligned with `keras.tree.flatten(outputs)`.

    Raises:
        ValueError: If `values` has not one entry per output.

    Example:

    >>> per_output({"b": 2, "a": 1}, {"a": None, "b": None})
    [1, 2]
    """
    if not keras.tree.is_nested(outputs):
        return [values]
    count = len(keras.tree.flatten(outputs))
    if values is None:
        return [None] * count
    if not keras.tree.is_nested(values):
        if name != "y":
            return [values] * count
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected one entry per output of the "
            f"student ({count} outputs). Received: {name} of type {type(values).__name__}"
        )
    if isinstance(outputs, dict) and isinstance(values, dict):
        if set(values) != set(outputs):
            raise ValueError(
                f"Invalid value for argument `{name}`. Expected the keys of the student's "
                f"outputs {sorted(outputs)}. Received: {name} with keys {sorted(values)}"
            )
        return [values[key] for key in sorted(outputs)]
    flat = list(values.values()) if isinstance(values, dict) else list(values)
    if len(flat) != count:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected one entry per output of the "
            f"student ({count} outputs). Received: {len(flat)} entries"
        )
    return flat
