"""What must hold before a language model is distilled into another: one vocabulary, sequences
no longer than either model takes, and a padding mask.

Each check raises a `ValueError` that names the values, before any training.
"""

import numpy as np

from keras_distill import validation
from keras_distill.lm import sequences


def vocabulary_size(model):
    """A causal LM's vocabulary size: its backbone's, else its output's last dimension.

    Example:

    >>> import keras
    >>> vocabulary_size(keras.Sequential([keras.Input((4,)), keras.layers.Dense(9)]))
    9
    """
    backbone = getattr(model, "backbone", None)
    size = getattr(backbone, "vocabulary_size", None)
    if size is None and getattr(model, "outputs", None):
        size = model.outputs[0].shape[-1]
    return None if size is None else int(size)


def max_sequence_length(model):
    """The longest sequence `model` takes (its backbone's), or `None` for no limit."""
    length = getattr(getattr(model, "backbone", None), "max_sequence_length", None)
    return None if length is None else int(length)


def check_vocabularies(teacher, student):
    """Raises `ValueError` unless the teacher and the student share one vocabulary size."""
    sizes = vocabulary_size(teacher), vocabulary_size(student)
    if None not in sizes and sizes[0] != sizes[1]:
        raise ValueError(
            "Invalid value for argument `student`. Expected the teacher's vocabulary: "
            f"distillation matches the two models token by token. Received: a student with a "
            f"vocabulary of {sizes[1]} tokens, a teacher with {sizes[0]}. Use one tokenizer "
            "for both.")


def check_batch(x, teacher, student):
    """Raises `ValueError` unless `x` has a padding mask and fits both models' lengths.

    Args:
        x: The models' inputs, `{"token_ids", "padding_mask"}` (arrays or tensors).
        teacher: The teacher.
        student: The student.
    """
    sequences.check_inputs(x)
    length = int(np.shape(x[sequences.TOKEN_IDS])[-1])
    for role, model in (("teacher", teacher), ("student", student)):
        limit = max_sequence_length(model)
        if limit is not None and length > limit:
            raise validation.invalid_data(
                "x", f"sequences of at most {limit} tokens, the {role}'s maximum",
                f"sequences of {length} tokens")
