"""Size, batch-1 latency and accuracy of exported artifacts, measured the way they are served."""

import os
import statistics
import time

import numpy as np


def path_size(path):
    """Bytes on disk of a file, or of every file under a directory.

    Example:

    >>> import tempfile, os
    >>> directory = tempfile.mkdtemp()
    >>> _ = open(os.path.join(directory, "a"), "wb").write(b"12345")
    >>> path_size(directory)
    5
    """
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(
        os.path.getsize(os.path.join(root, name))
        for root, _, names in os.walk(path)
        for name in names
    )


def time_calls(fn, min_runs=20, max_runs=1000, budget_s=0.5, warmup=5):
    """Median milliseconds of `fn()`, over at least `min_runs` calls or `budget_s` seconds.

    Example:

    >>> time_calls(lambda: None) < 1.0
    True
    """
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < max_runs and (
        len(times) < min_runs or time.perf_counter() - start < budget_s
    ):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000.0 * statistics.median(times)


def classification_stats(logits, reference_logits=None, labels=None):
    """Top-1 agreement with `reference_logits` and accuracy on `labels` (each `None` if absent).

    Example:

    >>> import numpy as np
    >>> stats = classification_stats(np.eye(3), np.eye(3)[[0, 1, 0]], labels=[0, 2, 2])
    >>> round(stats["agreement"], 3), round(stats["accuracy"], 3)
    (0.667, 0.667)
    """
    predicted = np.argmax(logits, axis=-1)
    stats = {"agreement": None, "accuracy": None}
    if reference_logits is not None:
        stats["agreement"] = float(np.mean(predicted == np.argmax(reference_logits, axis=-1)))
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim == predicted.ndim + 1 and labels.shape[-1] > 1:
            labels = np.argmax(labels, axis=-1)  # One-hot labels.
        stats["accuracy"] = float(np.mean(predicted == labels.reshape(predicted.shape)))
    return stats
