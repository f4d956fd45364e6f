"""Relational knowledge distillation (Park et al., "Relational Knowledge Distillation", CVPR 2019).

RKD transfers the *structure* of a batch of embeddings: pairwise distances (each normalised by
the batch's mean distance) and the angles formed by triplets, matched with the Huber loss
(`delta = 1`, PyTorch's `smooth_l1_loss`):

    L_D = mean_{i,j}   huber(d_s[i,j] / mu_s - d_t[i,j] / mu_t)
    L_A = mean_{i,j,k} huber(<e_s(i->j), e_s(i->k)> - <e_t(i->j), e_t(i->k)>)
    RKD = w_d * L_D + w_a * L_A,   w_d = 25, w_a = 50 (the paper's weights)

`mu` is the mean over the pairs `i != j`, `e(i->j)` the unit vector from `i` to `j` (zero when
`i == j`). As in the official code (github.com/lenscloth/RKD, `metric/loss.py`) the means run
over all `N^2` pairs and `N^3` triplets, the degenerate ones included (they contribute 0).

The functions return one value per *anchor* `i` (the mean over `j`, or over `j, k`), so that
their batch mean is the loss above and the distiller's per-example weights apply. The relations
are computed within the batch the function sees: under a `tf.distribute` strategy, within each
replica's share of the global batch. Memory grows as `batch^2 * features` (and `batch^3`).
"""

import keras
import tensorflow as tf

from keras_distill import validation
from keras_distill.losses import registry
from keras_distill.losses import terms


def _flat(embeddings):
    embeddings = tf.cast(embeddings, tf.float32)
    return tf.reshape(embeddings, [tf.shape(embeddings)[0], -1])


def huber(x, delta=1.0):
    """Elementwise Huber loss `0.5 x^2` for `|x| < delta`, else `delta (|x| - 0.5 delta)`."""
    absolute = tf.abs(x)
    return tf.where(absolute < delta, 0.5 * tf.square(x), delta * (absolute - 0.5 * delta))


def pairwise_distances(embeddings):
    """Euclidean distances `[batch, batch]` between rows, with an exact-zero diagonal.

    Example:

    >>> [[float(v) for v in row] for row in pairwise_distances([[0.0, 0.0], [3.0, 4.0]])]
    [[0.0, 5.0], [5.0, 0.0]]
    """
    e = _flat(embeddings)
    squared = tf.reduce_sum(tf.square(e[:, tf.newaxis, :] - e[tf.newaxis, :, :]), axis=-1)
    # The floor keeps sqrt's gradient finite at coincident points (official: clamp(1e-12)).
    distances = tf.sqrt(tf.maximum(squared, 1e-12))
    return tf.linalg.set_diag(distances, tf.zeros_like(distances[0]))


def _normalized_distances(embeddings):
    distances = pairwise_distances(embeddings)
    n = tf.cast(tf.shape(distances)[0], tf.float32)
    mean = tf.reduce_sum(distances) / tf.maximum(n * (n - 1.0), 1.0)
    return tf.math.divide_no_nan(distances, mean)


def rkd_distance_loss(teacher_embeddings, student_embeddings):
    """RKD distance-wise loss per anchor, `mean_j huber(d_s[i,j]/mu_s - d_t[i,j]/mu_t)`.

    Args:
        teacher_embeddings: Tensor `[batch, ...]`, flattened to `[batch, features]`.
        student_embeddings: Tensor `[batch, ...]`; its feature size may differ.

    Returns:
        Float32 tensor `[batch]`.

    Example:

    >>> t = [[0.0], [1.0], [2.0]]
    >>> [round(float(v), 6) for v in rkd_distance_loss(t, [[0.0], [5.0], [10.0]])]  # scaled
    [0.0, 0.0, 0.0]
    """
    teacher = tf.stop_gradient(_normalized_distances(teacher_embeddings))
    student = _normalized_distances(student_embeddings)
    return tf.reduce_mean(huber(student - teacher), axis=-1)


def _angles(embeddings):
    e = _flat(embeddings)
    directions = tf.math.l2_normalize(e[tf.newaxis, :, :] - e[:, tf.newaxis, :], axis=-1,
                                      epsilon=1e-24)  # [i, j] = unit vector i -> j
    return tf.matmul(directions, directions, transpose_b=True)  # [i, j, k]


