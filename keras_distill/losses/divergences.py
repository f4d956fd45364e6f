"""The divergences of language-model distillation beyond Hinton's forward KL.

With `P = softmax(t / T)` (the teacher) and `Q = softmax(s / T)` (the student), per position:

- forward KL, `KL(P || Q)`: Hinton's KD (`logits.kd_loss`, the loss name `"kd"`); mass-covering;
- reverse KL, `KL(Q || P)` (`"reverse_kl"`): mode-seeking, the student puts its mass where the
  teacher is confident (MiniLLM, Gu et al. 2024);
- generalized Jensen-Shannon, with `M = beta * P + (1 - beta) * Q` (`"generalized_jsd"`):

      JSD_beta(P || Q) = beta * KL(P || M) + (1 - beta) * KL(Q || M)

  as in GKD (Agarwal et al. 2024, "On-Policy Distillation of Language Models") and TRL's
  `GKDTrainer`; `beta = 0.5` is the symmetric JSD. It is bounded (by `log 2` at `beta = 0.5`),
  so a student far from the teacher gets no exploding loss. `beta` must lie strictly between 0
  and 1: at either end the divergence is identically 0 (use `"kd"` or `"reverse_kl"` instead).

Every loss is multiplied by `T^2`, like KD, and returns one value per position (`[batch, time]`
for sequence logits), so padding masks and sample weights weigh each token. The math runs in
float32 through `log_softmax`.
"""

import keras
import tensorflow as tf

from keras_distill import validation
from keras_distill.losses import logits as logit_losses
from keras_distill.losses import registry


def _log_probs(teacher_logits, student_logits, temperature):
    temperature = tf.cast(temperature, tf.float32)
    teacher = tf.nn.log_softmax(tf.cast(teacher_logits, tf.float32) / temperature, axis=-1)
    student = tf.nn.log_softmax(tf.cast(student_logits, tf.float32) / temperature, axis=-1)
    return teacher, student, temperature


def _kl(log_p, log_q):
    return tf.reduce_sum(tf.exp(log_p) * (log_p - log_q), axis=-1)


def reverse_kl_loss(teacher_logits, student_logits, temperature=1.0):
    """`T^2 * KL(softmax(s/T) || softmax(t/T))`, per position.

    Example:

    >>> import numpy as np
    >>> t = np.array([[2.0, 1.0, 0.1]], "float32")
    >>> s = np.array([[1.0, 0.5, 0.2]], "float32")
    >>> round(float(reverse_kl_loss(t, s)[0]), 4)
    0.0843
    """
    teacher, student, temperature = _log_probs(teacher_logits, student_logits, temperature)
    return temperature**2 * _kl(student, teacher)


def generalized_jsd_loss(teacher_logits, student_logits, temperature=1.0, beta=0.5):
    """`T^2 * JSD_beta(softmax(t/T) || softmax(s/T))`, per position (see the module docstring).

    Example:

    >>> import numpy as np
    >>> t = np.array([[9.0, 0.0, 0.0]], "float32")
    >>> s = np.array([[0.0, 9.0, 0.0]], "float32")
    >>> value = float(generalized_jsd_loss(t, s)[0])  # Nearly disjoint: close to log 2.
    >>> bool(0.68 < value <= np.log(2))
    True
    """
    teacher, student, temperature = _log_probs(teacher_logits, student_logits, temperature)
    beta = tf.cast(beta, tf.float32)
    mixture = tf.reduce_logsumexp(
        tf.stack([teacher + tf.math.log(beta), student + tf.math.log(1.0 - beta)]), axis=0)
    jsd = beta * _kl(teacher, mixture) + (1.0 - beta) * _kl(student, mixture)
    return temperature**2 * jsd


@registry.register_loss("reverse_kl", "reverse_kd")
@keras.saving.register_keras_serializable(package="keras_distill")
class ReverseKL(logit_losses.LogitLoss):
    """`T^2 * KL(student || teacher)` on logits; see `reverse_kl_loss`.

    Example:

    >>> from keras_distill.losses import LogitsDistillation
    >>> term = LogitsDistillation(temperature=1.0, loss="reverse_kl")
    >>> type(term.loss).__name__
    'ReverseKL'
    """

    fn = staticmethod(reverse_kl_loss)

    def __init__(self, temperature=1.0, reduction="sum_over_batch_size", name="reverse_kl",
                 dtype=None):
        super().__init__(temperature=temperature, reduction=reduction, name=name, dtype=dtype)


@registry.register_loss("generalized_jsd", "jsd", "gkd")
@keras.saving.register_keras_serializable(package="keras_distill")
class GeneralizedJSD(logit_losses.LogitLoss):
    """GKD's generalized Jensen-Shannon divergence on logits; see `generalized_jsd_loss`.

    Args:
        temperature: Temperature used when the loss is called on its own. Defaults to `1.0`.
        beta: The mixture's teacher weight, strictly between 0 and 1. Defaults to `0.5`.
        reduction: Keras reduction. Defaults to `"sum_over_batch_size"`.
        name: Name of the loss. Defaults to `"generalized_jsd"`.

    Example:

    >>> GeneralizedJSD(beta=1.0)
    Traceback (most recent call last):
    ...
    ValueError: Invalid value for argument `beta`. Expected a fraction in (0, 1). Received: beta=1.0
    """

    def __init__(self, temperature=1.0, beta=0.5, reduction="sum_over_batch_size",
                 name="generalized_jsd", dtype=None):
        super().__init__(temperature=temperature, reduction=reduction, name=name, dtype=dtype)
        self.beta = validation.check_open_fraction(beta, "beta")  # At 0 or 1 it is 0.

    def per_example(self, teacher_logits, student_logits, temperature, labels=None):
        return generalized_jsd_loss(teacher_logits, student_logits, temperature, self.beta)

    def get_config(self):
        return {**super().get_config(), "beta": self.beta}


DIVERGENCES = ("forward_kl", "reverse_kl", "generalized_jsd")


def by_name(divergence, beta=0.5):
    """The loss of `divergence`, one of `DIVERGENCES` (`"forward_kl"` is Hinton's `"kd"`).

    Example:

    >>> type(by_name("generalized_jsd", beta=0.9)).__name__
    'GeneralizedJSD'
    """
    validation.check_choice(divergence, DIVERGENCES, "divergence")
    if divergence == "forward_kl":
        return "kd"
    return ReverseKL() if divergence == "reverse_kl" else GeneralizedJSD(beta=beta)
