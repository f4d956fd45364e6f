"""The cached-teacher-output format: inputs that carry the teacher's outputs beside each example.

`cache_teacher_outputs` writes this structure and `Distiller` reads it, so it lives here, below
both. A cached input is a dict:

    {INPUTS_KEY: x, TEACHER_OUTPUTS_KEY: {LOGITS: [batch, ..., classes], layer_name: ...}}

An ensemble of teachers stores `{MEMBER_LOGITS: [batch, ..., teachers, classes]}` instead of
`LOGITS`; the members are combined at the distiller's current temperature during training.

A compact (top-k) cache stores, instead of `LOGITS` (see `top_k_outputs`):

    TOP_K_LOGITS   [batch, ..., k] float16   the teacher's k largest logits
    TOP_K_INDICES  [batch, ..., k] int32     their classes
    TOP_K_REST     [batch, ..., 2] float16   the other C - k logits summarised: their mean and
                                             log-mean-exp (`keras_distill.losses.top_k`)
"""

import tensorflow as tf

TEACHER_OUTPUTS_KEY = "keras_distill_teacher_outputs"
INPUTS_KEY = "keras_distill_inputs"
LOGITS = "logits"
MEMBER_LOGITS = "member_logits"  # An ensemble's per-teacher logits, stacked on axis -2.
TOP_K_LOGITS = "top_k_logits"
TOP_K_INDICES = "top_k_indices"
TOP_K_REST = "top_k_rest"
TOP_K_KEYS = (TOP_K_LOGITS, TOP_K_INDICES, TOP_K_REST)


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


def is_top_k(teacher_outputs):
    """Whether a dict of teacher outputs holds a top-k summary rather than full logits.

    Example:

    >>> is_top_k({TOP_K_LOGITS: 0.0}), is_top_k({LOGITS: 0.0})
    (True, False)
    """
    return isinstance(teacher_outputs, dict) and TOP_K_LOGITS in teacher_outputs


def top_k_outputs(teacher_outputs, k):
    """Replaces the teacher's logits by their top-k summary (see the module docstring).

    Args:
        teacher_outputs: Dict of teacher outputs with one logits tensor `[batch, ..., classes]`
            under `LOGITS` (features under other keys are kept as they are).
        k: Number of logits kept, `1 <= k < classes`.

    Returns:
        A new dict: `TOP_K_LOGITS` and `TOP_K_REST` in float16, `TOP_K_INDICES` in int32.

    Raises:
        ValueError: For an ensemble, several outputs, or `k` not below the class count.

    Example:

    >>> out = top_k_outputs({LOGITS: tf.constant([[3.0, 0.0, 1.0, -1.0]])}, 2)
    >>> out[TOP_K_INDICES].numpy().tolist(), out[TOP_K_LOGITS].numpy().tolist()
    ([[0, 2]], [[3.0, 1.0]])
    >>> [round(v, 3) for v in out[TOP_K_REST].numpy()[0].tolist()]  # mean, log-mean-exp
    [-0.5, -0.38]
    """
    logits = teacher_outputs.get(LOGITS)
    if not isinstance(logits, tf.Tensor):
        raise ValueError(
            "Invalid value for argument `top_k`. A top-k cache stores one teacher's single "
            "logits output; this teacher gives "
            + ("an ensemble's member logits" if MEMBER_LOGITS in teacher_outputs
               else "several outputs") + f". Received: top_k={k}"
        )
    classes = logits.shape[-1]
    if classes is None or not 1 <= k < classes:
        raise ValueError(
            f"Invalid value for argument `top_k`. Expected an integer from 1 to {classes} - 1 "
            f"(the teacher outputs {classes} classes; the rest is summarised). Received: top_k={k}"
        )
    logits = tf.cast(logits, tf.float32)
    values, indices = tf.math.top_k(logits, k)
    in_top = tf.reduce_any(tf.cast(tf.one_hot(indices, classes), tf.bool), axis=-2)
    rest_count = float(classes - k)
    rest_mean = tf.reduce_sum(tf.where(in_top, 0.0, logits), axis=-1) / rest_count
    rest_log_mean_exp = tf.reduce_logsumexp(
        tf.where(in_top, float("-inf"), logits), axis=-1) - tf.math.log(rest_count)
    outputs = {key: value for key, value in teacher_outputs.items() if key != LOGITS}
    outputs[TOP_K_LOGITS] = tf.cast(values, tf.float16)
    outputs[TOP_K_INDICES] = tf.cast(indices, tf.int32)
    outputs[TOP_K_REST] = tf.cast(tf.stack([rest_mean, rest_log_mean_exp], axis=-1), tf.float16)
    return outputs
