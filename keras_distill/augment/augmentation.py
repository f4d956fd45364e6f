"""`Augmentation`: applies a user's augmentation to a training batch, mixing labels if it mixes.

The `Distiller` and `AugmentedModel` call it once per training step, on the device, so the
teacher and the student see the *same* augmented batch (Beyer et al., 2022: "a good teacher is
patient and consistent"), and a student trained alone gets exactly the same augmentation.

An augmentation is a Keras layer (`keras.layers.RandomTranslation`, `RandAugment`, this
package's `RandomShift`...) or any callable taking and returning an input batch. A *mixing*
augmentation (`keras.layers.MixUp`, `keras.layers.CutMix`, this package's `MixUp`, or anything
with `mixes_labels = True`) is called Keras's way, with `{"images": x, "labels": one_hot}`,
and returns the same keys; the hard-label loss then takes the mixed (soft) labels.

Its random state (the layers' seed generators) is saved with the weights, so training resumed
by `keras.callbacks.BackupAndRestore` continues the same random stream.
"""

import functools
from typing import NamedTuple

import keras
import tensorflow as tf


_MIXING_LAYERS = (keras.layers.MixUp, keras.layers.CutMix)


class AugmentedBatch(NamedTuple):
    """One augmented training batch.

    Attributes:
        x: The augmented inputs.
        labels: The labels for the loss: the given ones, or mixed one-hot rows (a row with a
            negative value where a mixed example was unlabeled).
        metric_labels: The labels for the compiled metrics, in the given labels' format: for
            mixed labels, the class with the largest weight (-1 where unlabeled).
        mixed: Whether the labels were mixed (a Python bool, known when tracing).
    """

    x: object
    labels: object
    metric_labels: object
    mixed: bool


def mixes_labels(augmentation):
    """Whether `augmentation` mixes examples, and so their labels too.

    Example:

    >>> mixes_labels(keras.layers.MixUp()), mixes_labels(keras.layers.RandomFlip())
    (True, False)
    """
    return isinstance(augmentation, _MIXING_LAYERS) or bool(
        getattr(augmentation, "mixes_labels", False))


