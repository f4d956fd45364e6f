"""Distillation losses (pure functions + `keras.losses.Loss` classes) and distillation terms."""

import keras

import functools

from keras_distill.losses.dist import DIST
from keras_distill.losses.dist import dist_loss
from keras_distill.losses.dist import pearson_correlation
from keras_distill.losses.dkd import DecoupledKD
from keras_distill.losses.dkd import dkd_loss
from keras_distill.losses.features import AttentionTransfer
from keras_distill.losses.features import FitNetsHint
from keras_distill.losses.features import attention_map
from keras_distill.losses.features import attention_transfer_loss
from keras_distill.losses.features import hint_loss
from keras_distill.losses.logits import KnowledgeDistillation
from keras_distill.losses.logits import LogitLoss
from keras_distill.losses.logits import LogitMSE
from keras_distill.losses.logits import kd_loss
from keras_distill.losses.logits import logit_mse
from keras_distill.losses.terms import DistillationTerm
from keras_distill.losses.terms import FeatureDistillation
from keras_distill.losses.relational import RelationalKD
from keras_distill.losses.relational import rkd_angle_loss
from keras_distill.losses.relational import rkd_distance_loss
from keras_distill.losses.relational import rkd_loss
from keras_distill.losses.standardization import standardize_logits
from keras_distill.losses.terms import LogitsDistillation

_BY_NAME = {
    "kd": KnowledgeDistillation,
    "hinton": KnowledgeDistillation,
    "knowledge_distillation": KnowledgeDistillation,
    "logit_mse": LogitMSE,
    "mse_logits": LogitMSE,
    "dkd": DecoupledKD,
    "decoupled_kd": DecoupledKD,
    "dist": DIST,
    "kd_standardized": functools.partial(KnowledgeDistillation, standardize=True),
    "dkd_standardized": functools.partial(DecoupledKD, standardize=True),
}

# Terms that read layers or batch relations; `get_term` builds them with keyword arguments.
_TERMS_BY_NAME = {
    "fitnets": FitNetsHint,
    "fitnets_hint": FitNetsHint,
    "hint": FitNetsHint,
    "attention_transfer": AttentionTransfer,
    "at": AttentionTransfer,
    "rkd": RelationalKD,
    "relational_kd": RelationalKD,
}


def get(identifier):
    """Returns the keras_distill loss named or described by `identifier`.

    Args:
        identifier: A name (`"kd"`, `"knowledge_distillation"`, `"logit_mse"`, `"dkd"`,
            `"dist"`, `"kd_standardized"`, `"dkd_standardized"`), a config dict from
            `keras.saving.serialize_keras_object`, or a loss instance (returned as is).
            Terms that read layers (`"fitnets"`, `"attention_transfer"`, `"rkd"`) are built
            by `get_term`.

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


def get_term(identifier, **kwargs):
    """Returns the distillation term named by `identifier`, built with `kwargs`.

    Args:
        identifier: A term name (`"fitnets"`/`"hint"`, `"attention_transfer"`/`"at"`,
            `"rkd"`/`"relational_kd"`), a logit loss name accepted by `get` (wrapped in
            `LogitsDistillation(loss=identifier, **kwargs)`), a config dict, or a
            `DistillationTerm` (returned as is).
        **kwargs: Arguments of the term's class, e.g. `teacher_layer_name=` and
            `student_layer_name=` for `"fitnets"`.

    Returns:
        A `DistillationTerm`.

    Raises:
        ValueError: if `identifier` names no term or loss.

    Example:

    >>> get_term("fitnets", teacher_layer_name="t_hidden", student_layer_name="s_hidden").name
    'fitnets_hint'
    >>> get_term("dkd").loss.name
    'decoupled_kd'
    """
    if isinstance(identifier, DistillationTerm):
        return identifier
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    if isinstance(identifier, str) and identifier.lower() in _TERMS_BY_NAME:
        return _TERMS_BY_NAME[identifier.lower()](**kwargs)
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return LogitsDistillation(loss=identifier, **kwargs)
    raise ValueError(
        "Could not interpret distillation term identifier. Expected one of "
        f"{sorted(_TERMS_BY_NAME) + sorted(_BY_NAME)}, a config dict or a keras_distill term. "
        f"Received: {identifier!r}"
    )
