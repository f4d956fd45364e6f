"""Teacher outputs computed once and carried in the `tf.data` pipeline (the "cached" mode).

`cache_teacher_outputs` runs the frozen teacher over a dataset once and returns a dataset whose
inputs carry the teacher's outputs beside each example. `Distiller.fit` recognises it and never
calls the teacher, so every epoch after the first costs what plain student training costs.

When caching is wrong: if the input pipeline applies *random augmentation* (random crops, flips,
noise, mixup...), the teacher must see the same augmented input as the student, which changes
every epoch; cached outputs belong to the un-augmented input. Distill online in that case
(`Distiller(augmentation=...)`), or cache a fixed number of augmented views of each example with
the teacher's outputs for each (`keras_distill.data.views.cache_teacher_views`).
"""

import keras
import numpy as np
import tensorflow as tf

from keras_distill import io
from keras_distill import teacher as teacher_lib
from keras_distill import teacher_precision
from keras_distill import validation
from keras_distill.data import cache_manifest
from keras_distill.data import checks as data_checks
from keras_distill.data import teacher_outputs as cached_format
from keras_distill.data import written_checked


def teacher_function(teacher, teacher_dtype=None):
    """A traced function from an input batch to the dict of teacher outputs a cache stores
    (`{LOGITS: ...}`, an ensemble's `{MEMBER_LOGITS: ...}`, or a `Distiller`'s own pass)."""
    # A `Distiller` (or anything that computes its teacher's outputs, features included) runs
    # its own teacher pass, at its own `teacher_dtype`; data never imports the distiller.
    compute_teacher_outputs = getattr(teacher, "compute_teacher_outputs", None)
    if callable(compute_teacher_outputs):
        if teacher_dtype is not None:
            raise ValueError(
                "Invalid value for argument `teacher_dtype`. A `Distiller` runs its teacher at "
                "its own `teacher_dtype`: set it there. "
                f"Received: teacher_dtype={teacher_dtype!r} with a {type(teacher).__name__}")
        return tf.function(compute_teacher_outputs, reduce_retracing=True)
    models = [teacher_precision.reduced_precision(teacher_lib.logits_model(t), teacher_dtype)
              for t in teacher_lib.as_teacher_list(teacher)]

    @tf.function(reduce_retracing=True)  # The last, partial batch must not retrace.
    def outputs(x):
        if len(models) == 1:
            return {cached_format.LOGITS: models[0](x, training=False)}
        members = [model(x, training=False) for model in models]
        return {cached_format.MEMBER_LOGITS: tf.stack(members, axis=-2)}

    return outputs


def _top_k_function(teacher_fn, k):
    @tf.function(reduce_retracing=True)
    def outputs(x):
        return cached_format.top_k_outputs(teacher_fn(x), k)

    return outputs


def _batches(teacher_fn, dataset, dtype):
    """Yields `(x, teacher_outputs, y, sample_weight)` per batch, running the teacher once;
    the outputs, as stored, are checked finite (`written_checked`)."""
    for index, batch in enumerate(dataset):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(batch)
        outputs = {k: v if k in cached_format.TOP_K_KEYS else tf.cast(v, dtype)
                   for k, v in teacher_fn(x).items()}  # A top-k summary keeps its dtypes.
        written_checked.check_teacher_outputs(outputs, index + 1)
        yield x, outputs, y, sample_weight


def element(x, outputs, y, sample_weight):
    """One cached example (or batch): `(inputs carrying outputs, y[, sample_weight])`."""
    inputs = cached_format.join_cached(x, outputs)
    element = tuple(v for v in (inputs, y, sample_weight) if v is not None)
    return element if len(element) > 1 else inputs


def _in_memory(teacher_fn, dataset, dtype):
    parts = [
        [None if v is None else tf.nest.map_structure(np.asarray, v) for v in part]
        for part in _batches(teacher_fn, dataset, dtype)
    ]
    columns = concatenated(parts, dataset)
    first_batch = len(tf.nest.flatten(parts[0][1])[0])
    return tf.data.Dataset.from_tensor_slices(element(*columns)), first_batch


def concatenated(parts, dataset):
    """Per-batch `[x, outputs, y, sample_weight]` host arrays -> the same four columns over
    the whole dataset; an empty `dataset` (no parts) is a `ValueError`."""
    if not parts:
        raise _empty_dataset_error(dataset)
    return [
        None if parts[0][i] is None else tf.nest.map_structure(
            lambda *arrays: np.concatenate(arrays), *[p[i] for p in parts]
        )
        for i in range(4)
    ]


def _empty_dataset_error(dataset):
    return ValueError(
        "Invalid value for argument `dataset`. Expected a dataset that yields at least one "
        f"batch. Received: an empty dataset ({dataset.element_spec})."
    )


