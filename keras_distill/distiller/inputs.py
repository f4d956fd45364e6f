"""The structure of inputs that carry cached teacher outputs (see `cache_teacher_outputs`)."""

TEACHER_OUTPUTS_KEY = "keras_distill_teacher_outputs"
INPUTS_KEY = "keras_distill_inputs"
LOGITS = "logits"
MEMBER_LOGITS = "member_logits"  # An ensemble's per-teacher logits, stacked on axis -2.


def split_cached(x):
    """Splits an input produced by `cache_teacher_outputs` into `(inputs, teacher_outputs)`.

    Returns `(x, None)` for ordinary inputs.
    """
    if isinstance(x, dict) and TEACHER_OUTPUTS_KEY in x:
        return x[INPUTS_KEY], x[TEACHER_OUTPUTS_KEY]
    return x, None
