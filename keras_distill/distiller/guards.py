"""Guards around `Distiller.fit`: the data checked before a step uses it, and training stopped,
naming the step, once the loss, the gradients or the weights become NaN or inf.

The loss alone is not enough: oneDNN can turn NaN activations into zeros, so a kernel full of
NaN may still give a finite loss. `checked_gradients` therefore asserts, in the train step, that
the loss, every gradient and every weight are finite before the update is applied (a loss-scale
optimizer handles inf gradients itself, so only the loss and weights are checked under one).
"""

import math
import re
import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_distill import teacher as teacher_lib
from keras_distill import validation
from keras_distill.data import checks as data_checks
from keras_distill.data import written_checked

NON_FINITE = "keras_distill: the training loss became non-finite at optimizer step"


def _identity(gradient):
    if isinstance(gradient, tf.IndexedSlices):
        return tf.IndexedSlices(tf.identity(gradient.values), gradient.indices,
                                gradient.dense_shape)
    return None if gradient is None else tf.identity(gradient)


def checked_gradients(gradients, variables, loss, optimizer):
    """Returns `gradients` once the loss, the gradients and `variables` are checked finite.

    A failed check raises `tf.errors.InvalidArgumentError` before the update is applied;
    `non_finite_error` turns it into a `FloatingPointError` naming the step.

    Args:
        gradients: The gradients, one per variable (`None` allowed).
        variables: The trainable variables, as they are before this step's update.
        loss: The step's total loss (a scalar).
        optimizer: The optimizer (its `iterations` name the step).

    Returns:
        The gradients, to pass to `optimizer.apply_gradients`.
    """
    grads_ok = tf.constant(True)
    if not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        grads_ok = data_checks.all_finite(gradients)
    weights_ok = data_checks.all_finite(variables)
    check = tf.debugging.Assert(
        tf.math.is_finite(loss) & grads_ok & weights_ok,
        [NON_FINITE, optimizer.iterations, loss, "gradients", tf.cast(grads_ok, tf.int32),
         "weights", tf.cast(weights_ok, tf.int32)],
    )
    with tf.control_dependencies([check]):
        return [_identity(g) for g in gradients]


def _stopped(what, step):
    return FloatingPointError(
        f"Training stopped: {what} at training step {step + 1} (optimizer step {step}). The "
        "weights were not updated with it. Lower the learning rate, check the inputs for "
        "NaN/inf, or check the teacher's outputs."
    )


def non_finite_error(error):
    """Turns the train step's failed assertion into a `FloatingPointError` naming the step.

    Returns `error` itself when it is some other `InvalidArgumentError`.
    """
    match = re.search(re.escape(NON_FINITE) + r"\]?\s*\[?(\d+)\]?\s*\[?([^\]\s]+)\]?"
                      r"(?:\s*\[gradients\]\s*\[(\d)\]\s*\[weights\]\s*\[(\d)\])?", str(error))
    if match is None:
        return error
    step, loss = int(match.group(1)), match.group(2).replace("-nan", "nan")
    try:
        finite_loss = math.isfinite(float(loss))
    except ValueError:
        finite_loss = False
    if finite_loss and match.group(4) == "0":
        return _stopped(f"the weights were non-finite (the loss was still {loss}) before the "
                        "update", step)
    if finite_loss and match.group(3) == "0":
        return _stopped(f"the gradients were non-finite (the loss was still {loss})", step)
    return _stopped(f"the loss was {loss}", step)


