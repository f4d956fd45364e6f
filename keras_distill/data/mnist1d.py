"""Built-in MNIST-1D (Greydanus & Kobak, "Scaling down deep learning"), generated locally.

The arrays come from the `mnist1d` package's own generator (`mnist1d.data.make_dataset`), never
its download path, so nothing touches the network. The defaults give the paper's split: 4000
training and 1000 test signals of length 40, seed 42. A *transfer set* of extra unlabeled
signals (same generator, another seed) can be added for distillation: only the teacher labels it.

Generation takes about a second per 5000 signals, so generated arrays are kept in
`~/.cache/keras_distill/mnist1d/` (or `$KERAS_DISTILL_CACHE`) and read back on the next call.
"""

import hashlib
import json
import os
import random

import numpy as np
import tensorflow as tf

from keras_distill import io, validation
from keras_distill.data import pipeline

NAME = "mnist1d"
FEATURE = "signal"
NUM_CLASSES = 10
# The transfer set's seed is offset from the dataset's so that it never repeats a signal of it.
TRANSFER_SEED_OFFSET = 1_000_003


def default_cache_dir():
    """`$KERAS_DISTILL_CACHE/mnist1d`, else `~/.cache/keras_distill/mnist1d`."""
    root = os.environ.get("KERAS_DISTILL_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "keras_distill"
    )
    return os.path.join(root, NAME)


def _make(num_samples, train_split, length, seed):
    """Runs the package's generator without disturbing the global random state it reseeds."""
    from mnist1d import data as mnist1d_data

    args = mnist1d_data.get_dataset_args()
    args.num_samples, args.train_split = num_samples, train_split
    args.final_seq_length, args.seed = length, seed
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        return mnist1d_data.make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


def _cached(key, make, cache_dir):
    """Returns `make()`'s dict of arrays, stored as `<cache_dir>/<hash of key>.npz`."""
    if cache_dir is False:
        return make()
    cache_dir = cache_dir or default_cache_dir()
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = os.path.join(cache_dir, f"{digest}.npz")
    if os.path.exists(path):
        try:
            with np.load(path) as stored:
                return {k: stored[k] for k in stored.files}
        except (OSError, ValueError):
            pass  # A damaged cache file is regenerated below.
    arrays = make()
    try:
        with io.atomic_file(path) as f:
            np.savez(f, **arrays)
    except OSError:
        pass  # A read-only home directory only costs the regeneration next time.
    return arrays


def generate(num_train=4000, num_test=1000, *, length=40, seed=42, cache_dir=None):
    """Generates MNIST-1D with the `mnist1d` package's generator.

    Args:
        num_train: Training signals. Defaults to `4000` (the paper's).
        num_test: Test signals. Defaults to `1000` (the paper's).
        length: Length of each signal. Defaults to `40`.
        seed: Generator seed. Defaults to `42` (the paper's).
        cache_dir: Directory of the array cache; `False` to always regenerate. Defaults to
            `None`: `default_cache_dir()`.

    Returns:
        A dict of NumPy arrays: `x_train` `(num_train, length)` float32, `y_train` int64,
        `x_test`, `y_test`.

    Example:

    >>> arrays = generate(num_train=80, num_test=20, cache_dir=False)
    >>> arrays["x_train"].shape, arrays["y_test"].shape
    ((80, 40), (20,))
    """
    num_train = validation.check_positive_int(num_train, "num_train")
    num_test = validation.check_positive_int(num_test, "num_test")
    length = validation.check_positive_int(length, "length")
    total = num_train + num_test
    if total % NUM_CLASSES:
        raise ValueError(
            "Invalid value for arguments `num_train` and `num_test`. Expected a total divisible "
            f"by {NUM_CLASSES} (the generator makes equally many signals per class). "
            f"Received: num_train={num_train}, num_test={num_test}"
        )

    def make():
        raw = _make(total, num_train / total, length, seed)
        return {"x_train": raw["x"].astype(np.float32), "y_train": raw["y"].astype(np.int64),
                "x_test": raw["x_test"].astype(np.float32),
                "y_test": raw["y_test"].astype(np.int64)}

    return _cached({"kind": "split", "train": num_train, "test": num_test, "length": length,
                    "seed": seed}, make, cache_dir)


