"""Preparing a teacher: checks, freezing, and taking logits from a model that ends in softmax.

A teacher whose last layer applies softmax silently ruins the temperature: `softmax(p / T)` of
probabilities is nearly uniform for any `T`. Functional and Sequential teachers are fixed for the
user (the distiller reads the pre-softmax logits through a copy of the last layer); a student that
ends in softmax is an error, because the student is what the user trains and ships.
"""

import warnings

import keras

from keras_distill import teacher_precision


class NotAModelError(TypeError, ValueError):
    """Raised where a `keras.Model` was expected: a `TypeError`, and a `ValueError` as in
    `keras.distillation`, so code written for either catches it."""


def check_model(model, role):
    """Raises `NotAModelError` (a `TypeError` and a `ValueError`) unless `model` is a
    `keras.Model`.

    Example:

    >>> try:
    ...     check_model("teacher.keras", "teacher")
    ... except ValueError as error:
    ...     print(error)
    Invalid value for argument `teacher`. Expected a `keras.Model`. Received: teacher='teacher.keras' of type str
    """
    if not isinstance(model, keras.Model):
        raise NotAModelError(
            f"Invalid value for argument `{role}`. Expected a `keras.Model`. "
            f"Received: {role}={model!r} of type {type(model).__name__}"
        )


def _is_softmax(fn):
    return fn is keras.activations.softmax or getattr(fn, "__name__", None) == "softmax"


def _applies_softmax(layer):
    return isinstance(layer, keras.layers.Softmax) or _is_softmax(getattr(layer, "activation", None))


def output_count(model):
    """The number of outputs of a functional model; 1 when it cannot be known (subclassed)."""
    return len(getattr(model, "outputs", None) or [None])


def _output_layers(model):
    """The layer producing each output of a functional model with several outputs."""
    return [tensor._keras_history[0] for tensor in model.outputs]


def softmax_layer(model):
    """Returns the model's last layer (any output layer, for several outputs) if it applies
    softmax, else `None`."""
    if output_count(model) > 1:
        return next((layer for layer in _output_layers(model) if _applies_softmax(layer)), None)
    layers = getattr(model, "layers", None)
    if not layers:
        return None
    return layers[-1] if _applies_softmax(layers[-1]) else None


def check_student_outputs_logits(student):
    """Raises `ValueError` if the student's last layer (an output layer) applies softmax."""
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
    if output_count(model) > 1:
        return _multi_output_logits_model(model, role)
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
    warnings.warn(
        f"The {role}'s last layer `{layer.name}` applies softmax; distilling from its "
        "pre-softmax logits instead.",
        stacklevel=3,
    )
    return keras.Model(inputs, _pre_softmax(layer, layer_input), name=f"{model.name}_logits")


def _pre_softmax(layer, layer_input):
    """The logits `layer` turns into probabilities: its input, or a linear copy of it."""
    if isinstance(layer, (keras.layers.Softmax, keras.layers.Activation)):
        return layer_input
    config = layer.get_config()
    config["activation"] = "linear"
    config["name"] = f"{layer.name}_logits"
    linear = layer.__class__.from_config(config)
    outputs = linear(layer_input)
    linear.set_weights(layer.get_weights())
    return outputs


def _multi_output_logits_model(model, role):
    """`logits_model` for a functional model with several outputs: each softmax head is read
    before its softmax."""
    heads = []
    for tensor, layer in zip(model.outputs, _output_layers(model)):
        if _applies_softmax(layer):
            warnings.warn(f"The {role}'s output layer `{layer.name}` applies softmax; "
                          "distilling from its pre-softmax logits instead.", stacklevel=4)
            tensor = _pre_softmax(layer, layer.input)
        heads.append(tensor)
    outputs = keras.tree.pack_sequence_as(model.output, heads)
    return keras.Model(model.inputs, outputs, name=f"{model.name}_logits")


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


