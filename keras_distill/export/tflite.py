"""TFLite/LiteRT export with optional quantization, verified with the LiteRT interpreter.

The `.tflite` file keeps the SavedModel's `serving_default` signature (same input and output
names). Nothing is written unless the LiteRT interpreter reproduces the Keras model: float32 to
`1e-4`, quantized models to at least `min_agreement` top-1 agreement.
"""

import os
import tempfile
import warnings

import numpy as np
import tensorflow as tf

from keras_distill import io
from keras_distill import tensorflow_logs
from keras_distill import validation
from keras_distill.export import measure
from keras_distill.export import signature as signature_lib
from keras_distill.export import verify as verify_lib

QUANTIZATIONS = (None, "float16", "dynamic", "int8")
FLOAT_ATOL = 1e-4
MAX_CALIBRATION_EXAMPLES = 500


def _interpreter(model_path=None, model_content=None, num_threads=None):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as error:  # pragma: no cover - declared in setup.py
        raise ImportError(
            "Verifying a TFLite model needs the LiteRT interpreter. Install it with "
            "`pip install ai-edge-litert`."
        ) from error
    with tensorflow_logs.silenced_stderr():  # "INFO: Created TensorFlow Lite XNNPACK delegate"
        interpreter = Interpreter(model_path=model_path, model_content=model_content,
                                  num_threads=num_threads)
        interpreter.allocate_tensors()  # Where the delegate is created (and announced).
    return interpreter


def _check_path(path, overwrite):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            "Invalid value for argument `path`. Expected a file path ending in `.tflite`. "
            f"Received: path={path!r}"
        )
    path = os.fspath(path)
    if not path.endswith(".tflite"):
        raise ValueError(
            "Invalid value for argument `path`. Expected a file path ending in `.tflite`. "
            f"Received: path={path!r}"
        )
    if os.path.isdir(path):
        raise ValueError(
            "Invalid value for argument `path`. Expected a file path, but it is a directory. "
            f"Received: path={path!r}"
        )
    if os.path.exists(path) and not overwrite:
        raise ValueError(
            f"Invalid value for argument `path`. {path} already exists; pass `overwrite=True` "
            f"to replace it. Received: path={path!r}"
        )
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.exists(parent) and not os.path.isdir(parent):
        raise ValueError(
            "Invalid value for argument `path`. Its parent is a file, not a directory. "
            f"Received: path={path!r}"
        )
    return path


def _check_quantization(quantization, representative_data, min_agreement):
    if quantization not in QUANTIZATIONS:
        raise ValueError(
            "Invalid value for argument `quantization`. Expected one of "
            f"{list(QUANTIZATIONS)}. Received: quantization={quantization!r}"
        )
    if quantization == "int8" and representative_data is None:
        raise ValueError(
            "Invalid value for argument `representative_data`. Full-integer quantization "
            "(`quantization='int8'`) calibrates activation ranges on sample inputs: pass "
            "`representative_data=` (an array of a few hundred training inputs, or a "
            "`tf.data.Dataset`), or use `quantization='dynamic'`. "
            "Received: representative_data=None"
        )
    validation.check_fraction(min_agreement, "min_agreement")


def convert(signature, quantization=None, calibration=None):
    """Converts a `ServingSignature` to TFLite flatbuffer bytes.

    Args:
        signature: A `keras_distill.export.signature.ServingSignature`.
        quantization: One of `None`, `"float16"`, `"dynamic"`, `"int8"`. Defaults to `None`.
        calibration: For `"int8"`, one NumPy array per input, batch first. Defaults to `None`.

    Returns:
        The `.tflite` model as `bytes`.
    """
    with tempfile.TemporaryDirectory() as tmp:
        signature.archive().write_out(tmp, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            tmp, signature_keys=[signature_lib.SIGNATURE_KEY]
        )
        if quantization is not None:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantization == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if quantization == "int8":
            count = min(len(calibration[0]), MAX_CALIBRATION_EXAMPLES)

            def representative_dataset():
                for i in range(count):
                    yield {
                        name: x[i:i + 1] for name, x in zip(signature.input_names, calibration)
                    }

            converter.representative_dataset = representative_dataset
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        with warnings.catch_warnings(), tensorflow_logs.silenced_stderr():
            warnings.simplefilter("ignore")  # The calibrator uses the deprecated tf.lite.Interpreter.
            return converter.convert()


