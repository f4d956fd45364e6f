"""Tests of the `keras_distill.workflow` stages, called directly on tiny MNIST-1D settings."""

import json
import os
import socket

import keras
import numpy as np
import pytest

from keras_distill import io
from keras_distill import workflow
from keras_distill.config import RunConfig
from keras_distill.data import datasets
from keras_distill.workflow import publish
from keras_distill.workflow import recipe
from keras_distill.workflow import run_directory
from keras_distill.workflow import setup
from keras_distill.workflow import students
from keras_distill.workflow import teacher as teacher_stage
from keras_distill.workflow import training

TINY = dict(epochs=1, teacher_epochs=1, batch_size=256, verbose=0)


@pytest.fixture(scope="module")
def data():
    return datasets.load("mnist1d")


@pytest.fixture(scope="module")
def trained_teacher(data):
    model, _ = teacher_stage.train_teacher(data, RunConfig.for_command("run", **TINY))
    return model


def test_command_config_takes_a_config_or_keywords():
    config = setup.command_config("run", values={"epochs": 2})
    assert config.command == "run" and config.student.epochs == 2
    assert setup.command_config("run", config, {"alpha": 0.1}).distill.alpha == 0.1
    with pytest.raises(ValueError, match="`distill` needs it"):
        setup.command_config("distill", config)  # A run config has no teacher path.
    with pytest.raises(TypeError, match="Expected a `keras_distill.RunConfig`"):
        setup.command_config("run", {"epochs": 2})


def test_strategy_is_resolved_and_the_global_batch_checked(monkeypatch, mirrored):
    config = RunConfig.for_command("run", strategy=mirrored, batch_size=64)
    assert setup.resolve_strategy(config) is mirrored
    with pytest.raises(ValueError, match="divisible by the 2 replicas"):
        setup.resolve_strategy(config.replace(batch_size=63))


def test_teacher_is_reused_only_with_the_same_settings(tmp_path, data):
    lines = []
    config = RunConfig.for_command("run", output=str(tmp_path), **TINY)
    first, _, path = teacher_stage.cached_teacher(data, config, log=lines.append)
    again, _, same_path = teacher_stage.cached_teacher(data, config, log=lines.append)
    assert same_path == path and path.startswith(str(tmp_path / "teachers"))
    np.testing.assert_array_equal(first.get_weights()[0], again.get_weights()[0])
    _, _, other = teacher_stage.cached_teacher(data, config.replace(seed=1), log=lines.append)
    teacher_stage.cached_teacher(data, config.replace(seed=1, retrain_teacher=True),
                                 log=lines.append)
    kinds = [line.split(",")[0] for line in lines if not line.startswith("teacher: trained in")]
    assert kinds == ["teacher: training the reference teacher", f"teacher: reused from {path} "
                     "(trained by an earlier run with the same settings)",
                     "teacher: training the reference teacher",
                     "teacher: training the reference teacher"]
    assert other != path and os.path.isfile(path)  # Other settings never replace a teacher.
    key = json.load(open(os.path.join(os.path.dirname(other), "teacher.json")))["key"]
    assert key["seed"] == 1 and key["epochs"] == 1
    assert sorted(os.listdir(tmp_path / "teachers")) == sorted(
        os.path.basename(os.path.dirname(p)) for p in (path, other))


def test_scratch_and_distilled_start_from_the_same_weights(data):
    config = RunConfig.for_command("run", student="mlp", **TINY)
    a, b = students.build_student(data, config), students.build_student(data, config)
    for x, y in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(x, y)
    other = students.build_student(data, config.replace(seed=1))
    assert not np.array_equal(other.get_weights()[0], a.get_weights()[0])


def test_the_distilled_student_uses_the_transfer_set(data, trained_teacher):
    with_transfer = datasets.load("mnist1d", transfer_samples=512)
    config = RunConfig.for_command("run", student="mlp", transfer_samples=512, **TINY)
    assert "512 unlabeled transfer examples" in students.describe_distillation(with_transfer,
                                                                               config)
    assert "transfer" not in students.describe_distillation(data, config)
    _, history = students.train_student(with_transfer, config, teacher=trained_teacher)
    assert set(history) >= {"loss", "distillation_loss", "student_loss"}


