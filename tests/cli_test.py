"""Tests of the `keras-distill` command, in-process through `main([...])` on tiny settings."""

import json
import os
import shutil
import signal
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
    return os.path.realpath(output / "latest" / "teacher.keras")


def _files(directory):
    """`{relative path: bytes}` of every file under `directory`."""
    return {os.path.relpath(os.path.join(root, name), directory):
            open(os.path.join(root, name), "rb").read()
            for root, _, names in os.walk(directory) for name in names}


@pytest.mark.parametrize("command", [[], ["run"], ["train-teacher"], ["distill"], ["evaluate"],
                                     ["report"], ["tune"], ["export"], ["lm"]])
def test_help_for_every_subcommand(capsys, command):
    status, out, _ = _main(capsys, *command, "--help")
    assert status == 0 and "usage: keras-distill" in out
    flags = {"run": ("--tune", "--strategy", "--backup-dir"), "distill": ("--strategy",
             "--backup-dir"), "train-teacher": ("--strategy",), "tune": (
             "--trials", "--tuner", "--final-epochs", "--alpha", "--temperature", "--teacher"),
             "export": ("--model", "--format", "--quantization", "--min-agreement", "--version"),
             "lm": ("--text", "--tokenizer", "--sequence-length", "--teacher", "--student",
                    "--divergence", "--beta", "--top-k", "--cache-teacher", "--strategy",
                    "--backup-dir", "default: forward_kl", "default: 1.0")}
    for flag in flags.get(command[0] if command else "", ()):
        assert flag in out
    if command in (["run"], ["distill"]):
        for flag in ("--dataset", "--data-dir", "--output", "--epochs", "--batch-size",
                     "--alpha", "--temperature", "--seed", "--no-cache-teacher",
                     "--transfer-samples"):
            assert flag in out


def test_run_writes_its_own_directory_then_reuses_teacher(capsys, tmp_path):
    output, base = tmp_path / "out", tmp_path / "saved_models" / "mnist1d_student"
    argv = ["run", "--output", str(output), "--publish", str(base), "--teacher-epochs", "1",
            *TINY]
    status, out, err = _main(capsys, *argv)
    assert status == 0, err
    assert "teacher: training the reference teacher, 1 epochs" in out
    assert "distilling: 1 epochs" in out
    assert "the teacher's outputs cached for 1 augmented view of each example" in out
    first = os.path.realpath(output / "latest")
    assert os.path.basename(first).startswith("run-")
    assert f"every output of this run is in {first}" in out
    assert sorted(os.listdir(first)) == [
        "config.toml", "export", "report.json", "report.md", "report.png", "scratch.keras",
        "student.keras", "teacher.keras"]
    report = json.load(open(os.path.join(first, "report.json")))
    names = [row["name"] for row in report["rows"]]
    assert names[:3] == ["teacher", "scratch", "distilled"]
    for row in report["rows"][:3]:
        for key in ("test_accuracy", "agreement", "params", "size_bytes", "litert_latency_ms",
                    "latency_ms", "throughput", "compression", "speedup"):
            assert row[key] is not None, (row["name"], key)
    assert report["rows"][2]["speedup_from"] == "LiteRT, batch 1, 1 thread"
    assert "gap_recovered" in report["summary"] and "gain" in report["summary"]
    assert os.path.isfile(os.path.join(first, "export", "saved_model", "1", "saved_model.pb"))
    assert report["meta"]["published"] == {"version": 1, "path": str(base / "1")}
    assert f"SavedModel published as version 1 of {base}" in out
    assert "distilled (SavedModel)" in names and "test acc" in out  # The printed table.
    before = _files(first)
    # A second run reuses the teacher, writes a directory of its own and publishes version 2;
    # the first run's files are untouched and nothing is left half-written.
    status, out, err = _main(capsys, *argv, "--no-cache-teacher", "--views", "0")
    assert status == 0, err
    assert "teacher: reused from" in out and "online teacher" in out
    second = os.path.realpath(output / "latest")
    assert second != first and _files(first) == before
    assert sorted(os.listdir(base)) == ["1", "2"]
    assert not [f for f in os.listdir(output) if f.startswith(".")]
    # `--config` repeats a run from the config.toml it wrote.
    config = open(os.path.join(second, "config.toml")).read()
    assert "cache_teacher = false" in config and 'publish = "' in config