def _on_disk(teacher_fn, dataset, dtype, path, fingerprint):
    parts = _batches(teacher_fn, dataset, dtype)
    first = next(parts, None)
    if first is None:
        raise _empty_dataset_error(dataset)
    spec = tf.nest.map_structure(
        lambda t: tf.TensorSpec([None, *t.shape[1:]], t.dtype), element(*first)
    )

    examples, failures = [], []

    def generate():  # The source is iterated once: the first batch, then the rest.
        part = first
        while part is not None:
            examples.append(len(tf.nest.flatten(part[1])[0]))
            yield element(*part)
            try:
                part = next(parts, None)
            except Exception as error:  # Raised inside `save`, it would hang its writers.
                failures.append(error)
                return

    batched = tf.data.Dataset.from_generator(generate, output_signature=spec)
    fingerprint = {**fingerprint, "data": cache_manifest.data_fingerprint(
        dataset, [first[0], first[2], first[3]])}
    with io.atomic_directory(path, overwrite=True) as staging:
        batched.unbatch().save(staging)
        if failures:
            raise failures[0]  # Nothing is published: the staging directory goes.
        cache_manifest.write(staging, examples=sum(examples), fingerprint=fingerprint,
                             checked=True)  # Last.
    batch_size = int(tf.shape(tf.nest.flatten(first[1])[0])[0])
    return tf.data.Dataset.load(path), batch_size


def pipeline(examples, batch_size, shuffle, seed, drop_remainder):
    """Example-level cached data -> reshuffled, batched, float32, prefetched."""
    if shuffle:
        size = int(examples.cardinality())
        examples = examples.shuffle(size if size > 0 else 10_000, seed=seed,
                                    reshuffle_each_iteration=True)
    batched = examples.batch(batch_size, drop_remainder=drop_remainder)
    inputs_spec = batched.element_spec[0] if isinstance(batched.element_spec, tuple) else (
        batched.element_spec)
    stored = tf.nest.flatten(inputs_spec[cached_format.TEACHER_OUTPUTS_KEY])
    if any(spec.dtype != tf.float32 for spec in stored):
        batched = batched.map(_to_float32, num_parallel_calls=tf.data.AUTOTUNE)
    return batched.prefetch(tf.data.AUTOTUNE)


def load_teacher_outputs(path, batch_size, *, shuffle=True, seed=None, drop_remainder=False,
                         teacher=None, dataset=None):
    """Loads the teacher outputs `cache_teacher_outputs(..., path=path)` wrote to disk.

    Several processes (workers of a tuner, a relaunch after a crash) can then share one teacher
    pass. The cache is verified against its manifest first (`cache_manifest`): a missing,
    incomplete, corrupt or truncated cache, or one written for another `teacher` or `dataset`,
    is a `ValueError` naming the path and what is wrong.

    Args:
        path: The directory given to `cache_teacher_outputs`.
        batch_size: Batch size of the returned dataset.
        shuffle: Reshuffle the examples every epoch. Defaults to `True`.
        seed: Shuffle seed. Defaults to `None`.
        drop_remainder: Drop the last partial batch. Defaults to `False`.
        teacher: The teacher the cache must have been written for (its weights are compared).
            Defaults to `None`: not checked.
        dataset: The source dataset the cache must have been written from (its spec, size
            and first batch are compared). Defaults to `None`: not checked.

    Returns:
        A batched, prefetched `tf.data.Dataset` that `Distiller.fit` trains on without the
        teacher.
    """
    fingerprint = {}
    if teacher is not None:
        fingerprint["teacher"] = cache_manifest.teacher_fingerprint(teacher)
    if dataset is not None:
        first = next(iter(dataset.take(1)), None)
        fingerprint["data"] = None if first is None else cache_manifest.data_fingerprint(
            dataset, list(keras.utils.unpack_x_y_sample_weight(first)))
    examples = cache_manifest.load(path, fingerprint)
    batched = pipeline(examples, batch_size, shuffle, seed, drop_remainder)
    # Only a cache whose manifest says its examples were checked when written (older ones
    # did not check the teacher outputs) skips `Distiller.fit`'s checks per batch.
    return written_checked.mark(batched) if cache_manifest.read(path).get("checked") is True \
        else batched


