"""A classification dataset held as `tf.data` splits, and the batched input pipelines built on it.

`ClassificationData` keeps the splits *un-normalised and unbatched* (raw inputs: 8-bit images stay
`uint8`) with what is needed to feed them: the normalisation measured on the training split, the
feature name, shape and class count, and where the data came from (`Source`, `HeldOutTest`).
`ClassificationData.batches` turns a split into a pipeline: cached, shuffled with a seed,
batched, normalised, prefetched. The unlabeled transfer set, when there is one, joins the training
examples with the label `-1`, which `Distiller` trains on the distillation term alone.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from keras_distill import validation

UNLABELED = -1


@dataclasses.dataclass(frozen=True)
class Normalization:
    """`x -> (x * scale - mean) / std`, per channel (the last axis) or global.

    Args:
        scale: Multiplies the raw input first (`1 / 255` for 8-bit images). Defaults to `1.0`.
        mean: Mean of the scaled training inputs: a float or one float per channel.
            Defaults to `0.0`.
        std: Standard deviation of the scaled training inputs, same form as `mean`.
            Defaults to `1.0`.

    Example:

    >>> norm = Normalization(scale=1 / 255, mean=0.5, std=0.25)
    >>> float(norm(tf.constant([255.0]))[0])
    2.0
    """

    scale: float = 1.0
    mean: object = 0.0
    std: object = 1.0

    def __call__(self, x):
        x = tf.cast(x, tf.float32)
        if self.scale != 1.0:
            x = x * self.scale
        return (x - tf.constant(self.mean, tf.float32)) / tf.constant(self.std, tf.float32)

    def invert(self, x):
        """The raw inputs that normalise to `x` (a NumPy array), as float32.

        Example:

        >>> norm = Normalization(scale=1 / 255, mean=0.5, std=0.25)
        >>> float(norm.invert(np.array([2.0]))[0])
        255.0
        """
        raw = (np.asarray(x, np.float64) * np.asarray(self.std) + np.asarray(self.mean))
        return (raw / self.scale).astype("float32")

    def to_dict(self):
        """A JSON-ready dict."""
        return {"scale": self.scale, "mean": self.mean, "std": self.std}

    @classmethod
    def measure(cls, x, *, scale=1.0, per_channel=False):
        """Measures mean and std on a sample `x` (a NumPy array with the batch axis first).

        Example:

        >>> Normalization.measure(np.array([[0.0], [2.0]])).mean
        1.0
        """
        x = np.asarray(x, np.float64) * scale
        axes = tuple(range(x.ndim - 1)) if per_channel else None
        mean, std = x.mean(axis=axes), x.std(axis=axes)
        std = np.where(std > 0, std, 1.0)
        as_python = (lambda a: [float(v) for v in a]) if per_channel else float
        return cls(scale=float(scale), mean=as_python(mean), std=as_python(std))


def batches(examples, batch_size, *, normalization=None, shuffle=False, seed=None,
            cache=True, shuffle_buffer=10_000, drop_remainder=False):
    """Builds a batched, prefetched pipeline from a dataset of single examples.

    Args:
        examples: A `tf.data.Dataset` of `x` or `(x, y)` single examples.
        batch_size: Examples per batch.
        normalization: A `Normalization` applied to `x` per batch. Defaults to `None` (none).
        shuffle: Reshuffle every epoch. Defaults to `False`.
        seed: Shuffle seed; the order of epoch `k` is the same in every run. Defaults to `None`.
        cache: Keep the raw examples in memory after the first pass. Defaults to `True`.
        shuffle_buffer: Shuffle buffer size. Defaults to `10_000`.
        drop_remainder: Drop the last partial batch. Defaults to `False`.

    Returns:
        A `tf.data.Dataset` of batches.

    Example:

    >>> ds = tf.data.Dataset.from_tensor_slices((np.arange(10.0), np.arange(10)))
    >>> [int(tf.shape(x)[0]) for x, _ in batches(ds, 4, shuffle=True, seed=0)]
    [4, 4, 2]
    """
    batch_size = validation.check_positive_int(batch_size, "batch_size")
    if cache:
        examples = examples.cache()
    if shuffle:
        examples = examples.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    batched = examples.batch(batch_size, drop_remainder=drop_remainder)
    if normalization is not None:
        if isinstance(batched.element_spec, tuple):
            batched = batched.map(lambda x, *rest: (normalization(x), *rest),
                                  num_parallel_calls=tf.data.AUTOTUNE)
        else:
            batched = batched.map(normalization, num_parallel_calls=tf.data.AUTOTUNE)
    return batched.prefetch(tf.data.AUTOTUNE)


@dataclasses.dataclass(frozen=True)
class Source:
    """Where a dataset came from, for the model card.

    Args:
        kind: `"mnist1d"`, `"tfds"`, `"image_folder"`, `"npz"`, `"npy"` or `"csv"`.
            Defaults to `"unknown"`.
        location: The absolute path read, or the tfds name. Defaults to `None`.
        options: JSON-ready settings that shaped the inputs (`image_size`, `label_column`,
            `features`, `unlabeled`, ...). Defaults to `{}`.

    Example:

    >>> Source("csv", "/data/iris.csv", {"label_column": "species"}).to_dict()
    {'kind': 'csv', 'location': '/data/iris.csv', 'label_column': 'species'}
    """

    kind: str = "unknown"
    location: str = None
    options: dict = dataclasses.field(default_factory=dict)

    def to_dict(self):
        """A JSON-ready dict: `kind`, `location` and the options."""
        return {"kind": self.kind, "location": self.location, **self.options}


@dataclasses.dataclass(frozen=True)
class HeldOutTest:
    """A test split held out of the labeled examples because the source has none.

    Args:
        fraction: Fraction of the labeled examples held out as `test`.
        seed: Seed of the permutation that chose them.

    Example:

    >>> HeldOutTest(0.2, 42).to_dict()
    {'held_out': True, 'fraction': 0.2, 'seed': 42}
    """

    fraction: float
    seed: int

    def to_dict(self):
        """A JSON-ready dict, as `ClassificationData.describe()["test_split"]`."""
        return {"held_out": True, "fraction": self.fraction, "seed": self.seed}


@dataclasses.dataclass(frozen=True)
class ClassificationData:
    """A classification dataset: unbatched, un-normalised splits plus how to feed them.

    Args:
        name: Dataset name (`"mnist1d"`, a tfds name, ...).
        train: `tf.data.Dataset` of `(x, y)` training examples.
        test: `tf.data.Dataset` of `(x, y)` test examples.
        num_classes: Number of classes.
        input_shape: Shape of one `x`, without the batch axis.
        feature_name: Name of the input feature (names the models' input layer).
        normalization: The `Normalization` matched to the training split.
        validation: `(x, y)` examples held out of `train` for choosing hyperparameters, or
            `None`. Defaults to `None`.
        transfer: Unlabeled `x` examples only the teacher labels, or `None`. Defaults to `None`.
        sizes: Number of examples per split, e.g. `{"train": 4000, "test": 1000}`.
            Defaults to `{}` (unknown).
        class_names: Class names, or `None`. Defaults to `None`.
        source: The `Source` the data was read from. Defaults to `Source()` (unknown).
        held_out_test: The `HeldOutTest` when `test` was held out of the labeled examples, or
            `None` when the source provides its own test split. Defaults to `None`.
    """

    name: str
    train: tf.data.Dataset
    test: tf.data.Dataset
    num_classes: int
    input_shape: tuple
    feature_name: str
    normalization: Normalization = Normalization()
    validation: tf.data.Dataset = None
    transfer: tf.data.Dataset = None
    sizes: dict = dataclasses.field(default_factory=dict)
    class_names: tuple = None
    source: Source = Source()
    held_out_test: HeldOutTest = None

    def batches(self, split, batch_size, *, shuffle=None, seed=None, with_transfer=False,
                drop_remainder=False):
        """A batched, normalised, prefetched pipeline of a split.

        Args:
            split: `"train"`, `"validation"`, `"test"` or `"transfer"`.
            batch_size: Examples per batch.
            shuffle: Reshuffle every epoch. Defaults to `None`: only `"train"` (and
                `"transfer"`) are shuffled.
            seed: Shuffle seed. Defaults to `None`.
            with_transfer: For `"train"`, add the transfer set's examples with label `-1`
                (trained on the distillation term alone). Defaults to `False`.
            drop_remainder: Drop the last partial batch, so that every replica of a
                `tf.distribute` strategy gets an equal share. Defaults to `False`.

        Returns:
            A `tf.data.Dataset` of `(x, y)` batches (of `x` for `"transfer"`).
        """
        examples = self.split(split)
        if with_transfer and self.transfer is not None:
            if split != "train":
                raise ValueError(
                    "Invalid value for argument `with_transfer`. Expected it only with "
                    f"split='train'. Received: split={split!r}"
                )
            unlabeled = self.transfer.map(
                lambda x: (x, tf.constant(UNLABELED, examples.element_spec[1].dtype))
            )
            examples = examples.concatenate(unlabeled)
        if shuffle is None:
            shuffle = split in ("train", "transfer")
        size = self.sizes.get(split, 0) + (self.sizes.get("transfer", 0) if with_transfer else 0)
        return batches(examples, batch_size, normalization=self.normalization, shuffle=shuffle,
                       seed=seed, shuffle_buffer=max(size, 1024) if size else 10_000,
                       drop_remainder=drop_remainder)

    def with_transfer(self, inputs):
        """This data with raw `inputs` (a NumPy array of examples) added to its transfer set,
        in the training inputs' dtype (rounded and clipped to its range if it is an integer).

        Example:

        >>> from keras_distill import data as data_lib
        >>> data = data_lib.load("mnist1d", transfer_samples=100)
        >>> data.with_transfer(np.zeros((5, 40), "float32")).sizes["transfer"]
        105
        """
        dtype = tf.as_dtype(self.train.element_spec[0].dtype)
        inputs = np.asarray(inputs)
        if inputs.ndim < 1 or tuple(inputs.shape[1:]) != tuple(self.input_shape):
            raise ValueError(
                f"Invalid value for argument `inputs`. Expected examples of shape "
                f"{tuple(self.input_shape)} (the training inputs'), stacked on a first axis. "
                f"Received: inputs of shape {inputs.shape}"
            )
        if dtype.is_integer:
            inputs = np.clip(np.round(inputs), dtype.min, dtype.max)
        added = tf.data.Dataset.from_tensor_slices(inputs.astype(dtype.as_numpy_dtype))
        transfer = added if self.transfer is None else self.transfer.concatenate(added)
        return dataclasses.replace(self, transfer=transfer, sizes={
            **self.sizes, "transfer": self.sizes.get("transfer", 0) + len(inputs)})

    def without_transfer(self):
        """This data without its transfer set (the same splits and normalisation).

        Example:

        >>> from keras_distill import data as data_lib
        >>> data = data_lib.load("mnist1d", transfer_samples=100)
        >>> data.sizes["transfer"], data.without_transfer().transfer, sorted(
        ...     data.without_transfer().sizes)
        (100, None, ['test', 'train'])
        """
        sizes = {k: v for k, v in self.sizes.items() if k != "transfer"}
        return dataclasses.replace(self, transfer=None, sizes=sizes)

    def split(self, split):
        """The unbatched examples of `split`; raises `ValueError` if the split is absent."""
        splits = {"train": self.train, "test": self.test, "validation": self.validation,
                  "transfer": self.transfer}
        if split not in splits:
            raise ValueError(
                f"Invalid value for argument `split`. Expected one of {list(splits)}. "
                f"Received: split={split!r}"
            )
        if splits[split] is None:
            raise ValueError(
                f"The dataset {self.name!r} has no {split!r} split. Load it with "
                + ("`unlabeled=` (or, for MNIST-1D, `transfer_samples=`) set."
                   if split == "transfer" else "`validation_split=` set.")
            )
        return splits[split]

    @property
    def input_dtype(self):
        """The dtype name of the raw inputs (`"uint8"` for 8-bit images, `"float32"`, ...)."""
        spec = self.train.element_spec
        return (spec[0] if isinstance(spec, tuple) else spec).dtype.name

    def describe(self):
        """A JSON-ready description: what a model card says about the data.

        Keys: `name`, `source` (`Source.to_dict()`: kind, location, options), `sizes`,
        `input_shape`, `input_dtype` (the raw inputs', before normalisation), `feature_name`,
        `num_classes`, `class_names` (a list or `None`), `normalization`, and `test_split`
        (`{"held_out": False}` when the source provides it, else `HeldOutTest.to_dict()`).
        """
        test_split = ({"held_out": False} if self.held_out_test is None
                      else self.held_out_test.to_dict())
        return {"name": self.name, "source": self.source.to_dict(), "sizes": dict(self.sizes),
                "input_shape": list(self.input_shape), "input_dtype": self.input_dtype,
                "feature_name": self.feature_name, "num_classes": self.num_classes,
                "class_names": None if self.class_names is None else list(self.class_names),
                "normalization": self.normalization.to_dict(), "test_split": test_split}


def split_arrays(x, y, validation_split, seed):
    """Splits arrays into `(x_train, y_train, x_val, y_val)` with a seeded permutation.

    Example:

    >>> xt, yt, xv, yv = split_arrays(np.arange(10), np.arange(10), 0.2, seed=0)
    >>> len(xt), len(xv)
    (8, 2)
    """
    validation_split = validation.check_split(validation_split, "validation_split")
    if not validation_split:
        return x, y, None, None
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = max(1, int(round(len(x) * validation_split)))
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], x[val], y[val]
