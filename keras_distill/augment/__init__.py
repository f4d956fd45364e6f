"""Training augmentation applied consistently: the teacher and the student see the same view.

the device; `RandomShift`, `RandomScale` and `MixUp` cover 1-D signals and sequences (Keras's
image layers and `keras.layers.GaussianNoise` cover the rest).
"""

from keras_distill.augment.augmentation import Augmentation
from keras_distill.augment.augmentation import as_augmentation
from keras_distill.augment.augmentation import mixes_labels
from keras_distill.augment.augmentation import soft_label_loss
from keras_distill.augment.mixing import MixUp
from keras_distill.augment.signal import RandomScale
from keras_distill.augment.signal import RandomShift