def check_built(model, role="teacher"):
    """Raises `ValueError` unless `model` (or each model of a list) is built: an unbuilt model
    has no trained weights, so distilling from it would teach random outputs. Checked when the
    teacher is about to run (`Distiller.fit`, `cache_teacher_outputs`), not when a `Distiller`
    is made, which `keras.distillation` allows.

    Example:

    >>> import keras
    >>> check_built(keras.Sequential([keras.layers.Dense(3)], name="t"))
    Traceback (most recent call last):
    ...
    ValueError: Invalid value for argument `teacher`. Expected a built model with trained weights. Received: teacher=<Sequential name=t, built=False>. Give it an input shape (`keras.Input`), then train or load its weights
    """
    for member in model if isinstance(model, (list, tuple)) else [model]:
        _check_built(member, role)


def _check_built(model, role):
    if not model.built:
        raise ValueError(
            f"Invalid value for argument `{role}`. Expected a built model with trained weights. "
            f"Received: {role}={model!r}. Give it an input shape (`keras.Input`), then train or "
            "load its weights")


def select_output(model, output):
    """A model over `model`'s inputs that returns only the output `output` (its index, or the
    name of the layer producing it): a single-output teacher for a model with several outputs.

    Example:

    >>> import keras
    >>> inputs = keras.Input((4,))
    >>> two = keras.Model(inputs, [keras.layers.Dense(3, name="classes")(inputs),
    ...                            keras.layers.Dense(1, name="score")(inputs)])
    >>> select_output(two, "classes").output.shape
    (None, 3)
    """
    outputs = list(getattr(model, "outputs", None) or [])
    names = [tensor._keras_history[0].name for tensor in outputs]
    if output in names:
        output = names.index(output)
    if isinstance(output, bool) or not isinstance(output, int) or not 0 <= output < len(names):
        raise ValueError(f"Invalid value for argument `output`. Expected an output index below "
                         f"{len(names)} or one of {names}. Received: output={output!r}")
    return keras.Model(model.inputs, outputs[output], name=f"{model.name}_{names[output]}")


def _classes(model):
    outputs = getattr(model, "outputs", None)
    return outputs[0].shape[-1] if outputs else None


def _check_outputs(teacher, student):
    """Raises `ValueError` unless two models with several outputs have matching outputs."""
    teacher_outputs = getattr(teacher, "outputs", None)
    student_outputs = getattr(student, "outputs", None)
    if not teacher_outputs or not student_outputs:
        return  # A subclassed model: its outputs are known only when it runs.
    teacher_shapes = [tuple(t.shape) for t in teacher_outputs]
    student_shapes = [tuple(t.shape) for t in student_outputs]
    if len(teacher_shapes) != len(student_shapes) or any(
            t[-1] != s[-1] for t, s in zip(teacher_shapes, student_shapes)):
        raise ValueError(
            f"The teacher's outputs {teacher_shapes} and the student's outputs "
            f"{student_shapes} do not match. Expected the same outputs, in the same structure, "
            "with the same number of classes each."
        )


def check_class_counts(teachers, student):
    """Raises `ValueError` unless every teacher and the student output the same class count
    (for models with several outputs: the same outputs, each with the same class count)."""
    if any(output_count(m) > 1 for m in (*teachers, student)):
        if len(teachers) > 1:
            raise ValueError(
                "An ensemble of teachers needs models with one output; these have several. "
                "Distill from one teacher, or build each member with one output."
            )
        _check_outputs(teachers[0], student)
        return
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


def prepare(model, dtype=None):
    """The model a distiller runs as its teacher: logits (`logits_model`), in `dtype`
    (`teacher_precision.reduced_precision`: a copy, leaving `model` as it is), frozen.

    Example:

    >>> import keras
    >>> teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> fast = prepare(teacher, "bfloat16")
    >>> fast is teacher, fast.trainable, teacher.trainable
    (False, False, True)
    """
    return freeze(teacher_precision.reduced_precision(logits_model(model), dtype))
