"""`Preprocessing`: the training preprocessing an export applies to the user's raw inputs.

What is served is what was trained: with a `Preprocessing`, the exported signature takes the
inputs the user has (8-bit pixels at the source's size, raw signals, raw feature rows) and
resizes and normalises them inside the graph, exactly as the training pipeline did, before the
student runs. When class names are given, the signature also returns the predicted class's name.
"""

import dataclasses
import numbers

import numpy as np
import tensorflow as tf

from keras_distill import validation
from keras_distill.data import pipeline

_FIELDS = ("scale", "mean", "std")


def _check_dtype(dtype):
    if dtype is None:
        return None
    try:
        parsed = tf.as_dtype(dtype) if isinstance(dtype, (str, tf.DType, np.dtype, type)) else None
    except TypeError:
        parsed = None
    if parsed is None or not (parsed.is_integer or parsed.is_floating):
        raise validation.invalid(
            "input_dtype", "an integer or floating-point dtype name such as 'uint8' or "
            "'float32' (the raw inputs' dtype)", dtype)
    return parsed.name


def _check_shape(shape, name):
    if shape is None:
        return None
    if (not isinstance(shape, (tuple, list)) or not shape or not all(
            d is None or (isinstance(d, numbers.Integral) and not isinstance(d, bool) and d >= 1)
            for d in shape)):
        raise validation.invalid(
            name, "a non-empty tuple of positive integers (or `None` for a dimension of any "
            "size), without the batch axis, e.g. (28, 28, 1)", shape)
    return tuple(None if d is None else int(d) for d in shape)


def _as_floats(value, name):
    try:
        array = None if isinstance(value, str) else np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        array = None
    if array is None or array.ndim > 1 or array.size == 0 or not np.all(np.isfinite(array)):
        raise validation.invalid(name, "a finite number or a list of them (one per channel)",
                                 value)
    return float(array) if array.ndim == 0 else [float(v) for v in array]


def _check_normalization(normalization):
    if normalization is None:
        return None
    if isinstance(normalization, dict):
        unknown = sorted(set(normalization) - set(_FIELDS))
        if unknown:
            raise validation.invalid(
                "normalization", f"a `Normalization` or a dict with keys among {list(_FIELDS)}",
                normalization)
        values = dict(normalization)
    elif all(hasattr(normalization, field) for field in _FIELDS):
        values = {field: getattr(normalization, field) for field in _FIELDS}
    else:
        raise validation.invalid(
            "normalization", "a `keras_distill.data.Normalization`, a dict "
            "`{'scale', 'mean', 'std'}` or `None`", normalization)
    values = {key: _as_floats(value, f"normalization.{key}") for key, value in values.items()}
    if not np.all(np.asarray(values.get("std", 1.0)) > 0) or isinstance(values.get("scale"),
                                                                         list):
        raise validation.invalid(
            "normalization", "one positive `std` per channel (or one for all) and one "
            "number `scale`", normalization)
    return pipeline.Normalization(**values)


