"""keras_distill: knowledge distillation for Keras 3 on TensorFlow."""

from keras_distill import tensorflow_logs  # noqa: F401  (first: TensorFlow, quietly)
from keras_distill import config
from keras_distill import augment
from keras_distill import data
from keras_distill import distribute
from keras_distill import export
from keras_distill import losses
from keras_distill import models
from keras_distill import report
from keras_distill import tuning
from keras_distill import workflow
from keras_distill.config import RunConfig
from keras_distill.data import cache_teacher_outputs
from keras_distill.data import cache_teacher_views
from keras_distill.data import synthesize_inputs
from keras_distill.distiller import AugmentedModel
from keras_distill.distiller import Distiller
from keras_distill.losses import AttentionTransfer
from keras_distill.losses import DIST
from keras_distill.losses import DecoupledKD
from keras_distill.losses import FeatureDistillation
from keras_distill.losses import FitNetsHint
from keras_distill.losses import KnowledgeDistillation
from keras_distill.losses import LogitMSE
from keras_distill.losses import LogitsDistillation
from keras_distill.losses import RelationalKD
from keras_distill.report import Report

__version__ = "0.1.0"
