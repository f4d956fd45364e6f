"""Guards around `Distiller.fit`: empty data, and a loss that becomes NaN or inf."""

import math
import re

import keras
import tensorflow as tf

NON_FINITE = "keras_distill: the training loss became non-finite at optimizer step"


def non_finite_error(error):
    """Turns the train step's failed assertion into a `FloatingPointError` naming the step.

    Returns `error` itself when it is some other `InvalidArgumentError`.
    """
    match = re.search(re.escape(NON_FINITE) + r"\]?\s*\[?(\d+)\]?\s*\[?([^\]\s]+)", str(error))
    if match is None:
        return error
    return FloatingPointError(
        f"Training stopped: the loss was {match.group(2)} at training step "
        f"{int(match.group(1)) + 1} (optimizer step {match.group(1)}). The weights were not "
        "updated with it. Lower the learning rate, check the inputs for NaN/inf, or check the "
        "teacher's outputs."
    )


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raises `FloatingPointError` naming the step once the running training loss is NaN/inf."""

    def on_train_batch_end(self, batch, logs=None):
        loss = float((logs or {}).get("loss", 0.0))
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"Training stopped: the loss was {loss} at training step "
                f"{int(self.model.optimizer.iterations.numpy())} (batch {batch + 1} of this "
                "epoch). Lower the learning rate, check the inputs for NaN/inf, or check the "
                "teacher's outputs."
            )


def check_not_empty(data, name):
    """Raises `ValueError` if a `tf.data.Dataset` is known to yield nothing."""
    if isinstance(data, (tuple, list)) and data and isinstance(data[0], tf.data.Dataset):
        data = data[0]
    if not isinstance(data, tf.data.Dataset):
        return
    cardinality = int(data.cardinality())
    if cardinality == tf.data.UNKNOWN_CARDINALITY:
        cardinality = len(list(data.take(1)))
    if cardinality == 0:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a dataset that yields at least one "
            f"batch. Received: an empty dataset ({data.element_spec})."
        )
