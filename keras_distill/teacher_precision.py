"""A reduced-precision copy of a frozen teacher: its forward pass in bfloat16 or float16.

The teacher is frozen, so its forward pass is all the distiller asks of it, and a forward pass
in 16 bits is cheaper wherever the hardware has 16-bit arithmetic (GPUs with tensor cores, TPUs,
CPUs with AMX). `reduced_precision` returns a copy of the teacher under Keras's mixed dtype
policy (`"mixed_bfloat16"` or `"mixed_float16"`): every layer computes in 16 bits, its weights
are copied from the teacher once, and layers Keras keeps in float32 for stability (batch
normalization statistics, softmax) stay there. The user's teacher is not changed. The student
and the losses stay float32: the distiller's loss casts the teacher's outputs to float32 first.

Where it pays: on an accelerator with 16-bit units, a CPU with AMX, and some CPUs with AVX-512
BF16 instructions (an AMD EPYC: 0.6x the float32 forward pass). On another AVX-512 BF16 CPU,
oneDNN ran 16-bit convolutions and matrix products 1.5x *slower* than float32;
`benchmarks/throughput.py` measures both on the machine at hand.
"""

import keras

TEACHER_DTYPES = (None, "bfloat16", "float16")


def check_teacher_dtype(value, name="teacher_dtype"):
    """Returns `value` if it is one of `TEACHER_DTYPES`, else raises `ValueError`.

    Example:

    >>> check_teacher_dtype("bfloat16")
    'bfloat16'
    >>> check_teacher_dtype("float64")
    Traceback (most recent call last):
    ...
    ValueError: Invalid value for argument `teacher_dtype`. Expected None, 'bfloat16' or 'float16'. Received: teacher_dtype='float64'
    """
    if value not in TEACHER_DTYPES or not (value is None or isinstance(value, str)):
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected None, 'bfloat16' or 'float16'. "
            f"Received: {name}={value!r}"
        )
    return value


def reduced_precision(model, dtype):
    """Returns a copy of `model` that computes in `dtype`, or `model` itself for `dtype=None`.

    The copy has the same layers, names and outputs, each float32 layer rebuilt under the
    `"mixed_<dtype>"` policy (float32 variables, `dtype` computation) and the weights copied
    once. Layers with another policy (already mixed, quantized, integer) are copied unchanged.
    Nested models (a keras.applications backbone inside a Sequential model) are copied too.

    Args:
        model: A Sequential or functional `keras.Model`, e.g. a keras.applications model.
        dtype: `"bfloat16"`, `"float16"`, or `None`.

    Returns:
        A new `keras.Model`, not trainable (a reduced-precision teacher is for inference
        only), whose outputs have dtype `dtype`; or `model` when `dtype` is `None`.

    Raises:
        ValueError: If `dtype` is not one of `TEACHER_DTYPES`, or `model` is subclassed (its
            layers cannot be rebuilt one by one).

    Example:

    >>> import keras, numpy as np
    >>> teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> fast = reduced_precision(teacher, "bfloat16")
    >>> fast.layers[0].dtype_policy.name, teacher.layers[0].dtype_policy.name
    ('mixed_bfloat16', 'float32')
    >>> str(fast(np.ones((2, 4), "float32")).dtype)
    "<dtype: 'bfloat16'>"
    """
    check_teacher_dtype(dtype)
    if dtype is None:
        return model
    if not isinstance(model, keras.Model) or not getattr(model, "inputs", None):
        raise ValueError(
            f"Invalid value for argument `teacher_dtype`. A reduced-precision teacher is a copy "
            f"rebuilt layer by layer, which needs a Sequential or functional model, but "
            f"`{getattr(model, 'name', model)}` is subclassed. Build the teacher functionally, or "
            f"create it under `keras.config.set_dtype_policy('mixed_{dtype}')`. "
            f"Received: teacher_dtype={dtype!r}"
        )
    policy = keras.dtype_policies.get(f"mixed_{dtype}")

    def clone_layer(layer):
        config = layer.get_config()
        if layer.dtype_policy.name == "float32":
            config["dtype"] = policy
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone_layer, recursive=True)
    copy.set_weights(model.get_weights())
    copy.trainable = False
    return copy
