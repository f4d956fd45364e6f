"""Input specs of a served model: read from the model, checked, described, and synthesised."""

import re

import keras
import numpy as np
import tensorflow as tf

_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\-/]*$")


def as_spec(spec, name):
    """A `tf.TensorSpec` named `name` from a `tf.TensorSpec` or a `keras.InputSpec`.

    Example:

    >>> as_spec(keras.InputSpec(shape=(None, 4)), "x")
    TensorSpec(shape=(None, 4), dtype=tf.float32, name='x')
    """
    if isinstance(spec, keras.InputSpec):
        if spec.shape is None:
            raise ValueError(
                "Invalid value for argument `input_signature`. Expected specs with a shape. "
                f"Received: input_signature={spec!r}"
            )
        return tf.TensorSpec(spec.shape, spec.dtype or "float32", name=name)
    if isinstance(spec, tf.TensorSpec):
        return tf.TensorSpec(spec.shape, spec.dtype, name=name)
    raise TypeError(
        "Invalid value for argument `input_signature`. Expected a `tf.TensorSpec`, a "
        f"`keras.InputSpec` or a list of them. Received: input_signature={spec!r}"
    )


def model_specs(model):
    """`[(name, shape, dtype)]` read from a Functional/Sequential model, or `None`."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if inputs:
        struct = getattr(model, "_inputs_struct", None)  # Sequential has no `.input` until called.
        if isinstance(struct, dict):
            names = list(struct.keys())
            inputs = list(struct.values())
        else:
            names = [input_layer_name(x, i) for i, x in enumerate(inputs)]
        return [(n, tuple(x.shape), x.dtype) for n, x in zip(names, inputs)]
    if model.built:
        try:  # Subclassed models record the shapes they were built with.
            from keras.src.export import export_utils

            specs = keras.tree.flatten(export_utils.get_input_signature(model))
        except (ImportError, ValueError, TypeError, AttributeError):
            return None
        names = ["inputs"] if len(specs) == 1 else [f"inputs_{i}" for i in range(len(specs))]
        return [(n, tuple(s.shape), s.dtype or "float32") for n, s in zip(names, specs)]
    return None


def input_layer_name(tensor, index):
    """The name of the input layer that made the symbolic `tensor`, else `inputs_<index>`."""
    history = getattr(tensor, "_keras_history", None)
    operation = getattr(history, "operation", None)
    return getattr(operation, "name", None) or f"inputs_{index}"


def check_names(names, argument):
    """Raises `ValueError` unless every name is a valid signature key (for `argument`)."""
    for name in names:
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(
                f"Invalid value for argument `{argument}`. Expected names made of letters, "
                f"digits, `_`, `.`, `-` and `/`. Received: {argument}={name!r}"
            )


def synthetic(specs, batch_size, seed=0):
    """Synthetic arrays for `specs`: normal floats, zeros otherwise; unknown dimensions are 1.

    Example:

    >>> [x.shape for x in synthetic([tf.TensorSpec((None, None, 3))], 2)]
    [(2, 1, 3)]
    """
    rng = np.random.default_rng(seed)
    arrays = []
    for spec in specs:
        shape = [batch_size] + [d if d is not None else 1 for d in spec.shape.as_list()[1:]]
        if spec.dtype.is_floating:
            arrays.append(rng.standard_normal(shape).astype(spec.dtype.as_numpy_dtype))
        else:
            arrays.append(np.zeros(shape, spec.dtype.as_numpy_dtype))
    return arrays


def describe_spec(name, tensor):
    """`{"name", "shape", "dtype"}` of a spec or a tensor, the batch axis as `None`.

    Example:

    >>> describe_spec("x", tf.TensorSpec((None, 28, 28, 1), tf.uint8))
    {'name': 'x', 'shape': [None, 28, 28, 1], 'dtype': 'uint8'}
    """
    return {"name": name, "shape": [None] + list(tensor.shape)[1:], "dtype": tensor.dtype.name}
