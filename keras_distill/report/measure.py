"""Measuring one model or several: test accuracy, agreement, size on disk, CPU latency, throughput.

Latency is timed twice at batch 1: as deployed (a float32 `.tflite` run by LiteRT on one thread,
`litert.py`) and as a Keras call; throughput as Keras calls on a large batch. Each is timed with
the calls of all models interleaved, so a burst of load from another process slows every model
alike.
"""

import contextlib
import logging
import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

from keras_distill.report import timing

TEACHER = "teacher"


def predict_logits(model, batches):
    """Runs `model` over `(x, y)` batches; returns `(logits, labels)` as NumPy arrays."""
    fn = tf.function(lambda x: model(x, training=False))
    logits, labels = [], []
    for x, y in batches:
        logits.append(np.asarray(fn(x)))
        labels.append(np.asarray(y))
    return np.concatenate(logits), np.concatenate(labels)


def size_on_disk(model):
    """Bytes of the model saved as a `.keras` file, without optimizer state."""
    try:  # An uncompiled copy drops the optimizer variables a compiled model would save.
        model_copy = model.__class__.from_config(model.get_config())
        model_copy.set_weights(model.get_weights())
    except Exception:  # noqa: BLE001 - e.g. a wrapped SavedModel: measure it as it is.
        model_copy = model
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model_copy.save(path)
        return os.path.getsize(path)


def _call_fn(model, batch_size, input_shape):
    x = tf.random.stateless_normal((batch_size, *input_shape), seed=(0, 0))
    fn = tf.function(lambda x: model(x, training=False))
    return lambda: fn(x).numpy()


@contextlib.contextmanager
def _one_trace_per_model():
    """Keeps TensorFlow's "N out of the last M calls triggered tf.function retracing" warning
    off: timing traces one function per model on purpose, and four or more models trip it."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def time_models(models, input_shape, *, batch_size=1, runs=200, warmup=10, rounds=10):
    """Median wall time (seconds) of one call of each model on a batch, on the CPU.

    The calls are interleaved: `rounds` times, each model runs `runs / rounds` timed calls in
    turn, so a burst of load from another process slows every model alike instead of one.

    Args:
        models: A list of `keras.Model`s taking inputs of `input_shape`.
        input_shape: Shape of one example, without the batch axis.
        batch_size: Batch size of each call. Defaults to `1`.
        runs: Timed calls per model. Defaults to `200`.
        warmup: Untimed calls per model first (tracing, caches). Defaults to `10`.
        rounds: Rounds the timed calls are interleaved in. Defaults to `10`.

    Returns:
        A list of median seconds per call, one per model.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> seconds = time_models([model, model], (4,), runs=4, rounds=2)
    >>> len(seconds), all(0 < s < 1 for s in seconds)
    (2, True)
    """
    with tf.device("/CPU:0"), _one_trace_per_model():
        calls = [_call_fn(model, batch_size, input_shape) for model in models]
        return timing.time_interleaved(calls, runs=runs, warmup=warmup, rounds=rounds)


def _input_shape(model, test_batches):
    if getattr(model, "inputs", None):
        return tuple(model.inputs[0].shape[1:])
    return tuple(test_batches.element_spec[0].shape[1:])


def accuracy_row(model, test_batches, name, role, teacher_predictions):
    logits, labels = predict_logits(model, test_batches)
    predictions = logits.argmax(axis=-1)
    agreement = None
    if teacher_predictions is not None:
        agreement = float(np.mean(predictions == teacher_predictions))
    elif role == TEACHER:
        agreement = 1.0
    return {
        "name": name,
        "role": role,
        "test_accuracy": float(np.mean(predictions == labels)),
        "test_examples": int(len(labels)),
        "agreement": agreement,
        "params": int(model.count_params()),
        "size_bytes": int(size_on_disk(model)),
        "predictions": predictions,
        "correct": predictions == labels,
    }


def add_timings(rows, models, test_batches, latency_runs=200, throughput_batch=1024,
                throughput_runs=20, litert=True):
    """Adds `latency_ms`, `throughput` and (with `litert`) `litert_latency_ms` to each row."""
    shapes = {_input_shape(m, test_batches) for m in models}
    if len(shapes) != 1:
        raise ValueError(f"The models take different input shapes {sorted(shapes)}; expected "
                         "models of the same dataset.")
    shape = shapes.pop()
    if litert:
        from keras_distill.report import litert as litert_lib

        for row, (latency, note) in zip(rows, litert_lib.litert_latencies(
                models, runs=latency_runs)):
            row["litert_latency_ms"] = latency
            if note:
                row["litert_note"] = note
    latencies = time_models(models, shape, runs=latency_runs)
    batch_times = time_models(models, shape, batch_size=throughput_batch, runs=throughput_runs,
                              warmup=2, rounds=min(5, throughput_runs))
    for row, latency, batch_time in zip(rows, latencies, batch_times):
        row["latency_ms"] = 1000 * latency
        row["throughput"] = throughput_batch / batch_time
    return rows


def measure_model(model, test_batches, *, name, role=None, teacher_predictions=None,
                  **timing_kwargs):
    """Measures one model on the test set and on the CPU.

    Args:
        model: A `keras.Model` that outputs logits (or probabilities: argmax is the same).
        test_batches: Batched `(x, y)` test data, normalised as the model expects.
        name: Row name, e.g. `"teacher"`.
        role: `"teacher"`, `"scratch"`, `"distilled"` or `None`. Defaults to `None` (= `name`).
        teacher_predictions: The teacher's top-1 predictions on the same test batches, for the
            agreement. Defaults to `None`: no agreement (the teacher's own row is 100%).
        **timing_kwargs: `latency_runs` (timed calls at batch 1, default 200),
            `throughput_batch` (default 1024), `throughput_runs` (default 20) and `litert`
            (also convert to a float32 `.tflite` and time it with LiteRT, default `True`).

    Returns:
        A dict row: `name`, `role`, `test_accuracy`, `test_examples`, `agreement`, `params`,
        `size_bytes`, `litert_latency_ms` (median, LiteRT, batch 1, one thread; `None` with a
        `litert_note` when the model does not convert), `latency_ms` (median Keras call,
        batch 1), `throughput` (examples/s), `predictions` (top-1, a NumPy array).
    """
    row = accuracy_row(model, test_batches, name, role or name, teacher_predictions)
    return add_timings([row], [model], test_batches, **timing_kwargs)[0]
