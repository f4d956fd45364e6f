"""`load(name)`: the built-in MNIST-1D or a tensorflow-datasets dataset, by name."""

from keras_distill.data import mnist1d
from keras_distill.data import tfds_loader

BUILTIN = (mnist1d.NAME,)


def load(name="mnist1d", *, data_dir=None, validation_split=0.0, transfer_samples=0, seed=42,
         download=False):
    """Loads a classification dataset by name as a `ClassificationData`.

    Args:
        name: `"mnist1d"` (built in, generated locally) or a tensorflow-datasets
            image-classification name (`"mnist"`, `"fashion_mnist"`, `"cifar10"`, ...).
            Defaults to `"mnist1d"`.
        data_dir: tfds data directory (for MNIST-1D: the array cache directory). Defaults to
            `None`: each source's default.
        validation_split: Fraction of the training split held out as `validation`.
            Defaults to `0.0`.
        transfer_samples: Unlabeled examples to add as the `transfer` split; only MNIST-1D can
            generate them. Defaults to `0`.
        seed: Generator seed of MNIST-1D and of the validation split. Defaults to `42`.
        download: Let tfds download missing data (needs network). Defaults to `False`.

    Returns:
        A `ClassificationData`.

    Example:

    >>> data = load("mnist1d")
    >>> data.sizes, data.input_shape, data.feature_name
    ({'train': 4000, 'test': 1000}, (40,), 'signal')
    """
    if not isinstance(name, str) or not name:
        raise ValueError(
            "Invalid value for argument `dataset`. Expected 'mnist1d' or a tensorflow-datasets "
            f"name such as 'mnist'. Received: dataset={name!r}"
        )
    if name.lower().replace("-", "").replace("_", "") == mnist1d.NAME:
        return mnist1d.load(seed=seed, validation_split=validation_split,
                            transfer_samples=transfer_samples, cache_dir=data_dir)
    if transfer_samples:
        raise ValueError(
            "Invalid value for argument `transfer_samples`. Expected 0 for a tensorflow-datasets "
            "dataset: only the built-in 'mnist1d' can generate unlabeled examples. "
            f"Received: transfer_samples={transfer_samples!r} with dataset={name!r}"
        )
    return tfds_loader.load(name, data_dir=data_dir, download=download,
                            validation_split=validation_split)