def test_run_with_teacher_path_and_transfer_set(capsys, tmp_path, teacher_path):
    status, out, err = _main(capsys, "run", "--teacher", teacher_path, "--output",
                             str(tmp_path), "--no-export", "--transfer-samples", "300",
                             "--synthetic-samples", "64", "--student", "mlp", "--alpha", "0",
                             "--temperature", "8", *TINY)
    assert status == 0, err
    assert f"teacher: loaded from {teacher_path}" in out
    assert "synthesizing: 64 inputs from the teacher's classes and BatchNorm statistics" in out
    assert "364 unlabeled transfer examples (64 synthesized from the teacher)" in out
    # A second distilled student, without the unlabeled data, shows what it adds: its own
    # line, before the main one, and its own row, between scratch and distilled.
    lines = out.splitlines()
    labeled = next(i for i, line in enumerate(lines)
                   if line.startswith("distilled, labeled only: 1 epochs"))
    assert "unlabeled" not in lines[labeled] and "364 unlabeled" in lines[labeled + 1]
    report = json.load(open(tmp_path / "latest" / "report.json"))
    assert report["meta"]["config"]["transfer_samples"] == 300
    assert report["meta"]["config"]["synthetic_samples"] == 64
    assert report["meta"]["dataset"]["sizes"]["transfer"] == 364
    assert [row["name"] for row in report["rows"]] == [
        "teacher", "scratch", "distilled, labeled only", "distilled"]
    assert report["summary"]["gain"] == pytest.approx(
        report["rows"][3]["test_accuracy"] - report["rows"][1]["test_accuracy"])


def test_distill_evaluate_report_one_at_a_time(capsys, tmp_path, teacher_path):
    status, out, err = _main(capsys, "distill", "--teacher", teacher_path, "--output",
                             str(tmp_path), "--student", "gru", "--student-size", "0.5",
                             "--synthetic-samples", "32", *TINY)
    assert status == 0, err
    assert "synthesizing: 32 inputs" in out and "(32 synthesized from the teacher)" in out
    student = tmp_path / "latest" / "student.keras"
    assert "distilled student: validation accuracy" in out and student.exists()
    assert keras.saving.load_model(str(student)).get_layer("gru_0").units == 8
    status, out, err = _main(capsys, "evaluate", "--teacher", teacher_path, "--student",
                             str(student), "--scratch", str(student), "--output",
                             str(tmp_path))
    assert status == 0, err
    assert "no clear difference" in out  # The same file as scratch and distilled.
    evaluated = tmp_path / "latest"
    assert os.path.basename(os.path.realpath(evaluated)).startswith("evaluate-")
    os.remove(evaluated / "report.md")
    status, out, err = _main(capsys, "report", "--output", str(evaluated))
    assert status == 0, err
    assert (evaluated / "report.md").exists() and "agree w/ teacher" in out


def test_evaluate_loads_a_savedmodel_teacher(capsys, tmp_path, teacher_path):
    from keras_distill import export as export_lib

    export = export_lib.export_saved_model(keras.saving.load_model(teacher_path),
                                          str(tmp_path / "sm"), verify=False, verbose=False)
    argv = ["evaluate", "--teacher", export, "--student", teacher_path, "--output",
            str(tmp_path / "out")]
    status, _, err = _main(capsys, *argv)
    assert status == 2 and "A SavedModel is code" in err and "--trust-savedmodel" in err
    assert not (tmp_path / "out").exists()
    status, out, err = _main(capsys, *argv, "--trust-savedmodel")
    assert status == 0, err
    report = json.load(open(tmp_path / "out" / "latest" / "report.json"))
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
    (["distill", "--teacher", __file__, "--epochs", "-1"], "Received: epochs=-1"),
    (["train-teacher", "--epochs", "0"], "Received: epochs=0"),
    (["run", "--dataset", "mnist"], "tfds build mnist"),
    (["report"], "No report found"),
])
def test_bad_input_exits_non_zero_without_traceback(capsys, tmp_path, argv, message):
    status, out, err = _main(capsys, *argv, "--output", str(tmp_path / "o"),
                             *(["--data-dir", str(tmp_path / "tfds")] if "mnist" in argv else []))
    assert status == 2 and message in err and "Traceback" not in err