def run_tflite(model, inputs, num_threads=None):
    """Runs a `.tflite` file (path or bytes) on NumPy inputs through LiteRT's `serving_default`.

    Args:
        model: The path of a `.tflite` file, or its bytes.
        inputs: A dict `{input_name: array}`, batch first.
        num_threads: Interpreter threads. Defaults to `None` (LiteRT's default).

    Returns:
        A dict `{output_name: array}`.
    """
    content = model if isinstance(model, (bytes, bytearray)) else None
    interpreter = _interpreter(
        model_path=None if content else os.fspath(model), model_content=content,
        num_threads=num_threads,
    )
    runner = interpreter.get_signature_runner(signature_lib.SIGNATURE_KEY)
    total = len(next(iter(inputs.values())))
    outputs = {}
    for start in range(0, total, 256):
        batch = runner(**{name: x[start:start + 256] for name, x in inputs.items()})
        for name, value in batch.items():
            outputs.setdefault(name, []).append(np.array(value))
    return {name: np.concatenate(values) for name, values in outputs.items()}


def tflite_latency_ms(model, inputs, num_threads=1):
    """Median CPU latency of one `invoke()` at batch 1, in milliseconds.

    Args:
        model: The path of a `.tflite` file, or its bytes.
        inputs: A dict `{input_name: array}`; the first example is used.
        num_threads: Interpreter threads. Defaults to `1`, so numbers compare across machines.

    Returns:
        Milliseconds, a float.
    """
    return measure.time_calls(batch1_invoke(model, inputs, num_threads))


def batch1_invoke(model, inputs, num_threads=1):
    """A LiteRT interpreter with the first example of `inputs` set; returns its `invoke`.

    For timing several files in turn (interleaved), as `tflite_latency_ms` times one.

    Args:
        model: The path of a `.tflite` file, or its bytes.
        inputs: A dict `{input_name: array}`; the first example is used.
        num_threads: Interpreter threads. Defaults to `1`.

    Returns:
        A function of no arguments that runs the model once.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((4,), name="x"), keras.layers.Dense(3)])
    >>> content = convert(signature_lib.ServingSignature(model))
    >>> invoke = batch1_invoke(content, {"x": np.zeros((1, 4), "float32")})
    >>> invoke()
    """
    content = model if isinstance(model, (bytes, bytearray)) else None
    interpreter = _interpreter(
        model_path=None if content else os.fspath(model), model_content=content,
        num_threads=num_threads,
    )
    details = interpreter.get_signature_runner(signature_lib.SIGNATURE_KEY).get_input_details()
    for name, x in inputs.items():
        interpreter.resize_tensor_input(details[name]["index"], x[:1].shape, strict=False)
    interpreter.allocate_tensors()
    for name, x in inputs.items():
        interpreter.set_tensor(details[name]["index"], x[:1])
    return interpreter.invoke


def export_tflite(
    model,
    path,
    quantization=None,
    representative_data=None,
    *,
    eval_data=None,
    min_agreement=0.98,
    input_name=None,
    input_signature=None,
    classifier=None,
    preprocessing=None,
    overwrite=False,
    verbose=True,
):
    """Exports a model (a `Distiller`'s student) to a verified `.tflite` file for LiteRT.

    Args:
        model: A `keras.Model`, a `keras_distill.Distiller` (its student is exported), or the
            path of a `.keras` file.
        path: The file to write; must end in `.tflite`.
        quantization: `None` (float32), `"float16"` (float16 weights), `"dynamic"`
            (dynamic-range int8 weights) or `"int8"` (full integer ops, calibrated on
            `representative_data`; the file's inputs keep the signature's dtype, e.g. `uint8`
            raw pixels with a `preprocessing` or float32, and its outputs stay float32: the
            quantize and dequantize steps happen inside). Defaults to `None`.
        representative_data: Calibration inputs for `"int8"` (raw inputs with a
            `preprocessing`: what the file takes): an array, a list of arrays, a dict
            by input name, `(x, y)`, or a `tf.data.Dataset` of batches of these (at most 500
            examples are used). Defaults to `None`.
        eval_data: `x` or `(x, y)` (or a dataset) on which the file is checked against Keras:
            top-1 agreement, and accuracy before/after when labels are given. Defaults to
            `None`: `representative_data`, else synthetic inputs.
        min_agreement: For quantized classifiers, the lowest top-1 agreement with the Keras
            model that is written out. Defaults to `0.98`.
        input_name: Name of the signature's input. Defaults to `None`: the model's.
        input_signature: `tf.TensorSpec` for a model that was never built. Defaults to `None`.
        classifier: Serve `logits`/`probabilities`/`class_ids`. Defaults to `None`: detected.
        preprocessing: A `keras_distill.export.Preprocessing`: the file takes the raw inputs
            it describes and preprocesses them inside, as in training; its class names add the
            string output `classes`. Defaults to `None`: the model's inputs, unchanged.
        overwrite: Whether to replace an existing file. Defaults to `False`.
        verbose: Whether to print what was exported. Defaults to `True`.

    Returns:
        `path`.

    Raises:
        ValueError: on a bad path or quantization, `"int8"` without `representative_data`,
            data of the wrong shape, a float model that differs from Keras by more than `1e-4`,
            or a quantized classifier below `min_agreement`. Nothing is written in these cases.

    Example:

    >>> import keras, os, tempfile
    >>> model = keras.Sequential([keras.Input((4,), name="x"), keras.layers.Dense(3)])
    >>> path = export_tflite(model, os.path.join(tempfile.mkdtemp(), "m.tflite"), verbose=False)
    >>> os.path.getsize(path) > 0
    True
    """
    return _export_tflite(**locals())[0]


