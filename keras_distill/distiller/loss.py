"""The distiller's loss arithmetic: tensors in, this replica's share of the global-batch loss out.

    L = alpha * L_student(y, s) + (1 - alpha) * sum_i w_i * term_i(t, s; T_i)

The default term is Hinton's `T^2 * KL(softmax(t/T) || softmax(s/T))`; each term has its own
temperature `T_i`. Every value is computed per element, weighed by `sample_weight` and the mask,
summed, and divided by a count of the *global* batch: the student loss by its labeled elements,
the distillation terms by all its elements (per-example terms, such as feature hints, by its
examples). A model with several outputs (a list or dict) has each of these per output, summed
over the outputs, as keras.distillation sums them.

Why global counts. Split a global batch B over N replicas as B_1, ..., B_N. On one device the
loss is the weighted mean

    L = sum_{i in B} w_i * l_i / C,    C = sum_{i in B} c_i  (c_i: 1 for a counted element),

and since the sum over B is the sum over the replicas' slices,

    L = sum_r ( sum_{i in B_r} w_i * l_i / C ) = sum_r L_r.

Each replica computes its `L_r`: its own weighted sum divided by the global `C`, which one
all-reduce of three scalars gives. `tf.distribute` sums the replicas' gradients, and the gradient
of a sum is the sum of the gradients, so `sum_r dL_r/dtheta = dL/dtheta`: N replicas make the
update one device makes on the whole batch. Dividing by each replica's own count would instead
give `sum_r S_r / C_r`, N times too large and over-weighing the examples of a replica that holds
fewer counted elements (masks, unlabeled examples, a last partial batch).
"""

from typing import NamedTuple
from typing import Optional

import keras
import tensorflow as tf

from keras_distill.data.teacher_outputs import LOGITS
from keras_distill.data.teacher_outputs import MEMBER_LOGITS
from keras_distill.data.teacher_outputs import TOP_K_INDICES
from keras_distill.data.teacher_outputs import TOP_K_LOGITS
from keras_distill.data.teacher_outputs import TOP_K_REST
from keras_distill.distiller import labels as label_lib
from keras_distill.losses import ensemble
from keras_distill.losses import logits as logit_losses
from keras_distill.losses import terms as terms_lib
from keras_distill.losses import top_k

DEFAULT_TEMPERATURE = 3.0


class GlobalCounts(NamedTuple):
    """The counts of the global batch that the losses are divided by (float32).

    For a model with several outputs, `elements` and `labeled` hold one count per output (in
    `keras.tree.flatten` order); otherwise every field is a scalar.

    Attributes:
        elements: Unmasked elements (examples, or time steps of sequence outputs).
        labeled: Unmasked elements that carry a label (0 when no student loss is computed).
        examples: Examples.
    """

    elements: tf.Tensor
    labeled: tf.Tensor
    examples: tf.Tensor


class LossBreakdown(NamedTuple):
    """This replica's share of each loss of the global batch; sum over replicas for the whole.

    Attributes:
        total: `alpha * student_loss + (1 - alpha) * distillation_loss`, a missing one being 0.
        student_loss: The hard-label loss, or `None` when there are no labels or no student loss.
        distillation_loss: `sum_i w_i * term_losses[i]`, or `None` without teacher outputs.
        term_losses: Each distillation term's loss, in the terms' order (`()` without teacher
            outputs).
        counts: The `GlobalCounts` the losses were divided by.
    """

    total: tf.Tensor
    student_loss: Optional[tf.Tensor]
    distillation_loss: Optional[tf.Tensor]
    term_losses: tuple
    counts: GlobalCounts


