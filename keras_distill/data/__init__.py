"""Input data: teacher-output caching, built-in MNIST-1D, tensorflow-datasets loading."""

from keras_distill.data.cache import cache_teacher_outputs
