"""Datasets whose examples were checked when `cache_teacher_outputs` wrote them.

`cache_teacher_outputs` checks every batch it reads (finite inputs, sample weights finite and
`>= 0`, numeric labels) and every teacher output it stores (finite, after the cast to the
cache's dtype), so the dataset it returns holds nothing the streamed checks of
`Distiller.fit` (`checks.checked_dataset`) would stop, except a label out of the student's
range: the cache does not know the student. `mark` records that on the returned dataset object
itself; `fit` then checks the labels of such a dataset once (`check_labels`) and trains on it
without a check per batch.

Only the exact object is marked. A dataset derived from it (`cached.map(...)`, `.take(...)`)
or built by hand in the cached format is a new object, unmarked, and checked batch by batch.
The examples of a marked dataset are the same every epoch (arrays in memory, or a directory
verified against its manifest's checksums), only their order changes, so one check of its
labels is as strict as one per epoch.

Example:

>>> import tensorflow as tf
>>> data = mark(tf.data.Dataset.range(3))
>>> is_marked(data), is_marked(data.map(lambda v: v))
(True, False)
"""

import keras
import numpy as np
import tensorflow as tf

from keras_distill import validation
from keras_distill.data import checks
from keras_distill.data import finite

_MARK = "_keras_distill_checked_when_written"


def mark(dataset):
    """Marks `dataset` (this object) as checked when written; returns it."""
    setattr(dataset, _MARK, True)
    return dataset


def is_marked(dataset):
    """Whether `dataset` is one `mark` marked."""
    return getattr(dataset, _MARK, False) is True


def check_teacher_outputs(outputs, batch):
    """Raises `ValueError` naming the first NaN/inf in a batch of teacher outputs.

    Args:
        outputs: Dict of the teacher's outputs for one batch (as stored in the cache).
        batch: The 1-based batch number, for the message.

    Example:

    >>> check_teacher_outputs({"logits": np.float32([[0.0, np.inf]])}, 2)
    Traceback (most recent call last):
    ...
    ValueError: Invalid value for argument `teacher`. Expected a teacher whose outputs are finite (no NaN or inf). Received: teacher outputs['logits'] holding inf at index (0, 1) of batch 2. Check the teacher's weights and inputs; logits beyond float16's range (65504) also need dtype='float32' and no top_k (a top-k cache stores float16)
    """
    found = finite.first_non_finite(outputs)
    if found is not None:
        where, index, value = found
        raise validation.invalid_data(
            "teacher", "a teacher whose outputs are finite (no NaN or inf)",
            f"teacher outputs{where} holding {value} at index "
            f"{index[0] if len(index) == 1 else index} of batch {batch}",
            "Check the teacher's weights and inputs; logits beyond float16's range (65504) "
            "also need dtype='float32' and no top_k (a top-k cache stores float16)")


def check_labels(dataset, spec):
    """Checks every label of a marked dataset against `spec` on the host, in one pass.

    Args:
        dataset: A dataset `mark` marked, of `x`, `(x, y)` or `(x, y, sample_weight)`.
        spec: The student's `checks.LabelSpec`, or `None` (nothing to check then: the labels
            were checked numeric and finite when written).

    Raises:
        ValueError: Naming the first label out of range and its batch, as `checks` does.
    """
    if spec is None:
        return
    _, y_spec, _ = keras.utils.unpack_x_y_sample_weight(dataset.element_spec)
    if y_spec is None:
        return
    labels = dataset.map(lambda *element: keras.utils.unpack_x_y_sample_weight(
        element if len(element) > 1 else element[0])[1])
    for index, y in enumerate(labels):
        checks.check_batch((tf.zeros([0]), y), spec, index)
