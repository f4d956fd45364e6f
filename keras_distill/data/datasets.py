"""`load(source)`: one classification dataset, from MNIST-1D, a local path or tensorflow-datasets.

`source` is, in this order:

- `"mnist1d"`: built in, generated locally (`mnist1d.py`);
- an existing path, by kind: a folder of class subfolders of images (`image_folder.py`), an
  `.npz` file or a folder of `.npy` files (or its `x.npy`) (`arrays.py`), a `.csv` file
  (`csv_source.py`);
- else the name of a tensorflow-datasets dataset, prepared in `data_dir` (`tfds_loader.py`).

`unlabeled=PATH` adds a transfer set (inputs only the teacher labels) from a folder of images,
an `.npz` with `x`, an `.npy` array or a CSV without labels; it must match the training inputs.
Everything here reads; nothing is written.
"""

import os

from keras_distill import validation
from keras_distill.data import arrays
from keras_distill.data import assemble
from keras_distill.data import csv_source
from keras_distill.data import image_folder
from keras_distill.data import mnist1d
from keras_distill.data import pipeline
from keras_distill.data import tfds_loader

BUILTIN = (mnist1d.NAME,)
KINDS = ("mnist1d", "image_folder", "npz", "npy", "csv", "tfds")
ACCEPTED = ("'mnist1d', an existing path (a folder of class subfolders of images, an .npz file, "
            "a folder holding x.npy and y.npy or its x.npy, a .csv file) or the name of a "
            "tensorflow-datasets classification dataset such as 'mnist'")
PATH_SUFFIXES = (".npz", ".npy", ".csv")
PATH_PREFIXES = ("/", "./", "../", "~", "\\")


def _is_mnist1d(source):
    return isinstance(source, str) and (
        source.lower().replace("-", "").replace("_", "") == mnist1d.NAME)


def kind_of(source):
    """The kind of `source` (one of `KINDS`), or raises `ValueError` listing what is accepted.

    Example:

    >>> kind_of("mnist1d"), kind_of("cifar10")
    ('mnist1d', 'tfds')
    """
    if not isinstance(source, (str, os.PathLike)) or not os.fspath(source):
        raise validation.invalid("dataset", ACCEPTED, source)
    if _is_mnist1d(source):  # Even beside a folder of that name: "./mnist1d" names that.
        return "mnist1d"
    path = os.fspath(source)
    if os.path.isfile(path):
        lower = path.lower()
        if lower.endswith(".npz"):
            return "npz"
        if lower.endswith(".csv"):
            return "csv"
        if arrays.npy_directory(path):
            return "npy"
        raise validation.invalid("dataset", ACCEPTED + " (an .npy dataset is named by its "
                                 "folder or its x.npy, with y.npy beside it)", path)
    if os.path.isdir(path):
        if arrays.npy_directory(path):
            return "npy"
        if image_folder.has_images(path):
            return "image_folder"
        raise validation.invalid("dataset", ACCEPTED + ": this folder holds neither x.npy nor "
                                 f"images ({', '.join(image_folder.FORMATS)})", path)
    if isinstance(source, os.PathLike) or path.lower().endswith(PATH_SUFFIXES) or \
            path.startswith(PATH_PREFIXES):
        raise validation.invalid("dataset", ACCEPTED, path, "No such file or directory")
    return "tfds"


def _read_unlabeled(path, data, label_column, image_size):
    """The unlabeled inputs at `path`, read to match `data`'s training inputs."""
    lower = path.lower()
    if os.path.isdir(path):
        shape = data.input_shape
        return image_folder.read_unlabeled(path, image_size,
                                           channels=shape[-1] if len(shape) == 3 else None)
    if lower.endswith((".npz", ".npy")):
        return arrays.read_unlabeled(path)
    if lower.endswith(".csv"):
        return csv_source.read_unlabeled(path, label_column,
                                         data.source.options.get("feature_columns"))
    raise validation.invalid("unlabeled", "a folder of images, an .npz, an .npy or a .csv file",
                             path)


def _check_arguments(kind, *, features, image_size, unlabeled, transfer_samples, label_column):
    if features is not None and kind != "tfds":
        raise validation.invalid("features", "None: `features` names the input and label of a "
                                 f"tensorflow-datasets dataset, and this source is {kind!r}",
                                 features)
    images = kind in ("image_folder", "tfds") or (unlabeled is not None
                                                  and os.path.isdir(unlabeled))
    if image_size is not None and not images:
        raise validation.invalid("image_size", "None: it resizes images (an image folder, a "
                                 f"tensorflow-datasets image or an unlabeled image folder), and "
                                 f"this source is {kind!r}", image_size)
    if transfer_samples and kind != "mnist1d":
        raise validation.invalid(
            "transfer_samples", "0: only the built-in 'mnist1d' can generate unlabeled examples "
            "(give other sources' unlabeled examples as `unlabeled=`)", transfer_samples)
    if transfer_samples and unlabeled is not None:
        raise validation.invalid("transfer_samples", "0 when `unlabeled` gives the transfer set",
                                 transfer_samples)
    if not isinstance(label_column, str) or not label_column:
        raise validation.invalid("label_column", "the name of a CSV column", label_column)


