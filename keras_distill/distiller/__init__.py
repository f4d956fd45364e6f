"""`Distiller` and the structure of cached-teacher inputs it recognises."""

from keras_distill.distiller.distiller import Distiller
from keras_distill.distiller.inputs import INPUTS_KEY
from keras_distill.distiller.inputs import LOGITS
from keras_distill.distiller.inputs import MEMBER_LOGITS
from keras_distill.distiller.inputs import TEACHER_OUTPUTS_KEY
from keras_distill.distiller.inputs import split_cached
