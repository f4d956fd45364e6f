"""The distilled language model as a keras-hub preset directory, or a scoring SavedModel.

Both are written into a staging directory beside `path` and renamed into place
(`io.atomic_directory`): an existing directory is never replaced or half-written.

- `save_preset(model, path)`: `model.save_to_preset`; `keras_hub.models.CausalLM.from_preset`
  loads it back, offline.
- `save_scoring_model(model, path, length)`: a SavedModel whose `serving_default` signature
  takes `token_ids` (int32) and `padding_mask` (bool), `[batch, length]`, and returns the
  per-position `logits`, for TF Serving. Generation stays in Python (keras-hub's `generate`).

LiteRT: the scoring function of a keras-hub GPT-2 converts (TF 2.21, keras-hub 0.32), but the
LiteRT interpreter returns NaN for every logit, so no `.tflite` is written for language models.
"""

import tensorflow as tf

from keras_distill import io
from keras_distill import validation
from keras_distill.distiller.distiller import PADDING_MASK
from keras_distill.lm import sequences


def save_preset(model, path):
    """Writes the keras-hub model `model` (e.g. `distiller.student`) as a preset at `path`.

    Args:
        model: A keras-hub task or backbone (anything with `save_to_preset`).
        path: A directory that does not exist yet.

    Returns:
        `path`.

    Raises:
        TypeError: If `model` has no `save_to_preset` (not a keras-hub model).
        FileExistsError: If `path` exists; it is left as it was.
    """
    if not callable(getattr(model, "save_to_preset", None)):
        raise TypeError(
            "Invalid value for argument `model`. Expected a keras-hub model (with "
            f"`save_to_preset`). Received: model of type {type(model).__name__}")
    path = validation.check_directory_path(path, "path")
    with io.atomic_directory(path) as staging:
        model.save_to_preset(staging)
    return path


def save_scoring_model(model, path, length):
    """Writes `model` as a SavedModel with a scoring signature (see the module docstring).

    Args:
        model: A causal LM taking `{"token_ids", "padding_mask"}`.
        path: A directory that does not exist yet.
        length: The sequence length of the signature.

    Returns:
        `path`.

    Raises:
        FileExistsError: If `path` exists; it is left as it was.
    """
    path = validation.check_directory_path(path, "path")
    length = validation.check_positive_int(length, "length")

    @tf.function(input_signature=[tf.TensorSpec([None, length], tf.int32, sequences.TOKEN_IDS),
                                  tf.TensorSpec([None, length], tf.bool, PADDING_MASK)])
    def score(token_ids, padding_mask):
        inputs = {sequences.TOKEN_IDS: token_ids, PADDING_MASK: padding_mask}
        return {"logits": model(inputs, training=False)}

    module = tf.Module()
    module.model, module.score = model, score
    with io.atomic_directory(path) as staging:
        tf.saved_model.save(module, staging, signatures={"serving_default": score})
    return path


def scoring_difference(path, model, x):
    """The largest absolute difference between the logits of the SavedModel at `path` (its
    `serving_default`) and `model`'s on the inputs `x` (`{"token_ids", "padding_mask"}`),
    over the real positions: what serving changes."""
    served = tf.saved_model.load(path).signatures["serving_default"]
    token_ids = tf.constant(x[sequences.TOKEN_IDS], tf.int32)
    mask = tf.constant(x[PADDING_MASK], tf.bool)
    expected = model({sequences.TOKEN_IDS: token_ids, PADDING_MASK: mask}, training=False)
    got = served(token_ids=token_ids, padding_mask=mask)["logits"]
    difference = tf.abs(tf.cast(got, tf.float32) - tf.cast(expected, tf.float32))
    return float(tf.reduce_max(tf.boolean_mask(difference, mask)))
