"""`keras-distill lm` (`workflow.language_model`): tiny GPT-2s from config, byte tokens, Python's
own source as text; the config's checks, the run's outputs, the report, the export."""

import inspect
import json
import os
from pathlib import Path

import keras
import keras_hub
import numpy as np
import pytest

from keras_distill import cli
from keras_distill import lm
from keras_distill.config import RunConfig
from keras_distill.lm import evaluation
from keras_distill.lm import text as text_lib
from keras_distill.report.lm_report import LanguageModelReport

TINY = ["--sequence-length", "16", "--epochs", "1", "--batch-size", "32", "--verbose", "0",
        "--student-width", "8"]
REFERENCE_TEACHER = ["--teacher-layers", "1", "--teacher-width", "16", "--teacher-epochs", "2"]


def gpt2(vocabulary, length, width=8, seed=0):
    keras.utils.set_random_seed(seed)
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=vocabulary, num_layers=1, num_heads=2, hidden_dim=width,
        intermediate_dim=2 * width, max_sequence_length=length)
    return keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "json.py"
    path.write_text(inspect.getsource(json)[:12000])
    return str(path)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, text_file):
    """One `keras-distill lm` run with a reference teacher: `(status, output, run directory)`."""
    output = tmp_path_factory.mktemp("lm")
    status = cli.main(["lm", "--text", text_file, "--output", str(output), *TINY,
                       *REFERENCE_TEACHER])
    return status, output, os.path.realpath(output / "latest")


def _runs(output):
    return sorted(n for n in os.listdir(output) if n.startswith("lm-")) if output.exists() else []


def test_the_run_writes_presets_export_and_a_report_that_reloads(first_run, text_file):
    status, _, run = first_run
    assert status == 0
    run = Path(run)
    assert {"teacher", "student", "scratch", "export", "report.json", "report.md",
            "config.toml"} <= set(os.listdir(run))
    report = json.loads((run / "report.json").read_text())
    rows = {row["name"]: row for row in report["rows"]}
    assert set(rows) == {"teacher", "scratch", "distilled"}
    assert rows["distilled"]["params"] < rows["teacher"]["params"]

    # What was saved is what was measured: the presets reload to the reported perplexities,
    # and the verdict is the paired gain between them and its noise.
    tokens = text_lib.byte_tokenizer().sequences(text_lib.read_text(text_file), 17)
    test = text_lib.split_sequences(tokens, 0.1, 0.1)["test"]
    x, y = lm.next_token_examples(test)
    models, measured = {}, {}
    for name, preset in (("distilled", "student"), ("scratch", "scratch")):
        models[name] = keras_hub.models.CausalLM.from_preset(str(run / preset),
                                                             preprocessor=None)
        measured[name] = evaluation.held_out(models[name], x, y)
        assert measured[name].perplexity == pytest.approx(rows[name]["perplexity"], rel=1e-4)
    student = models["distilled"]
    gain, se = evaluation.paired_gain(measured["scratch"], measured["distilled"])
    summary = report["summary"]
    assert summary["gain_nats_per_token"] == pytest.approx(gain, rel=1e-3, abs=1e-6)
    assert summary["effect"] == ("none" if abs(gain) <= 2 * se else
                                 "helped" if gain > 0 else "hurt")

    # The scoring SavedModel serves the distilled student's logits.
    export = run / "export" / "saved_model" / "1"
    assert lm.scoring_difference(str(export), student, x) < 1e-4
    assert report["meta"]["export_max_logit_difference"] < 1e-4
    # The config it wrote repeats the run's settings.
    assert RunConfig.resolve("lm", file=str(run / "config.toml")).lm.student_width == 8


def test_a_second_run_on_the_first_runs_teacher_with_a_top_k_cache(first_run, text_file,
                                                                   capsys):
    status, output, run = first_run
    assert status == 0
    before = _runs(output)
    teacher = os.path.join(run, "teacher")
    capsys.readouterr()
    status = cli.main(["lm", "--text", text_file, "--output", str(output), "--teacher", teacher,
                       "--cache-teacher", "--top-k", "8", "--alpha", "0.2", *TINY])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "training the reference" not in out and "a top-8 cache of its logits" in out
    assert "perplexity" in out and "Distillation" in out
    assert set(before) < set(_runs(output)) and len(_runs(output)) == len(before) + 1
    assert os.path.isdir(os.path.join(output, before[0], "student"))  # The first run is whole.
    assert "teacher" not in os.listdir(output / "latest")  # The user's teacher is not copied.


def test_under_mirrored_strategy_with_backup(first_run, text_file, capsys, tmp_path,
                                            two_replicas):
    status, _, run = first_run
    assert status == 0
    teacher = os.path.join(run, "teacher")
    backup = tmp_path / "backup"
    capsys.readouterr()
    status = cli.main(["lm", "--text", text_file, "--output", str(tmp_path / "out"), "--teacher",
                       teacher, "--strategy", "mirrored", "--backup-dir", str(backup), *TINY])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "2 replicas" in out and "perplexity" in out
    assert not backup.exists()  # Removed by BackupAndRestore once the fit finished.


@pytest.fixture(scope="module")
def presets(tmp_path_factory):
    """An untrained 257-token teacher preset (max 16 tokens) and a 300-token student preset."""
    root = tmp_path_factory.mktemp("presets")
    paths = {"teacher": str(root / "teacher"), "student300": str(root / "student300")}
    lm.save_preset(gpt2(lm.BYTE_VOCABULARY, 16, width=16), paths["teacher"])
    lm.save_preset(gpt2(300, 16), paths["student300"])
    return paths