def _local(kind, path, *, label_column, image_size, validation_split, test_split, seed):
    """Reads a local source into a `ClassificationData`."""
    options, per_channel = {}, False
    if kind == "image_folder":
        labeled, options = image_folder.read(path, image_size)
        feature, per_channel = image_folder.FEATURE, True
    elif kind == "csv":
        labeled, columns = csv_source.read(path, label_column)
        feature, per_channel = csv_source.FEATURE, True  # One scale per column.
        options = {"label_column": label_column, "feature_columns": columns}
    elif kind == "npz":
        labeled = arrays.read_npz(path)
        feature, per_channel = "x", getattr(labeled.x, "ndim", 0) == 4
    else:
        path = arrays.npy_directory(path)
        labeled = arrays.read_npy(path)
        feature, per_channel = "x", getattr(labeled.x, "ndim", 0) == 4
    location = os.path.abspath(path)
    name = os.path.splitext(os.path.basename(location.rstrip(os.sep)))[0]
    return assemble.from_arrays(
        labeled, name=name, source=pipeline.Source(kind, location, options),
        feature_name=feature, per_channel=per_channel, validation_split=validation_split,
        test_split=test_split, seed=seed)


def load(source, *, data_dir=None, validation_split=0.0, test_split=0.2, transfer_samples=0,
         label_column="label", features=None, unlabeled=None, image_size=None, seed=42,
         download=False):
    """Loads a classification dataset as a `ClassificationData` of raw, unbatched splits.

    Args:
        source: `"mnist1d"` (built in); an existing path: a folder of class subfolders of
            images (or `train/` and `test/` of them), an `.npz` (`x`, `y`, optional `x_test`,
            `y_test`, `x_unlabeled`, `class_names`), a folder of `.npy` files with those names
            (or its `x.npy`), a `.csv` (numeric features and a label column); else a
            tensorflow-datasets name (`"mnist"`, `"cifar10"`, ...).
        data_dir: tfds data directory (for MNIST-1D: the array cache directory). Defaults to
            `None`: each source's default.
        validation_split: Fraction of the training examples held out as `validation` (seeded).
            Defaults to `0.0`.
        test_split: Fraction of the labeled examples held out as `test` (seeded) when the
            source has no test split; recorded in `held_out_test`. Defaults to `0.2`.
        transfer_samples: Unlabeled examples to generate as the `transfer` split; only
            MNIST-1D can. Defaults to `0`.
        label_column: The label column of a CSV (ignored in an unlabeled CSV). Defaults to
            `"label"`.
        features: `(input, label)` feature names of a tfds dataset without supervised keys.
            Defaults to `None`: the supervised keys, or its one image and one class label.
        unlabeled: Path of unlabeled inputs for the `transfer` split: a folder of images, an
            `.npz` with `x`, an `.npy`, or a CSV without the label column. Defaults to `None`.
        image_size: `(height, width)` to resize images to. Defaults to `None`: images keep
            their size, which must be the same for all.
        seed: Seed of MNIST-1D's generator and of the held-out splits. Defaults to `42`.
        download: Let tfds download missing data (needs network). Defaults to `False`.

    Returns:
        A `ClassificationData`; `describe()` records its source, raw input dtype, classes,
        normalisation and whether the test split was held out.

    Raises:
        ValueError: an unknown source, a file that cannot be used (named with what is wrong),
            or an argument that does not apply to the source.

    Example:

    >>> data = load("mnist1d")
    >>> data.sizes, data.input_shape, data.feature_name
    ({'train': 4000, 'test': 1000}, (40,), 'signal')
    """
    validation_split = validation.check_split(validation_split, "validation_split")
    test_split = validation.check_split(test_split, "test_split")
    transfer_samples = validation.check_non_negative_int(transfer_samples, "transfer_samples")
    seed = validation.check_non_negative_int(seed, "seed")
    validation.check_bool(download, "download")
    image_size = image_folder.check_image_size(image_size)
    if unlabeled is not None:
        unlabeled = validation.check_existing_path(
            unlabeled, "unlabeled", "a folder of images, an .npz, an .npy or a .csv")
    kind = kind_of(source)
    _check_arguments(kind, features=features, image_size=image_size, unlabeled=unlabeled,
                     transfer_samples=transfer_samples, label_column=label_column)
    if kind == "mnist1d":
        data = mnist1d.load(seed=seed, validation_split=validation_split,
                            transfer_samples=transfer_samples, cache_dir=data_dir)
    elif kind == "tfds":
        data = tfds_loader.load(source, data_dir=data_dir, download=download,
                                validation_split=validation_split, test_split=test_split,
                                features=features, image_size=image_size, seed=seed)
    else:
        data = _local(kind, os.fspath(source), label_column=label_column, image_size=image_size,
                      validation_split=validation_split, test_split=test_split, seed=seed)
    if unlabeled is None:
        return data
    if data.transfer is not None:
        raise validation.invalid("unlabeled", "None: the dataset already has unlabeled "
                                 "examples ('x_unlabeled')", unlabeled)
    x_unlabeled = _read_unlabeled(unlabeled, data, label_column, image_size)
    return assemble.with_transfer(data, x_unlabeled, os.path.abspath(unlabeled))
