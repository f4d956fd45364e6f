"""Tests of the `keras_distill.workflow` stages, called directly on tiny MNIST-1D settings."""

import json
import os

import numpy as np
import pytest

from keras_distill import io
from keras_distill import workflow
from keras_distill.config import RunConfig
from keras_distill.data import datasets
from keras_distill.workflow import setup
from keras_distill.workflow import students
from keras_distill.workflow import teacher as teacher_stage

TINY = dict(epochs=1, teacher_epochs=1, batch_size=256, verbose=0)


@pytest.fixture(scope="module")
def data():
    return datasets.load("mnist1d")


@pytest.fixture(scope="module")
def trained_teacher(data):
    model, _ = teacher_stage.train_teacher(data, RunConfig.for_command("run", **TINY),
                                           validation=None)
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
    first, _ = teacher_stage.cached_teacher(data, config, log=lines.append)
    again, _ = teacher_stage.cached_teacher(data, config, log=lines.append)
    np.testing.assert_array_equal(first.get_weights()[0], again.get_weights()[0])
    teacher_stage.cached_teacher(data, config.replace(seed=1), log=lines.append)
    teacher_stage.cached_teacher(data, config.replace(seed=1, retrain_teacher=True),
                                 log=lines.append)
    kinds = [line.split(",")[0] for line in lines if not line.startswith("teacher: trained in")]
    assert kinds == ["teacher: training the reference teacher", "teacher: reused from "
                     f"{tmp_path / 'teacher.keras'} (trained by an earlier run with the same "
                     "settings)", "teacher: training the reference teacher",
                     "teacher: training the reference teacher"]
    key = json.load(open(tmp_path / "teacher.json"))["key"]
    assert key["seed"] == 1 and key["epochs"] == 1


def test_scratch_and_distilled_start_from_the_same_weights(data):
    config = RunConfig.for_command("run", student="mlp", **TINY)
    a, b = students.build_student(data, config), students.build_student(data, config)
    for x, y in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(x, y)
    other = students.build_student(data, config.replace(seed=1))
    assert not np.array_equal(other.get_weights()[0], a.get_weights()[0])


def test_transfer_set_only_when_the_config_asks(trained_teacher):
    with_transfer = datasets.load("mnist1d", transfer_samples=512)
    config = RunConfig.for_command("run", student="mlp", **TINY)
    asked = config.replace(transfer_samples=512)
    assert "512 unlabeled transfer examples" in students.describe_distillation(with_transfer,
                                                                               asked)
    assert "transfer" not in students.describe_distillation(with_transfer, config)
    _, history = students.train_student(with_transfer, asked, teacher=trained_teacher,
                                        validation=None)
    assert set(history) >= {"loss", "distillation_loss", "student_loss"}


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
    report = workflow.run(output=str(tmp_path / "out"), teacher=teacher_path, export_dir=None,
                          student="mlp", log=lines.append, **TINY)
    assert [row["name"] for row in report.rows] == ["teacher", "scratch", "distilled"]
    assert report.meta["config"]["teacher"] == teacher_path
    assert lines[0] == "data: mnist1d, 4,000 train, 1,000 test"
    assert lines[1] == f"teacher: loaded from {teacher_path}"
    assert sorted(os.listdir(tmp_path / "out")) == [
        "report.json", "report.md", "report.png", "scratch.keras", "student.keras"]
    again = workflow.evaluate_saved(
        output=str(tmp_path / "eval"), teacher=teacher_path,
        student=str(tmp_path / "out" / "student.keras"),
        scratch=str(tmp_path / "out" / "scratch.keras"), log=lines.append)
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
