"""The `export` section of a `RunConfig`: the SavedModel and `.tflite` artifacts, checked."""

import os
from dataclasses import dataclass
from typing import Optional

from keras_distill import validation
from keras_distill.config.sections import optional
from keras_distill.config.sections import set_field
from keras_distill.export import student as export_student
from keras_distill.export import tflite

FORMATS = export_student.FORMATS
QUANTIZATIONS = ("none", *(q for q in tflite.QUANTIZATIONS if q is not None))


@dataclass(frozen=True)
class ExportConfig:
    """Export of the student: a SavedModel for TF Serving and `.tflite` files.

    Args:
        enabled: `run`: export the distilled student into the run's `export/` directory.
            Defaults to `True`.
        publish: `run`: a TF Serving base path (e.g. `saved_models/mnist1d_student`) where the
            run's SavedModel is also published as the next version, only when given.
            Defaults to `None`.
        dir: `export`: the artifacts' directory. Defaults to `None`.
        verify: Reload the SavedModel in a fresh process and compare. Defaults to `True`.
        model: `export`: the `.keras` file to export. Defaults to `None`.
        formats: `"saved_model"` and/or `"tflite"` (`export`). Defaults to both.
        quantization: `.tflite` quantization, `"none"`, `"float16"`, `"dynamic"` or `"int8"`
            (`export`; int8 needs a dataset to calibrate). Defaults to `"none"`.
        min_agreement: Lowest top-1 agreement of a quantized `.tflite` with the Keras model.
            Defaults to `0.98`.
        version: SavedModel version. Defaults to `None`: the next one.
        overwrite: Replace an existing version or `.tflite` file (`export`). Defaults to `False`.
        calibration_examples: Training examples that calibrate int8. Defaults to `500`.
    """

    enabled: bool = True
    publish: Optional[str] = None
    dir: Optional[str] = None
    verify: bool = True
    model: Optional[str] = None
    formats: tuple = FORMATS
    quantization: str = "none"
    min_agreement: float = 0.98
    version: Optional[int] = None
    overwrite: bool = False
    calibration_examples: int = 500

    def __post_init__(self):
        validation.check_bool(self.enabled, "export")
        set_field(self, "publish",
                  optional(self.publish, validation.check_directory_path, "publish"))
        set_field(self, "dir", optional(self.dir, validation.check_directory_path, "output"))
        validation.check_bool(self.verify, "verify")
        if self.model is not None:
            set_field(self, "model", validation.check_existing_path(self.model, "model",
                                                               "a `.keras` file"))
            if not os.path.isfile(self.model):
                raise validation.invalid("model", "the path of a `.keras` file", self.model,
                                         "It is a directory")
        formats = (self.formats,) if isinstance(self.formats, str) else tuple(self.formats)
        if not formats:
            raise validation.invalid("formats", "one or more of " + ", ".join(FORMATS), formats)
        for name in formats:
            validation.check_choice(name, FORMATS, "formats")
        set_field(self, "formats", formats)
        validation.check_choice("none" if self.quantization is None else self.quantization,
                                QUANTIZATIONS, "quantization")
        if self.quantization not in (None, "none") and "tflite" not in formats:
            raise validation.invalid("quantization", "it only with the `tflite` format",
                                     self.quantization, f"Formats: {list(formats)}")
        set_field(self, "min_agreement", validation.check_fraction(self.min_agreement,
                                                              "min_agreement"))
        set_field(self, "version",
                  optional(self.version, validation.check_positive_int, "version"))
        validation.check_bool(self.overwrite, "overwrite")
        set_field(self, "calibration_examples", validation.check_positive_int(
            self.calibration_examples, "calibration_examples"))

    @property
    def tflite_quantization(self):
        """`quantization` as `keras_distill.export` takes it: `None` for float32."""
        return None if self.quantization in (None, "none") else self.quantization
