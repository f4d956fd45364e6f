"""Tests of `keras_distill.export.tflite`: conversion, quantization, LiteRT verification."""

import math
import os
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_distill import Distiller
from keras_distill.export import measure
from keras_distill.export import tflite as tflite_lib
from keras_distill.export import run_tflite


def classifier(in_dim=6, classes=4, hidden=32, name=None):
    return keras.Sequential([
        keras.Input((in_dim,), name="features"),
        keras.layers.Dense(hidden, activation="relu"),
        keras.layers.Dense(classes),
    ], name=name)


def data(n=200, in_dim=6, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, in_dim)).astype("float32")
    return x


def export(model, path, *args, **kwargs):
    kwargs.setdefault("verbose", False)
    return tflite_lib._export_tflite(model, os.fspath(path), *args, **kwargs)


@pytest.fixture(scope="module")
def trained():
    """A classifier whose labels are its own predictions on a held-out set (accuracy 1.0)."""
    keras.utils.set_random_seed(0)
    model = classifier()
    x = data()
    return model, x, np.argmax(model.predict(x, verbose=0), -1)


def test_float_matches_keras(tmp_path, trained):
    model, x, y = trained
    start = time.perf_counter()
    path, record = export(model, tmp_path / "m.tflite", eval_data=(x, y))
    elapsed = time.perf_counter() - start
    assert path == str(tmp_path / "m.tflite")
    assert record["max_abs_diff"] <= 1e-4
    assert record["agreement"] == 1.0 and record["accuracy_change"] == 0.0
    assert record["size_bytes"] == os.path.getsize(path) > 1000  # Weights: 356 floats.
    # The median of at least 20 `invoke()`s timed during the export.
    assert math.isfinite(record["latency_ms_batch1"])
    assert 20 * record["latency_ms_batch1"] / 1000 < elapsed
    outputs = run_tflite(path, {"features": x[:5]})
    np.testing.assert_allclose(outputs["logits"], model.predict(x[:5], verbose=0), atol=1e-4)
    np.testing.assert_array_equal(outputs["class_ids"], y[:5])


@pytest.mark.parametrize("quantization", ["float16", "dynamic", "int8"])
def test_quantized_reports_agreement_and_accuracy_change(tmp_path, trained, quantization):
    model, x, y = trained
    _, record = export(model, tmp_path / "q.tflite", quantization, representative_data=x[:100],
                       eval_data=(x, y), min_agreement=0.8)
    assert record["quantization"] == quantization
    assert record["eval_examples"] == len(x)
    assert 0.8 <= record["agreement"] <= 1.0
    assert record["keras_accuracy"] == 1.0
    assert record["accuracy_change"] == pytest.approx(record["accuracy"] - 1.0)


def test_quantized_models_are_smaller(tmp_path):
    model = classifier(in_dim=64, hidden=256)
    x = data(64, in_dim=64)
    sizes = {
        q: export(model, tmp_path / f"{q}.tflite", q, representative_data=x,
                  min_agreement=0.0)[1]["size_bytes"]
        for q in (None, "float16", "int8")
    }
    assert sizes["float16"] < 0.6 * sizes[None]
    assert sizes["int8"] < 0.35 * sizes[None]


def test_low_agreement_is_refused_and_nothing_written(tmp_path, trained):
    model, x, y = trained
    # Calibrating on zeros squeezes every activation range to a point: predictions collapse.
    target = tmp_path / "bad.tflite"
    with pytest.raises(ValueError, match=r"agrees with the Keras model on .*% of top-1 "
                       r"predictions.*below min_agreement=0.9. Nothing was written"):
        export(model, target, "int8", representative_data=np.zeros_like(x[:20]),
               eval_data=(x, y), min_agreement=0.9)
    assert os.listdir(tmp_path) == []


def test_distiller_exports_student(tmp_path, capsys):
    teacher, student = classifier(hidden=256, name="teacher"), classifier(hidden=4, name="student")
    _, from_distiller = export(Distiller(student=student, teacher=teacher), tmp_path / "d.tflite")
    _, from_teacher = export(teacher, tmp_path / "t.tflite")
    _, from_student = export(student, tmp_path / "s.tflite")
    assert from_distiller["size_bytes"] == from_student["size_bytes"]
    assert from_distiller["size_bytes"] * 5 < from_teacher["size_bytes"]


# -------------------------------------------------------------------------- bad input
def test_path_without_tflite_extension(tmp_path):
    with pytest.raises(ValueError, match=r"ending in `.tflite`. Received: path=.*model.tfl'"):
        export(classifier(), tmp_path / "model.tfl")
    assert os.listdir(tmp_path) == []


