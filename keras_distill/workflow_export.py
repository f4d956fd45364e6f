"""Exporting as Python calls: `export_model` (the `keras-distill export` command) and
`export_artifacts` (the export step of `keras_distill.workflow.run`, with report rows).
"""

import os

import numpy as np

from keras_distill import artifacts
from keras_distill import workflow


def _arrays(batches):
    xs, ys = zip(*((x.numpy(), y.numpy()) for x, y in batches))
    return np.concatenate(xs), np.concatenate(ys)


ARTIFACT_NAMES = {"saved_model": "SavedModel", "tflite": ".tflite float32",
                  "tflite_int8": ".tflite int8"}


def export_artifacts(student, data, base_dir, report, *, verify=True, log=print,
                     calibration_examples=500):
    """Exports `student` as a SavedModel, a float32 `.tflite` and a full-integer `.tflite`, and
    adds a report row per artifact (size, batch-1 latency, test accuracy, agreement).

    The int8 file is refused (and the refusal reported) when its top-1 agreement with the Keras
    student falls below `keras_distill.export`'s threshold; the other artifacts still ship.
    """
    from keras_distill import export as export_lib

    x_test, y_test = _arrays(data.batches("test", 1024, shuffle=False))
    x_calibration, _ = _arrays(data.batches("train", calibration_examples, shuffle=False).take(1))
    records = export_lib.export_student(
        student, base_dir, eval_data=(x_test, y_test), representative_data=x_calibration,
        verify=verify, overwrite=True, verbose=False)
    try:
        records.update(export_lib.export_student(
            student, base_dir, formats="tflite", quantization="int8", eval_data=(x_test, y_test),
            representative_data=x_calibration, overwrite=True, verbose=False))
    except ValueError as error:
        log(f"export: int8 .tflite not written: {error}")
    for key, record in records.items():
        note = None
        if record.get("agreement") is not None:
            note = (f"top-1 agreement with the Keras student {record['agreement']:.1%}"
                    + (f", accuracy change {100 * record['accuracy_change']:+.2f} points"
                       if record.get("accuracy_change") is not None else ""))
        report.add_row(f"distilled ({ARTIFACT_NAMES.get(key, key)})", role="artifact",
                       path=record["path"], size_bytes=record["size_bytes"],
                       latency_ms=record.get("latency_ms_batch1"),
                       test_accuracy=record.get("accuracy"), note=note)
        log(f"export: {ARTIFACT_NAMES.get(key, key)} written to {record['path']}")
    return records


QUANTIZATIONS = ("none", "float16", "dynamic", "int8")


def export_model(model, output_dir, *, formats=("saved_model", "tflite"), quantization=None,
                 dataset=None, data_dir=None, calibration_examples=500, min_agreement=0.98,
                 version=None, overwrite=False, verify=True):
    """Exports a saved model (a saved `Distiller` exports its student) and measures each artifact.

    With `dataset`, its test split is the evaluation data (agreement with the Keras model and
    accuracy of each artifact) and its first `calibration_examples` training examples calibrate
    `"int8"`; without it, agreement is measured on synthetic inputs.

    Args:
        model: Path of a `.keras` file, or a `keras.Model`.
        output_dir: Directory of the artifacts (`saved_model/<version>/`, `<name>*.tflite`).
        formats: `"saved_model"`, `"tflite"` or a list of them. Defaults to both.
        quantization: `None`/`"none"`, `"float16"`, `"dynamic"` or `"int8"` (needs `dataset`),
            for `.tflite` files only. Defaults to `None`.
        dataset: Dataset name for evaluation and calibration data. Defaults to `None`.
        data_dir: tfds data directory. Defaults to `None`.
        calibration_examples: Training examples that calibrate `"int8"`. Defaults to `500`.
        min_agreement: Lowest top-1 agreement of a quantized `.tflite`. Defaults to `0.98`.
        version: SavedModel version. Defaults to `None`: the next one.
        overwrite: Replace an existing version or file. Defaults to `False`.
        verify: Reload the SavedModel in a fresh process first. Defaults to `True`.

    Returns:
        `keras_distill.export.export_student`'s records, `{artifact_name: record}`.
    """
    from keras_distill import export as export_lib
    from keras_distill.export import signature as signature_lib

    formats = [formats] if isinstance(formats, str) else list(formats)
    if quantization == "none":
        quantization = None
    if quantization not in (None, *QUANTIZATIONS):
        raise ValueError(
            f"Invalid value for argument `quantization`. Expected one of {list(QUANTIZATIONS)}. "
            f"Received: quantization={quantization!r}"
        )
    if quantization is not None and "tflite" not in formats:
        raise ValueError(
            "Invalid value for argument `quantization`. Expected it only with the `tflite` "
            f"format. Received: quantization={quantization!r} with formats={formats}"
        )
    if quantization == "int8" and dataset is None:
        raise ValueError(
            "Invalid value for argument `quantization`. `int8` needs calibration data: pass "
            "`dataset` (its first training examples calibrate the ranges). "
            "Received: quantization='int8' with dataset=None"
        )
    if isinstance(model, (str, os.PathLike)) and not os.path.isfile(model):
        raise ValueError(
            "Invalid value for argument `model`. Expected the path of a `.keras` file. "
            f"Received: model={os.fspath(model)!r} (no such file)"
        )
    if version is not None:
        workflow._positive_int(version, "version")
    if isinstance(output_dir, (str, os.PathLike)) and os.path.isfile(output_dir):
        raise ValueError(
            "Invalid value for argument `output_dir`. Expected a directory, but it is a file. "
            f"Received: output_dir={os.fspath(output_dir)!r}"
        )
    eval_data = representative = None
    if dataset is not None:
        data = workflow.load_data(dataset, data_dir=data_dir)
        model = signature_lib.resolve_model(model, verbose=False)
        artifacts.check_fits(model, data, role="model")
        eval_data = _arrays(data.batches("test", 1024, shuffle=False))
        representative, _ = _arrays(
            data.batches("train", calibration_examples, shuffle=False).take(1))
    return export_lib.export_student(
        model, output_dir, formats=formats, quantization=quantization,
        representative_data=representative, eval_data=eval_data, version=version,
        min_agreement=min_agreement, overwrite=overwrite, verify=verify, verbose=False)


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
