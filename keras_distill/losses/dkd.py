"""Decoupled knowledge distillation (Zhao et al., "Decoupled Knowledge Distillation", CVPR 2022).

KD's KL divergence splits into a target-class part (TCKD: a binary KL between the target-class
mass and the rest) and a non-target part (NCKD: a KL among the non-target classes, renormalised).
DKD weighs the two freely:

    DKD = T^2 * (alpha * KL(b_t || b_s) + beta * KL(p_t^ || p_s^))

`b = [p_target, 1 - p_target]` at temperature `T`; `p^` is the softmax at `T` over the
non-target classes only. The `T^2` factor, the per-example mean and the defaults `alpha=1`,
`beta=8`, `T=4` are those of the official code (github.com/megvii-research/mdistiller,
`distillers/DKD.py` and its CIFAR-100 configs).
"""

import keras
import tensorflow as tf

from keras_distill import validation
from keras_distill.losses import logits as logit_losses
from keras_distill.losses import registry
from keras_distill.losses.standardization import standardize_logits

# Stands in for -inf where the target class is masked out: finite, so `0 * (a - b)` never
# meets `inf - inf`, and far below any logit divided by a temperature.
_MASKED = -1e30


def target_classes(teacher_logits, labels=None):
    """Labels where known (`>= 0`), else the teacher's top class, as int32 `[batch, ...]`."""
    predicted = tf.argmax(teacher_logits, axis=-1, output_type=tf.int32)
    if labels is None:
        return predicted
    labels = tf.cast(labels, tf.int32)
    return tf.where(labels >= 0, labels, predicted)


def dkd_loss(teacher_logits, student_logits, temperature=4.0, labels=None, alpha=1.0, beta=8.0):
    """Decoupled KD, `T^2 * (alpha * TCKD + beta * NCKD)`, per example.

    Computed in log space (`log_softmax`, `logsumexp`), so logits of magnitude 1e4 stay finite;
    the official code's `log(softmax)` and `-1000` mask are replaced by exact equivalents.

    Args:
        teacher_logits: Tensor `[batch, ..., classes]` with at least 2 classes.
        student_logits: Tensor of the same shape.
        temperature: Positive number or scalar tensor. Defaults to `4.0`.
        labels: Integer target classes `[batch, ...]`; `-1` (any negative value) or `None`
            means "unknown", where the teacher's argmax is the target. Defaults to `None`.
        alpha: Weight of TCKD. Defaults to `1.0`.
        beta: Weight of NCKD. Defaults to `8.0`.

    Returns:
        Float32 tensor `[batch, ...]`.

    Example:

    >>> import numpy as np
    >>> t = np.log(np.array([[2.0, 1.0, 1.0]], "float32"))  # p = [.5, .25, .25]
    >>> s = np.zeros((1, 3), "float32")                     # q = [1/3, 1/3, 1/3]
    >>> round(float(dkd_loss(t, s, temperature=1.0, labels=[1])[0]), 4)
    0.4695
    """
    teacher_logits = tf.cast(teacher_logits, tf.float32)
    student_logits = tf.cast(student_logits, tf.float32)
    temperature = tf.cast(temperature, tf.float32)
    target = target_classes(teacher_logits, labels)
    is_target = tf.cast(tf.one_hot(target, tf.shape(teacher_logits)[-1]), tf.bool)

    def log_parts(logits):
        scaled = logits / temperature
        masked = tf.where(is_target, _MASKED, scaled)
        log_all = tf.reduce_logsumexp(scaled, axis=-1)
        log_target = tf.reduce_sum(tf.where(is_target, scaled, 0.0), axis=-1) - log_all
        log_other = tf.reduce_logsumexp(masked, axis=-1) - log_all
        return log_target, log_other, tf.nn.log_softmax(masked, axis=-1)

    t_target, t_other, t_nontarget = log_parts(teacher_logits)
    s_target, s_other, s_nontarget = log_parts(student_logits)
    tckd = tf.exp(t_target) * (t_target - s_target) + tf.exp(t_other) * (t_other - s_other)
    nckd_terms = tf.exp(t_nontarget) * (t_nontarget - s_nontarget)
    nckd = tf.reduce_sum(tf.where(is_target, 0.0, nckd_terms), axis=-1)
    return temperature**2 * (alpha * tckd + beta * nckd)


@registry.register_loss("dkd", "decoupled_kd")
@registry.register_loss("dkd_standardized", standardize=True)
@keras.saving.register_keras_serializable(package="keras_distill")
class DecoupledKD(logit_losses.LogitLoss):
    """Decoupled knowledge distillation (DKD) on logits; see `dkd_loss`.

    Use it as `LogitsDistillation(loss="dkd")` or `compile(distillation_loss_fn=DecoupledKD())`:
    inside a `Distiller` it gets the distiller's temperature and the batch's integer labels (the
    teacher's argmax stands in for unlabeled examples). Called on its own (`loss(t, s)`) it has
    no labels and uses the teacher's argmax. The official code also ramps DKD up linearly over
    the first 20 epochs; do that with a callback on `distiller.distillation_loss_weights` or
    `alpha` if you need it.

    Args:
        alpha: Weight of the target-class term (TCKD), `>= 0`. Defaults to `1.0`.
        beta: Weight of the non-target term (NCKD), `>= 0`. Defaults to `8.0` (the paper's
            CIFAR-100 setting; its ImageNet runs use `0.5`).
        temperature: Temperature used when the loss is called on its own. Defaults to `4.0`.
        standardize: Apply `standardize_logits` to both logits first (Sun et al., 2024); the
            temperature then acts as their base temperature. Defaults to `False`.
        reduction: Keras reduction. Defaults to `"sum_over_batch_size"`.
        name: Name of the loss. Defaults to `"decoupled_kd"`.

    Example:

    >>> import numpy as np
    >>> t = np.log(np.array([[2.0, 1.0, 1.0]], "float32"))
    >>> s = np.zeros((1, 3), "float32")
    >>> loss = DecoupledKD(temperature=1.0)  # target = teacher's argmax, class 0: NCKD = 0
    >>> round(float(loss(t, s)), 4)
    0.0589
    """

    def __init__(self, alpha=1.0, beta=8.0, temperature=4.0, standardize=False,
                 reduction="sum_over_batch_size", name="decoupled_kd", dtype=None):
        super().__init__(temperature=temperature, reduction=reduction, name=name, dtype=dtype)
        self.alpha = validation.check_non_negative(alpha, "alpha")
        self.beta = validation.check_non_negative(beta, "beta")
        self.standardize = validation.check_bool(standardize, "standardize")

    def per_example(self, teacher_logits, student_logits, temperature, labels=None):
        if self.standardize:
            teacher_logits = standardize_logits(teacher_logits)
            student_logits = standardize_logits(student_logits)
        return dkd_loss(teacher_logits, student_logits, temperature, labels,
                        alpha=self.alpha, beta=self.beta)

    def get_config(self):
        config = super().get_config()
        config.update(alpha=self.alpha, beta=self.beta, standardize=self.standardize)
        return config
