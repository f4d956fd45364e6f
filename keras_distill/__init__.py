"""keras_distill: knowledge distillation for Keras 3 on TensorFlow."""

from keras_distill import data
from keras_distill import losses
from keras_distill.data import cache_teacher_outputs
from keras_distill.distiller import Distiller
from keras_distill.losses import FeatureDistillation
from keras_distill.losses import KnowledgeDistillation
from keras_distill.losses import LogitMSE
from keras_distill.losses import LogitsDistillation

__version__ = "0.1.0"
