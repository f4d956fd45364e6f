"""The cached-teacher-output format: inputs that carry the teacher's outputs beside each example.

`cache_teacher_outputs` writes this structure and `Distiller` reads it, so it lives here, below
both. A cached input is a dict:

    {INPUTS_KEY: x, TEACHER_OUTPUTS_KEY: {LOGITS: [batch, ..., classes], layer_name: ...}}

An ensemble of teachers stores `{MEMBER_LOGITS: [batch, ..., teachers, classes]}` instead of
`LOGITS`; the members are combined at the distiller's current temperature during training.
"""

TEACHER_OUTPUTS_KEY = "keras_distill_teacher_outputs"
INPUTS_KEY = "keras_distill_inputs"
LOGITS = "logits"
MEMBER_LOGITS = "member_logits"  # An ensemble's per-teacher logits, stacked on axis -2.


def join_cached(x, teacher_outputs):
    """Packs inputs and the teacher's outputs for them into one cached input.

    Args:
        x: The model inputs (a tensor, array or structure of them).
        teacher_outputs: Dict of the teacher's outputs for `x`, keyed by `LOGITS` (or
            `MEMBER_LOGITS`) and any intermediate layer names.

    Returns:
        The dict `{INPUTS_KEY: x, TEACHER_OUTPUTS_KEY: teacher_outputs}`.

    Example:

    >>> cached = join_cached([1.0, 2.0], {LOGITS: [0.5, -0.5]})
    >>> split_cached(cached)
    ([1.0, 2.0], {'logits': [0.5, -0.5]})
    """
    return {INPUTS_KEY: x, TEACHER_OUTPUTS_KEY: teacher_outputs}


def is_cached(x):
    """Whether `x` (an input or its `element_spec`) carries cached teacher outputs.

    Example:

    >>> is_cached(join_cached(1.0, {LOGITS: 0.0})), is_cached({"x": 1.0})
    (True, False)
    """
    return isinstance(x, dict) and TEACHER_OUTPUTS_KEY in x


def split_cached(x):
    """Splits an input produced by `cache_teacher_outputs` into `(inputs, teacher_outputs)`.

    Args:
        x: A model input, cached (see `join_cached`) or not.

    Returns:
        `(inputs, teacher_outputs)`, or `(x, None)` for an ordinary input.

    Example:

    >>> split_cached({"pixels": 1.0})
    ({'pixels': 1.0}, None)
    """
    if is_cached(x):
        return x[INPUTS_KEY], x[TEACHER_OUTPUTS_KEY]
    return x, None