def sum_over_replicas(counts):
    """Sums `GlobalCounts` of this replica over the replicas in sync.

    One all-reduce of the counts under a multi-replica strategy; none on one device or outside
    a replica context.

    Args:
        counts: `GlobalCounts` of this replica's batch (numbers, scalars or vectors).

    Returns:
        `GlobalCounts` of float32 tensors of the same shapes, for the global batch.
    """
    parts = [tf.cast(count, tf.float32) for count in counts]
    shapes = [part.shape for part in parts]
    stacked = tf.concat([tf.reshape(part, [-1]) for part in parts], axis=0)
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        stacked = context.all_reduce(tf.distribute.ReduceOp.SUM, stacked)
    sizes = [max(shape.num_elements(), 1) for shape in shapes]
    return GlobalCounts(*(tf.reshape(part, shape)
                          for part, shape in zip(tf.split(stacked, sizes), shapes)))


def compute_loss(
    student_outputs,
    teacher_outputs=None,
    labels=None,
    *,
    sample_weight=None,
    mask=None,
    student_loss_fn=None,
    terms=None,
    term_weights=None,
    alpha=0.1,
    temperature=None,
    teacher_weights=None,
    global_counts=None,
):
    """Returns this replica's share of the distillation loss of the global batch.

    A pure function: no model is called and nothing is updated, so the loss of online, cached,
    multi-replica and multi-worker training is this one formula.

    Args:
        student_outputs: The student's logits `[batch, ..., classes]` (a list or dict of them
            for a model with several outputs), or a dict of them under `"logits"` and the
            intermediate features the terms read, by layer name.
        teacher_outputs: The teacher's outputs in the same form (an ensemble's stacked
            `"member_logits"` instead of `"logits"`). Defaults to `None`: no distillation term.
        labels: Integer labels `[batch, ...]` (or with a trailing 1), or one-hot/soft labels of
            the logits' shape; a negative label (a row holding a negative value) marks an
            unlabeled element. For several outputs, one per output (a list or dict).
            Defaults to `None`: no labels.
        sample_weight: Per-example (or per-element) weights of both losses; for several
            outputs, shared or one per output. Defaults to `None`.
        mask: Boolean mask of the logits' element shape, e.g. the student's `_keras_mask`; for
            several outputs, one per output (or `None`) in `keras.tree.flatten` order.
            Defaults to `None`.
        student_loss_fn: The hard-label loss, a `keras.losses.Loss` or a function returning
            per-element values; for several outputs, shared or one per output (`None` skips an
            output). Defaults to `None`: no student loss.
        terms: `DistillationTerm`s. Defaults to `None`: `[LogitsDistillation()]`, Hinton's KD.
        term_weights: One weight per term. Defaults to `None` (all 1).
        alpha: Weight of the student loss, a number or scalar variable. Defaults to `0.1`.
        temperature: Softmax temperature `T` of every term (a number or scalar variable), or
            a list with one per term. Defaults to `None`: each term's own `temperature`
            (3.0 for a term without one).
        teacher_weights: An ensemble's member weights, summing to 1. Defaults to `None`
            (equal weights).
        global_counts: `GlobalCounts` to divide by. Defaults to `None`: this batch's counts
            summed over the replicas in sync (see the module docstring).

    Returns:
        A `LossBreakdown`.

    Raises:
        ValueError: If the labels cannot match the logits, or the teacher and the student output
            different numbers of classes.

    Example:

    >>> import keras, numpy as np
    >>> s = np.array([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]], "float32")
    >>> t = np.array([[1.0, 1.0, 0.0], [0.0, 3.0, 0.0]], "float32")
    >>> result = compute_loss(
    ...     s, t, np.array([0, -1]), alpha=0.5, temperature=2.0,
    ...     student_loss_fn=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    >>> [round(float(v), 4) for v in (result.total, result.student_loss, result.counts.labeled)]
    [0.3245, 0.1698, 1.0]
    """
    student_outputs = _as_outputs(student_outputs)
    outputs = student_outputs[LOGITS]
    multi = keras.tree.is_nested(outputs)
    heads = keras.tree.flatten(outputs)
    masks = label_lib.per_output(mask, outputs, "mask") if multi else [mask]
    head_labels = label_lib.per_output(labels, outputs)
    head_labels = [None if y is None else tf.convert_to_tensor(y) for y in head_labels]
    losses = label_lib.per_output(student_loss_fn, outputs, "student_loss_fn")
    weights, present, hard = [], [], []
    for logits, head_mask, y, loss in zip(heads, masks, head_labels, losses):
        head_weights = tf.ones(tf.shape(logits)[:-1], tf.float32)
        if head_mask is not None:
            head_weights = head_weights * tf.cast(head_mask, tf.float32)
        weights.append(head_weights)
        if y is not None and loss is not None:
            label_lib.check_label_shape(y, logits)
            head_present, head_hard = label_lib.labeled_mask(y, logits)
            present.append(tf.cast(head_present, tf.float32))
            hard.append(head_hard)
        else:
            present.append(None)
            hard.append(None)
    if global_counts is None:
        elements = [tf.reduce_sum(w) for w in weights]
        labeled = [0.0 if p is None else tf.reduce_sum(w * p) for w, p in zip(weights, present)]
        global_counts = sum_over_replicas(GlobalCounts(
            elements=tf.stack(elements) if multi else elements[0],
            labeled=tf.stack(labeled) if multi else labeled[0],
            examples=tf.shape(heads[0])[0],
        ))
    counts = [_head_counts(global_counts, h, multi) for h in range(len(heads))]
    sample_weights = label_lib.per_output(sample_weight, outputs, "sample_weight")
    weights = [w if sw is None else w * label_lib.broadcast_weights(sw, w)
               for w, sw in zip(weights, sample_weights)]

    student_loss = None
    for logits, loss, y, p, w, c in zip(heads, losses, hard, present, weights, counts):
        if p is None:
            continue
        values = tf.cast(terms_lib.unreduced(loss, y, logits), tf.float32)
        value = _weighted_mean(values, w * p, c.labeled, c.examples)
        student_loss = value if student_loss is None else student_loss + value
    distillation_loss, term_losses = None, ()
    if teacher_outputs is not None:
        terms = [terms_lib.LogitsDistillation()] if terms is None else list(terms)
        term_weights = [1.0] * len(terms) if term_weights is None else list(term_weights)
        # A reduced-precision teacher's (or a float16 cache's) outputs: the loss is float32.
        teacher_outputs = {key: keras.tree.map_structure(_float32, value)
                           for key, value in _as_outputs(teacher_outputs).items()}
        term_labels = [None if y is None else label_lib.class_labels(y, logits)
                       for y, logits in zip(head_labels, heads)]
        term_losses = tuple(
            _term_loss(term, teacher_outputs, student_outputs, temperature_i, teacher_weights,
                       term_labels, weights, counts)
            for term, temperature_i in zip(terms, _temperatures(temperature, terms))
        )
        distillation_loss = tf.constant(0.0)
        for weight, value in zip(term_weights, term_losses):
            distillation_loss = distillation_loss + weight * value
    zero = tf.constant(0.0)
    total = alpha * (zero if student_loss is None else student_loss) + (1.0 - alpha) * (
        zero if distillation_loss is None else distillation_loss)
    return LossBreakdown(total, student_loss, distillation_loss, term_losses, global_counts)


