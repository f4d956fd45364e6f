"""Teacher outputs cached once: same loss as online, teacher never called in fit, reshuffles."""

import os
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_distill as kd
from keras_distill.data import teacher_outputs as cached_format
from tests import helpers
from tests.helpers import SCCE


def compiled(teacher, student, optimizer=None):
    return kd.Distiller(student=student, teacher=teacher).compile(
        optimizer=optimizer or keras.optimizers.Adam(0.01), student_loss_fn=SCCE, alpha=0.2,
        temperature=3.0, metrics=["sparse_categorical_accuracy"])


def test_cached_training_equals_online_on_the_same_batches():
    x, y = helpers.data(n=80)
    w = np.linspace(0.5, 1.5, len(x)).astype("float32")
    source = helpers.dataset(x, y, 16, sample_weight=w)

    def run(cached):
        teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(8,), seed=2)
        distiller = compiled(teacher, student)
        data = kd.cache_teacher_outputs(teacher, source, shuffle=False) if cached else source
        history = distiller.fit(data, epochs=2, verbose=0).history
        return student.get_weights(), history

    online_weights, online = run(False)
    cached_weights, cached = run(True)
    for key in online:
        np.testing.assert_allclose(online[key], cached[key], rtol=1e-6)
    for a, b in zip(online_weights, cached_weights):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_teacher_is_not_called_during_fit():
    teacher, counter = helpers.counting_teacher()
    x, y = helpers.data()
    cached = kd.cache_teacher_outputs(teacher, helpers.dataset(x, y, 16), seed=0)
    calls = float(counter.calls.numpy())
    assert calls > 0
    distiller = compiled(teacher, helpers.mlp(hidden=(), seed=2))
    distiller.fit(cached, epochs=3, verbose=0, validation_data=cached)
    distiller.evaluate(cached, verbose=0)
    assert float(counter.calls.numpy()) == calls


def test_each_example_keeps_its_output_and_order_changes_every_epoch():
    teacher = helpers.mlp(seed=1)
    x, y = helpers.data(n=50)
    y = np.arange(50).astype("int32")  # Labels identify the examples.
    cached = kd.cache_teacher_outputs(teacher, helpers.dataset(x, y, 8), seed=3)
    expected = teacher.predict(x, verbose=0)
    orders = []
    for _ in range(2):
        order = []
        for inputs, labels in cached:
            ids = labels.numpy()
            np.testing.assert_allclose(inputs[cached_format.INPUTS_KEY].numpy(), x[ids])
            np.testing.assert_allclose(
                inputs[cached_format.TEACHER_OUTPUTS_KEY]["logits"].numpy(), expected[ids], rtol=1e-5, atol=1e-6)
            order.extend(ids)
        assert sorted(order) == list(range(50))
        orders.append(order)
    assert orders[0] != orders[1]


def test_sample_weights_and_unlabeled_inputs_are_kept():
    teacher = helpers.mlp(seed=1)
    x, y = helpers.data(n=20)
    w = np.arange(20).astype("float32")
    with_weights = kd.cache_teacher_outputs(teacher, helpers.dataset(x, y, 5, sample_weight=w), shuffle=False)
    assert len(with_weights.element_spec) == 3
    np.testing.assert_array_equal(np.concatenate([b[2].numpy() for b in with_weights]), w)
    x_only = kd.cache_teacher_outputs(teacher, tf.data.Dataset.from_tensor_slices(x).batch(5),
                                      shuffle=False, batch_size=10, drop_remainder=True)
    assert [int(tf.shape(b[cached_format.INPUTS_KEY])[0]) for b in x_only] == [10, 10]
    history = compiled(teacher, helpers.mlp(hidden=(), seed=2)).fit(x_only, epochs=1, verbose=0).history
    assert set(history) == {"loss", "distillation_loss"}


