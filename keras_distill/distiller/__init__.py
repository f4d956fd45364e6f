"""`Distiller`, its loss as a pure function, and the cached-teacher input format it recognises.

The format belongs to `keras_distill.data.teacher_outputs`; its names are re-exported here for
code that reads cached inputs next to a distiller.
"""

from keras_distill.data.teacher_outputs import INPUTS_KEY
from keras_distill.data.teacher_outputs import LOGITS
from keras_distill.data.teacher_outputs import MEMBER_LOGITS
from keras_distill.data.teacher_outputs import TEACHER_OUTPUTS_KEY
from keras_distill.data.teacher_outputs import split_cached
from keras_distill.distiller.augmented_model import AugmentedModel
from keras_distill.distiller.distiller import Distiller
from keras_distill.distiller.loss import GlobalCounts
from keras_distill.distiller.loss import LossBreakdown
from keras_distill.distiller.loss import compute_loss