def test_the_distilled_student_trains_on_cached_views_where_they_apply(data, trained_teacher,
                                                                      monkeypatch):
    calls, cache = [], students.views_lib.cache_teacher_views
    monkeypatch.setattr(students.views_lib, "cache_teacher_views",
                        lambda *args, **kwargs: calls.append(kwargs["views"]) or cache(*args,
                                                                                         **kwargs))
    config = RunConfig.for_command("run", student="mlp", views=3, **{**TINY, "epochs": 3})
    assert "cached for 3 augmented views" in students.describe_distillation(data, config)
    _, history = students.train_student(data, config, teacher=trained_teacher)
    assert calls == [3] and np.isfinite(history["distillation_loss"]).all()
    students.train_student(data, config, teacher=None)  # The scratch student: no teacher.
    assert calls == [3]
    for online in (config.replace(mixup=1.0), config.replace(augment=False),
                   config.replace(boundary_step=0.3)):
        assert "online teacher" in students.describe_distillation(data, online)


def test_boundary_seeking_inputs_train_the_distilled_student_online(data, trained_teacher):
    config = RunConfig.for_command("run", student="mlp", boundary_step=0.3, **TINY)
    line = students.describe_distillation(data, config)
    assert "online teacher" in line and "boundary-seeking inputs (0.3 sd)" in line
    _, history = students.train_student(data, config, teacher=trained_teacher)
    assert np.isfinite(history["distillation_loss"]).all()


def test_synthetic_inputs_join_the_transfer_set_labelled_by_the_teacher(data):
    config = RunConfig.for_command("run", student="mlp", synthetic_samples=40, **TINY)
    # Ten epochs: after one, the BatchNorm statistics to match are still near their start.
    trained_teacher, _ = teacher_stage.train_teacher(data, config.replace(teacher_epochs=10))
    lines = []
    synthetic = recipe.with_synthetic_inputs(data, trained_teacher, config, log=lines.append)
    assert synthetic.sizes["transfer"] == 40 and data.transfer is None
    assert lines[0].startswith("synthesizing: 40 inputs from the teacher's classes")
    assert "40 unlabeled transfer examples (40 synthesized from the teacher)" in (
        students.describe_distillation(synthetic, config))
    # Raw like the training inputs: normalised again, they are what was synthesized, and the
    # teacher reads its targets in them: each of the 10 classes 4 times.
    raw = np.stack(list(synthetic.transfer.as_numpy_iterator()))
    classes = trained_teacher.predict(data.normalization(raw), verbose=0).argmax(-1)
    np.testing.assert_array_equal(np.bincount(classes, minlength=10), [4] * 10)
    _, history = students.train_student(synthetic, config, teacher=trained_teacher)
    assert np.isfinite(history["distillation_loss"]).all()
    assert recipe.with_synthetic_inputs(data, trained_teacher,
                                        config.replace(synthetic_samples=0)) is data


def test_synthetic_inputs_refuse_a_teacher_without_batchnorm_before_it_trains(tmp_path, data):
    config = RunConfig.for_command("run", family="mlp", synthetic_samples=40,
                                   output=str(tmp_path), **TINY)
    with pytest.raises(ValueError, match="BatchNormalization layers, and `teacher` has none"):
        teacher_stage.obtain_teacher(data, config)
    assert not os.path.exists(tmp_path / "teachers")  # Nothing trained.


