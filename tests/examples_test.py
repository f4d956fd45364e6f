"""The examples run as documented (tiny settings)."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_quickstart_runs_and_exports(tmp_path):
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "quickstart.py"), "--epochs", "1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "distilled student" in result.stdout
    assert (tmp_path / "saved_models" / "quickstart_student" / "1" / "saved_model.pb").exists()


@pytest.mark.slow
def test_keras_io_example_runs_in_both_versions(tmp_path):
    """The keras.io example's own code on our Distiller: `loss, acc = distiller.evaluate(...)`
    unpacks (the script does it), in the Keras 3 and the tf.keras versions."""
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "keras_io_knowledge_distillation.py"),
         "--examples", "200", "--epochs", "1", "--teacher-epochs", "1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "['loss', 'sparse_categorical_accuracy']" in result.stdout
    assert "keras3 distilled student: loss" in result.stdout
    assert "tf_keras distilled student: sparse_categorical_accuracy" in result.stdout
