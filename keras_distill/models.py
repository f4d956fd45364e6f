"""Small reference model families (MLP, CNN, GRU) for examples, the CLI and tests.

Every builder returns a functional `keras.Model` that outputs logits (no softmax) and whose input
layer is named after the dataset's feature (`"signal"` for MNIST-1D, `"image"` for tfds image
datasets), so the names carry through to an exported serving signature. `width` and `depth` set
the size; `reference_teacher` and `reference_student` give the sizes the CLI uses by default.
"""

import math

import keras

from keras_distill import validation

FAMILIES = ("mlp", "cnn", "gru")


def _check_shape(input_shape):
    try:
        shape = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        shape = ()
    if not shape or len(shape) > 3 or any(d <= 0 for d in shape):
        raise ValueError(
            "Invalid value for argument `input_shape`. Expected 1 to 3 positive dimensions "
            "without the batch axis, e.g. (40,), (28, 28, 1) or (32, 32, 3). "
            f"Received: input_shape={input_shape!r}"
        )
    return shape


def _inputs(input_shape, input_name):
    return keras.Input(_check_shape(input_shape), name=input_name)


def _as_sequence(x):
    """`(length,)` -> `(length, 1)`; `(h, w, c)` images -> rows as steps, `(h, w * c)`."""
    if len(x.shape) == 2:
        return keras.layers.Reshape((x.shape[1], 1))(x)
    if len(x.shape) == 4:
        return keras.layers.Reshape((x.shape[1], x.shape[2] * x.shape[3]))(x)
    return x


def _logits(x, num_classes):
    num_classes = validation.check_positive_int(num_classes, "num_classes")
    return keras.layers.Dense(num_classes, name="logits")(x)


def mlp(input_shape, num_classes, *, width=100, depth=2, input_name="x", name="mlp"):
    """A multilayer perceptron: `depth` ReLU layers of `width` units, then logits.

    The defaults are the MLP of the MNIST-1D paper (two hidden layers of 100; 15k parameters on
    MNIST-1D).

    Args:
        input_shape: Shape of one example, without the batch axis; flattened first.
        num_classes: Number of classes (logits).
        width: Units per hidden layer. Defaults to `100`.
        depth: Number of hidden layers (may be 0: a linear classifier). Defaults to `2`.
        input_name: Name of the input layer (the dataset's feature). Defaults to `"x"`.
        name: Model name. Defaults to `"mlp"`.

    Returns:
        A `keras.Model` that outputs logits.

    Example:

    >>> model = mlp((40,), 10)
    >>> model.count_params()
    15210
    """
    width = validation.check_positive_int(width, "width")
    depth = validation.check_non_negative_int(depth, "depth")
    inputs = _inputs(input_shape, input_name)
    x = keras.layers.Flatten()(inputs) if len(inputs.shape) > 2 else inputs
    for i in range(depth):
        x = keras.layers.Dense(width, activation="relu", name=f"dense_{i}")(x)
    return keras.Model(inputs, _logits(x, num_classes), name=name)


def cnn(input_shape, num_classes, *, width=32, depth=3, input_name="x", name="cnn"):
    """A convolutional network: 1D for sequences `(length,)`/`(length, channels)`, 2D for images
    `(height, width, channels)`.

    Each of the `depth` blocks is a convolution (kernel 5 then 3, "same" padding) with batch
    normalisation and ReLU; the channels double every block from `width`, and every block but
    the first halves the resolution. Global average pooling then a linear layer give the logits.

    Args:
        input_shape: `(length,)`, `(length, channels)` or `(height, width, channels)` (a
            grayscale image needs its channel axis: `(28, 28, 1)`).
        num_classes: Number of classes (logits).
        width: Channels of the first block. Defaults to `32`.
        depth: Number of convolution blocks. Defaults to `3`.
        input_name: Name of the input layer (the dataset's feature). Defaults to `"x"`.
        name: Model name. Defaults to `"cnn"`.

    Returns:
        A `keras.Model` that outputs logits.

    Example:

    >>> cnn((40,), 10, width=4, depth=2).output.shape
    (None, 10)
    >>> type(cnn((28, 28, 1), 10, width=4, depth=2).get_layer("conv_0")).__name__
    'Conv2D'
    """
    width = validation.check_positive_int(width, "width")
    depth = validation.check_positive_int(depth, "depth")
    inputs = _inputs(input_shape, input_name)
    x = inputs
    if len(x.shape) == 2:
        x = keras.layers.Reshape((x.shape[1], 1))(x)
    conv, pool = (
        (keras.layers.Conv1D, keras.layers.GlobalAveragePooling1D)
        if len(x.shape) == 3 else (keras.layers.Conv2D, keras.layers.GlobalAveragePooling2D)
    )
    for i in range(depth):
        x = conv(
            width * 2**i, 5 if i == 0 else 3, strides=1 if i == 0 else 2, padding="same",
            use_bias=False, name=f"conv_{i}",
        )(x)
        x = keras.layers.BatchNormalization(name=f"bn_{i}")(x)
        x = keras.layers.ReLU(name=f"relu_{i}")(x)
    x = pool(name="pool")(x)
    return keras.Model(inputs, _logits(x, num_classes), name=name)