def test_on_disk_and_float16_storage(tmp_path):
    teacher = helpers.mlp(seed=1)
    x, y = helpers.data(n=40)
    path = str(tmp_path / "cache")
    cached = kd.cache_teacher_outputs(teacher, helpers.dataset(x, y, 8), shuffle=False, path=path,
                                      dtype="float16")
    assert os.path.isdir(path)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".teacher-cache-")]
    logits = np.concatenate([b[0][cached_format.TEACHER_OUTPUTS_KEY]["logits"].numpy() for b in cached])
    assert logits.dtype == np.float32
    np.testing.assert_allclose(logits, teacher.predict(x, verbose=0), rtol=2e-3, atol=2e-3)
    compiled(teacher, helpers.mlp(hidden=(), seed=2)).fit(cached, epochs=1, verbose=0)


def test_distiller_as_teacher_caches_features():
    keras.utils.set_random_seed(0)

    def build(name):
        inputs = keras.Input((6,), name="x")
        hidden = keras.layers.Dense(5, activation="relu", name="hidden")(inputs)
        return keras.Model(inputs, keras.layers.Dense(4, name="out")(hidden), name=name)

    distiller = kd.Distiller(teacher=build("t"), student=build("s"), distillation_losses=[
        kd.LogitsDistillation(), kd.FeatureDistillation(teacher_layer_name="hidden", student_layer_name="hidden")])
    x, y = helpers.data(n=16)
    cached = kd.cache_teacher_outputs(distiller, helpers.dataset(x, y, 8), shuffle=False)
    outputs = next(iter(cached))[0][cached_format.TEACHER_OUTPUTS_KEY]
    assert set(outputs) == {"logits", "hidden"}
    distiller.compile("adam", loss=SCCE)
    assert {"logits_distillation", "feature_distillation"} <= set(distiller.fit(cached, verbose=0).history)


def test_bad_arguments():
    teacher = helpers.mlp(seed=1)
    x, y = helpers.data(n=8)
    with pytest.raises(TypeError, match="Expected a batched `tf.data.Dataset`"):
        kd.cache_teacher_outputs(teacher, (x, y))
    with pytest.raises(ValueError, match="dtype='int8'"):
        kd.cache_teacher_outputs(teacher, helpers.dataset(x, y, 4), dtype="int8")
    with pytest.raises(ValueError, match="empty dataset"):
        kd.cache_teacher_outputs(teacher, helpers.dataset(x, y, 4).take(0))
    with pytest.raises(TypeError, match="Expected a `keras.Model`"):
        kd.cache_teacher_outputs("teacher.keras", helpers.dataset(x, y, 4))


def test_drop_remainder_follows_the_source():
    teacher = helpers.mlp(seed=1)
    x, y = helpers.data(n=20)
    kept = kd.cache_teacher_outputs(teacher, helpers.dataset(x, y, 8), shuffle=False)
    dropped = kd.cache_teacher_outputs(teacher, helpers.dataset(x, y, 8, drop_remainder=True),
                                       shuffle=False)
    assert [int(tf.shape(b[1])[0]) for b in kept] == [8, 8, 4]
    assert [int(tf.shape(b[1])[0]) for b in dropped] == [8, 8]
    assert dropped.element_spec[1].shape[0] == 8  # Static, like the source: one trace.


# ---------------------------------------------------------------------------------- manifest
def _manifest(path):
    import json

    from keras_distill.data import cache_manifest
    with open(os.path.join(path, cache_manifest.MANIFEST), encoding="utf-8") as f:
        return json.load(f)


