"""Hyperparameter search for distillation with keras-tuner: alpha, temperature, student size.

One frozen teacher is shared by every trial, its outputs are computed once for the whole search
(unless the pipeline needs online distillation), and trial checkpoints hold the student only.
"""

from keras_distill.tuning.hypermodel import DistillerHyperModel
from keras_distill.tuning.hypermodel import TrialDistiller
from keras_distill.tuning.ranges import parse_range
from keras_distill.tuning.results import format_table
from keras_distill.tuning.results import results_table
from keras_distill.tuning.results import write_results
from keras_distill.tuning.search import Comparison
from keras_distill.tuning.search import SearchResult
from keras_distill.tuning.search import search
from keras_distill.tuning.search import split_validation
from keras_distill.tuning.search import tune_and_compare
from keras_distill.tuning.teacher_cache import load_teacher_outputs
from keras_distill.tuning.teacher_cache import shared_teacher_outputs
from keras_distill.tuning.tuners import BayesianOptimization
from keras_distill.tuning.tuners import Hyperband
from keras_distill.tuning.tuners import RandomSearch
