"""Input data: teacher-output caching, built-in MNIST-1D, tensorflow-datasets loading."""

from keras_distill.data import mnist1d
from keras_distill.data import teacher_outputs
from keras_distill.data.cache import cache_teacher_outputs
from keras_distill.data.cache import load_teacher_outputs
from keras_distill.data.datasets import load
from keras_distill.data.pipeline import ClassificationData
from keras_distill.data.pipeline import Normalization
from keras_distill.data.pipeline import batches