@pytest.mark.parametrize("flags, message", [
    (["--alpha", "2"], "Received: alpha=2.0"),
    (["--temperature", "0"], "Received: temperature=0.0"),
    (["--tune", "2", "--tuner", "grid"], "invalid choice: 'grid'"),
])
def test_bad_values_fail_before_anything_is_trained_or_written(capsys, tmp_path, flags, message):
    output = tmp_path / "out"
    status, out, err = _main(capsys, "run", "--output", str(output), *flags)
    assert status == 2 and message in err and "Traceback" not in err, err
    assert out == "" and not output.exists()


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


# ----------------------------------------------------------------- export, tune, strategies
def test_export_saved_model_and_tflite_then_refuses_an_existing_version(capsys, tmp_path,
                                                                         teacher_path):
    output = tmp_path / "exported"
    status, out, err = _main(capsys, "export", "--model", teacher_path, "--output", str(output),
                             "--dataset", "mnist1d", "--no-verify")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"saved_model: {output / 'saved_model' / '1'}")
    assert lines[1].startswith(f"tflite: {output / 'teacher.tflite'}")
    assert all("latency" in line and "agreement 100.0%" in line and "accuracy" in line
               for line in lines)
    pb = output / "saved_model" / "1" / "saved_model.pb"
    before = pb.stat().st_mtime_ns
    status, _, err = _main(capsys, "export", "--model", teacher_path, "--output", str(output),
                           "--format", "saved_model", "--version", "1", "--no-verify")
    assert status == 2 and "Version 1 already exists" in err and "Traceback" not in err
    assert pb.stat().st_mtime_ns == before and os.listdir(output / "saved_model") == ["1"]


def test_export_int8_needs_a_dataset(capsys, tmp_path, teacher_path):
    status, _, err = _main(capsys, "export", "--model", teacher_path, "--output", str(tmp_path),
                           "--format", "tflite", "--quantization", "int8")
    assert status == 2 and "`int8` needs calibration data" in err and "--dataset" not in err
    assert not os.listdir(tmp_path)


def test_tune_prints_and_writes_the_table_on_a_validation_split(capsys, tmp_path, teacher_path):
    status, out, err = _main(capsys, "tune", "--teacher", teacher_path, "--output", str(tmp_path),
                             "--trials", "2", "--alpha", "0.2,0.4", "--temperature", "2|8",
                             "--final-epochs", "0", *TINY)
    assert status == 0, err
    assert "3,200 train, 1,000 test, 800 validation" in out  # Held out of train, not test.
    table = (tmp_path / "latest" / "tuning_results.txt").read_text()
    assert table.splitlines()[0].split()[:4] == ["trial", "alpha", "temperature", "val_accuracy"]
    assert table.strip() in out and len(table.splitlines()) == 3
    best = dict(kv.split("=") for kv in out.split("best: ")[1].splitlines()[0].split(", "))
    assert 0.2 <= float(best["alpha"]) <= 0.4 and float(best["temperature"]) in (2.0, 8.0)


def test_run_tune_reports_the_validation_comparison(capsys, tmp_path, teacher_path):
    status, out, err = _main(capsys, "run", "--tune", "2", "--teacher", teacher_path,
                             "--output", str(tmp_path), "--no-export", *TINY)
    assert status == 0, err
    tuning = json.load(open(tmp_path / "latest" / "report.json"))["meta"]["tuning"]
    assert tuning["trials"] == 2 and tuning["validation_examples"] == 800
    # Accuracy: the scratch student wins only when it scores strictly higher on validation.
    expected = ("scratch" if tuning["scratch_validation"] > tuning["distilled_validation"]
                else "distilled")
    assert tuning["winner"] == expected
    assert f"distilling: 1 epochs, alpha={tuning['alpha']:.4g}" in out
    for text in (out, (tmp_path / "latest" / "report.md").read_text()):
        assert "chosen by a 2-trial search on a validation split" in text
        assert f"{tuning['winner']} won" in text


