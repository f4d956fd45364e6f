"""Distillation terms: what to take from the teacher and the student, and the loss between them.

`LogitsDistillation` and `FeatureDistillation` carry the names and arguments of
`keras.distillation` (Keras >= 3.12), so a user of that module switches by changing the import:
each term keeps its own temperature, a `loss` may be a list or dict with one loss per model
output (`None` skips an output), and `compute_loss` / `validate_outputs` /
`validate_model_compatibility` are there. Unlike Keras 3.15's version, `LogitsDistillation()`
with its default `loss="kl_divergence"` computes the textbook `T^2 * KL(softmax(t/T) ||
softmax(s/T))`, not a KL between clipped, temperature-scaled logits.

How each loss is applied (logits and `T` to our `LogitLoss` classes, softened probabilities times
`T^2` to any other Keras loss) is `term_base.softened_loss`.
"""

import keras
import tensorflow as tf

from keras_distill.losses import registry
from keras_distill.losses import term_base
from keras_distill.losses.term_base import DistillationTerm
from keras_distill.losses.term_base import WrappedDistillationLoss
from keras_distill.losses.term_base import resolve_feature_loss
from keras_distill.losses.term_base import resolve_logit_loss
from keras_distill.losses.term_base import softened_loss
from keras_distill.losses.term_base import unreduced

__all__ = ["DistillationTerm", "FeatureDistillation", "LogitsDistillation",
           "WrappedDistillationLoss", "as_term", "resolve_feature_loss", "resolve_logit_loss",
           "softened_loss", "unreduced"]


class _PerOutputLoss(DistillationTerm):
    """A term whose `loss` is one loss, or one per model output (keras.distillation's form)."""

    def _apply(self, loss, teacher_output, student_output, temperature, labels):
        raise NotImplementedError

    def _nested(self):
        return keras.tree.is_nested(self.loss)

    def per_example(self, teacher_output, student_output, temperature, labels=None):
        if self._nested():
            raise ValueError(
                f"{type(self).__name__} has one loss per output ({self.loss_identifier!r}) but "
                "was given a single output. Pass one loss, or distill a model with as many "
                "outputs."
            )
        return self._apply(self.loss, teacher_output, student_output, temperature, labels)

    def per_output(self, teacher_outputs, student_outputs, temperature, labels=None):
        self.validate_outputs(teacher_outputs, student_outputs)
        students = keras.tree.flatten(student_outputs)
        losses = keras.tree.flatten(self.loss) if self._nested() else [self.loss] * len(students)
        labels = [None] * len(students) if labels is None else list(labels)
        return [
            None if loss is None else self._apply(loss, t, s, temperature, y)
            for loss, t, s, y in zip(losses, keras.tree.flatten(teacher_outputs), students, labels)
        ]

    def validate_outputs(self, teacher_outputs, student_outputs):
        """Raises `ValueError` unless the outputs (and a per-output `loss`) match in structure."""
        super().validate_outputs(teacher_outputs, student_outputs)
        if not self._nested():
            return
        try:
            keras.tree.assert_same_structure(self.loss, teacher_outputs)
        except ValueError:
            raise ValueError(
                f"Invalid value for argument `loss`. Expected one loss per output, in the "
                f"structure of the outputs {keras.tree.map_structure(lambda t: None, teacher_outputs)!r}. "
                f"Received: loss={self.loss_identifier!r}"
            ) from None


@keras.saving.register_keras_serializable(package="keras_distill")
class LogitsDistillation(_PerOutputLoss):
    """Distills the teacher's final logits into the student's.

    Args:
        temperature: This term's softmax temperature `T`. The `Distiller` mirrors it into a
            variable: setting `term.temperature` (or `distiller.temperature`, which sets every
            term's) during training takes effect without retracing. Defaults to `3.0`.
        loss: `"kl_divergence"` (Hinton's `T^2 * KL`, computed on logits with `log_softmax`),
            a keras_distill loss name or instance (fed logits and `T`), or any other Keras loss
            (fed `softmax(t/T)`, `softmax(s/T)` and multiplied by `T^2`); or, for models with
            several outputs, a list or dict of these with one entry per output (`None` skips an
            output). Defaults to `"kl_divergence"`.
        name: Name under which the term is reported when there are several. Defaults to
            `"logits_distillation"`.

    Example:

    >>> import numpy as np
    >>> term = LogitsDistillation(temperature=3.0)
    >>> t = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]], "float32")
    >>> s = np.array([[1.0, 0.5, 0.2], [0.0, 1.0, 0.3]], "float32")
    >>> round(float(term.compute_loss(t, s)), 3)
    0.342
    >>> both = LogitsDistillation(temperature=2.0, loss=["kl_divergence", None])
    >>> round(float(both.compute_loss([t, t], [s, t])), 3)  # The second output is skipped.
    0.302
    """

    def __init__(self, temperature=3.0, loss="kl_divergence", name="logits_distillation"):
        self._temperature = term_base.Temperature(temperature)
        self.loss_identifier = loss
        self.loss = term_base.resolve_losses(loss, resolve_logit_loss)
        self.name = name

    @property
    def temperature(self):
        """The softmax temperature `T > 0`; assignable at any time, without retracing."""
        return self._temperature.value

    @temperature.setter
    def temperature(self, value):
        self._temperature.value = value

    def bind_temperature(self, variable):
        """Mirrors the temperature into `variable` (a `Distiller` calls this; see `Temperature`)."""
        self._temperature.bind(variable)

    def unbind_temperature(self, variable):
        """Stops mirroring the temperature into `variable`."""
        self._temperature.unbind(variable)

    def _apply(self, loss, teacher_output, student_output, temperature, labels):
        return softened_loss(loss, teacher_output, student_output, temperature, labels)

    def get_config(self):
        return {
            "temperature": self.temperature,
            "loss": keras.saving.serialize_keras_object(self.loss_identifier),
            "name": self.name,
        }


