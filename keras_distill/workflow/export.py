"""The export stage: the student as a SavedModel and `.tflite` files, each measured."""

import numpy as np

from keras_distill import export as export_lib
from keras_distill import io
from keras_distill.export import signature as signature_lib
from keras_distill.workflow import setup

ARTIFACT_NAMES = {"saved_model": "SavedModel", "tflite": ".tflite float32",
                  "tflite_int8": ".tflite int8"}


def _arrays(batches):
    xs, ys = zip(*((x.numpy(), y.numpy()) for x, y in batches))
    return np.concatenate(xs), np.concatenate(ys)


def evaluation_arrays(data, calibration_examples):
    """`((x_test, y_test), x_calibration)`: the test split, and the first training examples."""
    test = _arrays(data.batches("test", 1024, shuffle=False))
    calibration, _ = _arrays(data.batches("train", calibration_examples, shuffle=False).take(1))
    return test, calibration


def export_artifacts(student, data, base_dir, report, config, *, log=print):
    """Exports `student` as a SavedModel, a float32 `.tflite` and a full-integer `.tflite`, and
    adds a report row per artifact (size, batch-1 latency, test accuracy, agreement).

    The int8 file is refused (and the refusal reported) when its top-1 agreement with the Keras
    student falls below `config.export.min_agreement`; the other artifacts still ship.
    """
    test, calibration = evaluation_arrays(data, config.export.calibration_examples)
    common = dict(eval_data=test, representative_data=calibration, overwrite=True,
                  verbose=False, min_agreement=config.export.min_agreement)
    records = export_lib.export_student(student, base_dir, verify=config.export.verify,
                                        **common)
    try:
        records.update(export_lib.export_student(student, base_dir, formats="tflite",
                                                 quantization="int8", **common))
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


def export_model(config=None, **values):
    """The `keras-distill export` command: exports a saved model and measures each artifact.

    A saved `Distiller` exports its student. With `config.data.dataset`, its test split is the
    evaluation data (agreement with the Keras model and accuracy of each artifact) and its first
    `calibration_examples` training examples calibrate int8; without it, agreement is measured
    on synthetic inputs.

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
    model, test, calibration = export.model, None, None
    if config.data.dataset is not None:
        data = setup.load_data(config, transfer=False)
        model = signature_lib.resolve_model(io.load_model(model, role="model"), verbose=False)
        io.check_fits(model, data, role="model")
        test, calibration = evaluation_arrays(data, export.calibration_examples)
    return export_lib.export_student(
        model, export.dir, formats=export.formats, quantization=export.tflite_quantization,
        representative_data=calibration, eval_data=test, version=export.version,
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