def test_distill_under_mirrored_strategy_with_backup(capsys, tmp_path, teacher_path,
                                                     two_replicas):
    backup = tmp_path / "backup"
    status, out, err = _main(capsys, "distill", "--teacher", teacher_path, "--output",
                             str(tmp_path), "--strategy", "mirrored", "--backup-dir", str(backup),
                             "--student", "mlp", *TINY)
    assert status == 0, err
    assert "2 replica(s)" in out and (tmp_path / "latest" / "student.keras").exists()
    # Created by the writability check, removed by BackupAndRestore once the fit finished.
    assert not backup.exists()


@pytest.mark.parametrize("argv, message", [
    (["distill", "--strategy", "nccl"], "invalid choice: 'nccl'"),
    (["distill", "--strategy", "mirrored", "--batch-size", "255"],
     "divisible by the 2 replicas in sync. Received: batch_size=255"),
    (["distill", "--backup-dir", "{file}/backup"], "Received: backup_dir="),
    (["run", "--tune", "2", "--strategy", "mirrored"], "runs without a tf.distribute strategy"),
    (["run", "--backup-dir", "{file}/backup"], "Received: backup_dir="),
    (["tune", "--alpha", "0,2"], "Received: alpha=(0.0, 2.0)"),
    (["tune", "--temperature", "hot"], "Received: temperature='hot'"),
    (["tune", "--trials", "0"], "Received: trials=0"),
    (["export", "--model", "{file}/m.keras", "--output", "{file}2"],
     "(no such file or directory)"),
])
def test_bad_tune_export_strategy_flags_exit_2(capsys, tmp_path, teacher_path, two_replicas,
                                                argv, message):
    file = tmp_path / "file"
    file.write_text("x")
    argv = [a.replace("{file}", str(file)) for a in argv]
    if argv[0] in ("distill", "run"):
        argv += ["--teacher", teacher_path]
    if argv[0] != "export":
        argv += ["--output", str(tmp_path / "o")]
    status, out, err = _main(capsys, *argv, *([] if argv[0] == "export" else TINY[:2]))
    assert status == 2 and message in err and "Traceback" not in err, err
    assert "distilling" not in out and "tuning:" not in out


@pytest.mark.slow
@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_run_leaves_earlier_runs_and_nothing_half_written(tmp_path, sig, status):
    output = tmp_path / "out"
    script = shutil.which("keras-distill") or os.path.join(os.path.dirname(sys.executable),
                                                           "keras-distill")
    argv = [script, "run", "--output", str(output), "--epochs", "200", "--teacher-epochs", "1",
            "--batch-size", "256", "--verbose", "0"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stdout:  # Interrupt it while the students train.
        if line.startswith("scratch:"):
            break
    process.send_signal(sig)
    _, err = process.communicate(timeout=120)
    assert process.returncode == status, err
    assert ("interrupted" if sig == signal.SIGINT else "terminated (SIGTERM)") in err
    assert "Traceback" not in err
    # The cached teacher was complete before the interrupt; no run directory, no `latest`.
    assert sorted(os.listdir(output)) == ["teachers"]


@pytest.mark.parametrize("value, level, logs", [("all", 2, "1"), ("1", 1, "0")])
def test_verbose_all_adds_tensorflow_logs_to_one_line_per_epoch(capfd, monkeypatch, tmp_path,
                                                                 value, level, logs):
    from keras_distill import tensorflow_logs

    monkeypatch.setenv(tensorflow_logs.SHOW_LOGS, "0")  # Restored after the test.
    seen = []
    monkeypatch.setitem(cli.COMMANDS, "run", seen.append)
    argv = ["run", "--output", str(tmp_path)]
    status, _, err = _main(capfd, *argv, "--verbose", value)
    assert status == 0, err
    assert seen[0].verbose == level and os.environ[tensorflow_logs.SHOW_LOGS] == logs
    with tensorflow_logs.silenced_stderr():  # Silenced unless the logs were asked for.
        os.write(2, b"a TensorFlow line\n")
    assert ("a TensorFlow line" in capfd.readouterr().err) == (value == "all")
    assert _main(capfd, *argv, "--verbose", "3")[0] == 2
