"""Checks on the data a model is about to train on: labels, inputs, sample weights.

What is checked, with an error (a `ValueError` in keras's message form, naming the value and
where it is) before a training step uses the data:

- labels: integer class ids in `[0, classes)`, or negative (`-1`) for an unlabeled example;
  string labels and non-integral float labels (`2.5`) are errors; one-hot/soft rows are finite;
- inputs: finite; a NaN/inf input is an error naming its batch, or, with
  `non_finite="skip"`, its batch (its example, for arrays) is skipped and counted;
- sample weights: finite and `>= 0`;
- a `UserWarning` when `alpha > 0` but the first batch has no labeled example.

`check_batch` checks one batch on the host (the first batch of a stream, each batch
`cache_teacher_outputs` reads), `check_arrays` whole NumPy arrays; `checked_dataset` adds the
same checks to every batch inside the `tf.data` graph, cheaply as the data streams, and
`in_graph_error` turns a check that failed there into the same `ValueError`.

Example:

>>> import numpy as np
>>> check_batch((np.zeros((2, 3)), np.array([0, 12])), LabelSpec(classes=10, rank=2))
Traceback (most recent call last):
...
ValueError: Invalid value for argument `y`. Expected integer class labels in [0, 10), or -1 for an unlabeled example. Received: y holding 12 at index 1 of batch 1
"""

import re
import typing
import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_distill import teacher as teacher_lib
from keras_distill import validation
from keras_distill.data import finite

MARKER = "keras_distill: bad data"
NON_FINITE = ("raise", "skip")
_HINT_SKIP = ("Clean the data, or pass `non_finite_inputs=\"skip\"` to `Distiller.fit` to skip "
              "(and count) such batches")


class LabelSpec(typing.NamedTuple):
    """What labels must fit: the model's class count and the rank of its output (batch axis
    included), which tells integer labels (`rank - 1`) from one-hot/soft rows (`rank`)."""

    classes: int
    rank: int = 2


def label_spec(model):
    """The `LabelSpec` of a model with one output of known class count, else `None`.

    Example:

    >>> import keras
    >>> label_spec(keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]))
    LabelSpec(classes=3, rank=2)
    """
    outputs = getattr(model, "outputs", None)
    if not outputs or len(outputs) != 1 or outputs[0].shape[-1] is None:
        return None
    return LabelSpec(int(outputs[0].shape[-1]), len(outputs[0].shape))


def _is_sparse(y_rank, y_last, spec):
    return y_rank == spec.rank - 1 or (y_rank == spec.rank and y_last == 1 and spec.classes != 1)


def _where(index, batch, batch_size=None):
    """`" at index (3, 1) of batch 2"`; for whole arrays, the batch is the example's."""
    if batch is None and batch_size and index:
        batch = index[0] // batch_size + 1
    at = f" at index {index[0] if len(index) == 1 else index}"
    return at + ("" if batch is None else f" of batch {batch}")


def _label_expectation(spec):
    return f"integer class labels in [0, {spec.classes}), or -1 for an unlabeled example"


# ------------------------------------------------------------------------------------ host
def check_inputs(x, batch=None, name="x", batch_size=None):
    """Raises `ValueError` naming the first NaN/inf in the float arrays of `x`.

    Args:
        x: An array, tensor or structure of them.
        batch: The 1-based batch number, for the message. Defaults to `None`.
        name: The argument's name. Defaults to `"x"`.
        batch_size: For whole arrays, the batch size that names an example's batch.
            Defaults to `None`.
    """
    found = finite.first_non_finite(x)
    if found is not None:
        where, index, value = found
        raise validation.invalid_data(
            name, "finite inputs (no NaN or inf)",
            f"{name}{where} holding {value}{_where(index, batch, batch_size)}", _HINT_SKIP)