def _weights_finite(model):
    return bool(data_checks.all_finite(model.trainable_variables).numpy())


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raises `FloatingPointError` naming the step once the running training loss or a weight
    is NaN/inf (for XLA, which drops the in-graph assertion)."""

    def on_train_batch_end(self, batch, logs=None):
        loss = float((logs or {}).get("loss", 0.0))
        step = int(self.model.optimizer.iterations.numpy())
        what = f"the loss was {loss}" if not math.isfinite(loss) else (
            None if _weights_finite(self.model) else "the weights became non-finite")
        if what is not None:
            raise FloatingPointError(
                f"Training stopped: {what} at training step {step} (batch {batch + 1} of this "
                "epoch). Lower the learning rate, check the inputs for NaN/inf, or check the "
                "teacher's outputs."
            )


class _SkippedBatches(keras.callbacks.Callback):
    """Records, per epoch, the batches `checked_dataset` skipped for NaN/inf inputs."""

    def __init__(self, counter):
        super().__init__()
        self.counter, self.per_epoch, self._seen = counter, [], 0

    def on_epoch_end(self, epoch, logs=None):
        total = int(self.counter.numpy())
        self.per_epoch.append(total - self._seen)
        self._seen = total


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


# A dataset keeps its checked forms, by spec, on itself (a cycle the garbage collector frees
# with it): repeated `fit` calls on the same dataset (one per tuning trial, or per epoch) then
# neither re-read its first batch on the host nor retrace the checks. Datasets are immutable,
# so a checked form stays right.
_CHECKED = "_keras_distill_checked"


def _checked_data(data, spec, alpha, non_finite="raise", counter=None):
    """Checks `data` (a dataset: its first batch now, every batch in the graph).

    A dataset `cache_teacher_outputs` returned was checked as it was written: only its labels'
    range is checked, once, and it is trained on as it is (`data.written_checked`; it holds no
    NaN/inf input for `"skip"` to skip).
    """
    if not isinstance(data, tf.data.Dataset):
        return data
    written = written_checked.is_marked(data)
    key = (spec, alpha is not None and alpha > 0, non_finite if not written else "written")
    known = getattr(data, _CHECKED, {})
    if (counter is None or written) and key in known:
        return known[key]
    first = next(iter(data.take(1)), None)
    if first is not None:
        data_checks.check_batch(first, spec, alpha=alpha)
    if written:
        written_checked.check_labels(data, spec)
        checked = data
    else:
        checked = data_checks.checked_dataset(data, spec, non_finite, counter)
    if counter is None or written:  # A skip counter belongs to one `fit` call.
        setattr(data, _CHECKED, {**known, key: checked})
    return checked


def _is_arrays(x):
    leaves = keras.tree.flatten(x) if x is not None else []
    return bool(leaves) and all(isinstance(v, (np.ndarray, tf.Tensor)) for v in leaves)


def _check_validation_arrays(validation_data, spec, batch_size):
    """Checks `validation_data=(x, y[, sample_weight])` of NumPy arrays as training arrays
    are checked; the error names the element (`validation_data[0]` for `x`)."""
    size = batch_size or 32
    data_checks.check_inputs(validation_data[0], name="validation_data[0]", batch_size=size)
    if len(validation_data) > 1 and validation_data[1] is not None:
        for labels in keras.tree.flatten(validation_data[1]):
            data_checks.check_labels(labels, spec if not keras.tree.is_nested(
                validation_data[1]) else None, name="validation_data[1]", batch_size=size)
    if len(validation_data) > 2:
        data_checks.check_sample_weight(validation_data[2], name="validation_data[2]",
                                        batch_size=size)


def checked_fit(fit, model, x, y, args, kwargs):
    """Runs `fit(x, y, *args, **kwargs)` (the `keras.Model.fit` of `model`, a `Distiller`) on
    checked data, turning a failed check into a clear error.

    Before the first step: `epochs >= 1`, the teachers built, the data not empty, its labels,
    inputs and sample
    weights checked (`keras_distill.data.checks`: NumPy arrays whole, datasets batch by batch
    as they stream). `kwargs["non_finite_inputs"]` (`"raise"` or `"skip"`, default `"raise"`)
    says what a NaN/inf input does; skipped batches (examples, for arrays) are counted in
    `history.history["skipped_batches"]` (`"skipped_examples"`) and warned about.

    Returns:
        The `History`.
    """
    non_finite = validation.check_choice(kwargs.pop("non_finite_inputs", "raise"),
                                         data_checks.NON_FINITE, "non_finite_inputs")
    validation.check_positive_int(kwargs.get("epochs", 1), "epochs")
    teacher_lib.check_built(model.teacher)
    check_not_empty(x, "x")
    if kwargs.get("validation_data") is not None:
        check_not_empty(kwargs["validation_data"], "validation_data")
    spec = data_checks.label_spec(model.student)
    alpha = float(model.alpha)
    skipped, callbacks = None, list(kwargs.get("callbacks") or [])
    if isinstance(x, tf.data.Dataset):
        counter = tf.Variable(0, dtype=tf.int64, trainable=False) if non_finite == "skip" \
            else None
        x = _checked_data(x, spec, alpha, non_finite, counter)
        skipped = None if counter is None else _SkippedBatches(counter)
    elif _is_arrays(x):
        x, y, weights, count = data_checks.check_arrays(
            x, y, kwargs.get("sample_weight"), spec, batch_size=kwargs.get("batch_size"),
            alpha=alpha, non_finite=non_finite)
        if kwargs.get("sample_weight") is not None:
            kwargs["sample_weight"] = weights
        skipped = count
    validation_data = kwargs.get("validation_data")
    if isinstance(validation_data, tf.data.Dataset):
        kwargs["validation_data"] = _checked_data(validation_data, spec, None)
    elif isinstance(validation_data, (tuple, list)) and _is_arrays(validation_data[0]):
        _check_validation_arrays(validation_data, spec, kwargs.get("validation_batch_size")
                                 or kwargs.get("batch_size"))
    if isinstance(skipped, keras.callbacks.Callback):
        callbacks.append(skipped)
    if model.jit_compile:
        # XLA drops the in-graph assertion; check the logged loss after every batch instead.
        callbacks.append(StopOnNonFiniteLoss())
    kwargs["callbacks"] = callbacks
    try:
        history = fit(x, y, *args, **kwargs)
    except tf.errors.InvalidArgumentError as error:
        raise data_checks.in_graph_error(error, spec) or non_finite_error(error) from None
    if not _weights_finite(model):
        raise FloatingPointError("Training stopped: the weights became non-finite in the last "
                                 f"step (optimizer step {int(model.optimizer.iterations)}).")
    _report_skipped(history, skipped)
    return history


def _report_skipped(history, skipped):
    if isinstance(skipped, _SkippedBatches):
        key, counts = "skipped_batches", skipped.per_epoch
    elif skipped:
        key, counts = "skipped_examples", [skipped]
    else:
        return
    history.history[key] = counts
    if sum(counts):
        warnings.warn(f"Skipped {sum(counts)} {key.split('_')[1]} whose inputs hold NaN or inf "
                      "(non_finite_inputs='skip').", UserWarning, stacklevel=3)
