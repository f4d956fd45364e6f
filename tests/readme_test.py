"""The README's command lines, run in order as a new user would (with small epochs), in a fresh
directory: the main job first, then every `keras-distill` line of the README's command list."""

import os
import re
import shlex

import pytest

from keras_distill import cli

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
# Small settings, appended to the commands that train; the README's own flags come first and the
# appended ones override only epochs, batch size and verbosity.
TINY = {"run": ["--epochs", "1", "--teacher-epochs", "1", "--batch-size", "256", "--verbose",
                "0"],
        "train-teacher": ["--epochs", "1", "--batch-size", "256", "--verbose", "0"],
        "distill": ["--epochs", "1", "--batch-size", "256", "--verbose", "0"],
        "tune": ["--epochs", "1", "--teacher-epochs", "1", "--batch-size", "256", "--trials",
                 "2", "--verbose", "0"],
        "lm": ["--epochs", "1", "--sequence-length", "16", "--batch-size", "128", "--verbose",
               "0"]}


def readme_commands():
    """The indented `keras-distill ...` lines of the README's command list, comments removed."""
    text = open(README, encoding="utf-8").read()
    block = text.split("Other subcommands run the same steps", 1)[1].split("\n\n", 2)[1]
    lines = [line.strip() for line in block.splitlines()]
    return [shlex.split(re.sub(r"\s+#.*$", "", line))[1:] for line in lines
            if line.startswith("keras-distill ")]


def test_the_command_list_is_found():
    commands = readme_commands()
    assert len(commands) >= 8 and {argv[0] for argv in commands} >= {
        "run", "train-teacher", "distill", "evaluate", "report", "export", "tune", "lm"}


@pytest.mark.slow
def test_readme_commands_work_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", *TINY["run"]]) == 0  # The main job, as the set-up section runs it.
    for argv in readme_commands():
        if "--tune" in argv:
            argv = argv[:argv.index("--tune") + 1] + ["2"] + argv[argv.index("--tune") + 2:]
        if "--transfer-samples" in argv:
            argv[argv.index("--transfer-samples") + 1] = "500"
        tiny = TINY.get(argv[0], [])
        if argv[0] == "lm" and "--teacher" not in argv:  # A small reference teacher too.
            tiny = [*tiny, "--teacher-epochs", "1", "--teacher-layers", "1", "--teacher-width",
                    "32"]
        status = cli.main([*argv, *tiny])
        assert status == 0, f"keras-distill {shlex.join(argv)} exited with {status}"
    runs = [name for name in os.listdir("keras_distill_output") if name.startswith("run-")]
    assert len(runs) == 6  # The main job and five `run` lines, each in its own directory.
    assert sorted(os.listdir("saved_models/mnist1d_student")) == ["1"]
