"""A CSV file as a dataset: a header row, numeric feature columns and one label column.

The file is read with `tf.data.experimental.CsvDataset` (comma-separated, a header row naming
the columns). Every column but the label column (`label_column`, default `"label"`) is a
feature and must be numeric; features become one `float32` vector per row, in the file's column
order. Labels:

- integers (or integral numbers such as `2.0`) are class ids, `num_classes` = largest + 1, and
  must be `>= 0`; a non-integral number such as `0.5` is an error (this is classification);
- any other text makes the labels class names: the distinct values in sorted order are classes
  `0, 1, ...`, recorded as `class_names`.

A CSV has no test split, so one is held out (`test_split`). An unlabeled CSV (`read_unlabeled`)
has the same feature columns, in any order; a label column in it is ignored.
"""

import csv
import os

import numpy as np
import tensorflow as tf

from keras_distill.data import assemble

FEATURE = "features"


def _header(path, argument):
    try:
        with open(path, newline="", encoding="utf-8") as f:
            header = next(csv.reader(f), None)
    except (OSError, UnicodeDecodeError) as error:
        raise assemble.invalid_source(argument, path, "a readable UTF-8 CSV file",
                                      f"{type(error).__name__}: {error}") from None
    if not header or not all(name.strip() for name in header):
        raise assemble.invalid_source(argument, path, "a CSV whose first row names every column",
                                      f"header: {header}")
    return [name.strip() for name in header]


def _columns(path, header, argument):
    """Every column as a NumPy array of strings (`bytes`), read with tf.data's CSV reader."""
    rows = tf.data.experimental.CsvDataset(path, record_defaults=[""] * len(header), header=True)
    try:
        batches = list(rows.batch(4096).as_numpy_iterator())
    except tf.errors.OpError as error:
        raise assemble.invalid_source(argument, path,
                                      f"a CSV with {len(header)} fields in every row",
                                      error.message) from None
    if not batches:
        raise assemble.invalid_source(argument, path, "a CSV with at least one row of data",
                                      "only a header")
    return {name: np.concatenate([b[i] for b in batches]) for i, name in enumerate(header)}


def _numbers(values, name, path, argument):
    """`values` (bytes) as float32; raises naming the first one that is not a finite number."""
    try:
        numbers = values.astype(np.float64)
    except ValueError:  # Slower, one value at a time, to find the bad one.
        numbers = np.array([_number(value) for value in values])
    bad = np.flatnonzero(~np.isfinite(numbers))
    if len(bad):
        row = bad[0]
        raise assemble.invalid_source(
            argument, path, "finite numbers in the feature columns (only the label column "
            "may hold text; name it with `label_column`)",
            f"column {name!r} holds {values[row].decode(errors='replace')!r} in data row "
            f"{row + 1}")
    return numbers.astype(np.float32)


def _number(value):
    try:
        return float(value)
    except ValueError:
        return float("nan")


def _features(columns, names, path, argument):
    return np.stack([_numbers(columns[name], name, path, argument) for name in names], axis=1)


def _labels(values, path, label_column):
    """`(ids, class_names or None)`: integers as ids, any other text as sorted class names."""
    text = np.char.strip(values.astype(str))
    empty = np.flatnonzero(text == "")
    if len(empty):
        raise assemble.invalid_source("dataset", path, f"a label in every row of column "
                                      f"{label_column!r}", f"data row {empty[0] + 1} has none")
    try:
        numbers = text.astype(np.float64)
    except ValueError:
        class_names = tuple(sorted(set(text.tolist())))
        return np.searchsorted(np.array(class_names), text).astype(np.int64), class_names
    return assemble.labels_as_ids(numbers, "dataset", path, f"column {label_column!r}"), None


def read(path, label_column="label"):
    """Reads a labeled CSV file.

    Args:
        path: The `.csv` file.
        label_column: Name of the label column. Defaults to `"label"`.

    Returns:
        `(arrays, feature_columns)`: an `assemble.LabeledArrays` of `float32` features
        `(rows, columns)`, and the feature column names in order.

    Raises:
        ValueError: no `label_column`, a non-numeric feature (named with its row), a
            non-integral numeric label, or fewer than one feature column.

    Example:

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "toy.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("a,b,label\\n1,2,cat\\n3,4,dog\\n")
    >>> arrays, columns = read(path)
    >>> arrays.x.tolist(), arrays.y.tolist(), arrays.class_names, columns
    ([[1.0, 2.0], [3.0, 4.0]], [0, 1], ('cat', 'dog'), ['a', 'b'])
    """
    path = os.fspath(path)
    header = _header(path, "dataset")
    if label_column not in header:
        raise assemble.invalid_source(
            "label_column", label_column,
            f"the name of a column of {path!r}", f"its columns: {header}")
    features = [name for name in header if name != label_column]
    if not features:
        raise assemble.invalid_source("dataset", path, "at least one feature column besides "
                                      f"the label column {label_column!r}", f"columns: {header}")
    columns = _columns(path, header, "dataset")
    y, class_names = _labels(columns[label_column], path, label_column)
    return assemble.LabeledArrays(x=_features(columns, features, path, "dataset"), y=y,
                                  class_names=class_names), features


def read_unlabeled(path, label_column="label", feature_columns=None):
    """Reads an unlabeled CSV file: every column but `label_column` (ignored if present).

    Args:
        path: The `.csv` file.
        label_column: A column to ignore. Defaults to `"label"`.
        feature_columns: The training CSV's feature columns: these are read, in this order,
            and the file must have no others. Defaults to `None`: every column.

    Returns:
        A `float32` array `(rows, features)`.

    Example:

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "more.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("b,a\\n2,1\\n")
    >>> read_unlabeled(path, feature_columns=["a", "b"]).tolist()
    [[1.0, 2.0]]
    """
    path = os.fspath(path)
    header = _header(path, "unlabeled")
    present = [name for name in header if name != label_column]
    if feature_columns is not None and sorted(present) != sorted(feature_columns):
        missing = sorted(set(feature_columns) - set(present))
        extra = sorted(set(present) - set(feature_columns))
        raise assemble.invalid_source("unlabeled", path,
                                      f"the training feature columns {list(feature_columns)}",
                                      f"missing {missing}, unexpected {extra}")
    columns = _columns(path, header, "unlabeled")
    return _features(columns, feature_columns or present, path, "unlabeled")