def generate_transfer_set(num_samples, *, length=40, seed=42, cache_dir=None):
    """Generates extra unlabeled MNIST-1D signals: a transfer set only the teacher labels.

    They come from the same generator as `generate` with another seed (`seed +
    TRANSFER_SEED_OFFSET`), so they are new signals from the same distribution; labels are
    dropped.

    Args:
        num_samples: Number of signals (rounded up to a multiple of 10).
        length: Length of each signal. Defaults to `40`.
        seed: Seed of the dataset they extend. Defaults to `42`.
        cache_dir: As in `generate`. Defaults to `None`.

    Returns:
        A float32 NumPy array of shape `(num_samples, length)`.

    Example:

    >>> generate_transfer_set(30, cache_dir=False).shape
    (30, 40)
    """
    num_samples = validation.check_positive_int(num_samples, "num_samples")
    length = validation.check_positive_int(length, "length")
    total = -(-num_samples // NUM_CLASSES) * NUM_CLASSES

    def make():
        raw = _make(total, 1.0, length, seed + TRANSFER_SEED_OFFSET)
        return {"x": raw["x"].astype(np.float32)}

    arrays = _cached({"kind": "transfer", "n": total, "length": length, "seed": seed}, make,
                     cache_dir)
    return arrays["x"][:num_samples]


def load(*, num_train=4000, num_test=1000, length=40, seed=42, validation_split=0.0,
         transfer_samples=0, cache_dir=None):
    """MNIST-1D as a `ClassificationData` (paper split by default).

    The generator already standardises the signals (mean 0, std 1 over the dataset), so the
    normalisation is the identity.

    Args:
        num_train: Training signals. Defaults to `4000`.
        num_test: Test signals. Defaults to `1000`.
        length: Signal length. Defaults to `40`.
        seed: Generator seed. Defaults to `42`.
        validation_split: Fraction of the training signals held out as `validation` (for
            choosing hyperparameters; never the test set). Defaults to `0.0`.
        transfer_samples: Unlabeled signals to generate as the `transfer` split. Defaults to `0`.
        cache_dir: As in `generate`. Defaults to `None`.

    Returns:
        A `ClassificationData` whose feature is `"signal"`, shape `(length,)`.

    Example:

    >>> data = load(num_train=90, num_test=10, validation_split=0.1, cache_dir=False)
    >>> data.sizes
    {'train': 81, 'test': 10, 'validation': 9}
    """
    validation_split = validation.check_split(validation_split, "validation_split")
    transfer_samples = validation.check_non_negative_int(transfer_samples, "transfer_samples")
    arrays = generate(num_train, num_test, length=length, seed=seed, cache_dir=cache_dir)
    x, y, x_val, y_val = pipeline.split_arrays(
        arrays["x_train"], arrays["y_train"], validation_split, seed
    )
    sizes = {"train": len(x), "test": len(arrays["y_test"])}
    held_out = transfer = None
    if x_val is not None:
        held_out = tf.data.Dataset.from_tensor_slices((x_val, y_val))
        sizes["validation"] = len(x_val)
    if transfer_samples:
        x_transfer = generate_transfer_set(transfer_samples, length=length, seed=seed,
                                           cache_dir=cache_dir)
        transfer = tf.data.Dataset.from_tensor_slices(x_transfer)
        sizes["transfer"] = len(x_transfer)
    return pipeline.ClassificationData(
        name=NAME,
        train=tf.data.Dataset.from_tensor_slices((x, y)),
        test=tf.data.Dataset.from_tensor_slices((arrays["x_test"], arrays["y_test"])),
        num_classes=NUM_CLASSES,
        input_shape=(length,),
        feature_name=FEATURE,
        validation=held_out,
        transfer=transfer,
        sizes=sizes,
        class_names=tuple(str(i) for i in range(NUM_CLASSES)),
        source=pipeline.Source(NAME),
    )