def test_manifest_describes_every_stored_array_and_file(tmp_path):
    teacher = helpers.mlp(seed=1)
    x, y = helpers.data(n=20)
    w = np.ones(20, "float32")
    path = str(tmp_path / "cache")
    kd.cache_teacher_outputs(teacher, helpers.dataset(x, y, 8, sample_weight=w), path=path,
                             dtype="float16")
    manifest = _manifest(path)
    assert manifest["examples"] == 20
    assert manifest["arrays"] == {
        f"0/{cached_format.INPUTS_KEY}": {"shape": [6], "dtype": "float32"},
        f"0/{cached_format.TEACHER_OUTPUTS_KEY}/logits": {"shape": [4], "dtype": "float16"},
        "1": {"shape": [], "dtype": "int32"}, "2": {"shape": [], "dtype": "float32"}}
    assert manifest["fingerprint"]["options"]["dtype"] == "float16"
    on_disk = {os.path.relpath(os.path.join(r, n), path) for r, _, ns in os.walk(path)
               for n in ns} - {"manifest.json"}
    assert set(manifest["files"]) == on_disk
    assert all(entry["bytes"] == os.path.getsize(os.path.join(path, name))
               for name, entry in manifest["files"].items())


def test_manifest_of_a_top_k_cache_counts_its_arrays(tmp_path):
    teacher = helpers.mlp(seed=1)
    x, y = helpers.data(n=16)
    path = str(tmp_path / "cache")
    kd.cache_teacher_outputs(teacher, helpers.dataset(x, y, 8), path=path, top_k=2)
    arrays = _manifest(path)["arrays"]
    outputs = {k.rsplit("/", 1)[1]: v for k, v in arrays.items()
               if cached_format.TEACHER_OUTPUTS_KEY in k}
    assert outputs == {"top_k_indices": {"shape": [2], "dtype": "int32"},
                       "top_k_logits": {"shape": [2], "dtype": "float16"},
                       "top_k_rest": {"shape": [2], "dtype": "float16"}}


def test_same_teacher_and_data_have_the_same_fingerprint(tmp_path):
    x, y = helpers.data(n=16)
    prints = []
    for name in ("a", "b"):
        teacher = helpers.mlp(seed=1)  # Rebuilt: other layer names, the same weights.
        kd.cache_teacher_outputs(teacher, helpers.dataset(x, y, 8), path=str(tmp_path / name))
        prints.append(_manifest(str(tmp_path / name))["fingerprint"])
    assert prints[0] == prints[1]


def test_rewrite_replaces_the_cache_whole(tmp_path):
    path = str(tmp_path / "cache")
    x, y = helpers.data(n=16)
    kd.cache_teacher_outputs(helpers.mlp(seed=1), helpers.dataset(x, y, 8), path=path)
    new_teacher = helpers.mlp(seed=3)
    kd.cache_teacher_outputs(new_teacher, helpers.dataset(x[:8], y[:8], 8), path=path)
    assert _manifest(path)["examples"] == 8
    loaded = kd.data.cache.load_teacher_outputs(path, 8, teacher=new_teacher)
    assert sum(int(tf.shape(b[1])[0]) for b in loaded) == 8
    assert sorted(os.listdir(tmp_path)) == ["cache"]  # No staging or set-aside copy is left.


_KILLED_WRITER = """
import os, signal, sys, time
import keras, numpy as np, tensorflow as tf
import keras_distill as kd

def slow():
    for i in range(1000):
        if i == 3:
            print("WRITING", flush=True)
        time.sleep(0.05)
        yield np.zeros((4, 6), "float32"), np.zeros(4, "int32")

source = tf.data.Dataset.from_generator(slow, output_signature=(
    tf.TensorSpec((None, 6), tf.float32), tf.TensorSpec((None,), tf.int32)))
teacher = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4)])
kd.cache_teacher_outputs(teacher, source, path=sys.argv[1])
"""


@pytest.mark.slow
def test_staging_left_by_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    import signal
    import subprocess
    import sys

    path = str(tmp_path / "cache")
    writer = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, path],
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "WRITING"
    for _ in range(600):  # The source is read ahead of the write: wait for the staging folder.
        if os.listdir(tmp_path):
            break
        time.sleep(0.1)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    left = os.listdir(tmp_path)
    assert len(left) == 1 and left[0].startswith(f".cache.tmp-{writer.pid}@")
    x, y = helpers.data(n=8)
    kd.cache_teacher_outputs(helpers.mlp(seed=1), helpers.dataset(x, y, 4), path=path)
    assert os.listdir(tmp_path) == ["cache"]
