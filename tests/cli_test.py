"""Tests of the `keras-distill` command, in-process through `main([...])` on tiny settings."""

import json
import os
import shutil
import subprocess
import sys

import keras
import pytest

from keras_distill import cli

TINY = ["--epochs", "1", "--batch-size", "256", "--verbose", "0"]


def _main(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def teacher_path(tmp_path_factory):
    output = tmp_path_factory.mktemp("teacher")
    assert cli.main(["train-teacher", "--output", str(output), *TINY]) == 0
    return str(output / "teacher.keras")


@pytest.mark.parametrize("command", [[], ["run"], ["train-teacher"], ["distill"], ["evaluate"],
                                     ["report"]])
def test_help_for_every_subcommand(capsys, command):
    status, out, _ = _main(capsys, *command, "--help")
    assert status == 0 and "usage: keras-distill" in out
    if command in (["run"], ["distill"]):
        for flag in ("--dataset", "--data-dir", "--output", "--epochs", "--batch-size",
                     "--alpha", "--temperature", "--seed", "--no-cache-teacher",
                     "--transfer-samples"):
            assert flag in out


def test_run_writes_report_and_export_then_reuses_teacher(capsys, tmp_path):
    output, exports = tmp_path / "out", tmp_path / "saved_models"
    argv = ["run", "--output", str(output), "--export-dir", str(exports), "--teacher-epochs",
            "1", *TINY]
    status, out, err = _main(capsys, *argv)
    assert status == 0, err
    assert "teacher: training the reference teacher, 1 epochs" in out
    assert "distilling: 1 epochs" in out
    assert sorted(f for f in os.listdir(output) if f.startswith("report")) == [
        "report.json", "report.md", "report.png"]
    report = json.load(open(output / "report.json"))
    names = [row["name"] for row in report["rows"]]
    assert names[:3] == ["teacher", "scratch", "distilled"]
    for row in report["rows"][:3]:
        for key in ("test_accuracy", "agreement", "params", "size_bytes", "latency_ms",
                    "throughput", "compression", "speedup"):
            assert row[key] is not None, (row["name"], key)
    assert "gap_recovered" in report["summary"] and "gain" in report["summary"]
    version = exports / "mnist1d_student" / "1"
    assert (version / "saved_model.pb").exists()
    assert "distilled (SavedModel)" in names and "test acc" in out  # The printed table.
    # A second run reuses the teacher and exports a new version; nothing is left half-written.
    status, out, err = _main(capsys, *argv, "--no-cache-teacher")
    assert status == 0, err
    assert "teacher: reused from" in out and "online teacher" in out
    assert sorted(os.listdir(exports / "mnist1d_student")) == ["1", "2"]
    assert not [f for f in os.listdir(output) if f.startswith(".")]


def test_run_with_teacher_path_and_transfer_set(capsys, tmp_path, teacher_path):
    status, out, err = _main(capsys, "run", "--teacher", teacher_path, "--output",
                             str(tmp_path), "--no-export", "--transfer-samples", "300",
                             "--student", "mlp", "--alpha", "0", "--temperature", "8", *TINY)
    assert status == 0, err
    assert f"teacher: loaded from {teacher_path}" in out
    assert "300 unlabeled transfer examples" in out
    report = json.load(open(tmp_path / "report.json"))
    assert report["meta"]["config"]["transfer_samples"] == 300
    assert report["meta"]["dataset"]["sizes"]["transfer"] == 300


def test_distill_evaluate_report_one_at_a_time(capsys, tmp_path, teacher_path):
    status, out, err = _main(capsys, "distill", "--teacher", teacher_path, "--output",
                             str(tmp_path), "--student", "gru", "--student-size", "0.5", *TINY)
    assert status == 0, err
    student = tmp_path / "student.keras"
    assert "distilled student: test accuracy" in out and student.exists()
    assert keras.saving.load_model(str(student)).get_layer("gru_0").units == 8
    status, out, err = _main(capsys, "evaluate", "--teacher", teacher_path, "--student",
                             str(student), "--scratch", str(student), "--output",
                             str(tmp_path))
    assert status == 0, err
    assert "no clear difference" in out  # The same file as scratch and distilled.
    os.remove(tmp_path / "report.md")
    status, out, err = _main(capsys, "report", "--output", str(tmp_path))
    assert status == 0, err
    assert (tmp_path / "report.md").exists() and "agree w/ teacher" in out


def test_evaluate_loads_a_savedmodel_teacher(capsys, tmp_path, teacher_path):
    from keras_distill import artifacts

    export = artifacts.export_student(keras.saving.load_model(teacher_path),
                                     str(tmp_path / "sm"), verify=False)
    status, out, err = _main(capsys, "evaluate", "--teacher", export, "--student",
                             teacher_path, "--output", str(tmp_path / "out"))
    assert status == 0, err
    report = json.load(open(tmp_path / "out" / "report.json"))
    assert report["rows"][1]["agreement"] == 1.0  # The same network behind both formats.


def _bad_teachers(tmp_path):
    not_a_model = tmp_path / "garbage.keras"
    not_a_model.write_text("not a model")
    wrong_shape = keras.Sequential([keras.Input((12,), name="signal"), keras.layers.Dense(10)])
    wrong_shape.save(tmp_path / "shape.keras")
    wrong_classes = keras.Sequential([keras.Input((40,), name="signal"), keras.layers.Dense(3)])
    wrong_classes.save(tmp_path / "classes.keras")
    return {"missing": (str(tmp_path / "missing.keras"), "no such file"),
            "garbage": (str(not_a_model), "could not be loaded as a model"),
            "shape": (str(tmp_path / "shape.keras"), r"inputs of shape \(12,\)"),
            "classes": (str(tmp_path / "classes.keras"), "outputs 3 classes")}


@pytest.mark.parametrize("case", ["missing", "garbage", "shape", "classes"])
def test_bad_teacher_is_a_clear_error(capsys, tmp_path, case):
    path, message = _bad_teachers(tmp_path)[case]
    status, out, err = _main(capsys, "run", "--teacher", path, "--output", str(tmp_path / "o"),
                             "--no-export", *TINY)
    assert status == 2
    assert "keras-distill run: error:" in err and "Traceback" not in err
    assert __import__("re").search(message, err), err
    assert "distilling" not in out  # Nothing was trained.


@pytest.mark.parametrize("argv, message", [
    (["run", "--dataset", "imagenet_typo"], "Received: dataset='imagenet_typo'"),
    (["run", "--epochs", "0"], "Received: epochs=0"),
    (["distill", "--teacher", "t.keras", "--epochs", "-1"], "Received: epochs=-1"),
    (["train-teacher", "--epochs", "0"], "Received: epochs=0"),
    (["run", "--dataset", "mnist"], "tfds build mnist"),
    (["report"], "No report found"),
])
def test_bad_input_exits_non_zero_without_traceback(capsys, tmp_path, argv, message):
    status, out, err = _main(capsys, *argv, "--output", str(tmp_path / "o"),
                             *(["--data-dir", str(tmp_path / "tfds")] if "mnist" in argv else []))
    assert status == 2 and message in err and "Traceback" not in err


def test_output_that_is_a_file(capsys, tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    status, _, err = _main(capsys, "run", "--output", str(path), *TINY)
    assert status == 2 and "it is a file" in err


def test_usage_errors_exit_2(capsys):
    assert _main(capsys, "run", "--student", "resnet")[0] == 2
    assert _main(capsys)[0] == 2


@pytest.mark.slow
def test_console_script_is_installed():
    script = shutil.which("keras-distill") or os.path.join(os.path.dirname(sys.executable),
                                                           "keras-distill")
    result = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "run" in result.stdout and "distill" in result.stdout


def test_evaluate_names_the_bad_student(capsys, tmp_path, teacher_path):
    status, _, err = _main(capsys, "evaluate", "--teacher", teacher_path, "--student",
                           str(tmp_path / "nope.keras"), "--output", str(tmp_path))
    assert status == 2 and "Received: student=" in err and "Traceback" not in err
