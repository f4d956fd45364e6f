"""The export stage: the student as a SavedModel and `.tflite` files that take the user's raw
inputs (the training preprocessing runs inside them), each measured on raw inputs.

What is served is what was trained: the artifacts get the data's `Preprocessing` (raw dtype and
shape, normalisation, resize, class names), and their report rows are measured by feeding them
the raw test split, against its labels. The Keras student is measured as it was trained, on the
normalised split; a check before the export confirms that the preprocessing in the graph gives
the Keras student the same predictions as the training pipeline does.
"""

import dataclasses

import numpy as np

from keras_distill import export as export_lib
from keras_distill import io
from keras_distill.export import signature as signature_lib
from keras_distill.workflow import setup

ARTIFACT_NAMES = {"saved_model": "SavedModel", "tflite": ".tflite float32",
                  "tflite_int8": ".tflite int8"}
EVAL_BATCH = 1024


def _arrays(batches):
    xs, ys = zip(*((x.numpy(), y.numpy()) for x, y in batches))
    return np.concatenate(xs), np.concatenate(ys)


def evaluation_arrays(data, calibration_examples):
    """`((x_test, y_test), x_calibration)` of raw inputs, as the exported artifacts take them:
    the test split and the first `calibration_examples` training examples, un-normalised."""
    test = _arrays(data.split("test").batch(EVAL_BATCH))
    calibration, _ = _arrays(data.split("train").take(calibration_examples)
                             .batch(calibration_examples))
    return test, calibration


def check_preprocessing(student, preprocessing, data, raw_test):
    """Top-1 agreement between the Keras student on the normalised test split (the training
    pipeline) and on the raw test split preprocessed as the export does it; also its accuracy.

    Returns:
        `{"agreement", "keras_accuracy"}`: the agreement should be 1.0.
    """
    x, y = raw_test
    keras_logits = student.predict(data.batches("test", EVAL_BATCH, shuffle=False), verbose=0)
    signature = export_lib.ServingSignature(student, preprocessing=preprocessing)
    served = signature.reference_outputs([x])[signature_lib.LOGITS]
    predicted = np.argmax(keras_logits, axis=-1)
    return {"agreement": float(np.mean(np.argmax(served, axis=-1) == predicted)),
            "keras_accuracy": float(np.mean(predicted == y.reshape(predicted.shape)))}


def _describe_input(preprocessing, student):
    """`"raw uint8 inputs [28, 28, 1]"`: what the artifacts take, for the report's notes."""
    spec = export_lib.ServingSignature(student, preprocessing=preprocessing).input_specs[0]
    return f"raw {spec.dtype.name} inputs {spec.shape.as_list()[1:]}"


def measured_export(student, data, base_dir, export, *, formats=("saved_model", "tflite"),
                    quantizations=(None,), optional=(), log=print):
    """Exports `student` with `data`'s preprocessing inside, measures each artifact on the raw
    test split and writes `base_dir/model_card.json`.

    A `.tflite` file below `export.min_agreement` (top-1 agreement with the Keras student)
    raises `ValueError`, unless its quantization is `optional`: then the refusal is logged and
    the other artifacts still ship.

    Args:
        student: The Keras student (trained on `data`'s normalised batches).
        data: The `ClassificationData` it was trained on.
        base_dir: The artifacts' directory.
        export: The `ExportConfig` (`min_agreement`, `calibration_examples`, `verify`,
            `version`, `overwrite`).
        formats: `"saved_model"` and/or `"tflite"`. Defaults to both.
        quantizations: `.tflite` quantizations, one file each. Defaults to `(None,)`.
        optional: `.tflite` quantizations written only if they pass `min_agreement`.
            Defaults to `()`.
        log: Called with one line per event. Defaults to `print`.

    Returns:
        `(records, check)`: `{artifact_name: record}` (accuracy on raw inputs, agreement and
        `keras_accuracy` with the Keras student on normalised inputs) and
        `check_preprocessing`'s result.
    """
    preprocessing = export_lib.Preprocessing.from_data(data)
    test, calibration = evaluation_arrays(data, export.calibration_examples)
    check = check_preprocessing(student, preprocessing, data, test)
    if check["agreement"] < 1.0:
        log(f"export: WARNING: the preprocessing inside the export agrees with the training "
            f"pipeline on only {check['agreement']:.2%} of the Keras student's test predictions")
    common = dict(eval_data=test, representative_data=calibration, preprocessing=preprocessing,
                  min_agreement=export.min_agreement, overwrite=export.overwrite,
                  model_card=False, verbose=False)
    records = export_lib.export_student(student, base_dir, formats=formats,
                                       quantization=list(quantizations), version=export.version,
                                       verify=export.verify, **common)
    for quantization in optional if "tflite" in formats else ():
        try:
            records.update(export_lib.export_student(student, base_dir, formats="tflite",
                                                     quantization=quantization, **common))
        except ValueError as error:
            log(f"export: {quantization} .tflite not written: {error}")
    for record in records.values():  # Against the Keras student as trained: normalised inputs.
        record["keras_accuracy"] = check["keras_accuracy"]
        if record.get("accuracy") is not None:
            record["accuracy_change"] = record["accuracy"] - check["keras_accuracy"]
    signature = export_lib.ServingSignature(student, preprocessing=preprocessing)
    export_lib.write_model_card(base_dir, signature, records, dataset=data.describe(),
                                evaluation={"inputs": "raw", "split": "test",
                                            "examples": int(len(test[1])), "labels": True,
                                            "keras_inputs": "normalised", **check})
    return records, check


