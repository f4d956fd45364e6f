"""Input data: built-in MNIST-1D, image folders, npz/npy arrays, CSV files, tensorflow-datasets;
splits and pipelines; teacher-output caching; inputs synthesized from a teacher."""

from keras_distill.data import mnist1d
from keras_distill.data import teacher_outputs
from keras_distill.data.cache import cache_teacher_outputs
from keras_distill.data.cache import load_teacher_outputs
from keras_distill.data.views import cache_teacher_views
from keras_distill.data.inversion import synthesize_inputs
from keras_distill.data.datasets import load
from keras_distill.data.pipeline import ClassificationData
from keras_distill.data.pipeline import HeldOutTest
from keras_distill.data.pipeline import Normalization
from keras_distill.data.pipeline import Source
from keras_distill.data.pipeline import batches