def gru(input_shape, num_classes, *, width=64, depth=1, input_name="x", name="gru"):
    """A recurrent network: `depth` stacked GRU layers of `width` units, then logits.

    A `(length,)` input is read one value per step; an image `(h, w, c)` one row per step.

    Args:
        input_shape: Shape of one example, without the batch axis.
        num_classes: Number of classes (logits).
        width: Units per GRU layer. Defaults to `64`.
        depth: Number of GRU layers. Defaults to `1`.
        input_name: Name of the input layer (the dataset's feature). Defaults to `"x"`.
        name: Model name. Defaults to `"gru"`.

    Returns:
        A `keras.Model` that outputs logits.

    Example:

    >>> gru((40,), 10, width=8).output.shape
    (None, 10)
    """
    width = validation.check_positive_int(width, "width")
    depth = validation.check_positive_int(depth, "depth")
    inputs = _inputs(input_shape, input_name)
    x = _as_sequence(inputs)
    for i in range(depth):
        x = keras.layers.GRU(width, return_sequences=i < depth - 1, name=f"gru_{i}")(x)
    return keras.Model(inputs, _logits(x, num_classes), name=name)


_BUILDERS = dict(zip(FAMILIES, (mlp, cnn, gru)))


def build(family, input_shape, num_classes, *, width=None, depth=None, input_name="x",
          name=None, seed=None):
    """Builds a model of a family by name.

    Args:
        family: `"mlp"`, `"cnn"` or `"gru"`.
        input_shape: Shape of one example, without the batch axis.
        num_classes: Number of classes (logits).
        width: Family-specific width. Defaults to `None`: the family's default.
        depth: Family-specific depth. Defaults to `None`: the family's default.
        input_name: Name of the input layer. Defaults to `"x"`.
        name: Model name. Defaults to `None`: the family name.
        seed: If given, `keras.utils.set_random_seed(seed)` first, so two builds with the same
            seed start from identical weights. Defaults to `None`.

    Returns:
        A `keras.Model` that outputs logits.

    Example:

    >>> a = build("mlp", (40,), 10, width=8, seed=1)
    >>> b = build("mlp", (40,), 10, width=8, seed=1)
    >>> bool((a.get_weights()[0] == b.get_weights()[0]).all())
    True
    """
    validation.check_choice(family, FAMILIES, "family")
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    kwargs = {"input_name": input_name, "name": name or family}
    if width is not None:
        kwargs["width"] = width
    if depth is not None:
        kwargs["depth"] = depth
    return _BUILDERS[family](input_shape, num_classes, **kwargs)


# keras.applications by the names the command line takes. `weights=None` always: nothing is
# downloaded; a teacher's trained weights come from a file.
APPLICATIONS = {
    "mobilenet_v3_small": ("MobileNetV3Small", {"include_preprocessing": False}),
    "mobilenet_v3_large": ("MobileNetV3Large", {"include_preprocessing": False}),
    "mobilenet_v2": ("MobileNetV2", {}),
    "efficientnet_b0": ("EfficientNetB0", {"include_preprocessing": False}),
    "resnet50": ("ResNet50", {}),
}
# keras.applications refuse inputs smaller than this; smaller data is resized up inside.
APPLICATION_MIN_SIZE = 32


def resize_to(model, input_shape, *, input_name=None, name=None):
    """`model`, or a model taking `input_shape` that resizes images to `model`'s input first.

    The resize is part of the model, so a student built this way serves the data's raw size and
    a teacher of another resolution sees each batch at its own size inside the training step.

    Args:
        model: A `keras.Model` with one image input `(height, width, channels)`.
        input_shape: The data's `(height, width, channels)`.
        input_name: Name of the new input. Defaults to `None`: the model's input name.
        name: Name of the new model. Defaults to `None`: the model's name.

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: the channels differ, or a shape is not an image's.

    Example:

    >>> inner = build("cnn", (32, 32, 1), 10, width=4, depth=1)
    >>> resize_to(inner, (28, 28, 1)).input_shape
    (None, 28, 28, 1)
    """
    own = tuple(model.inputs[0].shape[1:])
    input_shape = tuple(input_shape)
    if own == input_shape:
        return model
    if len(own) != 3 or len(input_shape) != 3 or own[-1] != input_shape[-1]:
        raise ValueError(
            f"The model {model.name!r} takes inputs of shape {own}, but the data has inputs of "
            f"shape {input_shape}. Only images of the same channel count can be resized inside "
            "the model; expected matching shapes otherwise.")
    inputs = keras.Input(input_shape, name=input_name or model.inputs[0].name.split(":")[0])
    resized = keras.layers.Resizing(own[0], own[1], name="resize_to_model_input")(inputs)
    return keras.Model(inputs, model(resized), name=name or model.name)


