"""The distiller's forward passes: logits, and intermediate features in the same pass."""

import keras

import tensorflow as tf

from keras_distill.data.teacher_outputs import LOGITS
from keras_distill.data.teacher_outputs import MEMBER_LOGITS


class Untracked:
    """Holds helpers out of Keras's tracking, so they are neither saved nor exported: the
    feature models and the metrics given to `compile` (tracked, they would be reported twice)."""

    def __init__(self):
        self.models = {}
        self.metrics = None


def final_outputs(model):
    """`model`'s final output tensor (symbolic), or its list/dict of them for several outputs."""
    outputs = model.outputs
    return outputs[0] if len(outputs) == 1 else model.output


def feature_model(model, layer_names, role):
    """A functional model over `model.inputs` returning logits and the named layers' outputs."""
    if not getattr(model, "inputs", None):
        raise ValueError(
            f"Reading intermediate features of the {role} needs a Functional or Sequential model, "
            f"but `{model.name}` is subclassed. Rebuild it functionally, or return the feature "
            "from its `call` and distill on that output."
        )
    available = [layer.name for layer in model.layers]
    outputs = {LOGITS: final_outputs(model)}
    for name in layer_names:
        if name not in available:
            raise ValueError(
                f"Invalid layer name for the {role}: {name!r}. Available layers: {available}"
            )
        outputs[name] = model.get_layer(name).output
    return keras.Model(model.inputs, outputs, name=f"{model.name}_features")


def feature_models(cache, teachers, student, terms):
    """Returns `{role: feature_model}` for the roles ("teacher", "student") whose features the
    terms read, building each model once into the dict `cache`.

    Raises:
        ValueError: If a layer name is invalid, or features are read from an ensemble.
    """
    models = {}
    for role, model, attr in (
        ("teacher", teachers[0], "teacher_layer_name"),
        ("student", student, "student_layer_name"),
    ):
        names = sorted({getattr(t, attr) for t in terms} - {None})
        if not names:
            continue
        if role == "teacher" and len(teachers) > 1:
            raise ValueError(
                f"Feature terms ({names}) need one teacher, but this distiller has an "
                f"ensemble of {len(teachers)}. Distill features from one teacher."
            )
        key = (role, tuple(names))
        if key not in cache:
            cache[key] = feature_model(model, names, role)
        models[role] = cache[key]
    return models


def output_shape(model, feature_model, layer_name):
    """The static shape of `model`'s output (`layer_name=None`) or of a feature, else `None`
    (also for the final outputs of a model with several)."""
    if layer_name is None:
        outputs = getattr(model, "outputs", None)
        return tuple(outputs[0].shape) if outputs and len(outputs) == 1 else None
    if feature_model is None:
        return None
    return tuple(feature_model.output[layer_name].shape)


class FeatureModelsMixin:
    """Mixin of `Distiller`: the forward passes, with the feature models the terms read (under
    keras.distillation's names too)."""

    def _forward(self, role, x, training):
        """Returns `{"logits": ..., layer_name: feature, ...}` for the teacher or the student.

        An ensemble of teachers returns `{"member_logits": [batch, ..., teachers, classes]}`;
        they are combined at the current temperature in the loss (see `loss.py`).
        """
        if role == "teacher" and len(self._teachers) > 1:
            members = [t(x, training=False) for t in self._teachers]
            return {MEMBER_LOGITS: tf.stack(members, axis=-2)}
        feature_model = self._feature_models().get(role)
        if feature_model is not None:
            return dict(feature_model(x, training=training))
        model = self._teachers[0] if role == "teacher" else self.student
        return {LOGITS: model(x, training=training)}

    def compute_teacher_outputs(self, x):
        """Runs the frozen teacher once: `{"logits": ..., layer_name: feature, ...}`."""
        return self._forward("teacher", x, training=False)

    def _feature_models(self):
        """`{role: model}` returning logits and the features the terms read, in one pass."""
        return feature_models(self._helpers.models, self._teachers, self.student, self._terms)

    @property
    def _teacher_feature_extractor(self):
        """keras.distillation's name: the teacher's feature model, or `None`."""
        return self._feature_models().get("teacher")

    @property
    def _student_feature_extractor(self):
        """keras.distillation's name: the student's feature model, or `None`."""
        return self._feature_models().get("student")
