"""Distillation losses (pure functions + `keras.losses.Loss` classes) and distillation terms."""

import keras

from keras_distill.losses import registry
from keras_distill.losses.dist import DIST
from keras_distill.losses.dist import dist_loss
from keras_distill.losses.dist import pearson_correlation
from keras_distill.losses.divergences import GeneralizedJSD
from keras_distill.losses.divergences import ReverseKL
from keras_distill.losses.divergences import generalized_jsd_loss
from keras_distill.losses.divergences import reverse_kl_loss
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
from keras_distill.losses.terms import DistillationTerm as DistillationLoss  # keras.distillation's name.
from keras_distill.losses.terms import FeatureDistillation
from keras_distill.losses.relational import RelationalKD
from keras_distill.losses.relational import rkd_angle_loss
from keras_distill.losses.relational import rkd_distance_loss
from keras_distill.losses.relational import rkd_loss
from keras_distill.losses.standardization import standardize_logits
from keras_distill.losses.terms import LogitsDistillation
from keras_distill.losses.terms import WrappedDistillationLoss

def get(identifier):
    """Returns the keras_distill loss named or described by `identifier`.

    Args:
        identifier: A name (`"kd"`, `"knowledge_distillation"`, `"logit_mse"`, `"dkd"`,
            `"dist"`, `"kd_standardized"`, `"dkd_standardized"`, `"reverse_kl"`,
            `"generalized_jsd"`), a config dict from
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
    factory = registry.loss_factory(identifier)
    if factory is not None:
        return factory()
    raise ValueError(
        "Could not interpret distillation loss identifier. Expected one of "
        f"{registry.loss_names()}, a config dict or a keras_distill loss. "
        f"Received: {identifier!r}"
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
    term = registry.term_factory(identifier)
    if term is not None:
        return term(**kwargs)
    if registry.loss_factory(identifier) is not None:
        return LogitsDistillation(loss=identifier, **kwargs)
    raise ValueError(
        "Could not interpret distillation term identifier. Expected one of "
        f"{registry.term_names() + registry.loss_names()}, a config dict or a keras_distill "
        f"term. Received: {identifier!r}"
    )
