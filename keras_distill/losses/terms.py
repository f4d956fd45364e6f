"""Distillation terms: what to take from the teacher and the student, and the loss between them.

`LogitsDistillation` and `FeatureDistillation` carry the names and arguments of
`keras.distillation` (Keras >= 3.12), so a user of that module switches by changing the import.
Unlike Keras 3.15's version, `LogitsDistillation()` with its default `loss="kl_divergence"`
computes the textbook `T^2 * KL(softmax(t/T) || softmax(s/T))`, not a KL between clipped,
temperature-scaled logits.

The rule for every logit term, in one place (`softened_loss`): our own `LogitLoss` classes get
logits and the temperature; any other Keras loss gets `softmax(t/T)` and `softmax(s/T)` and its
value is multiplied by `T^2` (the keras.io example's convention).
"""

import keras
import tensorflow as tf

from keras_distill import validation
from keras_distill.losses import logits as logit_losses
from keras_distill.losses import registry

_KL_NAMES = ("kl_divergence", "kld", "kullback_leibler_divergence", "kl")


def resolve_logit_loss(loss):
    """Returns a `LogitLoss`, a `keras.losses.Loss` or a loss function for `loss`.

    Strings name our losses first (see `keras_distill.losses.get`), then Keras's; the Keras
    KL divergence (by name, class or function) becomes our stable `KnowledgeDistillation`.
    """
    if isinstance(loss, str):
        if loss.lower() in _KL_NAMES:
            return logit_losses.KnowledgeDistillation()
        factory = registry.loss_factory(loss)
        if factory is not None:
            return factory()
        try:
            return keras.losses.get(loss)
        except ValueError:
            raise ValueError(
                f"Invalid value for argument `loss`. Expected the name of a keras_distill or "
                f"Keras loss. Received: loss={loss!r}"
            ) from None
    if isinstance(loss, keras.losses.KLDivergence) or loss is keras.losses.kl_divergence:
        return logit_losses.KnowledgeDistillation()
    if isinstance(loss, (keras.losses.Loss, logit_losses.LogitLoss)) or callable(loss):
        return loss
    raise TypeError(
        "Invalid value for argument `loss`. Expected a keras_distill loss, a `keras.losses.Loss`, "
        f"a loss function or its name. Received: loss={loss!r} of type {type(loss).__name__}"
    )


def resolve_feature_loss(loss):
    """Returns the Keras loss named or given by `loss`, for comparing features."""
    resolved = keras.losses.get(loss) if isinstance(loss, str) else loss
    if not callable(resolved):
        raise TypeError(
            "Invalid value for argument `loss`. Expected a Keras loss or its name. "
            f"Received: loss={loss!r}"
        )
    return resolved


def unreduced(loss, y_true, y_pred):
    """Calls `loss` and returns its per-example values (no batch reduction)."""
    if isinstance(loss, keras.losses.Loss):
        return loss.call(y_true, y_pred)
    return loss(y_true, y_pred)


def softened_loss(loss, teacher_logits, student_logits, temperature, labels=None):
    """Applies a logit loss at `temperature`, per example; see the module docstring."""
    if isinstance(loss, logit_losses.LogitLoss):
        return loss.per_example(teacher_logits, student_logits, temperature, labels)
    temperature = tf.cast(temperature, tf.float32)
    teacher_probs = tf.nn.softmax(tf.cast(teacher_logits, tf.float32) / temperature, axis=-1)
    student_probs = tf.nn.softmax(tf.cast(student_logits, tf.float32) / temperature, axis=-1)
    return temperature**2 * tf.cast(unreduced(loss, teacher_probs, student_probs), tf.float32)


class DistillationTerm:
    """Base class of a distillation term inside a `Distiller`.

    Subclasses set `teacher_layer_name` / `student_layer_name` (`None` means the model's final
    output) and implement `per_example(teacher_output, student_output, temperature, labels)`,
    returning a tensor `[batch, ...]` of per-example losses; the distiller weighs it by sample
    weights and masks and averages over the global batch. `labels` are integer class labels of
    the logits' element shape, `-1` where an example is unlabeled, or `None` when the batch has
    no labels; terms that need a target class (e.g. DKD) fall back to the teacher's argmax.

    A term that needs trainable parameters of its own (e.g. a FitNets adapter) sets `adapter` to
    a `keras.layers.Layer` in `build(teacher_shape, student_shape)`, which the distiller calls
    once with the two features' shapes; the distiller trains the adapter with the student and
    never exports it.
    """

    teacher_layer_name = None
    student_layer_name = None
    name = "distillation"
    adapter = None

    def build(self, teacher_shape, student_shape):
        """Checks the feature shapes (and creates `adapter` if the term has one)."""

    def per_example(self, teacher_output, student_output, temperature, labels=None):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "loss" in config:  # Terms serialize their loss with `serialize_keras_object`.
            config["loss"] = keras.saving.deserialize_keras_object(config["loss"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_distill")
class LogitsDistillation(DistillationTerm):
    """Distills the teacher's final logits into the student's.

    Args:
        temperature: Softmax temperature `T`; the `Distiller` keeps it in a variable you can
            change during training (`distiller.temperature = 8.0`). Defaults to `3.0`.
        loss: `"kl_divergence"` (Hinton's `T^2 * KL`, computed on logits with `log_softmax`),
            a keras_distill loss name or instance (fed logits and `T`), or any other Keras loss
            (fed `softmax(t/T)`, `softmax(s/T)` and multiplied by `T^2`).
            Defaults to `"kl_divergence"`.
        name: Name under which the term is reported when there are several. Defaults to
            `"logits_distillation"`.

    Example:

    >>> import numpy as np
    >>> term = LogitsDistillation(temperature=3.0)
    >>> t = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]], "float32")
    >>> s = np.array([[1.0, 0.5, 0.2], [0.0, 1.0, 0.3]], "float32")
    >>> round(float(term.per_example(t, s, 3.0).numpy().mean()), 3)
    0.342
    """

    def __init__(self, temperature=3.0, loss="kl_divergence", name="logits_distillation"):
        self.temperature = validation.check_positive(temperature, "temperature")
        self.loss_identifier = loss
        self.loss = resolve_logit_loss(loss)
        self.name = name

    def per_example(self, teacher_output, student_output, temperature, labels=None):
        return softened_loss(self.loss, teacher_output, student_output, temperature, labels)

    def get_config(self):
        return {
            "temperature": self.temperature,
            "loss": keras.saving.serialize_keras_object(self.loss_identifier),
            "name": self.name,
        }


@keras.saving.register_keras_serializable(package="keras_distill")
class FeatureDistillation(DistillationTerm):
    """Matches a student feature map to a teacher feature map of the same shape.

    Args:
        loss: A Keras loss or its name, applied to the two features; its values are averaged
            over every axis but the batch axis. Defaults to `"mse"`.
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
        self.loss = resolve_feature_loss(loss)
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

    def per_example(self, teacher_output, student_output, temperature, labels=None):
        del temperature, labels
        values = tf.cast(
            unreduced(self.loss, tf.cast(teacher_output, tf.float32),
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
    """Turns a term, a loss or a loss name into a `DistillationTerm`, or raises `TypeError`."""
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
    if isinstance(obj, (str, keras.losses.Loss)) or callable(obj):
        return LogitsDistillation(loss=obj)
    raise TypeError(
        "Invalid distillation loss. Expected a keras_distill term (`LogitsDistillation`, "
        "`FeatureDistillation`, ...), a Keras loss, a loss function or a loss name. "
        f"Received: {obj!r} of type {type(obj).__name__}"
    )
