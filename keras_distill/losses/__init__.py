"""Distillation losses (pure functions + `keras.losses.Loss` classes) and distillation terms."""

import keras

from keras_distill.losses.logits import KnowledgeDistillation
from keras_distill.losses.logits import LogitLoss
from keras_distill.losses.logits import LogitMSE
from keras_distill.losses.logits import kd_loss
from keras_distill.losses.logits import logit_mse
from keras_distill.losses.terms import DistillationTerm
from keras_distill.losses.terms import FeatureDistillation
from keras_distill.losses.terms import LogitsDistillation

_BY_NAME = {
    "kd": KnowledgeDistillation,
    "hinton": KnowledgeDistillation,
    "knowledge_distillation": KnowledgeDistillation,
    "logit_mse": LogitMSE,
    "mse_logits": LogitMSE,
}


def get(identifier):
    """Returns the keras_distill loss named or described by `identifier`.

    Args:
        identifier: A name (`"kd"`, `"knowledge_distillation"`, `"logit_mse"`), a config dict
            from `keras.saving.serialize_keras_object`, or a loss instance (returned as is).

    Returns:
        A `LogitLoss` instance.

    Raises:
        ValueError: if `identifier` names no keras_distill loss.

    Example:

    >>> get("kd").name
    'knowledge_distillation'
    """
    if isinstance(identifier, LogitLoss):
        return identifier
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(
        "Could not interpret distillation loss identifier. Expected one of "
        f"{sorted(_BY_NAME)}, a config dict or a keras_distill loss. Received: {identifier!r}"
    )
