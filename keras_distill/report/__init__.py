"""Comparing teacher, scratch student and distilled student: measurements, verdict, table, plot."""

from keras_distill.report.measure import measure_model
from keras_distill.report.measure import predict_logits
from keras_distill.report.measure import size_on_disk
from keras_distill.report.measure import time_models
from keras_distill.report.report import DISTILLED
from keras_distill.report.report import SCRATCH
from keras_distill.report.report import TEACHER
from keras_distill.report.report import Report
from keras_distill.report.report import compare
