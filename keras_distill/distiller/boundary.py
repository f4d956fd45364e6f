"""Boundary-seeking inputs: teacher-labelled inputs where the student most disagrees.

After Heo et al. (AAAI 2019, "Knowledge distillation with adversarial samples supporting
decision boundary"), done online: at every step each (augmented) training input is also moved
one gradient step up the distiller's own distillation loss, toward where the student departs
most from the teacher, and the moved input joins the batch unlabeled (label `-1`): only the
teacher labels it. A student short of inputs gets them where they teach the most. The step's
RMS per example is `boundary_step` standard deviations of the batch's inputs (of each replica's
slice under a strategy). The teacher runs online (cached outputs and views are refused: a
moved input is new every step), on twice the batch; the student must take one floating-point
input tensor.

`benchmarks/recipes.py` (`kd+boundary`, with `kd+random`, a step of the same size in a random
direction, as its control) measured it; the README has the table.

Example:

>>> import keras, numpy as np, tensorflow as tf
>>> from keras_distill import Distiller
>>> teacher = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)])
>>> student = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)])
>>> distiller = Distiller(student=student, teacher=teacher, boundary_step=0.3)
>>> x, y = np.random.rand(4, 8).astype("float32"), np.array([0, 1, 2, 0])
>>> batch, weights = distiller._with_boundary_inputs(
...     augmentation_lib.AugmentedBatch(tf.constant(x), y, y, False), None)
>>> tuple(batch.x.shape), batch.labels.numpy().tolist(), weights
((8, 8), [0, 1, 2, 0, -1, -1, -1, -1], None)
"""

import keras
import tensorflow as tf

from keras_distill import validation
from keras_distill.augment import augmentation as augmentation_lib


def check_step(step):
    """`None`, or `step` as a float if it is a finite number > 0 (else `ValueError`)."""
    return None if step is None else validation.check_positive(step, "boundary_step")


def check_online(teacher_outputs):
    """Raises `ValueError` when training data carries cached teacher outputs (at trace time):
    a boundary-seeking input is new each step, so only an online teacher can label it."""
    if teacher_outputs is not None:
        raise ValueError(
            "Invalid combination: `boundary_step` with cached teacher outputs (or cached "
            "views). A boundary-seeking input is made anew at every step, so the teacher must "
            "run online to label it. Pass the data without `cache_teacher_outputs` / "
            "`cache_teacher_views`, or set `boundary_step=None`.")


class BoundaryInputsMixin:
    """Mixin of `Distiller`: `_with_boundary_inputs`, used by `train_step` when
    `boundary_step` is set."""

    def _with_boundary_inputs(self, batch, sample_weight, teacher_outputs=None):
        """`(AugmentedBatch, sample_weight)`: `batch` followed by one boundary-seeking input
        per example, unlabeled; a moved input keeps its example's sample weight. Unchanged
        when `boundary_step` is `None`; `teacher_outputs` cached with the data are refused."""
        if self.boundary_step is None:
            return batch, sample_weight
        check_online(teacher_outputs)
        x = batch.x
        if keras.tree.is_nested(x) or not tf.convert_to_tensor(x).dtype.is_floating:
            raise ValueError(
                "Invalid value for argument `boundary_step`. Expected a student with one "
                "floating-point input tensor: boundary-seeking inputs move that tensor. "
                f"Received: inputs {x}")
        teacher_out = self.compute_teacher_outputs(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            student_out = self._forward("student", x, training=False)
            disagreement = self._compute_loss(None, None, student_out, teacher_out,
                                              inputs=x).distillation_loss
        gradient = tape.gradient(disagreement, x)
        axes = list(range(1, x.shape.rank))
        rms = tf.sqrt(tf.reduce_mean(tf.square(gradient), axis=axes, keepdims=True))
        step = self.boundary_step * tf.math.reduce_std(x)
        moved = tf.stop_gradient(x + step * tf.math.divide_no_nan(gradient, rms))
        return augmentation_lib.AugmentedBatch(
            tf.concat([x, moved], 0), _with_unlabeled(batch.labels),
            _with_unlabeled(batch.metric_labels), batch.mixed,
        ), None if sample_weight is None else tf.concat([sample_weight, sample_weight], 0)


def _with_unlabeled(labels):
    """`labels` followed by as many unlabeled ones (`-1`, or rows of `-1`)."""
    if labels is None:
        return None
    labels = tf.convert_to_tensor(labels)
    if labels.dtype.is_unsigned:  # -1 needs a sign.
        labels = tf.cast(labels, tf.int32)
    return tf.concat([labels, -tf.ones_like(labels)], 0)
