"""Cached augmented views (FKD, Shen & Xing 2021): consistent teaching at the cached step's cost.

Consistent teaching (the teacher sees the student's augmented view, `Distiller(augmentation=)`)
calls the teacher at every step, so a patient schedule costs a teacher pass per epoch.
`cache_teacher_views` runs the augmentation `views` times over the data instead, stores each
augmented view with the teacher's outputs for that view, and returns a dataset that gives every
example one of its views per epoch, drawn at random. `Distiller.fit` trains on it as on any
cache, at the cost of plain student training; the teacher still sees exactly the input the
student sees. The price is memory (`views` copies of the inputs) and variety: each example has
`views` views, where online augmentation draws a new one every epoch.

Example:

>>> import keras, numpy as np, tensorflow as tf
>>> from keras_distill import augment
>>> teacher = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)])
>>> source = tf.data.Dataset.from_tensor_slices(
...     (np.arange(32, dtype="float32").reshape(4, 8), np.arange(4))).batch(2)
>>> views = cache_teacher_views(teacher, source, augment.RandomShift(2, seed=0), views=3,
...                             shuffle=False, seed=0)
>>> [tuple(t.shape) for t in tf.nest.flatten(next(iter(views)))]
[(2, 8), (2, 3), (2,)]
"""

import keras
import numpy as np
import tensorflow as tf

from keras_distill import teacher as teacher_lib
from keras_distill import teacher_precision
from keras_distill import validation
from keras_distill.augment import augmentation as augmentation_lib
from keras_distill.data import cache as cache_lib
from keras_distill.data import checks as data_checks
from keras_distill.data import teacher_outputs as cached_format
from keras_distill.data import written_checked


def cache_teacher_views(teacher, dataset, augmentation, *, views, batch_size=None, shuffle=True,
                        seed=None, drop_remainder=None, dtype="float32", teacher_dtype=None):
    """Caches `views` augmented views of every example with the teacher's outputs for each.

    Args:
        teacher: The teacher `keras.Model` (or a list of them, an ensemble).
        dataset: A batched `tf.data.Dataset` of `x`, `(x, y)` or `(x, y, sample_weight)`, not
            augmented. It is iterated once; each batch is augmented `views` times.
        augmentation: What `Distiller(augmentation=)` takes: a Keras layer, a callable or a
            list of them, seeded for a reproducible cache. A mixing augmentation (MixUp,
            CutMix) pairs examples within a batch and is refused: train with it online.
        views: How many augmented views of each example to cache (an int >= 1).
        batch_size: Batch size of the returned dataset. Defaults to `None`: the source's.
        shuffle: Reshuffle the examples every epoch. Defaults to `True`.
        seed: Seed of the shuffle and of each epoch's choice of views. Defaults to `None`.
        drop_remainder: As for `cache_teacher_outputs`. Defaults to `None`: as the source.
        dtype: `"float32"`, or `"float16"` for the stored teacher outputs. Defaults to
            `"float32"`.
        teacher_dtype: As for `cache_teacher_outputs`. Defaults to `None`.

    Returns:
        A batched, prefetched `tf.data.Dataset` in the cached format (see
        `keras_distill.data.teacher_outputs`): one view of each example per epoch.

    Raises:
        TypeError: If `augmentation` is neither a Keras layer nor callable.
        ValueError: If `views` is not an int >= 1, the augmentation mixes examples or changes
            the teacher's input shape, or a batch or a view holds NaN/inf.
    """
    views = validation.check_positive_int(views, "views")
    if not isinstance(dataset, tf.data.Dataset):
        raise TypeError("Invalid value for argument `dataset`. Expected a batched "
                        f"`tf.data.Dataset`. Received: dataset of type {type(dataset).__name__}")
    if dtype not in ("float32", "float16"):
        raise ValueError("Invalid value for argument `dtype`. Expected 'float32' or 'float16'. "
                         f"Received: dtype={dtype!r}")
    models = teacher_lib.as_teacher_list(teacher)
    augment = augmentation_lib.as_augmentation(augmentation, models[0], role="teacher")
    if augment is None:
        raise ValueError("Invalid value for argument `augmentation`. Expected an augmentation "
                         "to cache views of. Received: augmentation=None (without one, use "
                         "`cache_teacher_outputs`)")
    if augment.mixed:
        raise ValueError(
            "Invalid value for argument `augmentation`. Expected one that augments each "
            "example alone: a mixing augmentation (MixUp, CutMix) pairs examples within a "
            "batch, which a cached view cannot replay. Received: "
            f"augmentation={augmentation!r}. Distill online with it instead")
    if drop_remainder is None:
        drop_remainder = tf.nest.flatten(dataset.element_spec)[0].shape[:1].is_fully_defined()
    data_checks.check_cache_source(dataset, teacher)
    teacher_fn = cache_lib.teacher_function(
        teacher, teacher_precision.check_teacher_dtype(teacher_dtype))
    augment_fn = tf.function(lambda x: augment.apply(x).x, reduce_retracing=True)
    checked = data_checks.checked_dataset(dataset, None)
    try:
        columns, first_batch = _views(teacher_fn, augment_fn, checked, views, dtype)
    except tf.errors.InvalidArgumentError as error:
        raise data_checks.in_graph_error(error, None) or error from None
    batched = cache_lib.pipeline(tf.data.Dataset.from_tensor_slices(cache_lib.element(*columns)),
                                 batch_size or first_batch, shuffle, seed, drop_remainder)
    # One draw per batch seeds the choice of each example's view, anew every epoch.
    picked = tf.data.Dataset.zip(
        batched, tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True),
    ).map(lambda batch, draw: _pick(batch, draw, views), num_parallel_calls=tf.data.AUTOTUNE,
          deterministic=True)
    return written_checked.mark(picked.prefetch(tf.data.AUTOTUNE))


def _views(teacher_fn, augment_fn, dataset, views, dtype):
    """`(x, outputs, y, sample_weight)` columns, x and outputs with a views axis after the
    examples' (`[examples, views, ...]`), and the source's first batch size. The source is read
    once: every batch is augmented `views` times as it is read."""
    parts = []
    for index, batch in enumerate(dataset):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(batch)
        xs, outputs = [], []
        for _ in range(views):
            view = augment_fn(x)
            data_checks.check_inputs(view, batch=index + 1, name="augmented x")
            output = {k: tf.cast(v, dtype) for k, v in teacher_fn(view).items()}
            written_checked.check_teacher_outputs(output, index + 1)
            xs.append(tf.nest.map_structure(np.asarray, view))
            outputs.append(tf.nest.map_structure(np.asarray, output))
        stack = lambda *arrays: np.stack(arrays, axis=1)  # noqa: E731
        parts.append([tf.nest.map_structure(stack, *xs), tf.nest.map_structure(stack, *outputs),
                      *(None if v is None else tf.nest.map_structure(np.asarray, v)
                        for v in (y, sample_weight))])
    columns = cache_lib.concatenated(parts, dataset)
    return columns, len(tf.nest.flatten(parts[0][0])[0])


def _pick(batch, draw, views):
    """The batch with each example's inputs and teacher outputs at a view drawn from `draw`."""
    inputs, *rest = batch if isinstance(batch, tuple) else (batch,)
    size = tf.shape(tf.nest.flatten(inputs)[0])[0]
    chosen = tf.random.stateless_uniform([size], seed=tf.stack([draw, 0]), maxval=views,
                                         dtype=tf.int32)
    picked = tf.nest.map_structure(lambda t: tf.gather(t, chosen, axis=1, batch_dims=1), inputs)
    return (picked, *rest) if rest else picked
