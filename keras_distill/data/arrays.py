"""NumPy arrays as a dataset: one `.npz` file, or a directory of `.npy` files with the same names.

An `.npz` holds `x` (inputs, the example axis first) and `y` (integer labels), and optionally
`x_test` + `y_test` (a test split; without one, `test_split` of the examples are held out),
`x_unlabeled` (inputs only the teacher labels: the transfer set) and `class_names` (strings,
label `i` naming `class_names[i]`). `x_train`/`y_train`, the names `keras.datasets` uses, are
accepted for `x`/`y`.

The `.npy` convention is the same keys as files in one directory: `DIR/x.npy` and `DIR/y.npy`,
optionally `DIR/x_test.npy`, `DIR/y_test.npy`, `DIR/x_unlabeled.npy`, `DIR/class_names.npy`.
The dataset is named either by `DIR` or by `DIR/x.npy`.

Files are read with `allow_pickle=False`: nothing in them runs code.
"""

import os
import zipfile

import numpy as np

from keras_distill.data import assemble

OPTIONAL = ("x_test", "y_test", "x_unlabeled", "class_names")
ALIASES = {"x_train": "x", "y_train": "y"}
KEYS = ("x", "y") + OPTIONAL
NPY_INPUTS = "x.npy"
NPY_EXPECTED = ("a directory holding 'x.npy' and 'y.npy' (optionally 'x_test.npy', "
                "'y_test.npy', 'x_unlabeled.npy', 'class_names.npy'), or the path of its "
                "'x.npy'")


def npy_directory(path):
    """The directory of an `.npy` dataset named by `path` (`DIR` or `DIR/x.npy`), else `None`.

    Example:

    >>> npy_directory("/nonexistent") is None
    True
    """
    path = os.fspath(path)
    if os.path.isfile(path) and os.path.basename(path) == NPY_INPUTS:
        return os.path.dirname(os.path.abspath(path))
    if os.path.isfile(os.path.join(path, NPY_INPUTS)):
        return os.path.abspath(path)
    return None


def _load(path, argument):
    """`np.load` with the error naming the file."""
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise assemble.invalid_source(
            argument, path, "a NumPy file (.npz or .npy) without pickled objects",
            f"{type(error).__name__}: {error}") from None


def _read_npz(path, argument):
    stored = _load(path, argument)
    if not isinstance(stored, np.lib.npyio.NpzFile):
        raise assemble.invalid_source(argument, path, "an .npz archive of named arrays",
                                      "a single array")
    with stored:
        return {key: stored[key] for key in stored.files}


def _labeled(arrays, path, argument, expected):
    """Checks the keys of `arrays` and returns them as `assemble.LabeledArrays`."""
    for alias, key in ALIASES.items():
        if alias in arrays:
            if key in arrays:
                raise assemble.invalid_source(argument, path, f"either {key!r} or {alias!r}",
                                              f"both, keys: {sorted(arrays)}")
            arrays[key] = arrays.pop(alias)
    unknown = sorted(set(arrays) - set(KEYS))
    if unknown or "x" not in arrays or "y" not in arrays:
        detail = (f"unknown keys {unknown}" if unknown else
                  f"no {'x' if 'x' not in arrays else 'y'!r}") + f"; keys: {sorted(arrays)}"
        hint = (" (inputs without labels are passed as `unlabeled=`)"
                if "x" in arrays and "y" not in arrays else "")
        raise assemble.invalid_source(argument, path, expected + hint, detail)
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise assemble.invalid_source(argument, path, "'x_test' and 'y_test' together",
                                      f"keys: {sorted(arrays)}")
    class_names = arrays.get("class_names")
    if class_names is not None:
        if class_names.ndim != 1 or class_names.dtype.kind not in "US":
            raise assemble.invalid_source(argument, path, "'class_names' as a 1-D array of strings",
                                          f"shape {class_names.shape}, dtype {class_names.dtype}")
        class_names = tuple(str(name) for name in class_names.astype(str))
    return assemble.LabeledArrays(
        x=arrays["x"], y=arrays["y"], x_test=arrays.get("x_test"), y_test=arrays.get("y_test"),
        x_unlabeled=arrays.get("x_unlabeled"), class_names=class_names)


def read_npz(path, argument="dataset"):
    """Reads a labeled `.npz` file.

    Args:
        path: The `.npz` file.
        argument: The argument naming it in errors. Defaults to `"dataset"`.

    Returns:
        An `assemble.LabeledArrays`.

    Raises:
        ValueError: the file cannot be read, or it lacks `x` or `y`, has unknown keys, or
            `x_test` without `y_test`.

    Example:

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "toy.npz")
    >>> np.savez(path, x=np.zeros((4, 2)), y=[0, 1, 0, 1])
    >>> read_npz(path).y.tolist()
    [0, 1, 0, 1]
    """
    return _labeled(_read_npz(path, argument), path, argument,
                    "an .npz with arrays 'x' and 'y' (optionally 'x_test', 'y_test', "
                    "'x_unlabeled', 'class_names')")


def read_npy(directory, argument="dataset"):
    """Reads a directory of `.npy` files named like an `.npz`'s keys (`x.npy`, `y.npy`, ...).

    Args:
        directory: The directory (see `npy_directory`).
        argument: The argument naming it in errors. Defaults to `"dataset"`.

    Returns:
        An `assemble.LabeledArrays`.

    Example:

    >>> import tempfile
    >>> directory = tempfile.mkdtemp()
    >>> np.save(os.path.join(directory, "x.npy"), np.zeros((4, 2)))
    >>> np.save(os.path.join(directory, "y.npy"), np.array([0, 1, 0, 1]))
    >>> read_npy(directory).x.shape
    (4, 2)
    """
    arrays = {}
    for key in KEYS:
        path = os.path.join(directory, key + ".npy")
        if os.path.isfile(path):
            arrays[key] = _load(path, argument)
    return _labeled(arrays, directory, argument, NPY_EXPECTED)


def read_unlabeled(path):
    """Reads unlabeled inputs: an `.npz`'s `x` (or `x_unlabeled`), or one `.npy` array.

    Args:
        path: An `.npz` or `.npy` file.

    Returns:
        The inputs, a NumPy array with the example axis first.

    Example:

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "more.npy")
    >>> np.save(path, np.zeros((3, 2), np.float32))
    >>> read_unlabeled(path).shape
    (3, 2)
    """
    if str(path).lower().endswith(".npy"):
        x = _load(path, "unlabeled")
    else:
        arrays = _read_npz(path, "unlabeled")
        key = "x" if "x" in arrays else "x_unlabeled"
        if key not in arrays:
            raise assemble.invalid_source("unlabeled", path, "an .npz with inputs in 'x'",
                                          f"keys: {sorted(arrays)}")
        x = arrays[key]
    return assemble.check_inputs(x, "unlabeled", path)