@keras.saving.register_keras_serializable(package="keras_distill")
class FeatureDistillation(_PerOutputLoss):
    """Matches a student feature map to a teacher feature map of the same shape.

    Args:
        loss: A Keras loss or its name, applied to the two features; its values are averaged
            over every axis but the batch axis. For the final outputs of models with several
            outputs, a list or dict with one loss per output (`None` skips an output).
            Defaults to `"mse"`.
        teacher_layer_name: Teacher layer whose output is matched; `None` means the final
            output. Defaults to `None`.
        student_layer_name: Student layer whose output is matched; `None` means the final
            output. Defaults to `None`.
        name: Name under which the term is reported. Defaults to `"feature_distillation"`.

    Example:

    >>> import numpy as np
    >>> term = FeatureDistillation(loss="mse")
    >>> float(term.per_example(np.ones((1, 2), "float32"), np.zeros((1, 2), "float32"), 1.0)[0])
    1.0
    """

    def __init__(self, loss="mse", teacher_layer_name=None, student_layer_name=None,
                 name="feature_distillation"):
        self.loss_identifier = loss
        self.loss = term_base.resolve_losses(loss, resolve_feature_loss)
        self.teacher_layer_name = teacher_layer_name
        self.student_layer_name = student_layer_name
        self.name = name

    def build(self, teacher_shape, student_shape):
        if tuple(teacher_shape[1:]) != tuple(student_shape[1:]):
            raise ValueError(
                f"FeatureDistillation compares features of the same shape, but the teacher's "
                f"`{self.teacher_layer_name}` has shape {tuple(teacher_shape)} and the student's "
                f"`{self.student_layer_name}` has shape {tuple(student_shape)}. Pick layers "
                "with equal shapes, or use `FitNetsHint`, which learns an adapter between them."
            )

    def _apply(self, loss, teacher_output, student_output, temperature, labels):
        values = tf.cast(
            unreduced(loss, tf.cast(teacher_output, tf.float32),
                      tf.cast(student_output, tf.float32)),
            tf.float32,
        )
        if values.shape.rank and values.shape.rank > 1:
            values = tf.reduce_mean(values, axis=list(range(1, values.shape.rank)))
        return values

    def get_config(self):
        return {
            "loss": keras.saving.serialize_keras_object(self.loss_identifier),
            "teacher_layer_name": self.teacher_layer_name,
            "student_layer_name": self.student_layer_name,
            "name": self.name,
        }


def as_term(obj):
    """Turns a term, a loss or a loss name into a `DistillationTerm`, or raises `TypeError`.

    An object with keras.distillation's `compute_loss` (a `keras.distillation.DistillationLoss`)
    is wrapped in a `WrappedDistillationLoss`.

    Example:

    >>> type(as_term("logit_mse")).__name__
    'LogitsDistillation'
    """
    if isinstance(obj, DistillationTerm):
        return obj
    if isinstance(obj, str):
        term = registry.term_factory(obj)
        if term is not None:  # e.g. "rkd".
            try:
                return term()
            except TypeError:
                raise ValueError(
                    f"The distillation term {obj!r} reads named layers. Build it with "
                    f"`keras_distill.losses.get_term({obj!r}, teacher_layer_name=..., "
                    "student_layer_name=...)` and pass the term instead of its name."
                ) from None
    if (callable(getattr(obj, "compute_loss", None)) and not callable(obj)
            and not isinstance(obj, keras.layers.Layer)):
        return WrappedDistillationLoss(obj)
    if isinstance(obj, (str, keras.losses.Loss)) or callable(obj):
        return LogitsDistillation(loss=obj)
    raise TypeError(
        "Invalid distillation loss. Expected a keras_distill term (`LogitsDistillation`, "
        "`FeatureDistillation`, ...), a Keras loss, a loss function or a loss name. "
        f"Received: {obj!r} of type {type(obj).__name__}"
    )