def _check_class_names(class_names):
    if class_names is None:
        return None
    names = (tuple(class_names) if isinstance(class_names, (tuple, list, np.ndarray))
             else None)
    if not names or not all(isinstance(n, str) for n in names):
        raise validation.invalid("class_names", "a non-empty list of strings, one per class",
                                 class_names)
    return names


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """The raw inputs an export takes and the training preprocessing it applies to them.

    In the graph, before the student: the raw input is cast to float32, resized to `resize`
    (bilinear, then rounded back to the raw dtype's range, as the data loaders do) when given,
    and normalised, `(x * scale - mean) / std`, with the `normalization` measured on the
    training split. With `class_names`, a classifier's signature also returns `classes`, the
    predicted class's name.

    Args:
        input_shape: Shape of one raw input, without the batch axis, e.g. `(28, 28, 1)`;
            `None` for a dimension of any size (the height and width of images that are
            resized). Defaults to `None`: the model's input shape.
        input_dtype: Dtype of the raw inputs, e.g. `"uint8"` for 8-bit pixels. Defaults to
            `None`: the model's input dtype.
        normalization: A `keras_distill.data.Normalization` (or a dict `{"scale", "mean",
            "std"}`) the training pipeline applied. Defaults to `None`: no normalisation.
        resize: `(height, width)` the training images were resized to. Defaults to `None`.
        class_names: One name per class. Defaults to `None`: no `classes` output.

    Example:

    >>> import numpy as np
    >>> p = Preprocessing((2,), "uint8", {"scale": 1 / 255, "mean": 0.5, "std": 0.5},
    ...                   class_names=["cat", "dog"])
    >>> np.round(p(np.array([[0, 255]], "uint8")).numpy(), 3).tolist()
    [[-1.0, 1.0]]
    >>> Preprocessing.from_dict(p.to_dict()) == p
    True
    """

    input_shape: tuple = None
    input_dtype: str = None
    normalization: object = None
    resize: tuple = None
    class_names: tuple = None

    def __post_init__(self):
        resize = _check_shape(self.resize, "resize")
        if resize is not None and (len(resize) != 2 or None in resize):
            raise validation.invalid("resize", "`None` or (height, width), two positive "
                                     "integers", self.resize)
        shape = _check_shape(self.input_shape, "input_shape")
        if resize is not None and shape is not None and len(shape) != 3:
            raise validation.invalid(
                "input_shape", "(height, width, channels) for images that are resized",
                self.input_shape)
        for name, value in (("input_shape", shape), ("input_dtype", _check_dtype(
                self.input_dtype)), ("normalization", _check_normalization(self.normalization)),
                ("resize", resize), ("class_names", _check_class_names(self.class_names))):
            object.__setattr__(self, name, value)

    @classmethod
    def from_data(cls, data):
        """The preprocessing a `keras_distill.data.ClassificationData` was trained with.

        The raw input is the data's (its dtype and shape, with any height and width when the
        loader resized the images), its normalisation, resize and class names.
        """
        spec = data.split("train").element_spec
        spec = spec[0] if isinstance(spec, tuple) else spec
        source = data.describe().get("source") or {}
        resize = source.get("image_size") if isinstance(source, dict) else None
        shape = tuple(data.input_shape)
        if resize is not None:
            shape = (None, None, shape[-1])
        return cls(input_shape=shape, input_dtype=spec.dtype.name,
                   normalization=data.normalization, resize=resize,
                   class_names=data.class_names or None)

    @classmethod
    def from_dict(cls, config):
        """The `Preprocessing` that `to_dict()` (a model card's `preprocessing`) describes."""
        return cls(**{field.name: config.get(field.name) for field in dataclasses.fields(cls)})

    def to_dict(self):
        """A JSON-ready dict of the fields (the model card's `preprocessing`)."""
        return {
            "input_shape": None if self.input_shape is None else list(self.input_shape),
            "input_dtype": self.input_dtype,
            "normalization": (None if self.normalization is None
                              else self.normalization.to_dict()),
            "resize": None if self.resize is None else list(self.resize),
            "class_names": None if self.class_names is None else list(self.class_names),
        }

    @property
    def transforms(self):
        """Whether the inputs are changed (resized or normalised) before the model."""
        return self.normalization is not None or self.resize is not None

    def output_shape(self, input_shape):
        """The shape, without the batch axis, of what the model receives from `input_shape`."""
        if self.resize is None:
            return tuple(input_shape)
        return (*self.resize, input_shape[-1])

    def __call__(self, x):
        """Applies the preprocessing to a batch of raw inputs (a tensor, batch first)."""
        if not self.transforms:
            return x
        raw_dtype = tf.as_dtype(self.input_dtype or x.dtype)
        x = tf.cast(x, tf.float32)
        if self.resize is not None:
            x = tf.image.resize(x, self.resize)
            if raw_dtype.is_integer:  # The loaders round resized pixels back to their dtype.
                x = tf.clip_by_value(tf.round(x), raw_dtype.min, raw_dtype.max)
        if self.normalization is not None:
            x = self.normalization(x)
        return x

    def example(self, shape, dtype, batch_size=2, seed=0):
        """Synthetic raw inputs: random pixels in `[0, 255]` for integer dtypes, normal floats
        otherwise; unknown dimensions take the `resize` size (else 1)."""
        rng = np.random.default_rng(seed)
        fill = list(self.resize or ()) + [1] * len(shape)
        dims = [d if d is not None else fill[i] for i, d in enumerate(shape)]
        dtype = tf.as_dtype(dtype)
        if dtype.is_integer:
            low, high = max(dtype.min, 0), min(dtype.max, 255)
            return rng.integers(low, high + 1, [batch_size, *dims]).astype(dtype.as_numpy_dtype)
        return rng.standard_normal([batch_size, *dims]).astype(dtype.as_numpy_dtype)

    def input_spec(self, model_spec, name):
        """The raw input's `tf.TensorSpec`, checked against the model's input spec."""
        model_shape = tuple(model_spec.shape.as_list()[1:])
        shape = self.input_shape or model_shape
        dtype = self.input_dtype or model_spec.dtype.name
        produced = self.output_shape(shape)
        if len(produced) != len(model_shape) or any(
                a is not None and b is not None and a != b for a, b in zip(produced, model_shape)):
            raise ValueError(
                f"Invalid value for argument `preprocessing`. The model takes inputs of shape "
                f"{model_shape}, but the preprocessing gives it inputs of shape {produced}. "
                "Pass the raw inputs' `input_shape` (and `resize`) the model was trained "
                f"with. Received: preprocessing={self!r}"
            )
        return tf.TensorSpec((None, *shape), dtype, name=name)
