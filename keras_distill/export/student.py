"""`export_student`: every deployment artifact of a model in one call, with a record of each and
a `model_card.json` beside them."""

import os

import numpy as np
import tensorflow as tf

from keras_distill import validation
from keras_distill.export import measure
from keras_distill.export import model_card as model_card_lib
from keras_distill.export import saved_model as saved_model_lib
from keras_distill.export import signature as signature_lib
from keras_distill.export import tflite as tflite_lib
from keras_distill.export import verify as verify_lib

FORMATS = ("saved_model", "tflite")
WARMUP_EXAMPLES = 10


def _as_list(value, name, allowed):
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected one of {list(allowed)} or a list of "
            f"them. Received: {name}={value!r}"
        )
    return list(dict.fromkeys(values))


def export_student(
    model_or_path,
    output_dir,
    formats=FORMATS,
    quantization=None,
    representative_data=None,
    eval_data=None,
    *,
    name=None,
    version=None,
    preprocessing=None,
    warmup_inputs=None,
    min_agreement=0.98,
    overwrite=False,
    verify=True,
    model_card=True,
    verbose=True,
):
    """Exports a model (a `Distiller`'s student) in several formats and measures each artifact.

    Layout: `output_dir/saved_model/<version>/` (TF Serving's base path is
    `output_dir/saved_model`), `output_dir/<name>[_<quantization>].tflite` and
    `output_dir/model_card.json` (see `keras_distill.export.model_card`).

    With a `preprocessing`, every artifact takes the raw inputs it describes (e.g. `uint8`
    pixels) and applies the training preprocessing inside; `representative_data`, `eval_data`
    and `warmup_inputs` are then raw inputs too, and each artifact's `agreement` is measured
    against the Keras model fed the same inputs preprocessed the same way.

    Args:
        model_or_path: A `keras.Model`, a `keras_distill.Distiller` (its student is exported),
            or the path of a `.keras` file.
        output_dir: Directory for the artifacts; created if missing.
        formats: `"saved_model"`, `"tflite"` or a list of them. Defaults to both.
        quantization: TFLite quantization (`None`, `"float16"`, `"dynamic"`, `"int8"`) or a
            list of them, one `.tflite` file each. Defaults to `None` (float32).
        representative_data: Calibration inputs for `"int8"` (what the file takes: raw inputs
            with a `preprocessing`). Defaults to `None`.
        eval_data: `x` or `(x, y)` on which every artifact is compared with the Keras model
            (raw inputs with a `preprocessing`). Defaults to `None`: agreement on synthetic
            inputs, no accuracy.
        name: Stem of the `.tflite` file names. Defaults to `None`: the model's name.
        version: The SavedModel version. Defaults to `None`: the next one.
        preprocessing: A `keras_distill.export.Preprocessing`: the raw inputs every artifact
            takes, the training preprocessing applied inside, and the class names (the
            `classes` output). Defaults to `None`: the model's inputs, unchanged.
        warmup_inputs: Inputs for TF Serving warm-up requests. Defaults to `None`: the first
            10 examples of `eval_data` or `representative_data` when given, else none.
        min_agreement: Lowest top-1 agreement for quantized `.tflite` files. Defaults to `0.98`.
        overwrite: Whether to replace an existing version or file. Defaults to `False`.
        verify: Whether to reload the SavedModel in a fresh process before publishing it.
            Defaults to `True`.
        model_card: Whether to write `output_dir/model_card.json`. Defaults to `True`.
        verbose: Whether to print what was exported. Defaults to `True`.

    Returns:
        A dict `{artifact_name: record}`, artifact names being `"saved_model"`, `"tflite"`,
        `"tflite_int8"`, ...; each record has `format`, `quantization`, `path`, `size_bytes`,
        `latency_ms_batch1` (CPU, batch 1), `agreement` (top-1, with the Keras model),
        `accuracy`, `keras_accuracy` and `accuracy_change` (with labels), `max_abs_diff`.

    Example:

    >>> import keras, numpy as np, tempfile
    >>> model = keras.Sequential([keras.Input((4,), name="x"), keras.layers.Dense(3)])
    >>> x, y = np.random.rand(20, 4).astype("float32"), np.random.randint(0, 3, 20)
    >>> records = export_student(model, tempfile.mkdtemp(), eval_data=(x, y), verify=False,
    ...                          verbose=False)
    >>> sorted(records), records["tflite"]["agreement"]
    (['saved_model', 'tflite'], 1.0)
    """
    formats = _as_list(formats, "formats", FORMATS)
    quantizations = _as_list(quantization, "quantization", tflite_lib.QUANTIZATIONS)
    output_dir = validation.check_directory_path(output_dir, "output_dir")
    for q in quantizations if "tflite" in formats else []:
        tflite_lib._check_quantization(q, representative_data, min_agreement)
    model = signature_lib.resolve_model(model_or_path, verbose=verbose)
    signature = signature_lib.ServingSignature(model, preprocessing=preprocessing)
    inputs = labels = None
    if eval_data is not None:
        inputs, labels = signature.as_arrays(eval_data, "eval_data")
    if warmup_inputs is None:
        source = eval_data if eval_data is not None else representative_data
        if source is not None:
            warmup_inputs = [x[:WARMUP_EXAMPLES] for x in signature.as_arrays(source, "data")[0]]
    records = {}
    if "saved_model" in formats:
        _, record, _ = saved_model_lib._export_saved_model(
            model, os.path.join(output_dir, "saved_model"), version,
            preprocessing=preprocessing, warmup_inputs=warmup_inputs, overwrite=overwrite,
            verify=verify, verbose=verbose,
        )
        measured = _measure_saved_model(record["path"], signature, inputs, labels)
        if record["max_abs_diff"] is None:  # Not checked in a fresh process: check here.
            record["max_abs_diff"] = measured["max_abs_diff"]
        measured.pop("max_abs_diff")
        record.update(measured)
        records["saved_model"] = record
    stem = name or model.name
    for q in quantizations if "tflite" in formats else []:
        key = "tflite" if q is None else f"tflite_{q}"
        path = os.path.join(output_dir, f"{stem}.tflite" if q is None
                            else f"{stem}_{q}.tflite")
        _, records[key] = tflite_lib._export_tflite(
            model, path, q, representative_data, eval_data=eval_data,
            min_agreement=min_agreement, overwrite=overwrite, verbose=verbose,
            signature=signature,
        )
    if model_card:
        model_card_lib.write_model_card(output_dir, signature, records,
                                        evaluation=evaluation_notes(signature, inputs, labels))
    return records


