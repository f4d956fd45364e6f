"""Tests of keras_distill.io: atomic files and directories, model files."""

import json
import os
import stat
import types

import keras
import numpy as np
import pytest

from keras_distill import io


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# ---------------------------------------------------------------------------------- files
def test_writes_round_trip_with_the_permissions_of_a_plain_open(tmp_path):
    io.write_bytes(tmp_path / "a.bin", b"\x00\x01")
    io.write_text(tmp_path / "sub" / "b.csv", "x,y\r\n1,2\r\n")
    io.write_json(tmp_path / "c.json", {"alpha": 0.5})
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "sub" / "b.csv").read_bytes() == b"x,y\r\n1,2\r\n"  # Written as given.
    assert json.loads((tmp_path / "c.json").read_text()) == {"alpha": 0.5}
    with open(tmp_path / "plain", "w"):
        pass
    assert _mode(tmp_path / "a.bin") == _mode(tmp_path / "plain")  # Not mkstemp's 0600.
    assert sorted(os.listdir(tmp_path)) == ["a.bin", "c.json", "plain", "sub"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_atomic_file_leaves_the_old_file_intact_when_the_body_raises(tmp_path, error):
    path = tmp_path / "report.json"
    io.write_text(path, "old")
    with pytest.raises(error):
        with io.atomic_file(path) as f:
            f.write(b"half of the new")
            raise error("disk full")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["report.json"]  # No staging file left behind.


def test_atomic_file_stages_beside_the_target_under_a_hidden_name(tmp_path):
    with io.atomic_file(tmp_path / "m.tflite") as f:
        f.write(b"model")
        (staging,) = os.listdir(tmp_path)
        assert staging.startswith(".m.tflite.") and staging.endswith(".tmp")
    assert os.listdir(tmp_path) == ["m.tflite"]
    assert (tmp_path / "m.tflite").read_bytes() == b"model"


def test_atomic_file_mode(tmp_path):
    with pytest.raises(ValueError, match=r"`mode`. Expected 'wb' or 'w'. Received: mode='a'"):
        with io.atomic_file(tmp_path / "x", "a"):
            pass
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------- directories
def _publish(path, content, **kwargs):
    with io.atomic_directory(path, **kwargs) as staging:
        assert os.listdir(staging) == []
        io.write_text(os.path.join(staging, "content.txt"), content)


def test_atomic_directory_refuses_to_overwrite_without_overwrite(tmp_path):
    _publish(tmp_path / "1", "first")
    with pytest.raises(FileExistsError, match="already exists"):
        _publish(tmp_path / "1", "second")
    assert (tmp_path / "1" / "content.txt").read_text() == "first"
    assert os.listdir(tmp_path) == ["1"]


def test_atomic_directory_replaces_with_overwrite(tmp_path):
    _publish(tmp_path / "1", "first")
    (tmp_path / "1" / "stale.txt").write_text("from the old version")
    _publish(tmp_path / "1", "second", overwrite=True)
    assert os.listdir(tmp_path / "1") == ["content.txt"]
    assert (tmp_path / "1" / "content.txt").read_text() == "second"
    assert os.listdir(tmp_path) == ["1"]  # Neither the staging nor the old directory is left.


def test_atomic_directory_overwrites_a_file(tmp_path):
    (tmp_path / "cache").write_text("a file")
    _publish(tmp_path / "cache", "new", overwrite=True)
    assert (tmp_path / "cache" / "content.txt").read_text() == "new"
    assert os.listdir(tmp_path) == ["cache"]


def test_atomic_directory_publishes_nothing_when_the_body_raises(tmp_path):
    _publish(tmp_path / "1", "first")
    with pytest.raises(RuntimeError, match="verification failed"):
        with io.atomic_directory(tmp_path / "1", overwrite=True) as staging:
            io.write_text(os.path.join(staging, "content.txt"), "second")
            raise RuntimeError("verification failed")
    with pytest.raises(RuntimeError):
        with io.atomic_directory(tmp_path / "2"):
            raise RuntimeError
    assert (tmp_path / "1" / "content.txt").read_text() == "first"
    assert os.listdir(tmp_path) == ["1"]


def test_atomic_directory_staging_is_hidden_from_tf_serving(tmp_path):
    with io.atomic_directory(tmp_path / "7") as staging:
        name = os.path.basename(staging)
        os.makedirs(tmp_path / "plain")
        assert name.startswith(".7.tmp-") and not name.isdigit()  # TF Serving skips it.
        assert _mode(staging) == _mode(tmp_path / "plain")  # Not mkdtemp's 0700.


def test_atomic_directory_that_appears_meanwhile_is_not_replaced(tmp_path):
    with pytest.raises(FileExistsError, match="appeared while it was being written"):
        with io.atomic_directory(tmp_path / "1"):
            os.makedirs(tmp_path / "1" / "other")
    assert os.listdir(tmp_path / "1") == ["other"]
    assert os.listdir(tmp_path) == ["1"]


# ---------------------------------------------------------------------------- model files
def _model(inputs=4, classes=3):
    return keras.Sequential([keras.Input((inputs,)), keras.layers.Dense(classes)])


def _data(input_shape=(4,), num_classes=3):
    return types.SimpleNamespace(name="toy", input_shape=input_shape, num_classes=num_classes)


def test_save_and_load_model(tmp_path):
    model = _model()
    path = str(tmp_path / "m.keras")
    assert io.save_model(model, path) == path
    assert os.listdir(tmp_path) == ["m.keras"]
    loaded = io.load_model(path, role="student", data=_data())
    x = np.random.default_rng(0).normal(size=(2, 4)).astype("float32")
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)


def test_load_model_errors(tmp_path):
    with pytest.raises(ValueError,
                       match=r"`teacher`. Expected the path of .*\(no such file or directory\)"):
        io.load_model(str(tmp_path / "missing.keras"), role="teacher")
    (tmp_path / "notes.keras").write_text("not a model")
    with pytest.raises(ValueError, match=r"`teacher`.*could not be loaded as a model"):
        io.load_model(str(tmp_path / "notes.keras"), role="teacher")


@pytest.mark.parametrize("model_kwargs, match", [
    ({"inputs": 5}, r"teacher takes inputs of shape \(5,\).*has inputs of shape \(4,\)"),
    ({"classes": 2}, r"teacher outputs 2 classes, but the dataset 'toy' has 3"),
])
def test_check_fits(model_kwargs, match):
    with pytest.raises(ValueError, match=match):
        io.check_fits(_model(**model_kwargs), _data(), role="teacher")
    io.check_fits(_model(), _data())


def test_a_savedmodel_directory_loads_only_when_trusted(tmp_path):
    from keras_distill import export

    model = keras.Sequential([keras.Input((4,), name="x"), keras.layers.Dense(3)])
    path = export.export_saved_model(model, str(tmp_path / "sm"), verify=False, verbose=False)
    with pytest.raises(ValueError, match="A SavedModel is code.*--trust-savedmodel"):
        io.load_model(path, role="teacher")
    loaded = io.load_model(path, role="teacher", trust_savedmodel=True)
    x = np.ones((2, 4), "float32")
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)


def test_keras_and_h5_files_keep_keras_safe_mode(tmp_path):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda x: x * 2),
                              keras.layers.Dense(3)])
    for name in ("lambda.keras", "lambda.h5"):
        model.save(tmp_path / name)
        with pytest.raises(ValueError, match="could not be loaded as a model.*Lambda"):
            io.load_model(str(tmp_path / name), role="teacher")
