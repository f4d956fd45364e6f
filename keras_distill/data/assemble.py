"""Labeled NumPy arrays -> `ClassificationData`: label checks, held-out splits, normalisation.

Every local source (image folders, `.npz`/`.npy` arrays, CSV files) reads its files into a
`LabeledArrays` and hands it to `from_arrays`, so the checks, the seeded test and validation
splits and the normalisation are the same for all of them. `assign_splits` is also how the
tensorflow-datasets loader holds out a test split. Raw inputs stay raw: `uint8` pixels stay
`uint8`; only `float64` becomes `float32`.
"""

import dataclasses
import typing

import numpy as np
import tensorflow as tf

from keras_distill import validation
from keras_distill.data import pipeline

# Examples read from the training split to measure the normalisation.
NORMALIZATION_SAMPLE = 10_000
# Roles of `assign_splits`.
TRAIN, TEST, VALIDATION = 0, 1, 2


class LabeledArrays(typing.NamedTuple):
    """What a local source read: inputs, integer labels, and the optional splits.

    Args:
        x: Inputs, the example axis first.
        y: Labels, one per example.
        x_test: Test inputs, or `None` (a test split is then held out). Defaults to `None`.
        y_test: Test labels, given with `x_test`. Defaults to `None`.
        x_unlabeled: Inputs without labels (the transfer set), or `None`. Defaults to `None`.
        class_names: Names of the classes, label `i` naming `class_names[i]`, or `None`.
            Defaults to `None`.
    """

    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray = None
    y_test: np.ndarray = None
    x_unlabeled: np.ndarray = None
    class_names: tuple = None


def invalid_source(argument, path, expected, detail):
    """The `ValueError` for a file that cannot be used: the argument, what was expected, the path
    received and what is wrong with it.

    Example:

    >>> print(invalid_source("dataset", "d.npz", "'y'", "keys: ['x']"))
    Invalid value for argument `dataset`. Expected 'y'. Received: dataset='d.npz' (keys: ['x'])
    """
    return ValueError(f"Invalid value for argument `{argument}`. Expected {expected}. "
                      f"Received: {argument}={path!r} ({detail})")


def check_inputs(x, argument, path, what="x"):
    """Returns `x` as numeric inputs with the example axis first (`float64` -> `float32`).

    Example:

    >>> check_inputs(np.zeros((3, 2)), "dataset", "d.npz").dtype
    dtype('float32')
    """
    x = np.asarray(x)
    if x.dtype.kind not in "iuf":
        raise invalid_source(argument, path, f"numeric inputs in {what!r}",
                             f"{what!r} has dtype {x.dtype}")
    if x.ndim < 2 or not len(x):
        raise invalid_source(argument, path,
                             f"inputs in {what!r} with the example axis first, "
                             "e.g. shape (examples, features) or (examples, height, width)",
                             f"{what!r} has shape {x.shape}")
    bad = np.argwhere(~np.isfinite(x)) if x.dtype.kind == "f" else ()
    if len(bad):
        raise invalid_source(argument, path, f"finite inputs in {what!r} (no NaN or inf)",
                             f"{what!r} holds {x[tuple(bad[0])]} at index {tuple(bad[0].tolist())}")
    return x.astype(np.float32) if x.dtype == np.float64 else x