@pytest.mark.parametrize("views_in_memory,cached,says", [
    (4, 3, None),  # All asked fit.
    (2, 2, "3 views asked: one view of the inputs takes 0.6 MiB, and the views may take"),
    (1, 0, "online teacher (3 views asked"),  # One fixed view is no augmentation: online.
])
def test_views_are_capped_by_the_memory_they_take_and_the_line_says_so(
        data, monkeypatch, views_in_memory, cached, says):
    one_view = recipe.view_bytes(data)
    assert one_view == data.sizes["train"] * 40 * 4
    monkeypatch.setattr(recipe, "VIEWS_MEMORY", views_in_memory * one_view + one_view // 2)
    config = RunConfig.for_command("run", views=3, **{**TINY, "epochs": 3})
    assert recipe.cached_views(data, config) == cached
    line = students.describe_distillation(data, config)
    assert (says in line) if says else ("asked" not in line and "cached for 3" in line)


def test_run_fails_on_a_bad_value_before_writing_anything(tmp_path):
    output = tmp_path / "out"
    with pytest.raises(ValueError, match="Received: alpha=2"):
        workflow.run(output=str(output), alpha=2, **TINY)
    with pytest.raises(ValueError, match="Received: teacher="):
        workflow.run(output=str(output), teacher=str(tmp_path / "none.keras"), **TINY)
    assert not output.exists()


def test_run_then_evaluate_saved_models(tmp_path, trained_teacher):
    teacher_path = io.save_model(trained_teacher, str(tmp_path / "given.keras"))
    lines = []
    report = workflow.run(output=str(tmp_path / "out"), teacher=teacher_path, export=False,
                          student="mlp", log=lines.append, **TINY)
    assert [row["name"] for row in report.rows] == ["teacher", "scratch", "distilled"]
    assert report.meta["config"]["teacher"] == teacher_path
    assert lines[0] == "data: mnist1d, 3,200 train, 1,000 test, 800 validation"
    assert lines[1] == f"teacher: loaded from {teacher_path}"
    directory = report.meta["run_directory"]
    assert os.path.realpath(tmp_path / "out" / "latest") == os.path.realpath(directory)
    assert sorted(os.listdir(directory)) == [
        "config.toml", "report.json", "report.md", "report.png", "scratch.keras",
        "student.keras"]
    again = workflow.evaluate_saved(
        output=str(tmp_path / "eval"), teacher=teacher_path,
        student=os.path.join(directory, "student.keras"),
        scratch=os.path.join(directory, "scratch.keras"), log=lines.append)
    for before, after in zip(report.rows, again.rows):
        assert before["test_accuracy"] == pytest.approx(after["test_accuracy"], abs=1e-6)


def test_export_model_from_a_config(tmp_path, trained_teacher):
    path = io.save_model(trained_teacher, str(tmp_path / "teacher.keras"))
    records = workflow.export_model(model=path, output=str(tmp_path / "exported"),
                                    formats=["tflite"], dataset="mnist1d")
    assert list(records) == ["tflite"]
    record = records["tflite"]
    assert record["agreement"] == 1.0 and os.path.isfile(record["path"])
    assert workflow.describe_artifact(record).startswith(record["path"])


def test_config_toml_repeats_the_run(tmp_path):
    config = RunConfig.for_command("run", output=str(tmp_path), alpha=0.3, student="gru",
                                   export=False, tune_epochs=2, **TINY)
    path = tmp_path / "config.toml"
    path.write_text(config.to_toml())
    assert RunConfig.resolve("run", file=str(path)) == config
    # Flags override the file, `--set` overrides both.
    again = RunConfig.resolve("run", file=str(path), overrides=["distill.temperature=8"],
                              alpha=0.9)
    assert (again.distill.alpha, again.distill.temperature) == (0.9, 8.0)
    (tmp_path / "bad.toml").write_text("[distill]\nalfa = 0.3\n")
    with pytest.raises(ValueError, match="Received: config key='distill.alfa'"):
        RunConfig.resolve("run", file=str(tmp_path / "bad.toml"))
    (tmp_path / "broken.toml").write_text("[distill\n")
    with pytest.raises(ValueError, match="Expected a TOML file"):
        RunConfig.resolve("run", file=str(tmp_path / "broken.toml"))
    with pytest.raises(ValueError, match="Received: config key='distill.beta'"):
        RunConfig.resolve("run", overrides=["distill.beta=1"])
    with pytest.raises(ValueError, match="Received: set='alpha'"):
        RunConfig.resolve("run", overrides=["alpha"])


def test_a_failed_command_leaves_no_directory_and_latest_unchanged(tmp_path):
    config = RunConfig.for_command("run", output=str(tmp_path))
    with run_directory.run_directory(config) as first:
        pass
    with pytest.raises(KeyboardInterrupt):
        with run_directory.run_directory(config) as second:
            (open(os.path.join(second, "half.keras"), "w")).write("half")
            raise KeyboardInterrupt
    assert not os.path.exists(second)
    assert os.path.realpath(tmp_path / "latest") == os.path.realpath(first)
    # A directory a killed process left (its marker names a process that is gone) is removed
    # by the next command; one whose process is alive is kept.
    host = socket.gethostname()
    for name, owner in (("run-killed", f"{2 ** 22 + 12345} {host}"),
                        ("run-running", f"{os.getpid()} {host}"),
                        ("run-elsewhere", f"{2 ** 22 + 12345} another-host")):
        os.makedirs(tmp_path / name)
        (tmp_path / name / run_directory.INCOMPLETE).write_text(owner)
    with run_directory.run_directory(config):
        pass
    assert not (tmp_path / "run-killed").exists()
    assert (tmp_path / "run-running").exists() and (tmp_path / "run-elsewhere").exists()


def test_publish_adds_the_next_version_and_replaces_nothing(tmp_path):
    source = tmp_path / "export" / "saved_model" / "1"
    os.makedirs(source)
    (source / "saved_model.pb").write_bytes(b"model")
    base = tmp_path / "serving" / "student"
    os.makedirs(base / "3")
    (base / "3" / "saved_model.pb").write_bytes(b"older")
    assert publish.next_version(str(base)) == 4
    assert publish.publish_saved_model(str(source), str(base)) == str(base / "4")
    assert (base / "4" / "saved_model.pb").read_bytes() == b"model"
    assert (base / "3" / "saved_model.pb").read_bytes() == b"older"
    assert sorted(os.listdir(base)) == ["3", "4"]


def test_keep_best_weights_restores_the_best_validation_epoch_and_checks_its_monitor():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.integers(0, 2, 64)
    net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    net.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy", metrics=["accuracy"])
    snapshots = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: snapshots.append(net.get_weights()))
    keep = training.KeepBestWeights(net, monitor="val_loss_negated")
    with pytest.raises(ValueError, match=r"Expected a value `fit` logs: .*'val_loss'.*"
                                         r"Received: monitor='val_loss_negated'"):
        net.fit(x, y, validation_data=(x, y), epochs=1, verbose=0, callbacks=[keep])

    keep = training.KeepBestWeights(net)
    history = net.fit(x, y, validation_data=(x, y), epochs=6, verbose=0,
                      callbacks=[record, keep])
    best = int(np.argmax(history.history["val_accuracy"]))
    assert keep.best_epoch == best
    for kept, snapshot in zip(net.get_weights(), snapshots[best]):
        np.testing.assert_array_equal(kept, snapshot)

    unvalidated = training.KeepBestWeights(net)  # No validation data: nothing kept.
    net.fit(x, y, epochs=1, verbose=0, callbacks=[unvalidated])
    assert unvalidated.best_epoch is None


def test_tiny_images_are_not_augmented_and_their_teacher_key_says_so(tmp_path):
    from types import SimpleNamespace


    def images(side):
        return SimpleNamespace(input_shape=(side, side, 1), source=SimpleNamespace(kind="npz"))

    assert recipe.augmentation_for(images(8)) == []
    assert [type(layer).__name__ for layer in recipe.augmentation_for(images(16))] == [
        "RandomTranslation"]
    assert recipe.default_recipe(images(8)).augmentation is None
    rng = np.random.default_rng(0)
    path = str(tmp_path / "tiny.npz")
    np.savez(path, x=rng.random((60, 8, 8, 1)).astype("float32"), y=np.arange(60) % 3)
    tiny = datasets.load(path, validation_split=0.2, test_split=0.2, seed=0)
    key = teacher_stage.teacher_key(tiny, RunConfig.for_command("run", **TINY))
    assert key["augmentation"] == []
