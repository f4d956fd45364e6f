"""Checks of the `Distiller`'s own arguments, beyond the shared ones in `keras_distill.validation`.

Each runs in `__init__`, `compile` or a setter, before any training step.
"""

import keras

from keras_distill import validation


def teacher_weights(weights, count):
    """Returns an ensemble's member weights normalised to sum to 1.

    Args:
        weights: One finite non-negative weight per teacher, or `None` (equal weights).
        count: The number of teachers.

    Returns:
        A list of `count` floats summing to 1.

    Raises:
        ValueError: If a weight is invalid or none is positive.

    Example:

    >>> teacher_weights([1, 3], 2)
    [0.25, 0.75]
    """
    checked = validation.check_weights(weights, count, "teacher_weights")
    if sum(checked) <= 0:
        raise validation.invalid("teacher_weights", "at least one positive weight", weights)
    return [w / sum(checked) for w in checked]


def student_loss(loss=None, student_loss_fn=None):
    """Returns the student's hard-label loss from `compile`'s two spellings of it.

    Args:
        loss: The keras.distillation form: a Keras loss, loss function or loss name; or, for a
            student with several outputs, a list or dict of them (`None` skips an output).
            Defaults to `None`.
        student_loss_fn: The keras.io form of the same argument. Defaults to `None`.

    Returns:
        A callable loss (or a list/dict of them), or `None` when neither is given.

    Raises:
        ValueError: If both are given.
        TypeError: If a loss is neither callable nor a loss name.

    Example:

    >>> type(student_loss("sparse_categorical_crossentropy")).__name__
    'function'
    """
    if loss is not None and student_loss_fn is not None:
        raise ValueError(
            "Received both `loss` and `student_loss_fn`; they are the same argument in the "
            "keras.distillation and keras.io forms. Pass only one."
        )
    resolved = loss if loss is not None else student_loss_fn
    if resolved is None:
        return None
    return keras.tree.map_structure(_one_loss, resolved)


def _one_loss(loss):
    if isinstance(loss, str):
        loss = keras.losses.get(loss)
    if loss is not None and not callable(loss):
        raise TypeError(
            "Invalid value for argument `loss`. Expected a Keras loss, a loss function or a "
            f"loss name. Received: loss={loss!r}"
        )
    return loss


def check_alpha_has_student_loss(alpha, loss):
    """Raises `ValueError` if `alpha > 0` weighs a student loss that was not given.

    Args:
        alpha: The weight of the student loss.
        loss: The student loss, or `None`.

    Example:

    >>> check_alpha_has_student_loss(0.0, None)  # The distillation term alone: fine.
    """
    if alpha > 0 and loss is None:
        raise validation.invalid(
            "alpha", "0 when no student loss is given", alpha,
            "Pass `loss=` (or `student_loss_fn=`) to `compile`, or set `alpha=0` to train on "
            "the distillation term alone.",
        )


def check_compile_kwargs(kwargs):
    """Raises `ValueError` for `keras.Model.compile` arguments the distiller replaces.

    Example:

    >>> check_compile_kwargs({"jit_compile": False})
    """
    if kwargs.get("loss_weights") is not None:
        raise ValueError(
            "Invalid value for argument `loss_weights`. Expected None: the distiller weighs "
            "its losses with `alpha` and `distillation_loss_weights`. "
            f"Received: loss_weights={kwargs['loss_weights']!r}"
        )