def labels_as_ids(y, argument, path, what="y", num_examples=None):
    """Returns labels as a 1-D `int64` array of ids `>= 0`; raises naming a bad label.

    Example:

    >>> labels_as_ids(np.array([0.0, 2.0]), "dataset", "d.npz")
    array([0, 2])
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or (num_examples is not None and len(y) != num_examples):
        raise invalid_source(argument, path,
                             f"one label per example in {what!r}"
                             + (f" ({num_examples} examples)" if num_examples else ""),
                             f"{what!r} has shape {y.shape}")
    if y.dtype.kind not in "iuf":
        raise invalid_source(argument, path, f"integer class labels in {what!r}",
                             f"{what!r} has dtype {y.dtype}")
    bad = np.flatnonzero(~np.isfinite(y) | (y < 0) | (y != np.round(y))) if y.dtype.kind == "f" \
        else np.flatnonzero(y < 0)
    if len(bad):
        raise invalid_source(argument, path, f"integer class labels >= 0 in {what!r}",
                             f"{what!r} holds {y[bad[0]].item()!r} at index {bad[0]}")
    return y.astype(np.int64)


def count_classes(labels, class_names, argument, path):
    """`len(class_names)`, else the largest label + 1; checks every label is below it."""
    largest = max(int(y.max()) for y in labels if y is not None and len(y))
    if class_names is not None:
        if largest >= len(class_names):
            raise invalid_source(argument, path,
                                 f"labels in [0, {len(class_names)}), one per class name",
                                 f"label {largest} with class_names={list(class_names)}")
        num_classes = len(class_names)
    else:
        num_classes = largest + 1
    if num_classes < 2:
        raise invalid_source(argument, path, "at least 2 classes",
                             f"{num_classes} class" + (f": {list(class_names)}" if class_names
                                                       else ""))
    return num_classes


def assign_splits(num_examples, test_fraction, validation_fraction, seed):
    """Assigns each example a role (`TRAIN`, `TEST`, `VALIDATION`) with a seeded permutation.

    `test_fraction` of the examples become `TEST`, then `validation_fraction` of the rest
    `VALIDATION` (each at least one when its fraction is not 0).

    Example:

    >>> roles = assign_splits(10, 0.2, 0.25, seed=0)
    >>> [int((roles == r).sum()) for r in (TRAIN, TEST, VALIDATION)]
    [6, 2, 2]
    """
    def count(n, fraction):
        return max(1, int(round(n * fraction))) if fraction else 0

    n_test = count(num_examples, test_fraction)
    n_val = count(num_examples - n_test, validation_fraction)
    if num_examples - n_test - n_val < 1:
        raise ValueError(
            "Invalid value for argument `test_split`. Expected fractions that leave training "
            f"examples: {num_examples} labeled examples, {n_test} held out as test and {n_val} as "
            f"validation. Received: test_split={test_fraction!r}, "
            f"validation_split={validation_fraction!r}"
        )
    roles = np.full(num_examples, TRAIN, np.int8)
    order = np.random.default_rng(seed).permutation(num_examples)
    roles[order[:n_test]] = TEST
    roles[order[n_test:n_test + n_val]] = VALIDATION
    return roles


def check_like_train(x, input_shape, dtype, path, argument="unlabeled"):
    """Raises `ValueError` unless unlabeled inputs `x` match the training inputs."""
    if tuple(x.shape[1:]) != tuple(input_shape) or x.dtype != np.dtype(dtype):
        raise invalid_source(
            argument, path,
            f"inputs like the training inputs: shape {tuple(input_shape)}, dtype {dtype}",
            f"shape {tuple(x.shape[1:])}, dtype {x.dtype}")


def with_transfer(data, x_unlabeled, path, argument="unlabeled"):
    """`data` with `x_unlabeled` (checked to match its training inputs) as the transfer set."""
    check_like_train(x_unlabeled, data.input_shape, data.input_dtype, path, argument)
    source = dataclasses.replace(data.source, options={**data.source.options,
                                                       "unlabeled": path})
    return dataclasses.replace(data, transfer=tf.data.Dataset.from_tensor_slices(x_unlabeled),
                               sizes={**data.sizes, "transfer": len(x_unlabeled)},
                               source=source)


def measure(x, per_channel):
    """The `Normalization` of raw inputs `x`: 8-bit inputs scaled to [0, 1], then standardised."""
    scale = 1 / 255 if np.asarray(x).dtype == np.uint8 else 1.0
    return pipeline.Normalization.measure(x[:NORMALIZATION_SAMPLE], scale=scale,
                                          per_channel=per_channel)


def from_arrays(arrays, *, name, source, feature_name, per_channel, validation_split,
                test_split, seed, argument="dataset"):
    """Builds a `ClassificationData` from a local source's `LabeledArrays`.

    Args:
        arrays: The `LabeledArrays` read.
        name: Dataset name.
        source: The `Source` it was read from (its location names it in errors).
        feature_name: Name of the input feature.
        per_channel: Normalise per channel (the last axis) rather than globally.
        validation_split: Fraction of the training examples held out as `validation`.
        test_split: Fraction of the labeled examples held out as `test` when `arrays` has no
            test split.
        seed: Seed of the held-out splits.
        argument: The argument naming the source in errors. Defaults to `"dataset"`.

    Returns:
        A `ClassificationData`; its `held_out_test` says whether `test` was held out.

    Example:

    >>> arrays = LabeledArrays(np.arange(20.0).reshape(10, 2), np.arange(10) % 2)
    >>> data = from_arrays(arrays, name="toy", source=pipeline.Source("npz"), feature_name="x",
    ...                    per_channel=False, validation_split=0.0, test_split=0.2, seed=0)
    >>> data.sizes, data.held_out_test.fraction
    ({'train': 8, 'test': 2}, 0.2)
    """
    path = source.location
    x = check_inputs(arrays.x, argument, path)
    y = labels_as_ids(arrays.y, argument, path, num_examples=len(x))
    x_test = y_test = held_out = None
    if arrays.x_test is not None:
        x_test = check_inputs(arrays.x_test, argument, path, "x_test")
        y_test = labels_as_ids(arrays.y_test, argument, path, "y_test", len(x_test))
        if x_test.shape[1:] != x.shape[1:] or x_test.dtype != x.dtype:
            raise invalid_source(argument, path, f"test inputs like 'x': shape {x.shape[1:]}, "
                                 f"dtype {x.dtype}",
                                 f"'x_test' has shape {x_test.shape[1:]}, dtype {x_test.dtype}")
    if x_test is None and not test_split:
        raise validation.invalid("test_split", f"a fraction in (0, 1): {path!r} has no test "
                                 "split, so one is held out of its labeled examples", test_split)
    num_classes = count_classes([y, y_test], arrays.class_names, argument, path)
    roles = assign_splits(len(x), 0.0 if x_test is not None else test_split, validation_split,
                          seed)
    if x_test is None:
        x_test, y_test = x[roles == TEST], y[roles == TEST]
        held_out = pipeline.HeldOutTest(fraction=test_split, seed=seed)
    splits = {"train": (x[roles == TRAIN], y[roles == TRAIN]), "test": (x_test, y_test)}
    if validation_split:
        splits["validation"] = (x[roles == VALIDATION], y[roles == VALIDATION])
    data = pipeline.ClassificationData(
        name=name,
        train=tf.data.Dataset.from_tensor_slices(splits["train"]),
        test=tf.data.Dataset.from_tensor_slices(splits["test"]),
        num_classes=num_classes,
        input_shape=tuple(x.shape[1:]),
        feature_name=feature_name,
        normalization=measure(splits["train"][0], per_channel),
        validation=(tf.data.Dataset.from_tensor_slices(splits["validation"])
                    if validation_split else None),
        sizes={split: len(pair[1]) for split, pair in splits.items()},
        class_names=None if arrays.class_names is None else tuple(arrays.class_names),
        source=source,
        held_out_test=held_out,
    )
    if arrays.x_unlabeled is not None:
        x_unlabeled = check_inputs(arrays.x_unlabeled, argument, path, "x_unlabeled")
        data = with_transfer(data, x_unlabeled, path, argument)
    return data
