"""Image-classification datasets from tensorflow-datasets (`mnist`, `fashion_mnist`, `cifar10`...).

Nothing is downloaded unless asked: plain `tfds.load` of data that is not prepared retries the
network for minutes, so `load` checks that the data is prepared in `data_dir` first and fails at
once with the command that prepares it.
"""

import numpy as np
import tensorflow as tf

from keras_distill import validation
from keras_distill.data import pipeline

# Examples read from the training split to measure the normalisation.
NORMALIZATION_SAMPLE = 10_000


def _builder(name, data_dir):
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise ValueError(
            "Invalid value for argument `dataset`. Expected 'mnist1d' (built in) or the name of "
            "a tensorflow-datasets image-classification dataset, such as 'mnist', "
            f"'fashion_mnist' or 'cifar10'. Received: dataset={name!r}"
        ) from None


def not_prepared_message(name, data_dir):
    """The message for data that is missing: what is missing and how to prepare it."""
    where = data_dir or "~/tensorflow_datasets"
    flag = f" --data_dir={data_dir}" if data_dir else ""
    return (
        f"The tensorflow-datasets dataset {name!r} is not prepared in {where}, and "
        "keras_distill does not download at run time. Prepare it once on a machine with network "
        f"access: `tfds build {name}{flag}` (or, in Python, "
        f"`tfds.builder({name!r}, data_dir={data_dir!r}).download_and_prepare()`), copy the "
        "directory here if needed, and pass it as `data_dir` (`--data-dir`)."
    )


def _supervised_features(builder):
    info = builder.info
    keys = info.supervised_keys
    label = info.features[keys[1]] if keys and len(keys) == 2 else None
    if label is None or not hasattr(label, "num_classes"):
        raise ValueError(
            f"The tensorflow-datasets dataset {builder.name!r} is not a classification dataset "
            f"with (input, class label) supervised keys. Received: supervised_keys={keys!r}"
        )
    feature, _ = keys
    shape = tuple(info.features[feature].shape)
    if not shape or any(d is None for d in shape):
        raise ValueError(
            f"The tensorflow-datasets dataset {builder.name!r} has inputs of variable shape "
            f"{shape}. Expected a fixed shape such as (28, 28, 1); resize the images in your "
            "own pipeline and distill with the Python API."
        )
    return feature, shape, int(label.num_classes), tuple(getattr(label, "names", None) or ())


def _split_names(builder, validation_split):
    """`(train, test, validation)` split strings, carving validation out of train if asked."""
    available = set(builder.info.splits.keys())
    test = "test" if not available or "test" in available else "validation"
    if test not in available and available:
        raise ValueError(
            f"The tensorflow-datasets dataset {builder.name!r} has no 'test' or 'validation' "
            f"split to evaluate on. Available splits: {sorted(available)}"
        )
    if not validation_split:
        return "train", test, None
    percent = int(round(100 * (1 - validation_split)))
    return f"train[:{percent}%]", test, f"train[{percent}%:]"


def _num_examples(builder, split):
    try:
        return int(builder.info.splits[split].num_examples)
    except (KeyError, TypeError, ValueError):
        return 0


def load(name, *, data_dir=None, download=False, validation_split=0.0):
    """Loads a tensorflow-datasets image-classification dataset as a `ClassificationData`.

    The normalisation is measured on (up to 10,000 examples of) the training split: 8-bit
    images are scaled to [0, 1], then standardised per channel.

    Args:
        name: tfds name, e.g. `"mnist"`, `"fashion_mnist"`, `"cifar10"`.
        data_dir: tfds data directory. Defaults to `None`: tfds's default (`~/tensorflow_datasets`).
        download: Download and prepare the data if it is missing (needs network). Defaults to
            `False`: missing data is an error that says how to prepare it.
        validation_split: Fraction of the training split held out as `validation`. Defaults
            to `0.0`.

    Returns:
        A `ClassificationData` whose feature name is the dataset's (e.g. `"image"`).

    Raises:
        ValueError: the name is not a tfds dataset, it is not image classification with a
            fixed input shape, or the data is not prepared and `download` is `False`.
    """
    validation_split = validation.check_split(validation_split, "validation_split")
    builder = _builder(name, data_dir)
    feature, shape, num_classes, class_names = _supervised_features(builder)
    if not builder.is_prepared():
        if not download:
            raise ValueError(not_prepared_message(name, data_dir))
        builder.download_and_prepare()
    train_split, test_split, val_split = _split_names(builder, validation_split)

    def split(spec):
        return builder.as_dataset(split=spec, as_supervised=True, shuffle_files=False)

    train = split(train_split)
    dtype = builder.info.features[feature].dtype
    scale = 1 / 255 if np.dtype(getattr(dtype, "as_numpy_dtype", dtype)) == np.uint8 else 1.0
    sample = np.stack([x for x, _ in train.take(NORMALIZATION_SAMPLE).as_numpy_iterator()])
    normalization = pipeline.Normalization.measure(
        sample, scale=scale, per_channel=len(shape) == 3
    )
    sizes = {"train": _num_examples(builder, train_split), "test": _num_examples(builder,
                                                                                  test_split)}
    held_out = None
    if val_split:
        held_out = split(val_split)
        sizes["validation"] = _num_examples(builder, val_split)
    return pipeline.ClassificationData(
        name=name,
        train=train.map(_as_int64),
        test=split(test_split).map(_as_int64),
        num_classes=num_classes,
        input_shape=shape,
        feature_name=feature,
        normalization=normalization,
        validation=None if held_out is None else held_out.map(_as_int64),
        sizes={k: v for k, v in sizes.items() if v},
        class_names=class_names or None,
    )


def _as_int64(x, y):
    return x, tf.cast(y, tf.int64)
