"""Distillation losses on logits: pure functions plus thin `keras.losses.Loss` classes.

Every function here takes teacher logits first and student logits second, keeps every axis but
the last (the class axis), and returns one loss value per example (per time step for sequence
outputs), so that sample weights and masks can weigh each element. The math runs in float32 and
goes through `log_softmax`, so extreme logits (|z| ~ 1e4) give finite values and mixed precision
inputs are safe.
"""

import keras
import tensorflow as tf

from keras_distill import validation
from keras_distill.losses import registry
from keras_distill.losses.standardization import standardize_logits


def _float32(*tensors):
    return [tf.cast(t, tf.float32) for t in tensors]


def kd_loss(teacher_logits, student_logits, temperature=3.0):
    """Hinton knowledge distillation: `T^2 * KL(softmax(t / T) || softmax(s / T))`.

    Args:
        teacher_logits: Tensor `[batch, ..., classes]` of teacher logits.
        student_logits: Tensor of the same shape, the student's logits.
        temperature: Positive number or scalar tensor. Defaults to `3.0`.

    Returns:
        Tensor `[batch, ...]`: the per-example loss, scaled by `T^2` so gradient magnitudes stay
        comparable across temperatures (Hinton et al., 2015, section 2).

    Example:

    >>> import numpy as np
    >>> t = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]], "float32")
    >>> s = np.array([[1.0, 0.5, 0.2], [0.0, 1.0, 0.3]], "float32")
    >>> round(float(kd_loss(t, s, temperature=3.0).numpy().mean()), 3)
    0.342
    """
    teacher_logits, student_logits = _float32(teacher_logits, student_logits)
    temperature = tf.cast(temperature, tf.float32)
    teacher_log_probs = tf.nn.log_softmax(teacher_logits / temperature, axis=-1)
    student_log_probs = tf.nn.log_softmax(student_logits / temperature, axis=-1)
    kl = tf.reduce_sum(
        tf.exp(teacher_log_probs) * (teacher_log_probs - student_log_probs), axis=-1
    )
    return temperature**2 * kl


def logit_mse(teacher_logits, student_logits, temperature=None):
    """Mean squared error between logits (Ba & Caruana, 2014), averaged over the class axis.

    Args:
        teacher_logits: Tensor `[batch, ..., classes]`.
        student_logits: Tensor of the same shape.
        temperature: Ignored; accepted so every logit loss has one call signature.
            Defaults to `None`.

    Returns:
        Tensor `[batch, ...]`.

    Example:

    >>> float(logit_mse([[1.0, 3.0]], [[0.0, 1.0]])[0])
    2.5
    """
    del temperature
    teacher_logits, student_logits = _float32(teacher_logits, student_logits)
    return tf.reduce_mean(tf.square(teacher_logits - student_logits), axis=-1)


class LogitLoss(keras.losses.Loss):
    """Base class of the losses that take logits and a temperature directly.

    The `Distiller` recognises subclasses and calls `per_example(t, s, temperature)` with its
    own temperature variable, so `distiller.temperature = 8.0` takes effect without retracing.
    Called standalone (`loss(t, s)`), the instance's own `temperature` is used.

    Args:
        temperature: Temperature used when the loss is called on its own. Defaults to `3.0`.
        reduction: Keras reduction. Defaults to `"sum_over_batch_size"`.
        name: Name of the loss. Defaults to the class's snake-case name.
    """

    fn = None  # The pure function; set by subclasses.

    def __init__(self, temperature=3.0, reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.temperature = validation.check_positive(temperature, "temperature")

    def per_example(self, teacher_logits, student_logits, temperature, labels=None):
        """Returns the unreduced loss `[batch, ...]` at `temperature`.

        `labels` (integer classes, `-1` where unknown) reach losses that need a target class;
        the default ignores them.
        """
        del labels
        return type(self).fn(teacher_logits, student_logits, temperature)

    def call(self, y_true, y_pred):
        return self.per_example(y_true, y_pred, self.temperature)

    def get_config(self):
        config = super().get_config()
        config["temperature"] = self.temperature
        return config


@registry.register_loss("kd", "hinton", "knowledge_distillation")
@registry.register_loss("kd_standardized", standardize=True)
@keras.saving.register_keras_serializable(package="keras_distill")
class KnowledgeDistillation(LogitLoss):
    """Hinton's `T^2 * KL(softmax(t/T) || softmax(s/T))` on logits; see `kd_loss`.

    Args:
        temperature: Temperature used when the loss is called on its own. Defaults to `3.0`.
        standardize: Z-score both logits over the class axis first (`standardize_logits`;
            Sun et al., "Logit Standardization in Knowledge Distillation", CVPR 2024). The
            temperature then acts as their *base* temperature: their CIFAR-100 runs use 2 or 3
            with the KD weight raised to 9. Defaults to `False`.
        reduction: Keras reduction. Defaults to `"sum_over_batch_size"`.
        name: Name of the loss. Defaults to `"knowledge_distillation"`.

    Example:

    >>> import numpy as np
    >>> loss = KnowledgeDistillation(temperature=3.0)
    >>> t = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]], "float32")
    >>> s = np.array([[1.0, 0.5, 0.2], [0.0, 1.0, 0.3]], "float32")
    >>> round(float(loss(t, s)), 3)
    0.342
    """

    fn = staticmethod(kd_loss)

    def __init__(self, temperature=3.0, reduction="sum_over_batch_size", name="knowledge_distillation", dtype=None,
                 standardize=False):
        super().__init__(temperature=temperature, reduction=reduction, name=name, dtype=dtype)
        self.standardize = validation.check_bool(standardize, "standardize")

    def per_example(self, teacher_logits, student_logits, temperature, labels=None):
        if self.standardize:
            teacher_logits = standardize_logits(teacher_logits)
            student_logits = standardize_logits(student_logits)
        return kd_loss(teacher_logits, student_logits, temperature)

    def get_config(self):
        config = super().get_config()
        config["standardize"] = self.standardize
        return config


@registry.register_loss("logit_mse", "mse_logits")
@keras.saving.register_keras_serializable(package="keras_distill")
class LogitMSE(LogitLoss):
    """Mean squared error between teacher and student logits; see `logit_mse`.

    Example:

    >>> float(LogitMSE()([[1.0, 3.0]], [[0.0, 1.0]]))
    2.5
    """

    fn = staticmethod(logit_mse)

    def __init__(self, temperature=3.0, reduction="sum_over_batch_size", name="logit_mse", dtype=None):
        super().__init__(temperature=temperature, reduction=reduction, name=name, dtype=dtype)
