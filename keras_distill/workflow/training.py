"""Training helpers every stage shares, so every model of a run is trained the same way."""

import contextlib
import sys

import keras

from keras_distill import distribute
from keras_distill import validation


def cosine_adam(learning_rate, steps):
    """Adam with a cosine decay over `steps`: the optimizer of every model of a run.

    Example:

    >>> optimizer = cosine_adam(1e-3, 100)
    >>> round(float(optimizer.learning_rate), 6)   # The peak, before the first step.
    0.001
    """
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, max(1, steps))
    return keras.optimizers.Adam(schedule)


def total_steps(examples, batch_size, epochs):
    """Optimizer steps of `epochs` over `examples` in batches of `batch_size` (last one partial).

    Example:

    >>> total_steps(100, 32, 2)
    8
    """
    return -(-max(examples, 1) // batch_size) * epochs


def fit_verbose(verbose):
    """Keras `fit` verbosity for `verbose`: `"auto"` is a progress bar on a terminal and one line
    per epoch otherwise (a log file or a pipe would get every redraw of the bar).

    Example:

    >>> fit_verbose(0), fit_verbose(2)
    (0, 2)
    """
    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 2
    return verbose


def history_dict(history):
    """`History.history` as plain floats, ready for JSON."""
    return {k: [float(v) for v in values] for k, values in history.history.items()}


def strategy_scope(strategy):
    """`strategy.scope()`, or a context that does nothing when `strategy` is `None`."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def copy_into_scope(model, strategy):
    """`model`, or a copy of it created in `strategy`'s scope if its variables live elsewhere."""
    if strategy is None or all(
            distribute.variable_strategy(v) is strategy for v in model.variables):
        return model
    try:
        with strategy.scope():
            copy = keras.models.clone_model(model)
            copy.set_weights(model.get_weights())
    except Exception as error:  # Keras raises many kinds for a model it cannot clone.
        raise ValueError(
            f"Cannot copy the {model.name!r} model into the `{type(strategy).__name__}` scope "
            f"({type(error).__name__}: {str(error).splitlines()[0][:200]}). Under a strategy, "
            "pass the teacher as a `.keras` file."
        ) from None
    return copy


def classification_loss():
    """The hard-label loss of every model: sparse categorical cross-entropy on logits."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


class KeepBestWeights(keras.callbacks.Callback):
    """Restores, when training ends, the weights of `model` from its best epoch on `monitor`.

    Every model of a run is selected this way, on a validation split held out of training (never
    the test split): the epoch is chosen by the data the user can see.

    Args:
        model: The model whose weights are kept (the student inside a distiller).
        monitor: A logged value. Defaults to `"val_accuracy"`. Without validation data
            nothing is kept; a monitor missing from logs that hold validation values is a
            `ValueError` at the end of the first epoch.
        mode: `"max"` or `"min"`: whether the best `monitor` is the largest or the smallest
            (a loss). Defaults to `"max"`.

    Example:

    >>> import numpy as np
    >>> net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> net.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    >>> keep = KeepBestWeights(net)
    >>> x, y = np.random.rand(16, 4), np.random.randint(0, 2, 16)
    >>> _ = net.fit(x, y, validation_data=(x, y), epochs=3, verbose=0, callbacks=[keep])
    >>> keep.best_epoch in (0, 1, 2)
    True
    """

    def __init__(self, model, monitor="val_accuracy", mode="max"):
        super().__init__()
        self.kept, self.monitor = model, monitor
        self.sign = {"max": 1.0, "min": -1.0}[validation.check_choice(mode, ("max", "min"),
                                                                      "mode")]
        self.best, self.best_epoch, self._weights = None, None, None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            if any(name.startswith("val_") for name in logs):  # Validated, but not on that.
                raise ValueError(
                    "Invalid value for argument `monitor`. Expected a value `fit` logs: "
                    f"{sorted(logs)}. Received: monitor={self.monitor!r}")
            return  # No validation data: the last epoch's weights stay.
        if self.best is None or self.sign * float(value) > self.sign * self.best:
            self.best, self.best_epoch = float(value), epoch
            self._weights = self.kept.get_weights()

    def on_train_end(self, logs=None):
        if self._weights is not None:
            self.kept.set_weights(self._weights)
