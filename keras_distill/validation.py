"""The one set of argument checks, in keras's message form, shared by every layer.

Each check returns the value (converted: `check_positive_int` gives an `int`) or raises
`ValueError` naming the argument, what was expected and what was received:

>>> check_positive_int(0, "epochs")
Traceback (most recent call last):
...
ValueError: Invalid value for argument `epochs`. Expected a positive integer. Received: epochs=0

Nothing here imports TensorFlow or Keras, so every module may use it.
"""

import numbers
import os


def invalid(name, expected, value, hint=""):
    """The `ValueError` of every check: `name`, what was `expected`, the `value` received.

    Example:

    >>> str(invalid("tuner", "one of 'random', 'bayesian'", "grid"))
    "Invalid value for argument `tuner`. Expected one of 'random', 'bayesian'. Received: tuner='grid'"
    """
    message = f"Invalid value for argument `{name}`. Expected {expected}. Received: {name}={value!r}"
    return ValueError(message + (f". {hint}" if hint else ""))


def invalid_data(name, expected, received, hint=""):
    """The `ValueError` for a bad value inside data: like `invalid`, but `received` says which
    value and where it is, since the whole argument (an array, a dataset) cannot be shown.

    Example:

    >>> str(invalid_data("y", "labels in [0, 10)", "y holding 12 at index 3 of batch 1"))
    'Invalid value for argument `y`. Expected labels in [0, 10). Received: y holding 12 at index 3 of batch 1'
    """
    message = f"Invalid value for argument `{name}`. Expected {expected}. Received: {received}"
    return ValueError(message + (f". {hint}" if hint else ""))


def is_number(value):
    """Whether `value` is a real number (a Python or NumPy int or float), not a bool.

    Example:

    >>> is_number(0.5), is_number(True), is_number("1")
    (True, False, False)
    """
    return not isinstance(value, bool) and isinstance(value, numbers.Real)


def _is_int(value):
    return not isinstance(value, bool) and isinstance(value, numbers.Integral)


def check_positive_int(value, name):
    """Returns `int(value)`, or raises `ValueError` unless it is an integer >= 1."""
    if not _is_int(value) or value < 1:
        raise invalid(name, "a positive integer", value)
    return int(value)


def check_non_negative_int(value, name):
    """Returns `int(value)`, or raises `ValueError` unless it is an integer >= 0."""
    if not _is_int(value) or value < 0:
        raise invalid(name, "a non-negative integer", value)
    return int(value)


def check_positive(value, name):
    """Returns `float(value)`, or raises `ValueError` unless it is a finite number > 0.

    Example:

    >>> check_positive(4, "temperature")
    4.0
    """
    if not is_number(value) or not 0 < value < float("inf"):
        raise invalid(name, "a positive number", value)
    return float(value)


def check_fraction(value, name="alpha"):
    """Returns `float(value)`, or raises `ValueError` unless `0 <= value <= 1`."""
    if not is_number(value) or not 0.0 <= value <= 1.0:
        raise invalid(name, "a number between 0 and 1 inclusive", value)
    return float(value)


def check_open_fraction(value, name):
    """Returns `float(value)`, or raises `ValueError` unless `0 < value < 1` (a split size)."""
    if not is_number(value) or not 0.0 < value < 1.0:
        raise invalid(name, "a fraction in (0, 1)", value)
    return float(value)


def check_split(value, name="validation_split"):
    """Returns `float(value)`, or raises `ValueError` unless `0 <= value < 1` (0: no split).

    Example:

    >>> check_split(0, "validation_split")
    0.0
    """
    if not is_number(value) or not 0.0 <= value < 1.0:
        raise invalid(name, "a fraction in [0, 1) (0 for no split)", value)
    return float(value)


def check_non_negative(value, name):
    """Returns `float(value)`, or raises `ValueError` unless it is a finite number >= 0."""
    if not is_number(value) or not 0.0 <= value < float("inf"):
        raise invalid(name, "a finite number >= 0", value)
    return float(value)


def check_at_least(value, minimum, name):
    """Returns `float(value)`, or raises `ValueError` unless it is a finite number >= minimum."""
    if not is_number(value) or not minimum <= value < float("inf"):
        raise invalid(name, f"a finite number >= {minimum}", value)
    return float(value)


def check_bool(value, name):
    """Returns `value`, or raises `ValueError` unless it is a bool."""
    if not isinstance(value, bool):
        raise invalid(name, "True or False", value)
    return value


def check_choice(value, choices, name):
    """Returns `value`, or raises `ValueError` unless it is one of `choices`.

    Example:

    >>> check_choice("cnn", ("mlp", "cnn"), "student")
    'cnn'
    """
    if not isinstance(value, str) or value not in choices:
        raise invalid(name, "one of " + ", ".join(repr(c) for c in choices), value)
    return value


def check_weights(weights, count, name="distillation_loss_weights"):
    """Returns `weights` as a list of floats, one per term, each finite and >= 0."""
    if weights is None:
        return [1.0] * count
    weights = list(weights) if isinstance(weights, (list, tuple)) else [weights]
    if len(weights) != count:
        raise invalid(name, f"a list of {count} weights, one per distillation loss", weights)
    for weight in weights:
        if not is_number(weight) or not 0 <= weight < float("inf"):
            raise invalid(name, "non-negative numbers", weights)
    return [float(w) for w in weights]


def check_directory_path(path, name):
    """Returns `os.fspath(path)`, or raises `ValueError` unless it can be a directory.

    The directory need not exist (it is created when something is written there), but it must
    not be a file, nor lie under one. Nothing is created here.

    Example:

    >>> check_directory_path("/dev/null/out", "output")
    Traceback (most recent call last):
    ...
    ValueError: Invalid value for argument `output`. Expected a directory (created if missing), but '/dev/null' is a file. Received: output='/dev/null/out'
    """
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise invalid(name, "a directory path", path)
    path = os.fspath(path)
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        where = "it" if existing == os.path.abspath(path) else repr(existing)
        raise invalid(name, f"a directory (created if missing), but {where} is a file", path)
    return path


def check_existing_path(path, name, what="a file or directory"):
    """Returns `os.fspath(path)`, or raises `ValueError` unless the path exists.

    Example:

    >>> check_existing_path("/nonexistent.keras", "teacher", "a `.keras` file")
    Traceback (most recent call last):
    ...
    ValueError: Invalid value for argument `teacher`. Expected the path of a `.keras` file. Received: teacher='/nonexistent.keras' (no such file or directory)
    """
    if not isinstance(path, (str, os.PathLike)) or not os.path.exists(path):
        raise ValueError(f"Invalid value for argument `{name}`. Expected the path of {what}. "
                         f"Received: {name}={path!r} (no such file or directory)")
    return os.fspath(path)
