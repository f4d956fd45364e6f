"""Hyperparameter specs of the alpha/T search: checking, parsing the command line, declaring."""

import math

from keras_distill import validation


def check_range(value, name, low, high=None, log=False):
    """Validates a hyperparameter spec: a number (fixed), a `(min, max)` range, or a list.

    Every number must be finite and above `low`, or within `[low, high]` when `high` is given.

    Returns `("fixed", v)`, `("range", (lo, hi))` or `("choice", [v, ...])`.

    Example:

    >>> check_range((0.0, 1.0), "alpha", 0.0, 1.0), check_range([4, 2], "temperature", 0.0)
    (('range', (0.0, 1.0)), ('choice', [2.0, 4.0]))
    """
    if high is None:
        domain = f"numbers > {low}"
        ok = lambda v: validation.is_number(v) and low < v < math.inf  # noqa: E731
    else:
        domain = f"numbers in [{low}, {high}]"
        ok = lambda v: validation.is_number(v) and low <= v <= high  # noqa: E731
    expected = f"a number, a (min, max) tuple or a list of choices, all {domain}"
    if isinstance(value, tuple):
        if len(value) != 2 or not all(ok(v) for v in value) or value[0] > value[1]:
            raise validation.invalid(name, f"{expected}, with min <= max", value)
        lo, hi = float(value[0]), float(value[1])
        return ("fixed", lo) if lo == hi else ("range", (lo, hi))
    if isinstance(value, list):
        if not value or not all(ok(v) for v in value):
            raise validation.invalid(name, expected, value)
        return "choice", sorted({float(v) for v in value})
    if not ok(value):
        raise validation.invalid(name, expected, value)
    return "fixed", float(value)


def parse_range(text, name):
    """Parses a command-line hyperparameter: `"0.5"` (fixed), `"0,1"` (range), `"1|4|20"` (choice).

    Args:
        text: The flag's value.
        name: The hyperparameter's name, for the error message.

    Returns:
        A float, a `(min, max)` tuple or a list, as `DistillerHyperModel` takes them.

    Example:

    >>> parse_range("0,1", "alpha"), parse_range("4", "temperature"), parse_range("2|8", "t")
    ((0.0, 1.0), 4.0, [2.0, 8.0])
    """
    try:
        if "|" in text:
            return [float(v) for v in text.split("|")]
        if "," in text:
            low, high = text.split(",")
            return float(low), float(high)
        return float(text)
    except ValueError:
        raise validation.invalid(name, "a number, 'min,max' or 'a|b|c'", text) from None


def declare(hp, name, spec, log):
    """Declares hyperparameter `name` in `hp` from a `check_range` spec; returns its value."""
    kind, value = spec
    if kind == "fixed":
        return hp.Fixed(name, value)
    if kind == "choice":
        return hp.Choice(name, value)
    return hp.Float(name, value[0], value[1], sampling="log" if log else "linear")