def _term_loss(term, teacher_outputs, student_outputs, temperature, teacher_weights, labels,
               weights, counts):
    """One term's loss: over the features it reads, or summed over the outputs."""
    teacher_outputs = _teacher_logits(teacher_outputs, teacher_weights, temperature)
    if TOP_K_LOGITS in teacher_outputs and term.teacher_layer_name is None:
        values = [_top_k_term(term, teacher_outputs, student_outputs[LOGITS], temperature)]
    elif term.teacher_layer_name is not None or term.student_layer_name is not None:
        values = [term.per_example(teacher_outputs[term.teacher_layer_name or LOGITS],
                                   student_outputs[term.student_layer_name or LOGITS],
                                   temperature, labels[0])]
    else:
        teacher, student = teacher_outputs[LOGITS], student_outputs[LOGITS]
        for t, s in zip(keras.tree.flatten(teacher), keras.tree.flatten(student)):
            _check_classes(t, s)
        values = term.per_output(teacher, student, temperature, labels)
    total = tf.constant(0.0)
    for value, w, c in zip(values, weights, counts):
        if value is not None:
            total = total + _weighted_mean(tf.cast(value, tf.float32), w, c.elements, c.examples)
    return total


def _temperatures(temperature, terms):
    if temperature is None:
        return [getattr(term, "temperature", DEFAULT_TEMPERATURE) for term in terms]
    if isinstance(temperature, (list, tuple)):
        if len(temperature) != len(terms):
            raise ValueError(
                f"Invalid value for argument `temperature`. Expected a number or a list of "
                f"{len(terms)}, one per term. Received: temperature={temperature!r}"
            )
        return list(temperature)
    return [temperature] * len(terms)


