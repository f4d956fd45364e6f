"""Preparing a teacher: checks, freezing, and taking logits from a model that ends in softmax.

A teacher whose last layer applies softmax silently ruins the temperature: `softmax(p / T)` of
probabilities is nearly uniform for any `T`. Functional and Sequential teachers are fixed for the
user (the distiller reads the pre-softmax logits through a copy of the last layer); a student that
ends in softmax is an error, because the student is what the user trains and ships.
"""

import warnings

import keras


def check_model(model, role):
    """Raises `TypeError` unless `model` is a `keras.Model`."""
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"Invalid value for argument `{role}`. Expected a `keras.Model`. "
            f"Received: {role}={model!r} of type {type(model).__name__}"
        )


def _is_softmax(fn):
    return fn is keras.activations.softmax or getattr(fn, "__name__", None) == "softmax"


def softmax_layer(model):
    """Returns the model's last layer if it applies softmax, else `None`."""
    layers = getattr(model, "layers", None)
    if not layers:
        return None
    last = layers[-1]
    if isinstance(last, keras.layers.Softmax) or _is_softmax(getattr(last, "activation", None)):
        return last
    return None


def check_student_outputs_logits(student):
    """Raises `ValueError` if the student's last layer applies softmax."""
    layer = softmax_layer(student)
    if layer is not None:
        raise ValueError(
            f"The student's last layer `{layer.name}` applies softmax, but distillation needs "
            "the student's logits: the temperature divides logits, not probabilities. Build the "
            "student with `activation=None` on its last layer and use `from_logits=True` in its "
            "loss; `keras_distill.export` adds `probabilities` to the exported signature."
        )


def logits_model(model, role="teacher"):
    """Returns `model`, or a model sharing its weights that outputs the pre-softmax logits.

    Args:
        model: A `keras.Model`.
        role: Name used in messages. Defaults to `"teacher"`.

    Returns:
        `model` itself when its last layer does not apply softmax; otherwise a functional model
        over the same inputs whose last layer is a linear copy of the original one.

    Raises:
        ValueError: if the model ends in softmax but is subclassed, so its logits cannot be reached.

    Example:

    >>> import keras
    >>> teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    >>> softmax_layer(logits_model(teacher)) is None
    True
    """
    layer = softmax_layer(model)
    if layer is None:
        return model
    try:
        inputs = model.inputs
        layer_input = layer.input
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ValueError(
            f"The {role}'s last layer `{layer.name}` applies softmax and the model is subclassed, "
            "so its logits cannot be read. Return logits from its `call` (no softmax on the last "
            "layer) and distill that model."
        )
    if isinstance(layer, keras.layers.Softmax) or isinstance(layer, keras.layers.Activation):
        outputs = layer_input
    else:
        config = layer.get_config()
        config["activation"] = "linear"
        config["name"] = f"{layer.name}_logits"
        linear = layer.__class__.from_config(config)
        outputs = linear(layer_input)
        linear.set_weights(layer.get_weights())
    warnings.warn(
        f"The {role}'s last layer `{layer.name}` applies softmax; distilling from its "
        "pre-softmax logits instead.",
        stacklevel=3,
    )
    return keras.Model(inputs, outputs, name=f"{model.name}_logits")


def as_teacher_list(teacher):
    """Returns `[teacher]`, or the list of an ensemble's members, each checked to be a model."""
    teachers = list(teacher) if isinstance(teacher, (list, tuple)) else [teacher]
    if not teachers:
        raise ValueError(
            "Invalid value for argument `teacher`. Expected a `keras.Model` or a non-empty list "
            "of them. Received: teacher=[]"
        )
    for member in teachers:
        check_model(member, "teacher")
    return teachers


def _classes(model):
    outputs = getattr(model, "outputs", None)
    return outputs[0].shape[-1] if outputs else None


def check_class_counts(teachers, student):
    """Raises `ValueError` unless every teacher and the student output the same class count."""
    counts = {member.name: _classes(member) for member in teachers}
    known = {c for c in counts.values() if c is not None}
    if len(known) > 1:
        raise ValueError(
            f"The ensemble's teachers output different class counts: {counts}. Expected every "
            "member to output the same classes."
        )
    student_classes = _classes(student)
    if known and student_classes is not None and student_classes not in known:
        raise ValueError(
            f"The teacher outputs {known.pop()} classes but the student outputs "
            f"{student_classes}. Expected both to have the same number of classes on the "
            "last axis."
        )


def freeze(model):
    """Marks `model` (or each model of a list) not trainable and returns it."""
    model.trainable = False
    return model