def rkd_angle_loss(teacher_embeddings, student_embeddings):
    """RKD angle-wise loss per anchor, `mean_{j,k} huber(cos_s[i,j,k] - cos_t[i,j,k])`.

    `cos[i, j, k]` is the cosine of the angle at `i` between `j` and `k`.

    Args:
        teacher_embeddings: Tensor `[batch, ...]`, flattened to `[batch, features]`.
        student_embeddings: Tensor `[batch, ...]`; its feature size may differ.

    Returns:
        Float32 tensor `[batch]`.

    Example:

    >>> t = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    >>> s = [[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]]  # same triangle, scaled: same angles
    >>> [round(float(v), 6) for v in rkd_angle_loss(t, s)]
    [0.0, 0.0, 0.0]
    """
    teacher = tf.stop_gradient(_angles(teacher_embeddings))
    student = _angles(student_embeddings)
    return tf.reduce_mean(huber(student - teacher), axis=[1, 2])


def rkd_loss(teacher_embeddings, student_embeddings, distance_weight=25.0, angle_weight=50.0):
    """RKD per anchor: `distance_weight * L_D + angle_weight * L_A` (see the module docstring).

    Args:
        teacher_embeddings: Tensor `[batch, ...]`.
        student_embeddings: Tensor `[batch, ...]`.
        distance_weight: `w_d`. Defaults to `25.0`.
        angle_weight: `w_a`. Defaults to `50.0`.

    Returns:
        Float32 tensor `[batch]`.

    Example:

    >>> t = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    >>> [round(float(v), 6) for v in rkd_loss(t, [[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])]
    [0.0, 0.0, 0.0]
    """
    value = tf.zeros([tf.shape(student_embeddings)[0]], tf.float32)
    if distance_weight:
        value += distance_weight * rkd_distance_loss(teacher_embeddings, student_embeddings)
    if angle_weight:
        value += angle_weight * rkd_angle_loss(teacher_embeddings, student_embeddings)
    return value


@registry.register_term("rkd", "relational_kd")
@keras.saving.register_keras_serializable(package="keras_distill")
class RelationalKD(terms.DistillationTerm):
    """Relational KD on embeddings (a named layer's output, or the logits); see `rkd_loss`.

    The teacher's and student's embeddings may have different sizes. Relations are computed
    within each replica's batch, so use batches of at least a few examples (a one-example
    batch has no relations and gives 0).

    Args:
        teacher_layer_name: Teacher layer whose output is the embedding; `None` means the
            logits. Defaults to `None`.
        student_layer_name: Student layer whose output is the embedding; `None` means the
            logits. Defaults to `None`.
        distance_weight: Weight `w_d` of the distance-wise loss, `>= 0`. Defaults to `25.0`.
        angle_weight: Weight `w_a` of the angle-wise loss, `>= 0`. Defaults to `50.0`.
        name: Name under which the term is reported. Defaults to `"relational_kd"`.

    Example:

    >>> t = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    >>> s = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]
    >>> [round(float(v), 3) for v in RelationalKD().per_example(t, s, 1.0)]
    [3.33, 3.33, 1.104]
    """

    def __init__(self, teacher_layer_name=None, student_layer_name=None, distance_weight=25.0,
                 angle_weight=50.0, name="relational_kd"):
        for arg, value in (("teacher_layer_name", teacher_layer_name),
                           ("student_layer_name", student_layer_name)):
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(
                    f"Invalid value for argument `{arg}`. Expected a layer name or None. "
                    f"Received: {arg}={value!r}"
                )
        self.teacher_layer_name = teacher_layer_name
        self.student_layer_name = student_layer_name
        self.distance_weight = validation.check_non_negative(distance_weight, "distance_weight")
        self.angle_weight = validation.check_non_negative(angle_weight, "angle_weight")
        self.name = name

    def per_example(self, teacher_output, student_output, temperature, labels=None):
        del temperature, labels
        return rkd_loss(teacher_output, student_output, self.distance_weight, self.angle_weight)

    def get_config(self):
        return {
            "teacher_layer_name": self.teacher_layer_name,
            "student_layer_name": self.student_layer_name,
            "distance_weight": self.distance_weight,
            "angle_weight": self.angle_weight,
            "name": self.name,
        }