def _head_counts(counts, index, multi):
    if not multi:
        return counts
    return GlobalCounts(counts.elements[index], counts.labeled[index], counts.examples)


def _top_k_term(term, teacher_outputs, student_logits, temperature):
    """Hinton's KD against a top-k cache (`losses.top_k`); other terms need every logit."""
    loss = getattr(term, "loss", None)
    if not isinstance(loss, logit_losses.KnowledgeDistillation) or loss.standardize or (
            term.student_layer_name is not None or keras.tree.is_nested(student_logits)):
        raise ValueError(
            f"The distillation term {getattr(term, 'name', type(term).__name__)!r} needs the "
            "teacher's full logits, but the cached teacher outputs hold only its top-k "
            "(`cache_teacher_outputs(..., top_k=)`). "
            "Distill with Hinton's KD (the default term, `LogitsDistillation()`) or cache "
            "without `top_k`."
        )
    return top_k.top_k_kd_loss(teacher_outputs[TOP_K_LOGITS], teacher_outputs[TOP_K_INDICES],
                               teacher_outputs[TOP_K_REST], student_logits, temperature)


def _float32(tensor):
    return tf.cast(tensor, tf.float32) if tensor.dtype.is_floating else tensor


def _as_outputs(outputs):
    if not isinstance(outputs, dict) or not (
            {LOGITS, MEMBER_LOGITS, TOP_K_LOGITS} & set(outputs)):
        outputs = {LOGITS: outputs}
    return {key: keras.tree.map_structure(tf.convert_to_tensor, value)
            for key, value in outputs.items()}


def _weighted_mean(values, weights, count, examples):
    """`sum(weights * values) / count`; per-example values weigh by each example's mean weight."""
    if values.shape.rank != weights.shape.rank:
        weights, count = label_lib.broadcast_weights(weights, values), examples
    return tf.reduce_sum(weights * values) / tf.maximum(count, 1.0)


def _teacher_logits(teacher_outputs, teacher_weights, temperature):
    """Combines an ensemble's member logits at `temperature` into `"logits"`."""
    if MEMBER_LOGITS not in teacher_outputs:
        return teacher_outputs
    teacher_outputs = dict(teacher_outputs)
    members = teacher_outputs.pop(MEMBER_LOGITS)
    if teacher_weights is None:
        teacher_weights = [1.0 / members.shape[-2]] * members.shape[-2]
    teacher_outputs[LOGITS] = ensemble.ensemble_logits(members, teacher_weights, temperature)
    return teacher_outputs


def _check_classes(teacher_logits, logits):
    teacher_classes, classes = teacher_logits.shape[-1], logits.shape[-1]
    if teacher_classes is not None and classes is not None and teacher_classes != classes:
        raise ValueError(
            f"The teacher outputs {teacher_classes} classes but the student outputs {classes}. "
            "Expected the same number of classes."
        )
