"""Strategy choice, TF_CONFIG checks, global batches, the scope rule and chief-only outputs."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_distill as kd
from keras_distill import distribute
from tests import helpers

CLUSTER = {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 1}}


def test_unknown_strategy_name():
    with pytest.raises(ValueError, match=r"Expected one of \['auto', .*Received: strategy='gpus'"):
        distribute.get_strategy("gpus")


def test_auto_picks_by_environment(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.delenv("TPU_NAME", raising=False)
    assert distribute.resolve_strategy_name("auto") == "one_device"
    assert isinstance(distribute.get_strategy("auto"), tf.distribute.OneDeviceStrategy)
    monkeypatch.setenv("TF_CONFIG", json.dumps(CLUSTER))
    assert distribute.resolve_strategy_name("auto") == "multi_worker"
    monkeypatch.delenv("TF_CONFIG")
    monkeypatch.setenv("TPU_NAME", "my-tpu")
    assert distribute.resolve_strategy_name("auto") == "tpu"


def test_multi_worker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match=r"needs TF_CONFIG.*\"cluster\": \{\"worker\""):
        distribute.get_strategy("multi_worker")


@pytest.mark.parametrize("raw,match", [
    ("{not json", "not JSON"),
    (json.dumps({"cluster": {"worker": ["a:1"]}}), "expected a `cluster`"),
    (json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}), "index\": 3"),
])
def test_invalid_tf_config(monkeypatch, raw, match):
    monkeypatch.setenv("TF_CONFIG", raw)
    with pytest.raises(ValueError, match=match):
        distribute.get_strategy("multi_worker")


def test_global_batch_must_divide_over_replicas(mirrored):
    assert distribute.check_global_batch_size(32, mirrored) == 32
    with pytest.raises(ValueError, match="divisible by the 2 replicas.*batch_size=33"):
        distribute.check_global_batch_size(33, mirrored)


def test_backup_dir_must_be_writable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValueError, match="Expected a directory this process can write to"):
        distribute.check_writable_directory(str(blocker / "backup"))
    assert distribute.check_writable_directory(str(tmp_path / "ok")) == str(tmp_path / "ok")


def test_models_created_outside_the_active_scope_are_an_error(mirrored):
    teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
    with mirrored.scope():
        with pytest.raises(ValueError, match=r"created outside the active `MirroredStrategy` scope"):
            kd.Distiller(teacher=teacher, student=student)


def test_distiller_outside_the_scope_enters_its_models_strategy(mirrored):
    strategy = mirrored
    with strategy.scope():
        teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
    distiller = kd.Distiller(teacher=teacher, student=student)  # Outside the scope.
    assert distiller.distribute_strategy is strategy
    distiller.compile("adam", student_loss_fn=helpers.SCCE)
    x, y = helpers.data()
    history = distiller.fit(helpers.dataset(x, y, 16, drop_remainder=True), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_mixed_strategies_are_an_error(mirrored):
    with mirrored.scope():
        teacher = helpers.mlp(seed=1)
    with pytest.raises(ValueError, match="different tf.distribute strategies"):
        kd.Distiller(teacher=teacher, student=helpers.mlp(hidden=(), seed=2))


class _Resolver:
    task_type, task_id = "worker", 1


class _WorkerStrategy:
    cluster_resolver = _Resolver()


def test_only_the_chief_writes(monkeypatch, tmp_path):
    monkeypatch.setenv("TF_CONFIG", json.dumps(CLUSTER))
    assert distribute.is_chief(tf.distribute.get_strategy())
    assert not distribute.is_chief(_WorkerStrategy())
    with distribute.chief_output_dir(str(tmp_path / "out"), _WorkerStrategy()) as scratch:
        assert scratch != str(tmp_path / "out")
        open(os.path.join(scratch, "report.json"), "w").close()
    assert not os.path.exists(scratch)
    assert not (tmp_path / "out").exists()


def test_compile_outside_the_scope_with_an_optimizer_made_outside_it(mirrored):
    strategy = mirrored
    with strategy.scope():
        teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
        distiller = kd.Distiller(teacher=teacher, student=student)
    distiller.compile(keras.optimizers.Adam(0.05), student_loss_fn=helpers.SCCE)
    assert distiller.optimizer.learning_rate.numpy() == pytest.approx(0.05)
    x, y = helpers.data()
    distiller.fit(helpers.dataset(x, y, 16, drop_remainder=True), epochs=1, verbose=0)


def test_plain_keras_still_cannot_build_from_a_boolean_input_under_a_strategy(mirrored):
    """keras_workarounds.py builds a model from one replica's first batch because Keras averages
    the replicas, which fails on a boolean input (keras-hub's `padding_mask`); when plain Keras
    passes here, that part of the workaround (and the workflow's int32 mask) can go."""
    with mirrored.scope():
        tokens = keras.Input((4,), name="x")
        mask = keras.Input((4,), dtype="bool", name="mask")
        outputs = keras.layers.Dense(3)(tokens * keras.ops.cast(mask, "float32"))
        plain = keras.Model({"x": tokens, "mask": mask}, outputs)
        plain.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    data = tf.data.Dataset.from_tensor_slices(
        ({"x": np.ones((8, 4), "float32"), "mask": np.ones((8, 4), bool)},
         np.zeros(8, "int32"))).batch(4)
    with pytest.raises(Exception, match="bool"):
        plain.fit(data, epochs=1, verbose=0)