def check_labels(y, spec, batch=None, name="y", batch_size=None):
    """Checks labels against `spec` (see the module docstring); returns how many are labeled.

    Args:
        y: Labels: integer ids `[batch, ...]`, or one-hot/soft rows `[batch, ..., classes]`.
        spec: A `LabelSpec`, or `None` when the model's outputs are unknown (only the dtype and
            finiteness are checked then).
        batch: The 1-based batch number, for the message. Defaults to `None`.
        name: The argument's name. Defaults to `"y"`.
        batch_size: As for `check_inputs`. Defaults to `None`.

    Returns:
        The number of labeled examples (or time steps).
    """
    y = np.asarray(y)
    if y.dtype.kind in "USO":
        sample = y.flat[0] if y.size else ""
        raise validation.invalid_data(
            name, _label_expectation(spec) if spec else "integer class labels",
            f"{name} of dtype {y.dtype} holding {sample!r}{_where((0,), batch, batch_size)}",
            "Map each class name to an integer id from 0 to classes - 1")
    if y.dtype.kind not in "iufb":
        return int(y.size)
    y_float = y.astype(np.float64)
    if spec is None or not _is_sparse(y.ndim, y.shape[-1] if y.ndim else None, spec):
        bad = np.argwhere(~np.isfinite(y_float))
        if len(bad):
            raise validation.invalid_data(
                name, "finite label rows", f"{name} holding {y[tuple(bad[0])]}"
                f"{_where(tuple(bad[0].tolist()), batch, batch_size)}")
        return int(np.all(y_float >= 0, axis=-1).sum()) if y.ndim else int(y_float >= 0)
    bad = np.argwhere(~np.isfinite(y_float) | (y_float != np.round(y_float))
                      | (y_float >= spec.classes))
    if len(bad):
        index = tuple(bad[0].tolist())
        value = y[index].item()
        raise validation.invalid_data(name, _label_expectation(spec),
                                      f"{name} holding {value!r}"
                                      f"{_where(index, batch, batch_size)}")
    return int((y_float >= 0).sum())


def check_sample_weight(sample_weight, batch=None, name="sample_weight", batch_size=None):
    """Raises `ValueError` unless every sample weight is finite and `>= 0`."""
    if sample_weight is None:
        return
    weights = np.asarray(sample_weight, dtype=np.float64)
    bad = np.argwhere(~np.isfinite(weights) | (weights < 0))
    if len(bad):
        index = tuple(bad[0].tolist())
        raise validation.invalid_data(name, "finite sample weights >= 0",
                                      f"{name} holding {weights[index]}"
                                      f"{_where(index, batch, batch_size)}")


def warn_if_unlabeled(labeled, alpha, where="The first batch"):
    """Warns when `alpha > 0` weighs a hard-label loss that has no labeled example to use."""
    if labeled == 0 and alpha > 0:
        warnings.warn(
            f"{where} has no labeled example (no labels, or all -1), but alpha={alpha:g} "
            "weighs the hard-label loss, which is 0 for unlabeled examples. Use alpha=0 for a "
            "transfer set without labels, or check the labels.", UserWarning, stacklevel=3)


def check_batch(batch, spec, index=0, alpha=None):
    """Checks one batch `x`, `(x, y)` or `(x, y, sample_weight)` on the host.

    Args:
        batch: The batch (tensors or arrays).
        spec: The `LabelSpec` of the model, or `None`.
        index: The 0-based batch index, for messages. Defaults to `0`.
        alpha: With a number, warn if `alpha > 0` and nothing in the batch is labeled.
            Defaults to `None`.

    Returns:
        The number of labeled examples in the batch.
    """
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(batch)
    check_inputs(x, index + 1)
    labeled = 0 if y is None else sum(
        check_labels(labels, spec if not keras.tree.is_nested(y) else None, index + 1)
        for labels in keras.tree.flatten(y))
    check_sample_weight(sample_weight, index + 1)
    if alpha is not None:
        warn_if_unlabeled(labeled, alpha)
    return labeled


def _finite_rows(x):
    rows = None
    for value in keras.tree.flatten(x):
        array = np.asarray(value)
        if array.dtype.kind in "fc":
            finite = np.isfinite(array.reshape(len(array), -1)).all(axis=1)
            rows = finite if rows is None else rows & finite
    return rows


