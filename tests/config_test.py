"""Tests of `keras_distill.config`: one frozen `RunConfig`, its defaults, and every check."""

import dataclasses

import pytest

from keras_distill import cli
from keras_distill.config import DistillConfig
from keras_distill.config import RunConfig
from keras_distill.config import TuneConfig


def test_defaults_live_in_one_place_and_the_cli_shows_them(capsys):
    config = RunConfig.for_command("run")
    assert (config.distill.alpha, config.distill.temperature) == (0.5, 2.0)
    assert (config.student.epochs, config.teacher.epochs, config.train.batch_size) == (100, 30, 64)
    assert RunConfig.for_command("tune").tune.trials == 8
    assert RunConfig.for_command("tune").tune_epochs == 5
    assert RunConfig.for_command("run").tune_epochs == 100  # The students' epochs.
    assert cli.main(["run", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "weight of the hard-label loss, in [0, 1] (default: 0.5)" in help_text
    assert "softmax temperature (default: 2.0)" in help_text


def test_keywords_map_onto_sections_as_each_command_reads_them():
    run = RunConfig.for_command("run", epochs=3, alpha=0.25, seed=7, export=False)
    assert (run.student.epochs, run.distill.alpha, run.train.seed, run.export.enabled) == (
        3, 0.25, 7, False)
    assert RunConfig.for_command("train-teacher", epochs=4).teacher.epochs == 4
    tune = RunConfig.for_command("tune", epochs=2, alpha="0.2,0.4", temperature="2|8")
    assert (tune.tune.epochs, tune.tune.alpha, tune.tune.temperature) == (2, (0.2, 0.4),
                                                                         [2.0, 8.0])
    assert tune.distill.alpha == 0.5  # `alpha` is the search range in `tune`.


def test_frozen_and_replace_validates_again():
    config = RunConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.output = "elsewhere"
    changed = config.replace(alpha=0.1, epochs=2)
    assert (changed.distill.alpha, changed.student.epochs) == (0.1, 2)
    assert (config.distill.alpha, config.student.epochs) == (0.5, 100)
    assert changed.distill.temperature == config.distill.temperature
    with pytest.raises(ValueError, match="Received: alpha=1.5"):
        config.replace(alpha=1.5)


def test_values_are_converted_once():
    config = RunConfig.for_command("run", alpha=1, temperature=2, student_size=2)
    assert isinstance(config.distill.alpha, float) and config.distill.alpha == 1.0
    assert isinstance(config.distill.temperature, float)
    assert RunConfig.for_command("export", model=__file__, output="o",
                                 quantization="none").export.tflite_quantization is None


@pytest.mark.parametrize("command, values, message", [
    ("run", {"alpha": 2}, "Received: alpha=2"),
    ("run", {"alpha": True}, "Received: alpha=True"),
    ("run", {"temperature": 0}, "Received: temperature=0"),
    ("run", {"epochs": 0}, "Received: epochs=0"),
    ("run", {"teacher_epochs": 1.5}, "Received: teacher_epochs=1.5"),
    ("run", {"batch_size": -1}, "Received: batch_size=-1"),
    ("run", {"learning_rate": 0}, "Received: learning_rate=0"),
    ("run", {"student": "resnet"}, "Expected one of 'mlp', 'cnn', 'gru'"),
    ("run", {"strategy": "nccl"}, "Received: strategy='nccl'"),
    ("run", {"strategy": 3}, "a tf.distribute.Strategy. Received: strategy=3"),
    ("run", {"validation_split": 1.0}, "Expected a fraction in (0, 1)"),
    ("run", {"transfer_samples": -5}, "Received: transfer_samples=-5"),
    ("run", {"views": -1}, "Received: views=-1"),
    ("tune", {"views": 4}, "Received: views=4"),
    ("run", {"boundary_step": -1}, "Received: boundary_step=-1"),
    ("tune", {"boundary_step": 0.3}, "Received: boundary_step=0.3"),
    ("run", {"synthetic_samples": -1}, "Received: synthetic_samples=-1"),
    ("run", {"synthetic_samples": 1.5}, "Received: synthetic_samples=1.5"),
    ("tune", {"synthetic_samples": 64}, "Received: synthetic_samples=64"),
    ("run", {"transfer_samples": 10, "dataset": "mnist"}, "only the built-in 'mnist1d'"),
    ("run", {"tune": 2, "strategy": "mirrored"}, "runs without a tf.distribute strategy"),
    ("run", {"teacher": "/nonexistent/teacher.keras"}, "(no such file or directory)"),
    ("run", {"verbose": 3}, "Received: verbose=3"),
    ("run", {"colour": "blue"}, "Expected a keyword among"),
    ("tune", {"trials": 0}, "Received: trials=0"),
    ("tune", {"alpha": "0,2"}, "Received: alpha=(0.0, 2.0)"),
    ("tune", {"temperature": "hot"}, "Received: temperature='hot'"),
    ("tune", {"tuner": "grid"}, "Received: tuner='grid'"),
    ("distill", {}, "`distill` needs it. Received: teacher=None"),
    ("evaluate", {"teacher": __file__}, "`evaluate` needs it. Received: student=None"),
    ("export", {"model": __file__, "output": "o", "quantization": "int8"},
     "`int8` needs calibration data"),
    ("export", {"model": __file__, "output": "o", "formats": ["saved_model"],
                "quantization": "float16"}, "only with the `tflite` format"),
    ("export", {"model": __file__, "output": "o", "version": 0}, "Received: version=0"),
    ("walk", {}, "Received: command='walk'"),
])
def test_bad_values_name_the_argument(command, values, message):
    with pytest.raises(ValueError) as error:
        RunConfig.for_command(command, **values)
    assert message in str(error.value)


def test_paths_under_a_file_are_refused_without_creating_anything(tmp_path):
    file = tmp_path / "file"
    file.write_text("x")
    for name in ("output", "backup_dir", "publish"):
        with pytest.raises(ValueError, match=f"Received: {name}="):
            RunConfig.for_command("run", **{name: str(file / "sub")})
    with pytest.raises(ValueError, match="but it is a file"):
        RunConfig.for_command("run", output=str(file))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_dict_round_trip_and_unknown_keys():
    config = RunConfig.from_dict({"distill.alpha": 0.2, "output": "out", "tune.trials": 3})
    assert (config.distill.alpha, config.output, config.tune.trials) == (0.2, "out", 3)
    plain = config.to_dict()
    assert plain["distill"]["alpha"] == 0.2 and plain["tune"]["alpha"] == [0.0, 1.0]
    assert plain["train"]["strategy"] is None
    with pytest.raises(ValueError, match="Received: config key='distil'"):
        RunConfig.from_dict({"distil.alpha": 0.2})
    with pytest.raises(ValueError, match="Received: config key='distill.alfa'"):
        RunConfig.from_dict({"distill.alfa": 0.2})


def test_sections_check_themselves():
    with pytest.raises(ValueError, match="Received: temperature=-1"):
        DistillConfig(temperature=-1)
    assert TuneConfig(alpha=[0.1, 0.5]).alpha == [0.1, 0.5]
    with pytest.raises(ValueError, match="Received: alpha=\\[\\]"):
        TuneConfig(alpha=[])


def test_a_strategy_object_is_kept_and_reported_by_name(mirrored):
    config = RunConfig.for_command("distill", teacher=__file__, strategy=mirrored)
    assert config.train.strategy is mirrored
    assert config.to_dict()["train"]["strategy"] == "MirroredStrategy"
