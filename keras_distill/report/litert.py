"""Latency where the model is deployed: each model as a float32 `.tflite`, run by LiteRT.

Every model is converted in memory with the exporter's converter (`export.tflite.convert`, its
TensorFlow log lines silenced), then timed at batch 1 on one interpreter thread, the invocations
of all models interleaved (`timing.time_interleaved`) so a burst of load slows each alike. A
Keras call carries Python and graph-dispatch overhead that can hide most of the difference
between a large and a small model; the interpreter does not.
"""

from keras_distill.export import signature as signature_lib
from keras_distill.export import tflite as tflite_lib
from keras_distill.report import timing

THREADS = 1
DESCRIPTION = f"LiteRT, batch 1, {THREADS} thread"


def _invoker(model):
    """`(invoke, None)` for a model LiteRT can run, else `(None, note)` saying why not."""
    try:
        signature = signature_lib.ServingSignature(model)
        content = tflite_lib.convert(signature)
        inputs = dict(zip(signature.input_names, signature.example_inputs(1)))
        return tflite_lib.batch1_invoke(content, inputs, num_threads=THREADS), None
    except Exception as error:  # noqa: BLE001 - a model that does not convert is reported.
        reason = str(error).strip().splitlines()[0][:160] if str(error).strip() else ""
        return None, (f"no LiteRT latency: the model did not convert to a float32 .tflite "
                      f"({type(error).__name__}{': ' + reason if reason else ''})")


def litert_latencies(models, *, runs=200, warmup=10, rounds=10):
    """Median LiteRT latency (ms) of each model as a float32 `.tflite`, batch 1, one thread.

    Args:
        models: A list of `keras.Model`s.
        runs: Timed invocations per model. Defaults to `200`.
        warmup: Untimed invocations per model first. Defaults to `10`.
        rounds: Rounds the timed invocations are interleaved in. Defaults to `10`.

    Returns:
        A list of `(milliseconds, note)`, one per model: `(float, None)`, or `(None, note)`
        for a model that could not be converted or run.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> [(ms, note)] = litert_latencies([model], runs=4, warmup=1, rounds=2)
    >>> 0 < ms < 1000, note
    (True, None)
    """
    invokers = [_invoker(model) for model in models]
    ready = [invoke for invoke, _ in invokers if invoke is not None]
    seconds = iter(timing.time_interleaved(ready, runs=runs, warmup=warmup, rounds=rounds))
    return [(1000 * next(seconds), None) if invoke is not None else (None, note)
            for invoke, note in invokers]
