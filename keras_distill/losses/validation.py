"""Argument checks shared by losses, terms and the distiller, in keras's message form."""

import numbers


def _invalid(name, expected, value):
    return ValueError(
        f"Invalid value for argument `{name}`. Expected {expected}. Received: {name}={value!r}"
    )


def check_temperature(value, name="temperature"):
    """Returns `value` as a float, or raises `ValueError` unless it is a positive number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise _invalid(name, "a positive number", value)
    return float(value)


def check_fraction(value, name="alpha"):
    """Returns `value` as a float, or raises `ValueError` unless `0 <= value <= 1`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
        raise _invalid(name, "a number between 0 and 1 inclusive", value)
    return float(value)


def check_weights(weights, count, name="distillation_loss_weights"):
    """Returns `weights` as a list of floats, one per term, each finite and >= 0."""
    if weights is None:
        return [1.0] * count
    weights = list(weights) if isinstance(weights, (list, tuple)) else [weights]
    if len(weights) != count:
        raise _invalid(name, f"a list of {count} weights, one per distillation loss", weights)
    for weight in weights:
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not weight >= 0:
            raise _invalid(name, "non-negative numbers", weights)
    return [float(w) for w in weights]


def check_non_negative(value, name):
    """Returns `value` as a float, or raises `ValueError` unless it is a finite number >= 0."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not 0.0 <= value < float("inf")):
        raise _invalid(name, "a finite number >= 0", value)
    return float(value)


def check_at_least(value, minimum, name):
    """Returns `value` as a float, or raises `ValueError` unless it is a finite number >= minimum."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not minimum <= value < float("inf")):
        raise _invalid(name, f"a finite number >= {minimum}", value)
    return float(value)


def check_bool(value, name):
    """Returns `value`, or raises `ValueError` unless it is a bool."""
    if not isinstance(value, bool):
        raise _invalid(name, "True or False", value)
    return value


def check_choice(value, choices, name):
    """Returns `value`, or raises `ValueError` unless it is one of `choices`."""
    if not isinstance(value, str) or value not in choices:
        raise _invalid(name, "one of " + ", ".join(repr(c) for c in choices), value)
    return value
