"""Tests of keras_distill.validation: every check's accepted values and its error message."""

import math

import numpy as np
import pytest

from keras_distill import validation


def test_invalid_is_keras_form_with_an_optional_hint():
    error = validation.invalid("tuner", "one of 'random', 'bayesian'", "grid", "Pick another.")
    assert isinstance(error, ValueError)
    assert str(error) == ("Invalid value for argument `tuner`. Expected one of 'random', "
                          "'bayesian'. Received: tuner='grid'. Pick another.")


@pytest.mark.parametrize("check, value, expected", [
    (validation.check_positive_int, 3, 3),
    (validation.check_positive_int, np.int64(2), 2),
    (validation.check_non_negative_int, 0, 0),
    (validation.check_positive, 4, 4.0),
    (validation.check_positive, np.float32(0.5), 0.5),
    (validation.check_fraction, 0, 0.0),
    (validation.check_fraction, 1, 1.0),
    (validation.check_open_fraction, 0.2, 0.2),
    (validation.check_split, 0, 0.0),
    (validation.check_split, 0.25, 0.25),
    (validation.check_non_negative, 0, 0.0),
])
def test_accepted_values_are_converted(check, value, expected):
    result = check(value, "arg")
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("check, value, match", [
    (validation.check_positive_int, 0, r"Expected a positive integer. Received: epochs=0$"),
    (validation.check_positive_int, 2.0, r"Expected a positive integer. Received: epochs=2.0$"),
    (validation.check_positive_int, True, r"Expected a positive integer. Received: epochs=True$"),
    (validation.check_non_negative_int, -1, r"a non-negative integer. Received: epochs=-1"),
    (validation.check_non_negative_int, "1", r"non-negative integer. Received: epochs='1'"),
    (validation.check_positive, 0, r"Expected a positive number. Received: epochs=0$"),
    (validation.check_positive, math.inf, r"Expected a positive number. Received: epochs=inf"),
    (validation.check_positive, math.nan, r"Expected a positive number. Received: epochs=nan"),
    (validation.check_fraction, 1.5, r"between 0 and 1 inclusive. Received: epochs=1.5"),
    (validation.check_fraction, False, r"between 0 and 1 inclusive. Received: epochs=False"),
    (validation.check_open_fraction, 0, r"Expected a fraction in \(0, 1\). Received: epochs=0$"),
    (validation.check_open_fraction, 1, r"Expected a fraction in \(0, 1\). Received: epochs=1$"),
    (validation.check_split, 1, r"Expected a fraction in \[0, 1\) .*Received: epochs=1$"),
    (validation.check_split, -0.1, r"Expected a fraction in \[0, 1\) .*Received: epochs=-0.1"),
    (validation.check_non_negative, -1, r"a finite number >= 0. Received: epochs=-1"),
    (validation.check_non_negative, math.inf, r"a finite number >= 0. Received: epochs=inf"),
    (validation.check_bool, 1, r"`epochs`. Expected True or False. Received: epochs=1$"),
])
def test_rejected_values_name_the_argument(check, value, match):
    with pytest.raises(ValueError, match=r"Invalid value for argument `epochs`\."):
        check(value, "epochs")
    with pytest.raises(ValueError, match=match):
        check(value, "epochs")


def test_check_at_least():
    assert validation.check_at_least(2, 1.0, "p") == 2.0
    with pytest.raises(ValueError, match=r"`p`. Expected a finite number >= 1.0. Received: p=0.5"):
        validation.check_at_least(0.5, 1.0, "p")


def test_check_choice():
    assert validation.check_choice("cnn", ("mlp", "cnn"), "student") == "cnn"
    with pytest.raises(ValueError, match=r"`student`. Expected one of 'mlp', 'cnn'. "
                                         r"Received: student='resnet'"):
        validation.check_choice("resnet", ("mlp", "cnn"), "student")
    with pytest.raises(ValueError, match=r"Received: student=\['cnn'\]"):
        validation.check_choice(["cnn"], ("mlp", "cnn"), "student")


def test_check_weights():
    assert validation.check_weights(None, 2) == [1.0, 1.0]
    assert validation.check_weights(0.5, 1) == [0.5]
    assert validation.check_weights((1, 2), 2) == [1.0, 2.0]
    with pytest.raises(ValueError, match=r"`distillation_loss_weights`. Expected a list of 2 "
                                         r"weights.*Received: distillation_loss_weights=\[1.0\]"):
        validation.check_weights([1.0], 2)
    with pytest.raises(ValueError, match=r"Expected non-negative numbers. Received: w=\[1, -1\]"):
        validation.check_weights([1, -1], 2, name="w")


def test_is_number():
    assert validation.is_number(1) and validation.is_number(np.float32(0.5))
    assert not validation.is_number(True) and not validation.is_number("1")


def test_check_directory_path(tmp_path):
    assert validation.check_directory_path(tmp_path / "new", "output_dir") == str(
        tmp_path / "new")
    assert not (tmp_path / "new").exists()  # Nothing is created.
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"`output_dir`. Expected a directory .*but it is a "
                                         r"file. Received: output_dir="):
        validation.check_directory_path(tmp_path / "file", "output_dir")
    with pytest.raises(ValueError, match=r"Expected a directory path. Received: output_dir=3"):
        validation.check_directory_path(3, "output_dir")
    with pytest.raises(ValueError, match=r"Expected a directory path. Received: output_dir=''"):
        validation.check_directory_path("", "output_dir")


def test_check_existing_path(tmp_path):
    (tmp_path / "m.keras").write_text("x")
    assert validation.check_existing_path(tmp_path / "m.keras", "teacher") == str(
        tmp_path / "m.keras")
    with pytest.raises(ValueError, match=r"`teacher`. Expected the path of a `.keras` file. "
                                         r"Received: teacher='.*missing.keras' "
                                         r"\(no such file or directory\)"):
        validation.check_existing_path(str(tmp_path / "missing.keras"), "teacher",
                                       "a `.keras` file")
