"""A directory of images (PNG, JPEG, BMP, GIF) as raw `uint8` arrays, classes named by subfolder.

Layouts:

- `DIR/<class>/<image>`: at least two class subfolders; a test split is held out.
- `DIR/train/<class>/<image>` and `DIR/test/<class>/<image>`: the test split is given (the same
  class subfolders in both).
- For unlabeled images (`read_unlabeled`): any folder of images, subfolders or not.

Images are read with `keras.utils.image_dataset_from_directory`: class names are the subfolder
names in sorted order, and the pixels are kept raw (`uint8`). Every image must have the same
size, unless `image_size=(height, width)` is given: then each is resized to it (bilinear) and
rounded back to `uint8`. The inputs have one channel when every image is grayscale (PIL modes
`1`, `L`, `LA`, `I`, `I;16`), else three (RGB; alpha is dropped; GIFs are palette images and read
as RGB). Everything is read into memory, and nothing is written.
"""

import os

import numpy as np
import tensorflow as tf

from keras_distill import validation
from keras_distill.data import assemble

FEATURE = "image"
FORMATS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")
SPLIT_FOLDERS = ("test", "train")


def check_image_size(image_size):
    """Returns `image_size` as `(height, width)` ints, or `None`; raises `ValueError` otherwise.

    Example:

    >>> check_image_size([32, 48])
    (32, 48)
    """
    if image_size is None:
        return None
    if (not isinstance(image_size, (tuple, list)) or len(image_size) != 2
            or not all(validation.is_number(d) and int(d) == d and d >= 1 for d in image_size)):
        raise validation.invalid("image_size", "None or (height, width), two positive integers",
                                 image_size)
    return tuple(int(d) for d in image_size)


def _subfolders(directory):
    return sorted(entry.name for entry in os.scandir(directory)
                  if entry.is_dir() and not entry.name.startswith("."))


def has_images(directory):
    """Whether `directory` holds an image file (at any depth).

    Example:

    >>> has_images("/nonexistent")
    False
    """
    for _, _, files in os.walk(directory):
        if any(name.lower().endswith(FORMATS) for name in files):
            return True
    return False


def _index(directory, argument, labels, class_names=None):
    """`(paths, class_names)` as keras indexes them (nothing decoded yet)."""
    import keras

    try:
        dataset = keras.utils.image_dataset_from_directory(
            directory, labels="inferred" if labels else None, class_names=class_names,
            image_size=(1, 1), batch_size=None, shuffle=False, verbose=False)
    except ValueError as error:
        raise assemble.invalid_source(argument, directory,
                                      f"a folder of images ({', '.join(FORMATS)})",
                                      str(error)) from None
    return list(dataset.file_paths), getattr(dataset, "class_names", None)