def evaluation_notes(signature, inputs, labels):
    """The model card's `evaluation`: what the artifacts were measured on.

    Example:

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((4,), name="x"), keras.layers.Dense(3)])
    >>> evaluation_notes(signature_lib.ServingSignature(model), [np.zeros((5, 4))], None)
    {'inputs': 'model', 'examples': 5, 'labels': False}
    """
    transforms = signature.preprocessing is not None and signature.preprocessing.transforms
    return {"inputs": "raw" if transforms else "model",
            "examples": None if inputs is None else int(len(inputs[0])),
            "labels": labels is not None}


def _measure_saved_model(export_dir, signature, inputs, labels):
    """Batch-1 latency of the reloaded signature, and its agreement/accuracy on `inputs`."""
    function = saved_model_lib.load_serving_function(export_dir)
    probe = inputs if inputs is not None else signature.example_inputs(64)
    one = {name: tf.constant(x[:1]) for name, x in zip(signature.input_names, probe)}
    record = {"latency_ms_batch1": measure.time_calls(lambda: function(**one))}
    record.update(agreement=None, accuracy=None, keras_accuracy=None, accuracy_change=None)
    served = {}
    for i in range(0, len(probe[0]), 256):
        batch = function(**{n: tf.constant(x[i:i + 256]) for n, x in
                            zip(signature.input_names, probe)})
        for key, value in batch.items():
            served.setdefault(key, []).append(value.numpy())
    served = {key: np.concatenate(values) for key, values in served.items()}
    reference = signature.reference_outputs(probe)
    record["max_abs_diff"] = verify_lib.max_abs_diff(reference, served)
    if signature.is_classifier:
        logits_key = signature_lib.LOGITS
        expected = reference[logits_key]
        stats = measure.classification_stats(served[logits_key], expected, labels)
        record.update(agreement=stats["agreement"], accuracy=stats["accuracy"])
        if labels is not None:
            keras_accuracy = measure.classification_stats(expected, labels=labels)["accuracy"]
            record.update(keras_accuracy=keras_accuracy,
                          accuracy_change=stats["accuracy"] - keras_accuracy)
    return record
