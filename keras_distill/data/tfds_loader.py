"""Classification datasets from tensorflow-datasets (`mnist`, `fashion_mnist`, `cifar10`, ...).

With or without supervised keys: the input and label can be named (`features=("image",
"label")`), and a dataset with exactly one image and one class label needs no naming.

Nothing is downloaded unless asked: plain `tfds.load` of data that is not prepared retries the
network for minutes, so `load` checks that the data is prepared in `data_dir` first and fails at
once with the command that prepares it.
"""

import numpy as np
import tensorflow as tf

from keras_distill import validation
from keras_distill.data import assemble
from keras_distill.data import pipeline


def _builder(name, data_dir):
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise ValueError(
            "Invalid value for argument `dataset`. Expected 'mnist1d' (built in), an existing "
            "path (a folder of class subfolders of images, an .npz, a folder of .npy files or "
            "its x.npy, a .csv) or the name of a tensorflow-datasets classification dataset, "
            f"such as 'mnist', 'fashion_mnist' or 'cifar10'. Received: dataset={name!r}"
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


def _describe_features(features):
    return {key: type(feature).__name__ for key, feature in features.items()}


def _input_and_label(builder, features):
    """`(input key, label key)`: `features`, else the supervised keys, else the one image and
    the one class label of the dataset."""
    import tensorflow_datasets as tfds

    all_features = builder.info.features
    if features is not None:
        if (not isinstance(features, (tuple, list)) or len(features) != 2
                or any(key not in all_features for key in features)):
            raise validation.invalid(
                "features", f"(input, label): two feature names of {builder.name!r}, whose "
                f"features are {_describe_features(all_features)}", features)
        return tuple(features)
    keys = builder.info.supervised_keys
    if (keys and len(keys) == 2 and all(isinstance(k, str) for k in keys)
            and isinstance(all_features[keys[1]], tfds.features.ClassLabel)):
        return tuple(keys)
    images = [k for k, f in all_features.items() if isinstance(f, tfds.features.Image)]
    labels = [k for k, f in all_features.items() if isinstance(f, tfds.features.ClassLabel)]
    if len(images) == 1 and len(labels) == 1:
        return images[0], labels[0]
    raise validation.invalid(
        "features", f"(input, label) naming the features to use: {builder.name!r} has no "
        "(input, class label) supervised keys nor exactly one image and one class label; its "
        f"features are {_describe_features(all_features)}", features)


def _resolve_features(builder, features, image_size):
    """`(input key, label key, shape, num_classes, class_names)` of a classification dataset."""
    import tensorflow_datasets as tfds

    feature, label_key = _input_and_label(builder, features)
    all_features = builder.info.features
    label = all_features[label_key]
    if not isinstance(label, tfds.features.ClassLabel):
        raise validation.invalid(
            "features", f"(input, label) whose label is a ClassLabel; {label_key!r} of "
            f"{builder.name!r} is a {type(label).__name__}", features or (feature, label_key))
    shape = tuple(all_features[feature].shape)
    if image_size is not None:
        if not isinstance(all_features[feature], tfds.features.Image) or shape[-1] is None:
            raise validation.invalid(
                "image_size", f"None: {feature!r} of {builder.name!r} is not an image with a "
                "known number of channels", image_size)
        shape = (*image_size, shape[-1])
    if not shape or any(d is None for d in shape):
        raise ValueError(
            f"The tensorflow-datasets dataset {builder.name!r} has inputs {feature!r} of "
            f"variable shape {shape}. Expected a fixed shape such as (28, 28, 1): pass "
            "`image_size=(height, width)` to resize the images."
        )
    return (feature, label_key, shape, int(label.num_classes),
            tuple(getattr(label, "names", None) or ()))


def _test_split_name(builder):
    """The split evaluated on: `"test"`, else `"validation"`, else `None` (one is held out)."""
    available = set(builder.info.splits.keys())
    if available and "train" not in available:
        raise ValueError(
            f"The tensorflow-datasets dataset {builder.name!r} has no 'train' split to learn "
            f"from. Available splits: {sorted(available)}"
        )
    for name in ("test", "validation"):
        if not available or name in available:
            return name
    return None


def _num_examples(builder, split):
    try:
        return int(builder.info.splits[split].num_examples)
    except (KeyError, TypeError, ValueError):
        return 0


def load(name, *, data_dir=None, download=False, validation_split=0.0, test_split=0.2,
         features=None, image_size=None, seed=42):
    """Loads a tensorflow-datasets classification dataset as a `ClassificationData`.

    The input and label are the dataset's supervised keys, else `features`, else its one image
    and one class label. The test split is `test` (else `validation`); a dataset with neither
    has `test_split` of its `train` examples held out by a seeded permutation. The
    normalisation is measured on (up to 10,000 examples of) the training split: 8-bit images
    are scaled to [0, 1], then standardised per channel. Inputs stay raw (`uint8` images).

    Args:
        name: tfds name, e.g. `"mnist"`, `"fashion_mnist"`, `"cifar10"`.
        data_dir: tfds data directory. Defaults to `None`: tfds's default (`~/tensorflow_datasets`).
        download: Download and prepare the data if it is missing (needs network). Defaults to
            `False`: missing data is an error that says how to prepare it.
        validation_split: Fraction of the training examples held out as `validation` (seeded).
            Defaults to `0.0`.
        test_split: Fraction of `train` held out as `test` when the dataset has no test split.
            Defaults to `0.2`.
        features: `(input, label)` feature names, for datasets without supervised keys.
            Defaults to `None`: the supervised keys, or the one image and one class label.
        image_size: `(height, width)` to resize images to (bilinear, back to their dtype);
            needed for images of variable size. Defaults to `None`.
        seed: Seed of the held-out splits. Defaults to `42`.

    Returns:
        A `ClassificationData` whose feature name is the input's (e.g. `"image"`).

    Raises:
        ValueError: the name is not a tfds dataset, it is not classification with a fixed (or
            resized) input shape, or the data is not prepared and `download` is `False`.

    Example:

    >>> import tensorflow_datasets as tfds
    >>> with tfds.testing.mock_data(num_examples=8):
    ...     data = load("mnist", download=True)
    >>> data.input_shape, data.input_dtype
    ((28, 28, 1), 'uint8')
    """
    validation_split = validation.check_split(validation_split, "validation_split")
    test_split = validation.check_split(test_split, "test_split")
    builder = _builder(name, data_dir)
    feature, label, shape, num_classes, class_names = _resolve_features(builder, features,
                                                                        image_size)
    if not builder.is_prepared():
        if not download:
            raise ValueError(not_prepared_message(name, data_dir))
        builder.download_and_prepare()
    test_name = _test_split_name(builder)
    if test_name is None and not test_split:
        raise validation.invalid("test_split", f"a fraction in (0, 1): {name!r} has no test "
                                 "split, so one is held out of 'train'", test_split)
    dtype = tf.as_dtype(builder.info.features[feature].np_dtype)

    def examples(split):
        dataset = builder.as_dataset(split=split, shuffle_files=False)
        if image_size is None:
            return dataset.map(lambda ex: (ex[feature], tf.cast(ex[label], tf.int64)))
        return dataset.map(lambda ex: (_resize(ex[feature], image_size, dtype),
                                       tf.cast(ex[label], tf.int64)))

    splits = {"test": None if test_name is None else examples(test_name)}
    sizes = {"test": 0 if test_name is None else _num_examples(builder, test_name)}
    if test_name is None or validation_split:
        train = examples("train")
        count = _num_examples(builder, "train") or int(train.reduce(0, lambda n, _: n + 1))
        roles = assemble.assign_splits(count, 0.0 if test_name else test_split,
                                       validation_split, seed)
        for split, role in (("train", assemble.TRAIN), ("test", assemble.TEST),
                            ("validation", assemble.VALIDATION)):
            if (roles == role).any():
                splits[split] = _select(train, roles, role)
                sizes[split] = int((roles == role).sum())
    else:
        splits["train"] = examples("train")
        sizes["train"] = _num_examples(builder, "train")
    sample = np.stack([x for x, _ in splits["train"].take(assemble.NORMALIZATION_SAMPLE)
                       .as_numpy_iterator()])
    normalization = assemble.measure(sample, per_channel=len(shape) == 3)
    return pipeline.ClassificationData(
        name=name,
        train=splits["train"],
        test=splits["test"],
        num_classes=num_classes,
        input_shape=shape,
        feature_name=feature,
        normalization=normalization,
        validation=splits.get("validation"),
        sizes={k: sizes[k] for k in ("train", "test", "validation") if sizes.get(k)},
        class_names=class_names or None,
        source=pipeline.Source("tfds", name, {
            "features": [feature, label], "test": test_name or "held out of 'train'",
            "image_size": None if image_size is None else list(image_size)}),
        held_out_test=None if test_name else pipeline.HeldOutTest(test_split, seed),
    )


def _select(examples, roles, role):
    """The examples of `examples` whose position has `role` in `roles`."""
    roles = tf.constant(roles)
    return examples.enumerate().filter(lambda i, _: tf.equal(tf.gather(roles, i), role)).map(
        lambda _, example: example)


def _resize(image, size, dtype):
    resized = tf.image.resize(image, size)
    if dtype.is_integer:
        resized = tf.clip_by_value(tf.round(resized), dtype.min, dtype.max)
    return tf.cast(resized, dtype)