def _export_tflite(
    model, path, quantization=None, representative_data=None, *, eval_data=None,
    min_agreement=0.98, input_name=None, input_signature=None, classifier=None,
    preprocessing=None, overwrite=False, verbose=True, signature=None,
):
    """`export_tflite`, also returning its record `{size_bytes, latency_ms_batch1, ...}`."""
    path = _check_path(path, overwrite)
    _check_quantization(quantization, representative_data, min_agreement)
    if signature is None:
        model = signature_lib.resolve_model(model, verbose=verbose)
        signature = signature_lib.ServingSignature(model, input_name, input_signature, classifier,
                                                   preprocessing)
    calibration = labels = None
    if representative_data is not None:
        calibration, _ = signature.as_arrays(representative_data, "representative_data")
    if eval_data is not None:
        inputs, labels = signature.as_arrays(eval_data, "eval_data")
        source = "eval_data"
    elif calibration is not None:
        inputs, source = calibration, "representative_data"
    else:
        inputs, source = signature.example_inputs(64), "synthetic inputs"
    content = convert(signature, quantization, calibration)
    named = dict(zip(signature.input_names, inputs))
    expected = signature.reference_outputs(inputs)
    actual = run_tflite(content, named)
    record = {
        "format": "tflite", "quantization": quantization, "path": path,
        "max_abs_diff": verify_lib.max_abs_diff(expected, actual), "eval_examples": len(inputs[0]),
        "eval_source": source, "agreement": None, "accuracy": None, "keras_accuracy": None,
        "accuracy_change": None,
    }
    name = f"The {quantization or 'float32'} TFLite model"
    if quantization is None:
        verify_lib.check_close(expected, actual, FLOAT_ATOL, f"{name} run by LiteRT")
    if signature.is_classifier:
        record.update(_classifier_record(expected, actual, labels))
        if quantization is not None and record["agreement"] < min_agreement:
            raise ValueError(
                f"{name} agrees with the Keras model on {record['agreement']:.1%} of top-1 "
                f"predictions ({record['eval_examples']} examples of {source}), below "
                f"min_agreement={min_agreement}. Nothing was written to {path}. Calibrate on "
                "more representative data, try a milder quantization ('float16' or 'dynamic'), "
                "or lower `min_agreement`."
            )
    io.write_bytes(path, content)
    record["size_bytes"] = os.path.getsize(path)
    record["latency_ms_batch1"] = tflite_latency_ms(path, named)
    if verbose:
        print(
            f"Exported `{signature.model.name}` to {path} ({record['size_bytes']} bytes, "
            f"{quantization or 'float32'}, {record['latency_ms_batch1']:.3f} ms at batch 1"
            + (f", top-1 agreement {record['agreement']:.1%}" if record["agreement"] is not None
               else "")
            + ")."
        )
    return path, record


def _classifier_record(expected, actual, labels):
    logits = signature_lib.LOGITS
    stats = measure.classification_stats(actual[logits], expected[logits], labels)
    record = {"agreement": stats["agreement"], "accuracy": stats["accuracy"]}
    if labels is not None:
        keras_accuracy = measure.classification_stats(expected[logits], labels=labels)["accuracy"]
        record["keras_accuracy"] = keras_accuracy
        record["accuracy_change"] = stats["accuracy"] - keras_accuracy
    return record