def check_arrays(x, y, sample_weight, spec, *, batch_size=None, alpha=None,
                 non_finite="raise"):
    """Checks NumPy training data whole; returns `(x, y, sample_weight, skipped_examples)`.

    With `non_finite="skip"`, the examples whose inputs hold NaN/inf are dropped and counted.

    Example:

    >>> x = np.array([[1.0], [np.nan], [2.0]], "float32")
    >>> _, y, _, skipped = check_arrays(x, np.array([0, 1, 0]), None, LabelSpec(2),
    ...                                 non_finite="skip")
    >>> y.tolist(), skipped
    ([0, 0], 1)
    """
    validation.check_choice(non_finite, NON_FINITE, "non_finite_inputs")
    size = batch_size or 32  # Keras's default batch size, to name the batch.
    skipped = 0
    if non_finite == "skip":
        rows = _finite_rows(x)
        if rows is not None and not rows.all():
            skipped = int((~rows).sum())
            x, y, sample_weight = (None if v is None else keras.tree.map_structure(
                lambda a: np.asarray(a)[rows], v) for v in (x, y, sample_weight))
    check_inputs(x, batch_size=size)
    labeled = 0 if y is None else sum(
        check_labels(labels, spec if not keras.tree.is_nested(y) else None, batch_size=size)
        for labels in keras.tree.flatten(y))
    check_sample_weight(sample_weight, batch_size=size)
    if alpha is not None:
        warn_if_unlabeled(labeled, alpha, "The training data")
    return x, y, sample_weight, skipped


def check_cache_source(dataset, teacher):
    """Checks what `cache_teacher_outputs` is given: a batched dataset and a teacher with one
    output (a `Distiller` brings its own); returns the `LabelSpec` the labels must fit.

    Example:

    >>> import keras, tensorflow as tf
    >>> teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> check_cache_source(tf.data.Dataset.from_tensor_slices(tf.zeros((8, 4))), teacher)
    Traceback (most recent call last):
    ...
    ValueError: Invalid value for argument `dataset`. Expected a batched dataset. Received: a dataset of single examples of shape (4,), for a teacher that takes batches of shape (None, 4). Batch it first: `dataset.batch(32)`
    """
    distiller = callable(getattr(teacher, "compute_teacher_outputs", None))
    models = teacher_lib.as_teacher_list(teacher.teacher if distiller else teacher)
    teacher_lib.check_built(models)
    for model in models if not distiller else ():
        outputs = getattr(model, "outputs", None) or []
        if len(outputs) > 1:
            names = [t._keras_history[0].name for t in outputs]
            raise validation.invalid_data(
                "teacher", "a teacher with one output",
                f"teacher {model.name!r} with {len(outputs)} outputs {names}",
                "Choose the output to distill from: "
                f"`keras_distill.teacher.select_output(teacher, {names[0]!r})`")
    model = teacher.student if distiller else models[0]
    inputs = getattr(model, "inputs", None) or []
    x_spec, y_spec, _ = keras.utils.unpack_x_y_sample_weight(dataset.element_spec)
    if y_spec is not None and any(s.dtype == tf.string for s in tf.nest.flatten(y_spec)):
        raise validation.invalid_data(
            "y", "integer class labels", f"labels of dtype string ({y_spec})",
            "Map each class name to an integer id from 0 to classes - 1")
    x_specs = tf.nest.flatten(x_spec)
    if len(inputs) == 1 and x_specs and x_specs[0].shape.rank == len(inputs[0].shape) - 1:
        raise validation.invalid_data(
            "dataset", "a batched dataset",
            f"a dataset of single examples of shape {tuple(x_specs[0].shape)}, for a teacher "
            f"that takes batches of shape {tuple(inputs[0].shape)}",
            "Batch it first: `dataset.batch(32)`")
    return label_spec(model)


# ----------------------------------------------------------------------------- in graph
def _first(values, bad):
    """The first element of `values` where `bad` holds, as a string (`"nan"`, `"12"`; the
    first element when none does): an argmax, no dynamic shapes, no branch."""
    index = tf.argmax(tf.cast(tf.reshape(bad, [-1]), tf.int32))
    value = tf.reshape(values, [-1])[index]
    if value.dtype.is_floating:
        return tf.strings.as_string(tf.cast(value, tf.float64), shortest=True)
    return tf.strings.as_string(value)


def _assert(problems, index):
    """One op failing with the kind, the batch and the first bad value of the first failed
    check, for `problems` of `(kind, bad, values)`: `bad` marks the elements of `values` that
    fail.

    Its message holds strings only, so the op needs no branch around it (`tf.debugging.Assert`
    guards other data with a `cond`, which costs a clean batch more than the checks do).
    """
    flags = tf.stack([tf.reduce_any(bad) for _, bad, _ in problems])
    failed = tf.argmax(tf.cast(flags, tf.int32))
    kind = tf.gather(tf.constant([kind for kind, _, _ in problems]), failed)
    value = tf.gather(tf.stack([_first(values, bad) for _, bad, values in problems]), failed)
    return tf.debugging.Assert(tf.logical_not(tf.reduce_any(flags)),
                               [MARKER, kind, tf.strings.as_string(index), value])