def _probe(paths, argument):
    """`({(height, width): first path}, all grayscale)` from the image headers (PIL)."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("Reading image folders needs Pillow: `pip install pillow`.") from None
    sizes, gray = {}, True
    for path in paths:
        try:
            with Image.open(path) as image:
                size, mode = (image.height, image.width), image.mode
                image.verify()
        except Exception as error:  # PIL raises many kinds for a broken file.
            raise assemble.invalid_source(argument, path, "a readable PNG, JPEG, BMP or GIF "
                                          "image", f"{type(error).__name__}: {error}") from None
        sizes.setdefault(size, path)
        gray = gray and mode in GRAY_MODES
    return sizes, gray


def _size(sizes, image_size, directory):
    """The size to read at: `image_size`, else the one size every image has."""
    if image_size is not None:
        return image_size
    if len(sizes) > 1:
        examples = ", ".join(f"{h}x{w}: {path!r}" for (h, w), path in list(sizes.items())[:3])
        raise validation.invalid(
            "image_size", f"(height, width) to resize to, since the images in {directory!r} "
            f"have different sizes ({examples})", image_size)
    return next(iter(sizes))


def _decode(directory, size, labels, class_names, paths, argument):
    """`(pixels, labels or None)` read by keras at `size`, as `uint8` RGB."""
    import keras

    dataset = keras.utils.image_dataset_from_directory(
        directory, labels="inferred" if labels else None, class_names=class_names,
        label_mode="int", color_mode="rgb", image_size=size, batch_size=None, shuffle=False,
        verbose=False)

    def to_uint8(image):
        return tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)

    if labels:
        dataset = dataset.map(lambda image, label: (to_uint8(image), tf.cast(label, tf.int64)))
    else:
        dataset = dataset.map(to_uint8)
    try:
        batches = list(dataset.batch(256).as_numpy_iterator())
    except tf.errors.OpError as error:
        for path in paths:  # Name the file TensorFlow could not decode.
            try:
                tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
            except tf.errors.OpError as per_file:
                raise assemble.invalid_source(argument, path, "a readable PNG, JPEG, BMP or "
                                              "GIF image", per_file.message) from None
        raise assemble.invalid_source(argument, directory, "readable images",
                                      error.message) from None
    if labels:
        return (np.concatenate([b[0] for b in batches]),
                np.concatenate([b[1] for b in batches]))
    return np.concatenate(batches), None


def _channels(x, gray):
    return x[..., :1] if gray else x


def read(directory, image_size=None):
    """Reads a labeled image folder (class subfolders, or `train/` and `test/` of them).

    Args:
        directory: The folder.
        image_size: `(height, width)` to resize every image to, or `None` to keep the size
            (then every image must have the same one). Defaults to `None`.

    Returns:
        `(arrays, options)`: an `assemble.LabeledArrays` of `uint8` images
        `(examples, height, width, channels)` with the class names, and the options to record
        (`image_size`, `color_mode`, `layout`).

    Raises:
        ValueError: fewer than two classes, an unreadable image (named), or images of
            different sizes without `image_size`.

    Example:

    >>> import tempfile
    >>> from PIL import Image
    >>> root = tempfile.mkdtemp()
    >>> for name in ("cat", "dog"):
    ...     os.makedirs(os.path.join(root, name))
    ...     Image.new("L", (4, 3)).save(os.path.join(root, name, "a.png"))
    >>> arrays, options = read(root)
    >>> arrays.x.shape, arrays.x.dtype.name, arrays.class_names
    ((2, 3, 4, 1), 'uint8', ('cat', 'dog'))
    """
    directory = os.fspath(directory)
    image_size = check_image_size(image_size)
    folders = _subfolders(directory)
    split_layout = (tuple(folders) == SPLIT_FOLDERS
                    and all(_subfolders(os.path.join(directory, f)) for f in folders))
    train_dir = os.path.join(directory, "train") if split_layout else directory
    classes = _subfolders(train_dir)
    if len(classes) < 2:
        raise assemble.invalid_source(
            "dataset", directory,
            "a folder of at least two class subfolders of images (for images without labels, "
            "pass the folder as `unlabeled=`)",
            f"class subfolders: {classes}")
    # Named explicitly so that hidden folders (".ipynb_checkpoints") are not classes.
    paths, class_names = _index(train_dir, "dataset", labels=True, class_names=classes)
    test_paths = []
    if split_layout:
        test_dir = os.path.join(directory, "test")
        if _subfolders(test_dir) != list(class_names):
            raise assemble.invalid_source(
                "dataset", test_dir, f"the training class subfolders {list(class_names)}",
                f"class subfolders: {_subfolders(test_dir)}")
        test_paths, _ = _index(test_dir, "dataset", labels=True, class_names=class_names)
    sizes, gray = _probe(paths + test_paths, "dataset")
    size = _size(sizes, image_size, directory)
    x, y = _decode(train_dir, size, True, class_names, paths, "dataset")
    x_test = y_test = None
    if split_layout:
        x_test, y_test = _decode(test_dir, size, True, class_names, test_paths, "dataset")
        x_test = _channels(x_test, gray)
    options = {"image_size": None if image_size is None else list(image_size),
               "color_mode": "grayscale" if gray else "rgb",
               "layout": "train_test_folders" if split_layout else "class_folders"}
    return assemble.LabeledArrays(x=_channels(x, gray), y=y, x_test=x_test, y_test=y_test,
                                  class_names=tuple(class_names)), options


def read_unlabeled(directory, image_size=None, channels=None):
    """Reads every image under `directory` (subfolders or not) as unlabeled `uint8` inputs.

    Args:
        directory: The folder.
        image_size: `(height, width)` to resize to, or `None` (one size for all). Defaults to
            `None`.
        channels: `1` or `3` to match the training inputs: grayscale images become RGB for
            `3`. Defaults to `None`: 1 if every image is grayscale, else 3.

    Returns:
        A `uint8` array `(examples, height, width, channels)`.

    Example:

    >>> import tempfile
    >>> from PIL import Image
    >>> root = tempfile.mkdtemp()
    >>> Image.new("RGB", (4, 3)).save(os.path.join(root, "a.jpg"))
    >>> read_unlabeled(root).shape
    (1, 3, 4, 3)
    """
    directory = os.fspath(directory)
    image_size = check_image_size(image_size)
    paths, _ = _index(directory, "unlabeled", labels=False)
    sizes, gray = _probe(paths, "unlabeled")
    size = _size(sizes, image_size, directory)
    x, _ = _decode(directory, size, False, None, paths, "unlabeled")
    return _channels(x, gray if channels is None else channels == 1 and gray)
