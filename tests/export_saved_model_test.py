"""Tests of `keras_distill.export.saved_model`: TF Serving layout, signature, warm-up, checks."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_distill import Distiller
from keras_distill.export import saved_model as saved_model_lib
from keras_distill.export import verify as verify_lib
from keras_distill.export import warmup as warmup_lib
from keras_distill.export import export_saved_model
from keras_distill.export import read_warmup_requests


def classifier(in_dim=6, classes=4, hidden=8, name=None, softmax=False):
    return keras.Sequential([
        keras.Input((in_dim,), name="features"),
        keras.layers.Dense(hidden, activation="relu"),
        keras.layers.Dense(classes, activation="softmax" if softmax else None),
    ], name=name)


def inputs(n=8, in_dim=6, seed=0):
    return np.random.default_rng(seed).normal(size=(n, in_dim)).astype("float32")


def export(model, base_dir, **kwargs):
    kwargs.setdefault("verify", False)
    kwargs.setdefault("verbose", False)
    return export_saved_model(model, base_dir, **kwargs)


def serving_fn(path):
    return tf.saved_model.load(path).signatures["serving_default"]


def listing(directory):
    return sorted(os.listdir(directory))


# ------------------------------------------------------------------ layout and versions
def test_layout_and_versions_increment(tmp_path):
    model = classifier()
    first = export(model, tmp_path / "m")
    assert first == str(tmp_path / "m" / "1")
    assert {"saved_model.pb", "variables"} <= set(os.listdir(first))
    assert os.listdir(os.path.join(first, "variables"))
    assert export(model, tmp_path / "m") == str(tmp_path / "m" / "2")
    assert export(model, tmp_path / "m", version=10).endswith(os.sep + "10")
    assert export(model, tmp_path / "m") == str(tmp_path / "m" / "11")
    assert listing(tmp_path / "m") == ["1", "10", "11", "2"]  # No temporary leftovers.


def test_existing_version_is_an_error_and_left_intact(tmp_path):
    path = export(classifier(), tmp_path, version=3)
    before = serving_fn(path)(features=tf.constant(inputs()))["logits"].numpy()
    with pytest.raises(ValueError, match=r"Version 3 already exists.*overwrite=True"):
        export(classifier(hidden=4), tmp_path, version=3)
    after = serving_fn(path)(features=tf.constant(inputs()))["logits"].numpy()
    np.testing.assert_array_equal(before, after)
    assert listing(tmp_path) == ["3"]


def test_overwrite_replaces_version(tmp_path):
    export(classifier(), tmp_path, version=1)
    other = classifier(hidden=5)
    path = export(other, tmp_path, version=1, overwrite=True)
    np.testing.assert_allclose(
        serving_fn(path)(features=tf.constant(inputs()))["logits"].numpy(),
        other.predict(inputs(), verbose=0), atol=1e-5,
    )
    assert listing(tmp_path) == ["1"]


def test_base_dir_that_is_a_file_is_an_error(tmp_path):
    target = tmp_path / "model"
    target.write_text("keep me")
    with pytest.raises(ValueError, match=r"`base_dir`.*it is a file. Received: base_dir="):
        export(classifier(), target)
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("version", [-1, True, "2", 1.5])
def test_invalid_version(tmp_path, version):
    with pytest.raises(ValueError, match=r"Invalid value for argument `version`.*Received"):
        export(classifier(), tmp_path, version=version)
    assert listing(tmp_path) == []


def test_failure_mid_write_leaves_no_version(tmp_path, monkeypatch):
    export(classifier(), tmp_path, version=1)

    def fail(directory, *args, **kwargs):
        # The SavedModel is already on disk in the temporary directory at this point.
        assert os.path.exists(os.path.join(directory, "saved_model.pb"))
        raise OSError("disk full")

    monkeypatch.setattr(warmup_lib, "write_warmup_requests", fail)
    with pytest.raises(OSError, match="disk full"):
        export(classifier(), tmp_path, warmup_inputs=inputs())
    assert listing(tmp_path) == ["1"]
    assert serving_fn(os.path.join(tmp_path, "1")) is not None


def test_failed_verification_publishes_nothing(tmp_path, monkeypatch):
    def wrong(export_dir, named_inputs, **kwargs):
        n = len(named_inputs["features"])
        return {"logits": np.zeros((n, 4), "float32"), "probabilities": np.zeros((n, 4), "float32"),
                "class_ids": np.zeros(n, "int64")}

    monkeypatch.setattr(verify_lib, "reload_in_fresh_process", wrong)
    with pytest.raises(ValueError, match=r"does not match the Keras model.*Nothing was published"):
        export(classifier(), tmp_path, verify=True)
    assert listing(tmp_path) == []


# ------------------------------------------------------------------------ bad models
def test_unbuilt_model_asks_to_build_or_pass_signature(tmp_path):
    model = keras.Sequential([keras.layers.Dense(3)])
    with pytest.raises(ValueError, match=r"never built or called.*input_signature="):
        export(model, tmp_path)
    assert listing(tmp_path) == []
    path = export(model, tmp_path, input_signature=tf.TensorSpec((None, 5), tf.float32))
    outputs = serving_fn(path)(inputs=tf.zeros((2, 5)))
    assert sorted(outputs) == ["class_ids", "logits", "probabilities"]


def test_subclassed_model_after_a_call(tmp_path):
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(3)

        def call(self, x):
            return self.dense(x)

    model = Net()
    model(np.zeros((1, 6), "float32"))
    path = export(model, tmp_path, input_name="pixels")
    out = serving_fn(path)(pixels=tf.constant(inputs()))
    np.testing.assert_allclose(out["logits"], model(inputs()), atol=1e-5)


# ------------------------------------------------------------------------- signature
def test_classifier_signature(tmp_path):
    model = classifier()
    function = serving_fn(export(model, tmp_path))
    _, spec = function.structured_input_signature
    assert list(spec) == ["features"]
    assert spec["features"].shape.as_list() == [None, 6]
    x = inputs()
    out = function(features=tf.constant(x))
    logits = model.predict(x, verbose=0)
    np.testing.assert_allclose(out["logits"], logits, atol=1e-5)
    np.testing.assert_allclose(out["probabilities"], tf.nn.softmax(logits), atol=1e-6)
    np.testing.assert_array_equal(out["class_ids"], np.argmax(logits, -1))
    assert out["class_ids"].dtype == tf.int64


def test_user_input_name(tmp_path):
    function = serving_fn(export(classifier(), tmp_path, input_name="signal"))
    assert list(function.structured_input_signature[1]) == ["signal"]


def test_invalid_input_name(tmp_path):
    with pytest.raises(ValueError, match=r"`input_name`.*Received: input_name='a b'"):
        export(classifier(), tmp_path, input_name="a b")


def test_softmax_model_serves_pre_softmax_logits(tmp_path):
    model = classifier(softmax=True)
    x = inputs()
    out = serving_fn(export(model, tmp_path))(features=tf.constant(x))
    np.testing.assert_allclose(out["probabilities"], model.predict(x, verbose=0), atol=1e-5)
    np.testing.assert_allclose(tf.nn.softmax(out["logits"]), out["probabilities"], atol=1e-6)


def test_other_models_keep_their_outputs(tmp_path):
    inp = keras.Input((6,), name="features")
    regression = keras.Model(inp, keras.layers.Dense(1)(inp))
    out = serving_fn(export(regression, tmp_path / "r"))(features=tf.constant(inputs()))
    assert list(out) == ["outputs"]
    np.testing.assert_allclose(out["outputs"], regression(inputs()), atol=1e-5)
    two = keras.Model(
        inp, {"score": keras.layers.Dense(1)(inp), "embedding": keras.layers.Dense(3)(inp)}
    )
    out = serving_fn(export(two, tmp_path / "d"))(features=tf.constant(inputs()))
    assert sorted(out) == ["embedding", "score"]


def test_multi_input_model(tmp_path):
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    model = keras.Model([a, b], keras.layers.Dense(4)(keras.layers.Concatenate()([a, b])))
    function = serving_fn(export(model, tmp_path))
    assert sorted(function.structured_input_signature[1]) == ["a", "b"]
    xa, xb = inputs(4, 3), inputs(4, 2, seed=1)
    np.testing.assert_allclose(
        function(a=tf.constant(xa), b=tf.constant(xb))["logits"], model([xa, xb]), atol=1e-5
    )


# ---------------------------------------------------------------------- student only
def test_distiller_exports_student_only(tmp_path, capsys):
    teacher = classifier(hidden=256, name="teacher")
    student = classifier(hidden=4, name="student")
    distiller = Distiller(student=student, teacher=teacher)
    path = export_saved_model(distiller, tmp_path / "d", verify=False)
    assert "student `student` only" in capsys.readouterr().out
    loaded = tf.saved_model.load(path)
    assert len(loaded.variables) == len(student.variables) == 4
    student_only = export(student, tmp_path / "s")
    teacher_only = export(teacher, tmp_path / "t")

    def variables_size(p):
        return saved_model_lib.measure.path_size(os.path.join(p, "variables"))

    assert variables_size(path) == variables_size(student_only)
    assert variables_size(path) * 10 < variables_size(teacher_only)


# ------------------------------------------------------------------------- warm-up
def test_warmup_requests_parse_with_serving_protos(tmp_path):
    from tensorflow_serving.apis import prediction_log_pb2

    x = inputs(5)
    path = export(classifier(), tmp_path / "mnist", warmup_inputs=x)
    warmup_file = os.path.join(path, "assets.extra", "tf_serving_warmup_requests")
    records = list(tf.data.TFRecordDataset(warmup_file))
    assert len(records) == 5
    for i, record in enumerate(records):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        request = log.predict_log.request
        assert request.model_spec.name == "mnist"
        assert request.model_spec.signature_name == "serving_default"
        np.testing.assert_array_equal(tf.make_ndarray(request.inputs["features"]), x[i:i + 1])
    assert len(read_warmup_requests(path)) == 5


def test_warmup_inputs_of_wrong_shape(tmp_path):
    with pytest.raises(ValueError, match=r"`warmup_inputs`.*\(None, 6\).*Received.*\(5, 7\)"):
        export(classifier(), tmp_path, warmup_inputs=inputs(5, 7))
    assert listing(tmp_path) == []


# ------------------------------------------------------- fresh process, saved_model_cli
@pytest.mark.slow
def test_verified_in_fresh_process(tmp_path):
    model = classifier()
    path, record, _ = saved_model_lib._export_saved_model(
        model, tmp_path, warmup_inputs=inputs(), verbose=False
    )
    assert record["max_abs_diff"] <= 1e-5
    assert os.path.isdir(path)


def _saved_model_cli(*args):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run([cli, *args], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.slow
def test_saved_model_cli_show_and_run(tmp_path):
    model = classifier()
    path = export(model, tmp_path / "m")
    shown = _saved_model_cli("show", "--dir", path, "--tag_set", "serve",
                             "--signature_def", "serving_default")
    for expected in ("inputs['features']", "outputs['logits']", "outputs['probabilities']",
                     "outputs['class_ids']", "DT_INT64",
                     "Method name is: tensorflow/serving/predict"):
        assert expected in shown, shown
    x = inputs(3)
    np.save(tmp_path / "x.npy", x)
    _saved_model_cli("run", "--dir", path, "--tag_set", "serve", "--signature_def",
                     "serving_default", "--inputs", f"features={tmp_path / 'x.npy'}",
                     "--outdir", str(tmp_path / "out"))
    np.testing.assert_allclose(np.load(tmp_path / "out" / "logits.npy"),
                               model.predict(x, verbose=0), atol=1e-5)
    # The REST body documented in docs/serving.md is valid for this signature.
    body = json.loads(json.dumps({"signature_name": "serving_default", "instances": x.tolist()}))
    out = serving_fn(path)(features=tf.constant(body["instances"], tf.float32))
    np.testing.assert_array_equal(out["class_ids"], np.argmax(model.predict(x, verbose=0), -1))


# --------------------------------------------------- raw inputs, preprocessing inside
def _image_model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((6, 6, 1), name="image"), keras.layers.Flatten(),
                             keras.layers.Dense(3)])


@pytest.mark.slow
def test_raw_uint8_inputs_are_normalised_inside_and_classes_named(tmp_path):
    from keras_distill.data import Normalization
    from keras_distill.export import Preprocessing

    model = _image_model()
    names = ["circle", "square", "star"]
    preprocessing = Preprocessing((6, 6, 1), "uint8", Normalization(1 / 255, 0.3, 0.2), None,
                                  names)
    raw = np.random.default_rng(0).integers(0, 256, (7, 6, 6, 1)).astype("uint8")
    # Verified in a fresh process (string outputs included) and warm-up requests of raw pixels.
    path, record, _ = saved_model_lib._export_saved_model(
        model, tmp_path, preprocessing=preprocessing, warmup_inputs=raw, verbose=False)
    assert record["max_abs_diff"] <= 1e-5
    served = serving_fn(path)
    spec = served.structured_input_signature[1]["image"]
    assert spec.dtype == tf.uint8 and spec.shape.as_list() == [None, 6, 6, 1]
    out = served(image=tf.constant(raw))
    expected = model.predict((raw / 255 - 0.3) / 0.2, verbose=0)
    np.testing.assert_allclose(out["logits"], expected, atol=1e-5)
    assert [c.decode() for c in out["classes"].numpy()] == [names[i] for i in
                                                           np.argmax(expected, -1)]
    request = read_warmup_requests(path)[0].predict_log.request
    assert tf.make_ndarray(request.inputs["image"]).dtype == np.uint8