def export_artifacts(student, data, base_dir, report, config, *, log=print):
    """Exports `student` as a SavedModel, a float32 `.tflite` and a full-integer `.tflite` that
    take `data`'s raw inputs, and adds a report row per artifact (size, batch-1 latency, test
    accuracy on raw inputs, agreement with the Keras student on normalised inputs).

    The int8 file is refused (and the refusal reported) when its top-1 agreement with the Keras
    student falls below `config.export.min_agreement`; the other artifacts still ship.
    """
    # A run exports into its own new directory: version 1, nothing of another run replaced.
    export = dataclasses.replace(config.export, overwrite=True, version=None)
    records, check = measured_export(student, data, base_dir, export, optional=("int8",),
                                     log=log)
    inputs = _describe_input(export_lib.Preprocessing.from_data(data), student)
    report.meta["export"] = {"inputs": inputs, "model_card": export_lib.MODEL_CARD_FILE,
                             "preprocessing_agreement": check["agreement"]}
    for key, record in records.items():
        note = inputs
        if record.get("agreement") is not None:
            note += (f"; top-1 agreement with the Keras student {record['agreement']:.1%}"
                     + (f", accuracy change {100 * record['accuracy_change']:+.2f} points"
                        if record.get("accuracy_change") is not None else ""))
        latency = "litert_latency_ms" if record.get("format") == "tflite" else "latency_ms"
        report.add_row(f"distilled ({ARTIFACT_NAMES.get(key, key)})", role="artifact",
                       path=record["path"], size_bytes=record["size_bytes"],
                       test_accuracy=record.get("accuracy"), note=note,
                       **{latency: record.get("latency_ms_batch1")})
        log(f"export: {ARTIFACT_NAMES.get(key, key)} written to {record['path']}")
    return records


def export_model(config=None, **values):
    """The `keras-distill export` command: exports a saved model and measures each artifact.

    A saved `Distiller` exports its student. With `config.data.dataset`, the artifacts take the
    dataset's raw inputs (its preprocessing runs inside them, its class names are returned as
    `classes`), its raw test split is the evaluation data (accuracy of each artifact, agreement
    with the Keras model on normalised inputs) and its first `calibration_examples` raw training
    examples calibrate int8; without it, the model's own inputs are served and agreement is
    measured on synthetic inputs. `model_card.json` is written beside the artifacts.

    Args:
        config: A `RunConfig` with `export.model` and `export.dir`, or `None` for `export`'s
            defaults. Defaults to `None`.
        **values: Keyword names applied to the config (`model`, `output`, `formats`,
            `quantization`, `dataset`, `version`, `overwrite`, ...).

    Returns:
        `keras_distill.export.export_student`'s records, `{artifact_name: record}`.
    """
    config = setup.command_config("export", config, values)
    export = config.export
    model = signature_lib.resolve_model(io.load_model(export.model, role="model"),
                                        verbose=False)
    if config.data.dataset is not None:
        data = setup.load_data(config, transfer=False)
        io.check_fits(model, data, role="model")
        records, _ = measured_export(model, data, export.dir, export, formats=export.formats,
                                     quantizations=(export.tflite_quantization,))
        return records
    return export_lib.export_student(
        model, export.dir, formats=export.formats,
        quantization=export.tflite_quantization, version=export.version,
        min_agreement=export.min_agreement, overwrite=export.overwrite, verify=export.verify,
        verbose=False)


def describe_artifact(record):
    """One line about an exported artifact: path, size, batch-1 latency, agreement, accuracy.

    Example:

    >>> describe_artifact({"path": "m.tflite", "size_bytes": 2048, "latency_ms_batch1": 0.05,
    ...                    "agreement": 1.0, "accuracy": 0.5})
    'm.tflite  2.0 KB  latency 0.050 ms (batch 1)  agreement 100.0%  accuracy 50.0%'
    """
    parts = [record["path"], f"{record['size_bytes'] / 1024:.1f} KB"]
    if record.get("latency_ms_batch1") is not None:
        parts.append(f"latency {record['latency_ms_batch1']:.3f} ms (batch 1)")
    if record.get("agreement") is not None:
        parts.append(f"agreement {record['agreement']:.1%}")
    if record.get("accuracy") is not None:
        parts.append(f"accuracy {record['accuracy']:.1%}")
    return "  ".join(parts)