@keras.saving.register_keras_serializable(package="keras_distill")
class Augmentation(keras.layers.Layer):
    """Wraps a training augmentation: checks it, applies it to `(x, y)`, saves its random state.

    Args:
        augmentation: A Keras layer, a callable taking and returning an input batch (see the
            module docstring for mixing augmentations), or a list of them, applied in order.
        num_classes: The number of classes the labels index (to one-hot them for mixing), or
            `None` when unknown. Defaults to `None`.
        name: Layer name. Defaults to `None`.

    Raises:
        TypeError: If `augmentation` is neither a Keras layer nor callable.

    Example:

    >>> import numpy as np
    >>> wrapped = Augmentation(keras.layers.GaussianNoise(0.1, seed=0), num_classes=3)
    >>> batch = wrapped.apply(np.zeros((4, 5), "float32"), np.array([0, 1, 2, 0]))
    >>> batch.mixed, batch.x.shape
    (False, TensorShape([4, 5]))
    """

    def __init__(self, augmentation, num_classes=None, name=None, **kwargs):
        super().__init__(name=name or "augmentation", **kwargs)
        if isinstance(augmentation, Augmentation):
            augmentation = augmentation.augmentation
        steps = list(augmentation) if isinstance(augmentation, (list, tuple)) else [augmentation]
        for step in steps:
            if not _is_augmentation(step):
                raise TypeError(
                    "Invalid value for argument `augmentation`. Expected a Keras layer (e.g. "
                    "`keras.layers.RandomTranslation`), a `keras.Sequential` of them, a callable "
                    "taking and returning an input batch, or a list of these (applied in "
                    f"order). Received: augmentation={step!r}"
                )
        self.augmentation = augmentation
        self.steps = steps
        self.num_classes = num_classes
        self.mixed = any(mixes_labels(step) for step in steps)
        self.built = True

    def apply(self, x, y=None):
        """Augments a training batch.

        Args:
            x: The input batch: a tensor, or a dict holding one input tensor.
            y: Its labels (integer, `-1` for unlabeled, or one-hot/soft rows), or `None`.
                Defaults to `None`.

        Returns:
            An `AugmentedBatch`.
        """
        key = None
        if isinstance(x, dict):
            if len(x) != 1:
                raise ValueError(
                    "Augmentation takes one input tensor; received a dict of inputs with keys "
                    f"{sorted(x)}. Augment in the input pipeline instead."
                )
            (key, x), = x.items()
        sparse = y is not None and _is_sparse(y, self.num_classes)
        labels = y
        if self.mixed and y is not None:
            labels = _one_hot(y, self.num_classes) if sparse else tf.cast(y, tf.float32)
        for step in self.steps:
            if not mixes_labels(step):
                x = _call(step, x)
                continue
            data = {"images": x} if labels is None else {"images": x, "labels": labels}
            out = _call(step, data)
            x, labels = out["images"], out.get("labels", labels)
        metric_labels = labels
        if self.mixed and labels is not None and sparse:
            metric_labels = tf.cast(tf.where(
                tf.reduce_all(labels >= 0, axis=-1), tf.argmax(labels, axis=-1), -1), y.dtype)
            metric_labels = tf.reshape(metric_labels, tf.shape(y))
        return AugmentedBatch(x if key is None else {key: x}, labels, metric_labels, self.mixed)

    def check_input_shape(self, input_shape, role="student"):
        """Raises `ValueError` if the augmentation changes the shape of `[2, *input_shape]`
        inputs (run once, eagerly, on zeros, before any training step)."""
        x = tf.zeros((2, *input_shape))
        y = tf.zeros((2,), tf.int32) if self.num_classes else None
        out = self.apply(x, y).x
        got = tuple(tf.convert_to_tensor(out).shape[1:])
        if got != tuple(input_shape):
            raise ValueError(
                f"Invalid value for argument `augmentation`: {_describe(self.augmentation)} "
                f"turns inputs of shape {tuple(input_shape)} into {got}. Expected an "
                f"augmentation that keeps the input shape the {role} expects."
            )

    # The random state of the wrapped layers is variables that Keras does not save as weights.
    def _random_state(self):
        layers = [step for step in self.steps if isinstance(step, keras.layers.Layer)]
        weights = {id(v) for layer in layers for v in layer.weights}
        return [v for layer in layers for v in layer.variables if id(v) not in weights]

    def save_own_variables(self, store):
        for index, variable in enumerate(self._random_state()):
            store[str(index)] = variable.numpy()

    def load_own_variables(self, store):
        for index, variable in enumerate(self._random_state()):
            if str(index) in store:
                variable.assign(store[str(index)])

    def get_config(self):
        if not all(isinstance(step, keras.layers.Layer) for step in self.steps):
            raise NotImplementedError(
                "This augmentation is a plain callable, which cannot be saved in a config. "
                "Use a Keras layer to save the distiller with it."
            )
        return {**super().get_config(), "num_classes": self.num_classes,
                "augmentation": keras.saving.serialize_keras_object(self.augmentation)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["augmentation"] = keras.saving.deserialize_keras_object(config["augmentation"])
        return cls(**config)


def as_augmentation(augmentation, model, role="student"):
    """Wraps `augmentation` for `model` (checked against its input shape), or returns `None`.

    Args:
        augmentation: A Keras layer, a callable, an `Augmentation`, or `None`.
        model: The model whose inputs it augments (its input shape and class count).
        role: The model's name in messages. Defaults to `"student"`.

    Returns:
        An `Augmentation`, or `None` when `augmentation` is `None`.

    Raises:
        TypeError: If `augmentation` is neither a Keras layer nor callable.
        ValueError: If it changes the model's input shape.
    """
    if augmentation is None:
        return None
    classes = _num_classes(model)
    wrapped = Augmentation(augmentation, num_classes=classes)
    input_shape = _input_shape(model)
    if input_shape is not None:
        wrapped.check_input_shape(input_shape, role)
    return wrapped


def check_not_cached(teacher_outputs):
    """Raises `ValueError` when training data carries cached teacher outputs (at trace time,
    before any step): they belong to the un-augmented inputs, not to the augmented view."""
    if teacher_outputs is not None:
        raise ValueError(
            "Invalid combination: `augmentation` with cached teacher outputs. The cached "
            "outputs belong to the un-augmented inputs, so the teacher would not see the view "
            "the student sees. Distill online (pass the data without `cache_teacher_outputs`), "
            "or drop `augmentation`."
        )


def soft_label_loss(loss):
    """The counterpart of a sparse classification loss that takes one-hot/soft labels.

    Mixed labels are soft rows, so `SparseCategoricalCrossentropy` becomes
    `CategoricalCrossentropy` with the same `from_logits`; any other loss is returned as is
    (it must then accept soft labels).

    Example:

    >>> loss = soft_label_loss(keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    >>> type(loss).__name__, loss.get_config()["from_logits"]
    ('CategoricalCrossentropy', True)
    """
    if isinstance(loss, keras.losses.SparseCategoricalCrossentropy):
        config = loss.get_config()
        return keras.losses.CategoricalCrossentropy(
            from_logits=config.get("from_logits", False), reduction=config.get("reduction"),
            name=config.get("name"))
    if loss is keras.losses.sparse_categorical_crossentropy:
        return keras.losses.categorical_crossentropy
    if isinstance(loss, functools.partial) and (
            loss.func is keras.losses.sparse_categorical_crossentropy):
        return functools.partial(keras.losses.categorical_crossentropy, *loss.args,
                                 **loss.keywords)
    return loss


def _is_augmentation(step):
    if isinstance(step, keras.Model) and not isinstance(step, keras.Sequential):
        return False
    return isinstance(step, keras.layers.Layer) or callable(step)


def _call(step, data):
    if isinstance(step, keras.layers.Layer):
        return step(data, training=True)
    return step(data)


def _is_sparse(y, num_classes):
    y = tf.convert_to_tensor(y)
    if num_classes is None:
        return y.dtype.is_integer
    return y.dtype.is_integer or y.shape.rank == 1 or y.shape[-1] != num_classes


def _one_hot(y, num_classes):
    """One-hot rows of integer labels; a row of -1 where a label is negative (unlabeled)."""
    if num_classes is None:
        raise ValueError("Mixing integer labels needs the number of classes of the model.")
    y = tf.convert_to_tensor(y)
    if y.shape.rank and y.shape[-1] == 1:
        y = tf.squeeze(y, -1)
    y = tf.cast(y, tf.int32)
    hot = tf.one_hot(tf.maximum(y, 0), num_classes)
    return tf.where((y >= 0)[..., tf.newaxis], hot, -tf.ones_like(hot))


def _num_classes(model):
    try:
        shapes = keras.tree.flatten(model.output_shape if model.built else ())
    except (AttributeError, ValueError):
        return None
    last = shapes[-1] if shapes else None
    return last if isinstance(last, int) else None


def _input_shape(model):
    try:
        shape = model.input_shape if model.built else None
    except (AttributeError, ValueError):
        return None
    if isinstance(shape, dict) and len(shape) == 1:
        shape = next(iter(shape.values()))
    if not isinstance(shape, tuple) or any(d is None for d in shape[1:]):
        return None
    return shape[1:]


def _describe(augmentation):
    if isinstance(augmentation, keras.layers.Layer):
        return f"`{type(augmentation).__name__}` layer {augmentation.name!r}"
    return repr(augmentation)