@pytest.mark.parametrize("flags, message", [
    (["--student", "{student300}"], "vocabulary of 300 tokens, a teacher with 257"),
    (["--sequence-length", "32"], "sequences of at most 16 tokens, the teacher's maximum"),
    (["--cache-teacher", "--top-k", "257"], "fewer than the vocabulary's 257 tokens. "
                                            "Received: top_k=257"),
    (["--cache-teacher", "--divergence", "reverse_kl"], "'forward_kl' with `cache_teacher`"),
    (["--teacher-layers", "3"], "only for the reference teacher"),
    (["--student", "{student300}", "--student-width", "8"], "only for the reference student"),
    (["--set", "distill.augment=true"], "`lm` does not use it. Received: augment=True"),
    (["--tokenizer", "{teacher}"], "with a tokenizer.json"),
    (["--beta", "1"], "Received: beta=1"),
    (["--beta", "0.3"], "only with divergence='generalized_jsd'. Received: beta=0.3"),
    (["--top-k", "8"], "only with `cache_teacher`"),
    (["--teacher-epochs", "3"], "only for the reference teacher, not with a `teacher` path"),
    (["--text", "{missing}"], "(no such file or directory)"),
    (["--text", "{empty}"], "files holding some text"),
])
def test_bad_input_fails_before_anything_trains_or_is_written(capsys, tmp_path, presets,
                                                             text_file, flags, message):
    (tmp_path / "empty.txt").write_text("  \n")
    values = {**presets, "missing": str(tmp_path / "missing.txt"),
              "empty": str(tmp_path / "empty.txt")}
    flags = [f.format(**values) for f in flags]
    output = tmp_path / "out"
    text = [] if "--text" in flags else ["--text", text_file]
    status = cli.main(["lm", "--teacher", presets["teacher"], *text, "--output", str(output),
                       "--sequence-length", "16", "--verbose", "0", *flags])
    out, err = capsys.readouterr()
    assert status == 2 and message in err and "Traceback" not in err, err
    assert "scratch:" not in out and _runs(output) == []


def test_report_rerenders_the_latest_lm_run(first_run, capsys):
    status, output, run = first_run
    assert status == 0
    capsys.readouterr()
    assert cli.main(["report", "--output", run]) == 0
    out = capsys.readouterr().out
    assert "perplexity" in out and "next-token acc" in out and "report.md" in out


def test_an_export_that_does_not_serve_the_student_fails_the_run(first_run, text_file, capsys,
                                                                  tmp_path, monkeypatch):
    status, _, run = first_run
    assert status == 0
    monkeypatch.setattr(lm, "scoring_difference", lambda *args: float("nan"))
    output = tmp_path / "out"
    status = cli.main(["lm", "--text", text_file, "--output", str(output), "--teacher",
                       os.path.join(run, "teacher"), *TINY])
    err = capsys.readouterr().err
    assert status == 2 and "does not serve the trained student" in err and "--no-export" in err
    assert _runs(output) == []  # Nothing half-made is left.


def test_too_little_text_for_three_splits_is_named():
    tokens = text_lib.byte_tokenizer().sequences("abc" * 10, 17)
    with pytest.raises(ValueError, match="enough text for a training, a validation and a test "
                                         "split. Received: 2 sequences"):
        text_lib.split_sequences(tokens, 0.1, 0.1)


def test_a_preset_tokenizer_tokenizes_as_its_preset(tmp_path):
    vocabulary = {"[PAD]": 0, "[UNK]": 1, "hello": 2, "world": 3}
    tokenizer = keras_hub.tokenizers.WordPieceTokenizer(vocabulary=list(vocabulary))
    gpt2(len(vocabulary), 8).backbone.save_to_preset(str(tmp_path))  # A preset's config.
    tokenizer.save_to_preset(str(tmp_path))
    loaded = text_lib.preset_tokenizer(str(tmp_path))
    assert loaded.vocabulary_size == 4
    assert loaded.encode("hello world hello").tolist() == [2, 3, 2]
    rows = loaded.sequences("hello world hello", 2)
    assert rows["token_ids"].tolist() == [[2, 3], [2, 0]]


def test_paired_gain_is_the_mean_saving_per_token_with_its_noise():
    rng = np.random.default_rng(0)
    tokens = rng.integers(5, 20, 200).astype(float)
    base = rng.normal(2.0, 0.3, 200) * tokens
    better = base - 0.1 * tokens + rng.normal(0, 0.05, 200) * tokens
    a = evaluation.HeldOut(0, 0, 0, base, tokens)
    b = evaluation.HeldOut(0, 0, 0, better, tokens)
    gain, se = evaluation.paired_gain(a, b)
    assert gain == pytest.approx(0.1, abs=3 * se) and 0 < se < 0.02
    assert evaluation.paired_gain(a, a) == (0.0, 0.0)


@pytest.mark.parametrize("distilled, effect", [(8.0, "helped"), (9.05, "none"), (10.0, "hurt")])
def test_the_verdict_follows_the_gain_and_its_noise(distilled, effect):
    rows = [dict(name=n, perplexity=p, accuracy=0.5, params=10, size_bytes=40,
                 tokens_per_second=1.0)
            for n, p in (("teacher", 6.0), ("scratch", 9.0), ("distilled", distilled))]
    gain = np.log(9.0) - np.log(distilled)
    report = LanguageModelReport(rows, gain=(gain, 0.01))
    assert report.summary["effect"] == effect
    assert report.summary["gap_recovered"] == pytest.approx(gain / np.log(9.0 / 6.0))
    assert {"helped": "Distillation helped", "none": "no clear difference",
            "hurt": "Distillation HURT"}[effect] in report.table()