def test_existing_file_is_kept(tmp_path):
    target = tmp_path / "m.tflite"
    target.write_bytes(b"old")
    with pytest.raises(ValueError, match=r"already exists; pass `overwrite=True`"):
        export(classifier(), target)
    assert target.read_bytes() == b"old"
    export(classifier(), target, overwrite=True)
    assert target.stat().st_size > 3


def test_int8_without_representative_data(tmp_path):
    with pytest.raises(ValueError,
                       match=r"`representative_data`.*Received: representative_data=None"):
        export(classifier(), tmp_path / "m.tflite", "int8")
    assert os.listdir(tmp_path) == []


def test_representative_data_of_wrong_shape(tmp_path):
    with pytest.raises(ValueError, match=r"`representative_data`. Expected inputs of shape "
                       r"\(None, 6\).*Received: representative_data of shape \(10, 5\)"):
        export(classifier(), tmp_path / "m.tflite", "int8", representative_data=data(10, 5))
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("quantization", ["int4", "INT8", 8])
def test_unknown_quantization(tmp_path, quantization):
    with pytest.raises(ValueError, match=r"`quantization`. Expected one of \[None, 'float16'"):
        export(classifier(), tmp_path / "m.tflite", quantization)


def test_unbuilt_model(tmp_path):
    with pytest.raises(ValueError, match=r"never built or called.*input_signature="):
        export(keras.Sequential([keras.layers.Dense(2)]), tmp_path / "m.tflite")
    _, record = export(keras.Sequential([keras.layers.Dense(2)]), tmp_path / "m.tflite",
                       input_signature=tf.TensorSpec((None, 3)))
    assert record["max_abs_diff"] <= 1e-4


def test_dataset_inputs(tmp_path, trained):
    model, x, y = trained
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    _, record = export(model, tmp_path / "m.tflite", "int8", representative_data=dataset,
                       eval_data=dataset, min_agreement=0.5)
    assert record["eval_examples"] == len(x) and record["keras_accuracy"] == 1.0


def test_time_calls_reports_the_median_in_milliseconds():
    calls = []

    def sleep():
        calls.append(None)
        time.sleep(0.01)

    latency = measure.time_calls(sleep, min_runs=3, budget_s=0.0, warmup=1)
    assert len(calls) == 4  # One warm-up call, then `min_runs` timed calls.
    assert 10 <= latency < 1000


@pytest.mark.parametrize("min_agreement", [-0.1, 1.5, True, "0.9"])
def test_invalid_min_agreement(tmp_path, min_agreement):
    with pytest.raises(ValueError, match=r"`min_agreement`.*Received: min_agreement="):
        export(classifier(), tmp_path / "m.tflite", "dynamic", min_agreement=min_agreement)
    assert os.listdir(tmp_path) == []


# --------------------------------------------------- raw inputs, preprocessing inside
@pytest.mark.parametrize("quantization", [None, "int8"])
def test_raw_uint8_inputs_with_resize_inside_and_class_names(tmp_path, quantization):
    from keras_distill.data import Normalization
    from keras_distill.export import Preprocessing

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6, 6, 1), name="image"), keras.layers.Flatten(),
                              keras.layers.Dense(3)])
    names = ("circle", "square", "star")
    preprocessing = Preprocessing((None, None, 1), "uint8", Normalization(1 / 255, 0.3, 0.2),
                                  resize=(6, 6), class_names=names)
    raw = np.random.default_rng(0).integers(0, 256, (100, 9, 9, 1)).astype("uint8")
    path, record = export(model, tmp_path / "raw.tflite", quantization,
                          representative_data=raw, eval_data=raw, min_agreement=0.8,
                          preprocessing=preprocessing)
    # The int8 file, too, takes the uint8 pixels: cast, resize, normalise and quantize inside.
    from ai_edge_litert.interpreter import Interpreter
    runner = Interpreter(model_path=path).get_signature_runner("serving_default")
    assert runner.get_input_details()["image"]["dtype"] == np.uint8
    outputs = run_tflite(path, {"image": raw})
    resized = tf.clip_by_value(tf.round(tf.image.resize(raw, (6, 6))), 0, 255).numpy()
    expected = np.argmax(model.predict((resized / 255 - 0.3) / 0.2, verbose=0), -1)
    assert np.mean(outputs["class_ids"] == expected) == record["agreement"] >= 0.8
    if quantization is None:
        assert record["agreement"] == 1.0
    assert [c.decode() for c in outputs["classes"]] == [names[i] for i in
                                                        outputs["class_ids"]]