def check_application_input(name, input_shape, argument="model"):
    """Returns `input_shape` as a tuple, or raises `ValueError` unless `name` is one of
    `APPLICATIONS` and the inputs are images `(height, width, channels)`."""
    validation.check_choice(name, tuple(APPLICATIONS), argument)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(
            f"Invalid value for argument `{argument}`. keras.applications models take images "
            f"of shape (height, width, channels); the data has inputs of shape {input_shape}. "
            f"Received: {argument}={name!r}")
    return input_shape


def application(name, input_shape, num_classes, *, input_name="x", seed=None):
    """A `keras.applications` model by name, untrained (`weights=None`), with logits.

    Built at the data's resolution (resized up inside to 32x32 when smaller, the applications'
    minimum), for `num_classes` classes.

    Args:
        name: One of `APPLICATIONS` (e.g. `"mobilenet_v3_small"`).
        input_shape: `(height, width, channels)` of the data.
        num_classes: Number of classes.
        input_name: Name of the input layer. Defaults to `"x"`.
        seed: Weight-initialisation seed. Defaults to `None`.

    Returns:
        A `keras.Model` that outputs logits.

    Example:

    >>> model = application("mobilenet_v3_small", (28, 28, 1), 10)
    >>> model.input_shape, model.output_shape
    ((None, 28, 28, 1), (None, 10))
    """
    input_shape = check_application_input(name, input_shape)
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    size = (*[max(d, APPLICATION_MIN_SIZE) for d in input_shape[:2]], input_shape[2])
    constructor, extra = APPLICATIONS[name]
    inputs = keras.Input(size, name=input_name)
    inner = getattr(keras.applications, constructor)(
        input_tensor=inputs, weights=None, classes=num_classes, classifier_activation=None,
        **extra)
    return resize_to(keras.Model(inputs, inner.output, name=name), input_shape,
                     input_name=input_name, name=name)


# Sizes of the defaults used by `keras-distill run` (chosen on MNIST-1D; see the README).
TEACHER = {"family": "cnn", "width": 64, "depth": 3}
STUDENTS = {"mlp": {"width": 100, "depth": 2}, "cnn": {"width": 8, "depth": 3},
            "gru": {"width": 16, "depth": 1}}


def reference_teacher(input_shape, num_classes, *, input_name="x", seed=None):
    """The reference teacher: a CNN (about 94% test accuracy on MNIST-1D).

    Args:
        input_shape: Shape of one example, without the batch axis.
        num_classes: Number of classes.
        input_name: Name of the input layer. Defaults to `"x"`.
        seed: Weight-initialisation seed. Defaults to `None`.

    Returns:
        A `keras.Model` that outputs logits.

    Example:

    >>> reference_teacher((40,), 10).name
    'teacher'
    """
    config = dict(TEACHER)
    return build(config.pop("family"), input_shape, num_classes, input_name=input_name,
                 name="teacher", seed=seed, **config)


def reference_student(family, input_shape, num_classes, *, size=1.0, input_name="x", seed=None):
    """A reference student of `family`; `size` scales its width (1.0: the default size).

    Args:
        family: `"mlp"`, `"cnn"` or `"gru"`.
        input_shape: Shape of one example, without the batch axis.
        num_classes: Number of classes.
        size: Width multiplier (e.g. 0.5 halves the width). Defaults to `1.0`.
        input_name: Name of the input layer. Defaults to `"x"`.
        seed: Weight-initialisation seed. Defaults to `None`.

    Returns:
        A `keras.Model` that outputs logits.

    Example:

    >>> reference_student("cnn", (40,), 10, size=0.5).get_layer("conv_0").filters
    4
    """
    validation.check_choice(family, FAMILIES, "family")
    size = validation.check_positive(size, "size")
    config = dict(STUDENTS[family])
    config["width"] = max(1, int(math.ceil(config["width"] * size)))
    return build(family, input_shape, num_classes, input_name=input_name, name="student",
                 seed=seed, **config)
