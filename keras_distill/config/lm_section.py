"""The `lm` section of a `RunConfig`: distilling a causal language model (`keras-distill lm`).

The rest of an `lm` run's settings are the shared sections': the teacher's path and epochs
(`teacher`), the students' epochs (`student.epochs`), alpha, T, caching, the teacher's dtype and
`BackupAndRestore` (`distill`), batch size, learning rate, seed and strategy (`train`), the
validation and test fractions (`data`), and whether to export (`export.enabled`).

Example:

>>> LMConfig(sequence_length=128).student_shape
(1, 32)
>>> LMConfig(divergence="kl")
Traceback (most recent call last):
...
ValueError: Invalid value for argument `divergence`. Expected one of 'forward_kl', 'reverse_kl', 'generalized_jsd'. Received: divergence='kl'
"""

import os
from dataclasses import dataclass
from typing import Any
from typing import Optional

from keras_distill import validation
from keras_distill.config.sections import optional
from keras_distill.config.sections import set_field
from keras_distill.losses import divergences

DIVERGENCES = divergences.DIVERGENCES
TOKENIZERS = ("auto", "bytes")
REFERENCE_TEACHER = (3, 128)  # layers, width: clearly better than the student in 10 epochs
REFERENCE_STUDENT = (1, 32)


def _paths(value):
    if isinstance(value, (str, os.PathLike)):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise validation.invalid("text", "text files or directories of them", value)
    return tuple(validation.check_existing_path(v, "text", "a text file or a directory of them")
                 for v in value)


@dataclass(frozen=True)
class LMConfig:
    """A causal language model distilled on text (`keras-distill lm`).

    Args:
        text: Text files, or directories of them (every file is read as UTF-8). Defaults to
            `None`: the built-in sample, the source of a few modules of Python's standard
            library (`keras_distill.lm.text.SAMPLE_MODULES`).
        tokenizer: `"bytes"` (UTF-8 bytes, 257 ids), a keras-hub preset directory holding a
            `tokenizer.json`, or `"auto"`: the teacher preset's tokenizer when the teacher is a
            preset directory with one, else bytes. Defaults to `"auto"`.
        sequence_length: Tokens per training sequence. Defaults to `64`.
        student: The student: a keras-hub preset directory or a `.keras` `CausalLM` (its
            weights are where both students start). Defaults to `None`: the reference GPT-2 of
            `student_layers` x `student_width`, untrained.
        student_layers: Transformer blocks of the reference student. Defaults to `None` (1).
        student_width: Hidden size of the reference student. Defaults to `None` (32).
        teacher_layers: Blocks of the reference teacher, trained by the run when no teacher
            path is given. Defaults to `None` (3).
        teacher_width: Hidden size of the reference teacher. Defaults to `None` (128).
        divergence: `"forward_kl"` (Hinton's KD), `"reverse_kl"` or `"generalized_jsd"` (GKD).
            Defaults to `"forward_kl"`.
        beta: The generalized JSD's mixture weight, in (0, 1). Defaults to `0.5`.
        top_k: With `distill.cache_teacher`, the teacher logits kept per position (float16
            values and their token ids; the rest of the mass in one bucket). Defaults to `32`.
    """

    text: Any = None
    tokenizer: str = "auto"
    sequence_length: int = 64
    student: Optional[str] = None
    student_layers: Optional[int] = None
    student_width: Optional[int] = None
    teacher_layers: Optional[int] = None
    teacher_width: Optional[int] = None
    divergence: str = "forward_kl"
    beta: float = 0.5
    top_k: int = 32

    def __post_init__(self):
        set_field(self, "text", optional(self.text, lambda v, _: _paths(v), "text"))
        if self.tokenizer not in TOKENIZERS:
            set_field(self, "tokenizer", validation.check_existing_path(
                self.tokenizer, "tokenizer", "a keras-hub preset directory, or 'auto' or "
                "'bytes'"))
        if validation.check_positive_int(self.sequence_length, "sequence_length") < 2:
            raise validation.invalid("sequence_length", "at least 2 tokens",
                                     self.sequence_length)
        set_field(self, "student", optional(self.student, validation.check_existing_path,
                                            "student", "a keras-hub preset directory or a "
                                            "`.keras` file"))
        for name in ("student_layers", "student_width", "teacher_layers", "teacher_width"):
            set_field(self, name, optional(getattr(self, name), validation.check_positive_int,
                                           name))
        if self.student is not None and (self.student_layers or self.student_width):
            raise validation.invalid(
                "student_layers" if self.student_layers else "student_width",
                "it only for the reference student, not with a `student` path",
                self.student_layers or self.student_width)
        validation.check_choice(self.divergence, DIVERGENCES, "divergence")
        set_field(self, "beta", validation.check_open_fraction(self.beta, "beta"))
        set_field(self, "top_k", validation.check_positive_int(self.top_k, "top_k"))

    @property
    def student_shape(self):
        """`(layers, width)` of the reference student."""
        return (self.student_layers or REFERENCE_STUDENT[0],
                self.student_width or REFERENCE_STUDENT[1])

    @property
    def teacher_shape(self):
        """`(layers, width)` of the reference teacher."""
        return (self.teacher_layers or REFERENCE_TEACHER[0],
                self.teacher_width or REFERENCE_TEACHER[1])
