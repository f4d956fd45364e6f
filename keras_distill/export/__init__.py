"""Shipping the student: SavedModel for TF Serving, TFLite/LiteRT for phones and boards."""

from keras_distill.export.model_card import MODEL_CARD_FILE
from keras_distill.export.model_card import build_model_card
from keras_distill.export.model_card import write_model_card
from keras_distill.export.preprocessing import Preprocessing
from keras_distill.export.saved_model import existing_versions
from keras_distill.export.saved_model import export_saved_model
from keras_distill.export.signature import ServingSignature
from keras_distill.export.student import export_student
from keras_distill.export.tflite import export_tflite
from keras_distill.export.tflite import run_tflite
from keras_distill.export.tflite import tflite_latency_ms
from keras_distill.export.verify import reload_in_fresh_process
from keras_distill.export.warmup import read_warmup_requests
from keras_distill.export.warmup import write_warmup_requests