def cache_teacher_outputs(
    teacher,
    dataset,
    *,
    batch_size=None,
    shuffle=True,
    seed=None,
    drop_remainder=None,
    path=None,
    dtype="float32",
    top_k=None,
    teacher_dtype=None,
):
    """Runs the teacher once over `dataset` and returns a dataset that carries its outputs.

    Each example keeps its own teacher output, so the returned dataset is reshuffled every
    epoch like the source. Keras's `(x, y, sample_weight)` convention is kept; `x` becomes a dict
    that `Distiller` unpacks (and `Distiller.predict`/`evaluate` accept too).

    Args:
        teacher: The teacher `keras.Model`, a list of teachers (an ensemble: each member's
            logits are stored and combined at the distiller's temperature during training), or
            a `Distiller` (then intermediate features its terms need are cached too).
        dataset: A batched `tf.data.Dataset` of `x`, `(x, y)` or `(x, y, sample_weight)`. It is
            iterated exactly once.
        batch_size: Batch size of the returned dataset. Defaults to `None`: the source's first
            batch size.
        shuffle: Reshuffle the examples every epoch. Defaults to `True`.
        seed: Shuffle seed. Defaults to `None`.
        drop_remainder: Drop the last partial batch (global batches under a `tf.distribute`
            strategy). Defaults to `None`: as the source does (a static batch size means it was
            batched with `drop_remainder=True`).
        path: Directory to store the outputs on disk (`tf.data.Dataset.save`, written to a
            temporary directory then renamed) for data that does not fit in memory. Defaults to
            `None`: keep everything in memory.
        dtype: `"float32"`, or `"float16"` to halve the memory of the stored outputs (they are
            cast back to float32 for the loss). Defaults to `"float32"`.
        top_k: Store only the teacher's `top_k` largest logits (float16), their classes
            (int32) and two numbers summarising the rest, instead of every logit: for 1000
            classes, `top_k=10` takes 1.6% of float32's memory. Distillation is then Hinton's
            KD on the folded distribution (`keras_distill.losses.top_k` states the
            approximation); other logit terms need every logit. Defaults to `None` (all).
        teacher_dtype: `"bfloat16"` or `"float16"`: run the teacher pass on a reduced-precision
            copy (`keras_distill.teacher_precision`). Defaults to `None` (as given).

    Returns:
        A batched, prefetched `tf.data.Dataset`.

    Raises:
        ValueError: If a batch holds NaN/inf inputs, bad sample weights or non-numeric labels,
            or the teacher's outputs (as stored, in `dtype`) hold NaN/inf; nothing is written.

    Example:

    >>> import keras, numpy as np, tensorflow as tf
    >>> teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> ds = tf.data.Dataset.from_tensor_slices((np.ones((10, 4)), np.zeros(10))).batch(4)
    >>> cached = cache_teacher_outputs(teacher, ds, shuffle=False)
    >>> [int(tf.shape(y)[0]) for _, y in cached]
    [4, 4, 2]
    """
    if not isinstance(dataset, tf.data.Dataset):
        raise TypeError(
            "Invalid value for argument `dataset`. Expected a batched `tf.data.Dataset`. "
            f"Received: dataset of type {type(dataset).__name__}"
        )
    if dtype not in ("float32", "float16"):
        raise ValueError(
            "Invalid value for argument `dtype`. Expected 'float32' or 'float16'. "
            f"Received: dtype={dtype!r}"
        )
    if drop_remainder is None:
        drop_remainder = tf.nest.flatten(dataset.element_spec)[0].shape[:1].is_fully_defined()
    teacher_fn = teacher_function(teacher, teacher_precision.check_teacher_dtype(teacher_dtype))
    if top_k is not None:
        top_k = validation.check_positive_int(top_k, "top_k")
        teacher_fn = _top_k_function(teacher_fn, top_k)
    data_checks.check_cache_source(dataset, teacher)
    # Each batch as it is read: finite inputs and weights, numeric labels (their range is
    # `Distiller.fit`'s to check: the cache does not know what they mean).
    checked = data_checks.checked_dataset(dataset, None)
    try:
        if path is None:
            examples, first_batch = _in_memory(teacher_fn, checked, dtype)
        else:
            fingerprint = {"teacher": cache_manifest.teacher_fingerprint(teacher), "options": {
                "dtype": dtype, "top_k": top_k, "teacher_dtype": teacher_dtype}}
            examples, first_batch = _on_disk(teacher_fn, checked, dtype, path, fingerprint)
    except tf.errors.InvalidArgumentError as error:
        raise data_checks.in_graph_error(error, None) or error from None
    # Every batch and teacher output was checked as it was written: `Distiller.fit` checks
    # only the labels' range, once (`written_checked`).
    return written_checked.mark(
        pipeline(examples, batch_size or first_batch, shuffle, seed, drop_remainder))


def _to_float32(inputs, *rest):
    outputs = inputs[cached_format.TEACHER_OUTPUTS_KEY]
    inputs = dict(inputs)
    inputs[cached_format.TEACHER_OUTPUTS_KEY] = {
        k: tf.cast(v, tf.float32) if v.dtype.is_floating else v for k, v in outputs.items()
    }
    return (inputs, *rest) if rest else inputs  # Unlabeled data stays a dict, not a 1-tuple.
