"""Tests of `keras_distill.export.export_student`: all artifacts in one call, with records."""

import json
import os
import time

import keras
import numpy as np
import pytest

from keras_distill import Distiller
from keras_distill.data import Normalization
from keras_distill.export import Preprocessing
from keras_distill.export import export_student
from keras_distill.export import measure
from keras_distill.export import read_warmup_requests

KEYS = {"format", "quantization", "path", "size_bytes", "latency_ms_batch1", "agreement",
        "accuracy", "keras_accuracy", "accuracy_change", "max_abs_diff"}


def classifier(hidden, name):
    return keras.Sequential([keras.Input((6,), name="features"),
                             keras.layers.Dense(hidden, activation="relu"),
                             keras.layers.Dense(3)], name=name)


def test_records_for_every_artifact(tmp_path, capsys):
    student = classifier(8, "student")
    distiller = Distiller(student=student, teacher=classifier(64, "teacher"))
    x = np.random.default_rng(0).normal(size=(60, 6)).astype("float32")
    y = np.argmax(student.predict(x, verbose=0), -1)
    keras_file = tmp_path / "distiller.keras"
    distiller.save(keras_file)
    start = time.perf_counter()
    records = export_student(str(keras_file), tmp_path / "out", quantization=[None, "int8"],
                             representative_data=x, eval_data=(x, y), min_agreement=0.5,
                             verify=False)
    elapsed = time.perf_counter() - start
    assert "teacher `teacher` is not exported" in capsys.readouterr().out
    assert sorted(records) == ["saved_model", "tflite", "tflite_int8"]
    for record in records.values():
        assert KEYS <= set(record)
        assert record["size_bytes"] == measure.path_size(record["path"])
        # The latency is the median of at least 20 timed calls made during the export.
        assert 20 * record["latency_ms_batch1"] / 1000 < elapsed
        assert record["keras_accuracy"] == 1.0
    assert records["saved_model"]["path"] == str(tmp_path / "out" / "saved_model" / "1")
    assert records["saved_model"]["agreement"] == 1.0
    assert records["tflite"]["path"] == str(tmp_path / "out" / "student.tflite")
    assert records["tflite_int8"]["path"] == str(tmp_path / "out" / "student_int8.tflite")
    assert len(read_warmup_requests(records["saved_model"]["path"])) == 10
    card = json.loads((tmp_path / "out" / "model_card.json").read_text())
    assert card["preprocessing"] is None and card["class_names"] is None
    assert card["inputs"] == [{"name": "features", "shape": [None, 6], "dtype": "float32"}]
    assert card["artifacts"]["tflite_int8"]["path"] == "student_int8.tflite"
    assert card["evaluation"] == {"inputs": "model", "examples": 60, "labels": True}


def test_raw_inputs_and_model_card(tmp_path):
    student = classifier(8, "student")
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, (80, 6)).astype("uint8")
    normalization = Normalization(1 / 255, 0.5, 0.25)
    y = np.argmax(student.predict((raw / 255 - 0.5) / 0.25, verbose=0), -1)
    preprocessing = Preprocessing((6,), "uint8", normalization, class_names=["a", "b", "c"])
    records = export_student(student, tmp_path, quantization=[None, "int8"],
                             representative_data=raw, eval_data=(raw, y), min_agreement=0.5,
                             preprocessing=preprocessing, verify=False, verbose=False)
    # Raw pixels in, labels from the Keras model on normalised inputs: every artifact agrees.
    assert records["saved_model"]["accuracy"] == records["tflite"]["accuracy"] == 1.0
    assert records["tflite_int8"]["keras_accuracy"] == 1.0
    card = json.loads((tmp_path / "model_card.json").read_text())
    assert set(card) == {"format_version", "model", "signature", "inputs", "model_inputs",
                         "outputs", "preprocessing", "class_names", "artifacts", "evaluation",
                         "dataset"}
    assert card["inputs"] == [{"name": "features", "shape": [None, 6], "dtype": "uint8"}]
    assert card["model_inputs"] == [{"name": "features", "shape": [None, 6],
                                     "dtype": "float32"}]
    assert card["preprocessing"]["normalization"] == normalization.to_dict()
    assert card["preprocessing"]["resize"] is None
    assert card["class_names"] == ["a", "b", "c"]
    assert [o["name"] for o in card["outputs"]][-1] == "classes"
    assert sorted(card["artifacts"]) == ["saved_model", "tflite", "tflite_int8"]
    for name, record in records.items():
        assert card["artifacts"][name]["accuracy"] == record["accuracy"]
        assert card["artifacts"][name]["size_bytes"] == record["size_bytes"]
    assert card["evaluation"] == {"inputs": "raw", "examples": 80, "labels": True}


def test_invalid_formats(tmp_path):
    with pytest.raises(ValueError, match=r"`formats`. Expected one of \['saved_model', 'tflite'\]"):
        export_student(classifier(4, "s"), tmp_path, formats="onnx")
    with pytest.raises(ValueError, match=r"`representative_data`"):
        export_student(classifier(4, "s"), tmp_path, quantization="int8")
    assert os.listdir(tmp_path) == []


def test_output_dir_that_is_a_file(tmp_path):
    target = tmp_path / "out"
    target.write_text("x")
    with pytest.raises(ValueError, match=r"`output_dir`. Expected a directory.*but it is a file"):
        export_student(classifier(4, "s"), target)
    assert target.read_text() == "x"
