"""Distilling causal language models (keras-hub `CausalLM`s, or any model from
`{"token_ids", "padding_mask"}` to per-position logits) with the ordinary `Distiller`.

- `examples(inputs, teacher, student)`: next-token `(x, y)` from token sequences one longer than
  the models', checked first (a padding mask, lengths within both models' maximum);
- `distiller(teacher, student, divergence=...)`: a `Distiller` with forward KL (Hinton),
  reverse KL or GKD's generalized JSD (`keras_distill.losses.divergences`), after checking
  that the two models share one vocabulary;
- `teacher_generations` (sequence-level KD: the teacher's continuations as training text) and
  `fit_on_policy` (the student's own samples, scored by the teacher), in `generation.py`;
- `save_preset(distiller.student, path)`: the student as a keras-hub preset directory, written
  atomically, loadable offline with `keras_hub.models.CausalLM.from_preset(path)`;
  `save_scoring_model` writes a SavedModel with a `token_ids`/`padding_mask` -> `logits`
  signature for TF Serving (`scoring_difference` measures it against the Keras model);
- `text`, `models`, `evaluation`: what `keras-distill lm` (`workflow.language_model`) runs on:
  text files tokenized and split, reference GPT-2s and loaded presets, held-out perplexity,
  next-token accuracy and tokens/s.

Padded positions count in no term: `y` is `-1` there (unlabeled), and the `Distiller` takes the
inputs' padding mask as the mask of the logits, so the distillation term skips them too. The
rest is the `Distiller`'s: alpha and T variables, `fit` and callbacks, `tf.distribute`,
`BackupAndRestore`.

Example (a tiny GPT-2 from config, byte tokens; no download):

>>> import keras, keras_hub
>>> def gpt2(layers, width):
...     backbone = keras_hub.models.GPT2Backbone(
...         vocabulary_size=BYTE_VOCABULARY, num_layers=layers, num_heads=2, hidden_dim=width,
...         intermediate_dim=2 * width, max_sequence_length=16)
...     return keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
>>> teacher, student = gpt2(2, 16), gpt2(1, 8)
>>> x, y = examples(byte_sequences("Knowledge distillation. " * 8, 17), teacher, student)
>>> model = distiller(teacher, student, divergence="generalized_jsd")
>>> _ = model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(
...     from_logits=True))
>>> sorted(model.fit(x, y, epochs=1, verbose=0).history)
['distillation_loss', 'loss', 'student_loss', 'total_loss']
"""

import tensorflow as tf

from keras_distill.distiller.distiller import Distiller
from keras_distill.lm.checks import check_batch
from keras_distill.lm.checks import check_vocabularies
from keras_distill.lm.export import save_preset
from keras_distill.lm.export import save_scoring_model
from keras_distill.lm.export import scoring_difference
from keras_distill.lm.generation import fit_on_policy
from keras_distill.lm.generation import prompts
from keras_distill.lm.generation import teacher_generations
from keras_distill.lm.sequences import BYTE_VOCABULARY
from keras_distill.lm.sequences import byte_sequences
from keras_distill.lm.sequences import next_token_examples
from keras_distill.lm.sequences import token_sequences
from keras_distill.losses import divergences
from keras_distill.losses.terms import LogitsDistillation

DIVERGENCES = divergences.DIVERGENCES

__all__ = ["BYTE_VOCABULARY", "DIVERGENCES", "byte_sequences", "check_batch",
           "check_vocabularies", "distiller", "examples", "fit_on_policy", "next_token_examples",
           "prompts", "save_preset", "save_scoring_model", "scoring_difference",
           "teacher_generations",
           "token_sequences"]


def examples(inputs, teacher, student):
    """Checked next-token `(x, y)` (see `next_token_examples`) for `teacher` and `student`.

    Args:
        inputs: `{"token_ids", "padding_mask"}` arrays `[n, length + 1]`, or a batched
            `tf.data.Dataset` of such dicts (its first batch is checked now).
        teacher: The teacher LM.
        student: The student LM.

    Returns:
        `(x, y)` arrays, or a dataset of `(x, y)` batches.

    Raises:
        ValueError: If the padding mask is missing or the sequences are longer than either
            model takes.
    """
    if isinstance(inputs, tf.data.Dataset):
        first = next(iter(inputs.take(1)), None)
        if first is not None:
            check_batch(next_token_examples(first)[0], teacher, student)
        return inputs.map(next_token_examples, num_parallel_calls=tf.data.AUTOTUNE)
    x, y = next_token_examples(inputs)
    check_batch(x, teacher, student)
    return x, y


def distiller(teacher, student, *, divergence="forward_kl", temperature=1.0, alpha=0.5,
              beta=0.5, **kwargs):
    """A `Distiller` of the causal LM `teacher` into `student`.

    Args:
        teacher: The trained teacher LM.
        student: The student LM, with the teacher's vocabulary.
        divergence: `"forward_kl"` (Hinton's KD), `"reverse_kl"` or `"generalized_jsd"`.
            Defaults to `"forward_kl"`.
        temperature: The softmax temperature. Defaults to `1.0` (usual for LMs).
        alpha: Weight of the next-token cross-entropy on the data. Defaults to `0.5`.
        beta: The generalized JSD's teacher weight in its mixture, in (0, 1). Defaults to
            `0.5`.
        **kwargs: Passed to `Distiller` (`augmentation`, `teacher_dtype`, ...).

    Returns:
        An uncompiled `Distiller` (keras.distillation's form: `compile(optimizer, loss)`).

    Raises:
        ValueError: On a vocabulary mismatch or an unknown divergence.
    """
    loss = divergences.by_name(divergence, beta)
    check_vocabularies(teacher, student)
    return Distiller(teacher=teacher, student=student, student_loss_weight=alpha,
                     distillation_losses=LogitsDistillation(temperature=temperature, loss=loss),
                     **kwargs)
