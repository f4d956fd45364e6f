"""What every distillation term shares: the base class, a term's temperature, how a loss is applied.

The rule for every logit term, in one place (`softened_loss`): our own `LogitLoss` classes get
logits and the temperature; any other Keras loss gets `softmax(t/T)` and `softmax(s/T)` and its
value is multiplied by `T^2` (the keras.io example's convention).

`DistillationTerm` also carries `keras.distillation.DistillationLoss`'s public methods
(`compute_loss`, `validate_outputs`, `validate_model_compatibility`), so code written against
Keras's class runs on ours; a Keras-style subclass that only overrides `compute_loss` works too.
"""

import re
import weakref

import keras
import numpy as np
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


def resolve_losses(loss, resolve):
    """Resolves a loss, or a list/dict of them (one per model output, `None` to skip one).

    Raises:
        ValueError: If every loss of the structure is `None`.

    Example:

    >>> [type(l).__name__ if l else l for l in resolve_losses(["kl", None], resolve_logit_loss)]
    ['KnowledgeDistillation', None]
    """
    resolved = keras.tree.map_structure(lambda l: None if l is None else resolve(l), loss)
    if all(l is None for l in keras.tree.flatten(resolved)):
        raise ValueError(
            "Invalid value for argument `loss`. Expected a loss, or a list or dict of losses "
            f"with at least one that is not None. Received: loss={loss!r}"
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


def read_state(variable, value):
    """`value` (a Python float, as given) unless `variable` now holds something else.

    A variable loaded from a checkpoint, or assigned directly, wins; otherwise the value reads
    back exactly as it was given (`0.7`, not the float32 `0.699999988`).

    Example:

    >>> read_state(keras.Variable(0.7), 0.7), read_state(keras.Variable(2.0), 0.7)
    (0.7, 2.0)
    """
    current = float(keras.ops.convert_to_numpy(variable))
    return value if np.float32(current) == np.float32(value) else current


class Temperature:
    """A term's softmax temperature, as given, mirrored into the distillers' variables.

    A `Distiller` keeps one non-trainable variable per term, so the traced step reads the
    temperature as state: changing it never retraces. `bind` links such a variable to the term;
    setting the term's temperature assigns every variable bound to it, and a bound variable
    that was restored from a checkpoint is what the term reads back.

    Example:

    >>> state = Temperature(3.0)
    >>> variable = keras.Variable(1.0)
    >>> state.bind(variable)
    >>> state.value = 5.0
    >>> float(variable.numpy()), state.value
    (5.0, 5.0)
    """

    def __init__(self, value):
        self._value = validation.check_positive(value, "temperature")
        self._variables = []

    def __getstate__(self):  # A copy (`copy.deepcopy`, pickle) is bound to no distiller.
        return {"_value": self._value, "_variables": []}

    def _bound(self):
        variables = [ref() for ref in self._variables]
        return [v for v in variables if v is not None]

    def bind(self, variable):
        """Links `variable` to this temperature and sets it to the current value."""
        self._variables = [weakref.ref(v) for v in self._bound() if v is not variable]
        self._variables.append(weakref.ref(variable))
        variable.assign(self._value)

    def unbind(self, variable):
        """Unlinks `variable` (its distiller no longer uses the term)."""
        self._variables = [weakref.ref(v) for v in self._bound() if v is not variable]

    @property
    def value(self):
        if tf.executing_eagerly():
            for variable in self._bound():
                current = read_state(variable, self._value)
                if current != self._value:
                    return current
        return self._value

    @value.setter
    def value(self, value):
        self._value = validation.check_positive(value, "temperature")
        for variable in self._bound():
            variable.assign(self._value)


class DistillationTerm:
    """Base class of a distillation term inside a `Distiller`.

    Subclasses set `teacher_layer_name` / `student_layer_name` (`None` means the model's final
    output) and implement `per_example(teacher_output, student_output, temperature, labels)`,
    returning a tensor `[batch, ...]` of per-example losses; the distiller weighs it by sample
    weights and masks and averages over the global batch. `labels` are integer class labels of
    the logits' element shape, `-1` where an example is unlabeled, or `None` when the batch has
    no labels; terms that need a target class (e.g. DKD) fall back to the teacher's argmax.

    keras.distillation's form also works: a subclass that overrides only
    `compute_loss(teacher_outputs, student_outputs)` (returning a scalar) is applied once per
    batch to the whole output structure, and its value counts equally for every example.

    A term that needs trainable parameters of its own (e.g. a FitNets adapter) sets `adapter` to
    a `keras.layers.Layer` in `build(teacher_shape, student_shape)`, which the distiller calls
    once with the two features' shapes; the distiller trains the adapter with the student and
    never exports it.

    Example:

    >>> class MeanGap(DistillationTerm):  # keras.distillation's form: a scalar per batch.
    ...     def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
    ...         return keras.ops.mean(keras.ops.abs(teacher_outputs - student_outputs))
    >>> [float(v) for v in MeanGap().per_example(np.ones((2, 3)), np.zeros((2, 3)), 1.0)]
    [1.0, 1.0]
    """

    teacher_layer_name = None
    student_layer_name = None
    name = "distillation"
    adapter = None

    def build(self, teacher_shape, student_shape):
        """Checks the feature shapes (and creates `adapter` if the term has one)."""

    def _keras_form(self):
        return type(self).compute_loss is not DistillationTerm.compute_loss

    def per_example(self, teacher_output, student_output, temperature, labels=None):
        """The loss of each example `[batch, ...]` between one teacher and student output."""
        if not self._keras_form():
            raise NotImplementedError(
                f"{type(self).__name__} must implement `per_example` (or `compute_loss`, "
                "keras.distillation's form)."
            )
        value = tf.cast(self.compute_loss(teacher_output, student_output), tf.float32)
        batch = tf.shape(keras.tree.flatten(student_output)[0])[0]
        return tf.fill(tf.reshape(batch, [1]), value)

    def per_output(self, teacher_outputs, student_outputs, temperature, labels=None):
        """Per-example losses for each output of a model with one or several outputs.

        Args:
            teacher_outputs: A tensor, or a list/dict of tensors (one per output).
            student_outputs: The student's outputs, of the same structure.
            temperature: Softmax temperature (a number or scalar tensor).
            labels: One entry per output in `keras.tree.flatten` order (integer labels or
                `None`), or `None`. Defaults to `None`.

        Returns:
            A list aligned with `keras.tree.flatten(student_outputs)`: each output's
            `[batch, ...]` losses, or `None` where the term skips that output.
        """
        self.validate_outputs(teacher_outputs, student_outputs)
        students = keras.tree.flatten(student_outputs)
        if self._keras_form():
            value = self.per_example(teacher_outputs, student_outputs, temperature)
            return [value] + [None] * (len(students) - 1)
        labels = [None] * len(students) if labels is None else list(labels)
        return [self.per_example(t, s, temperature, y) for t, s, y in
                zip(keras.tree.flatten(teacher_outputs), students, labels)]

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        """keras.distillation's call: the scalar loss, each output's examples averaged.

        Args:
            teacher_outputs: Teacher outputs: a tensor, or a list/dict of them.
            student_outputs: Student outputs of the same structure.
            **kwargs: `temperature` (defaults to the term's own, else 1) and `labels`.

        Returns:
            A float32 scalar: the sum over outputs of the mean per-example loss.
        """
        temperature = kwargs.get("temperature", getattr(self, "temperature", 1.0))
        values = self.per_output(teacher_outputs, student_outputs, temperature,
                                 kwargs.get("labels"))
        return tf.add_n([tf.reduce_mean(v) for v in values if v is not None])

    def validate_outputs(self, teacher_outputs, student_outputs):
        """Raises `ValueError` unless the two outputs have the same structure."""
        keras.tree.assert_same_structure(teacher_outputs, student_outputs)

    def validate_model_compatibility(self, teacher, student):
        """Raises `ValueError` unless the layers the term reads exist in functional models."""
        for role, model, layer_name in (("teacher", teacher, self.teacher_layer_name),
                                        ("student", student, self.student_layer_name)):
            if layer_name is None:
                continue
            if not getattr(model, "inputs", None):
                raise ValueError(
                    f"{type(self).__name__} reads the layer {layer_name!r} of the {role}, which "
                    "needs a Functional or Sequential model; this one is subclassed. Rebuild it "
                    "functionally, or distill its final outputs."
                )
            try:
                model.get_layer(name=layer_name)
            except ValueError as error:
                raise ValueError(f"In {role} model: {error}") from None

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "loss" in config:  # Terms serialize their loss with `serialize_keras_object`.
            config["loss"] = keras.saving.deserialize_keras_object(config["loss"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_distill")
class WrappedDistillationLoss(DistillationTerm):
    """A `keras.distillation.DistillationLoss` (or any object with its methods) used as a term.

    Its `compute_loss` runs once per batch on the whole output structure (or on the layers it
    names); the value counts equally for every example.

    Args:
        distillation_loss: The object: it has `compute_loss(teacher_outputs, student_outputs)`
            and may have `validate_outputs`, `validate_model_compatibility`,
            `teacher_layer_name` and `student_layer_name`.
        name: Name under which the term is reported. Defaults to the object's class name in
            snake case.
    """

    def __init__(self, distillation_loss, name=None):
        self.distillation_loss = distillation_loss
        self.teacher_layer_name = getattr(distillation_loss, "teacher_layer_name", None)
        self.student_layer_name = getattr(distillation_loss, "student_layer_name", None)
        self.name = name or re.sub(r"(?<!^)(?=[A-Z])", "_", type(distillation_loss).__name__).lower()

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        return self.distillation_loss.compute_loss(teacher_outputs, student_outputs)

    def validate_outputs(self, teacher_outputs, student_outputs):
        check = getattr(self.distillation_loss, "validate_outputs", None)
        if check is not None:
            check(teacher_outputs, student_outputs)
        else:
            super().validate_outputs(teacher_outputs, student_outputs)

    def validate_model_compatibility(self, teacher, student):
        check = getattr(self.distillation_loss, "validate_model_compatibility", None)
        if check is not None:
            check(teacher, student)
        else:
            super().validate_model_compatibility(teacher, student)

    def get_config(self):
        return {"distillation_loss": keras.saving.serialize_keras_object(self.distillation_loss),
                "name": self.name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["distillation_loss"] = keras.saving.deserialize_keras_object(
            config["distillation_loss"])
        return cls(**config)
