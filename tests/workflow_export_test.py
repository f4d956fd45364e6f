"""Tests of the export stage (`keras_distill.workflow.export`): what is served is what was
trained. The artifacts take the raw inputs (uint8 pixels, raw signals), apply the training
preprocessing inside, and score on them what the Keras student scores on normalised inputs."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_distill import workflow
from keras_distill.config import RunConfig
from keras_distill.data import ClassificationData
from keras_distill.data import Normalization
from keras_distill.data import datasets
from keras_distill.export import Preprocessing
from keras_distill.report import Report
from keras_distill.workflow import export as export_stage
from keras_distill.workflow import setup

CLASS_NAMES = ("top", "middle", "bottom")
TOLERANCE = 0.005  # Half a point of accuracy.


def shapes_data(n_train=600, n_test=300, seed=0):
    """28x28x1 uint8 images: a bright band in one of three rows on noise, 10% labels flipped."""
    rng = np.random.default_rng(seed)

    def split(n):
        y = rng.integers(0, 3, n)
        x = rng.integers(0, 90, (n, 28, 28, 1))
        for i, label in enumerate(y):
            x[i, 3 + 9 * label:3 + 9 * label + 4] += rng.integers(60, 160)
        noisy = rng.random(n) < 0.1
        y[noisy] = rng.integers(0, 3, noisy.sum())
        return np.clip(x, 0, 255).astype("uint8"), y.astype("int64")

    (x, y), (x_test, y_test) = split(n_train), split(n_test)
    return ClassificationData(
        name="shapes", train=tf.data.Dataset.from_tensor_slices((x, y)),
        test=tf.data.Dataset.from_tensor_slices((x_test, y_test)), num_classes=3,
        input_shape=(28, 28, 1), feature_name="image",
        normalization=Normalization.measure(x, scale=1 / 255), class_names=CLASS_NAMES,
        sizes={"train": n_train, "test": n_test})


def raw_test(data):
    x, y = zip(*data.split("test").as_numpy_iterator())
    return np.stack(x), np.array(y)


def keras_accuracy(student, data):
    """The Keras student as trained: on the normalised pipeline."""
    logits = student.predict(data.batches("test", 128, shuffle=False), verbose=0)
    return float(np.mean(np.argmax(logits, -1) == raw_test(data)[1]))


@pytest.fixture(scope="module")
def trained():
    data = shapes_data()
    keras.utils.set_random_seed(0)
    student = keras.Sequential([keras.Input((28, 28, 1), name="image"),
                                keras.layers.Flatten(), keras.layers.Dense(16, activation="relu"),
                                keras.layers.Dense(3)], name="student")
    student.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    student.fit(data.batches("train", 32, seed=0), epochs=3, verbose=0)
    return student, data


@pytest.mark.slow
def test_raw_uint8_into_the_artifacts_scores_what_the_keras_student_scores(tmp_path, trained):
    student, data = trained
    report, lines = Report(), []
    config = RunConfig.for_command("run", min_agreement=0.9)
    records = export_stage.export_artifacts(student, data, str(tmp_path), report, config,
                                            log=lines.append)
    expected = keras_accuracy(student, data)
    assert expected > 0.7  # Learned: the check below compares two real accuracies.
    x, y = raw_test(data)
    assert x.dtype == np.uint8

    served = tf.saved_model.load(records["saved_model"]["path"]).signatures["serving_default"]
    out = served(image=tf.constant(x))
    saved_model_accuracy = float(np.mean(out["class_ids"].numpy() == y))
    assert abs(saved_model_accuracy - expected) <= TOLERANCE
    names = [c.decode() for c in out["classes"].numpy()]
    assert names == [CLASS_NAMES[i] for i in out["class_ids"].numpy()]

    from ai_edge_litert.interpreter import Interpreter
    runner = Interpreter(model_path=records["tflite"]["path"]).get_signature_runner(
        "serving_default")
    assert runner.get_input_details()["image"]["dtype"] == np.uint8
    lite = runner(image=x)
    tflite_accuracy = float(np.mean(lite["class_ids"] == y))
    assert abs(tflite_accuracy - expected) <= TOLERANCE
    assert [c.decode() for c in lite["classes"]] == [CLASS_NAMES[i] for i in lite["class_ids"]]

    # The report's artifact rows are these measurements: raw inputs against labels.
    rows = {row["name"]: row for row in report.rows}
    assert rows["distilled (SavedModel)"]["test_accuracy"] == pytest.approx(saved_model_accuracy)
    assert rows["distilled (.tflite float32)"]["test_accuracy"] == pytest.approx(tflite_accuracy)
    # Timed by LiteRT: the report's LiteRT column, not the Keras-call one.
    assert rows["distilled (.tflite float32)"]["litert_latency_ms"] == (
        records["tflite"]["latency_ms_batch1"])
    assert "litert_latency_ms" not in rows["distilled (SavedModel)"]
    assert "raw uint8 inputs [28, 28, 1]" in rows["distilled (SavedModel)"]["note"]
    assert records["saved_model"]["keras_accuracy"] == pytest.approx(expected)
    assert records["saved_model"]["agreement"] == 1.0
    if "tflite_int8" in records:  # Refused (and logged) below min_agreement.
        int8 = Interpreter(model_path=records["tflite_int8"]["path"]).get_signature_runner(
            "serving_default")
        assert int8.get_input_details()["image"]["dtype"] == np.uint8
        int8_accuracy = float(np.mean(int8(image=x)["class_ids"] == y))
        assert rows["distilled (.tflite int8)"]["test_accuracy"] == pytest.approx(int8_accuracy)
    else:
        assert any("int8 .tflite not written" in line for line in lines)

    card = json.loads((tmp_path / "model_card.json").read_text())
    assert card["inputs"] == [{"name": "image", "shape": [None, 28, 28, 1], "dtype": "uint8"}]
    assert card["preprocessing"]["normalization"] == data.normalization.to_dict()
    assert card["class_names"] == list(CLASS_NAMES)
    assert card["artifacts"]["saved_model"]["accuracy"] == pytest.approx(saved_model_accuracy)
    assert card["artifacts"]["saved_model"]["path"] == os.path.join("saved_model", "1")
    assert card["evaluation"]["inputs"] == "raw" and card["evaluation"]["agreement"] == 1.0
    assert card["dataset"]["name"] == "shapes"


def test_evaluation_arrays_are_raw(trained):
    _, data = trained
    (x, y), calibration = export_stage.evaluation_arrays(data, 50)
    np.testing.assert_array_equal(x, raw_test(data)[0])
    assert calibration.dtype == np.uint8 and calibration.shape == (50, 28, 28, 1)
    train_x = next(data.split("train").batch(50).as_numpy_iterator())[0]
    np.testing.assert_array_equal(calibration, train_x)


def test_the_check_catches_a_preprocessing_that_differs_from_training(trained):
    student, data = trained
    (x, y), _ = export_stage.evaluation_arrays(data, 10)
    right = export_stage.check_preprocessing(student, Preprocessing.from_data(data), data,
                                             (x, y))
    assert right["agreement"] == 1.0
    assert right["keras_accuracy"] == pytest.approx(keras_accuracy(student, data))
    wrong = Preprocessing((28, 28, 1), "uint8", None, class_names=CLASS_NAMES)
    assert export_stage.check_preprocessing(student, wrong, data, (x, y))["agreement"] < 0.9


def scaled_mnist1d():
    """MNIST-1D in raw 'sensor units' (x * 40 + 7): a normalisation far from the identity."""
    data = datasets.load("mnist1d")
    raw = {}
    for split in ("train", "test"):
        x, y = zip(*data.split(split).as_numpy_iterator())
        raw[split] = ((np.stack(x) * 40 + 7).astype("float32"), np.array(y))
    return ClassificationData(
        name="mnist1d_raw", train=tf.data.Dataset.from_tensor_slices(raw["train"]),
        test=tf.data.Dataset.from_tensor_slices(raw["test"]), num_classes=data.num_classes,
        input_shape=data.input_shape, feature_name=data.feature_name,
        normalization=Normalization.measure(raw["train"][0]), sizes=dict(data.sizes),
        class_names=data.class_names)


@pytest.mark.slow
def test_run_on_raw_signals_reports_the_keras_accuracy_for_the_saved_model(tmp_path,
                                                                          monkeypatch):
    data = scaled_mnist1d()
    assert abs(data.normalization.mean - 7) < 1 and abs(data.normalization.std - 40) < 10
    monkeypatch.setattr(setup, "load_data", lambda config, **kwargs: data)
    report = workflow.run(output=str(tmp_path), student="mlp", epochs=1, teacher_epochs=1,
                          batch_size=256, verbose=0, log=lambda line: None)
    rows = {row["name"]: row for row in report.rows}
    keras_row = rows["distilled"]["test_accuracy"]
    assert rows["distilled (SavedModel)"]["test_accuracy"] == pytest.approx(keras_row, abs=1e-3)
    assert rows["distilled (.tflite float32)"]["test_accuracy"] == pytest.approx(keras_row,
                                                                                 abs=1e-3)
    # Raw signals into the reloaded SavedModel: the report's number.
    x, y = raw_test(data)
    path = report.rows[[r["name"] for r in report.rows].index("distilled (SavedModel)")]["path"]
    served = tf.saved_model.load(path).signatures["serving_default"]
    out = served(signal=tf.constant(x))
    assert float(np.mean(out["class_ids"].numpy() == y)) == pytest.approx(keras_row, abs=1e-3)
    assert set(c.decode() for c in out["classes"].numpy()) <= set(data.class_names)
    card = json.load(open(os.path.join(os.path.dirname(os.path.dirname(path)),
                                       "model_card.json")))
    assert card["inputs"] == [{"name": "signal", "shape": [None, 40], "dtype": "float32"}]
    assert card["preprocessing"]["normalization"]["std"] == pytest.approx(
        data.normalization.std)