def all_finite(tensors):
    """A scalar bool tensor: whether every float tensor of the structure `tensors` is finite.

    Example:

    >>> import numpy as np
    >>> [bool(all_finite([np.ones(3, "float32"), x])) for x in
    ...  (np.float32([3e38, 3e38]), np.float32([1.0, np.inf]))]
    [True, False]
    """
    values = [tf.convert_to_tensor(getattr(t, "values", t)) for t in tf.nest.flatten(tensors)
              if t is not None]
    flags = [tf.reduce_all(tf.math.is_finite(v)) for v in values if v.dtype.is_floating]
    return tf.reduce_all(tf.stack(flags)) if flags else tf.constant(True)


def _graph_checks(index, element, spec):
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(element)
    problems = []
    for value in tf.nest.flatten(x):
        if isinstance(value, tf.Tensor) and value.dtype.is_floating:
            problems.append(("inputs", ~tf.math.is_finite(value), value))
    if isinstance(y, tf.Tensor) and (y.dtype.is_floating or y.dtype.is_integer):
        labels = tf.cast(y, tf.float64)
        bad = ~tf.math.is_finite(labels)
        if spec is not None and _is_sparse(y.shape.rank, y.shape[-1] if y.shape.rank else None,
                                           spec):
            bad |= (labels >= spec.classes) | (labels != tf.round(labels))
        problems.append(("labels", bad, y))
    if isinstance(sample_weight, tf.Tensor):
        weights = tf.cast(sample_weight, tf.float64)
        problems.append(("sample_weight", ~tf.math.is_finite(weights) | (weights < 0),
                         sample_weight))
    if not problems:
        return element
    with tf.control_dependencies([_assert(problems, index)]):
        return tf.nest.map_structure(tf.identity, element)


def checked_dataset(dataset, spec, non_finite="raise", counter=None):
    """`dataset` with every batch checked inside the `tf.data` graph, as it is read.

    Args:
        dataset: A batched `tf.data.Dataset` of `x`, `(x, y)` or `(x, y, sample_weight)`.
        spec: The model's `LabelSpec`, or `None`.
        non_finite: `"raise"`, or `"skip"` to drop batches whose inputs hold NaN/inf.
            Defaults to `"raise"`.
        counter: With `"skip"`, an int64 `tf.Variable` counting the skipped batches.
            Defaults to `None`.

    Returns:
        The checked dataset; a failed check raises `tf.errors.InvalidArgumentError` when the
        batch is read (see `in_graph_error`).
    """
    validation.check_choice(non_finite, NON_FINITE, "non_finite_inputs")
    if non_finite == "skip":
        def keep(*element):
            x, _, _ = keras.utils.unpack_x_y_sample_weight(
                element if len(element) > 1 else element[0])
            finite = all_finite(x)
            if counter is None:
                return finite
            return tf.cond(finite, lambda: finite,
                           lambda: tf.logical_and(counter.assign_add(1) < 0, finite))

        dataset = dataset.filter(keep)
    # In parallel and prefetched: the checks run beside the train step, not before it.
    checked = dataset.enumerate().map(lambda index, element: _graph_checks(index, element, spec),
                                      num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return checked.prefetch(tf.data.AUTOTUNE)


def in_graph_error(error, spec):
    """The `ValueError` for a check of `checked_dataset` that failed, or `None` if `error`
    (a `tf.errors.InvalidArgumentError`) came from elsewhere."""
    match = re.search(re.escape(MARKER) + r"\]\s*\[(\w+)\]\s*\[(\d+)\]\s*\[([^\]]*)\]",
                      str(error))
    if match is None:
        return None
    kind, batch, value = match.group(1), int(match.group(2)) + 1, match.group(3).strip()
    if kind == "inputs":
        return validation.invalid_data("x", "finite inputs (no NaN or inf)",
                                       f"x holding {value} in batch {batch}", _HINT_SKIP)
    if kind == "labels":
        return validation.invalid_data(
            "y", _label_expectation(spec) if spec else "finite labels",
            f"y holding {value} in batch {batch}")
    return validation.invalid_data("sample_weight", "finite sample weights >= 0",
                                   f"sample_weight holding {value} in batch {batch}")
