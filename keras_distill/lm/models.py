"""The language models of a run: a reference GPT-2 built from config, or the user's model loaded
from a keras-hub preset directory or a `.keras` file.

keras-hub is imported here, where it is needed; without it, `import_keras_hub` says what to
install. Nothing is downloaded: a preset is a local directory.

Example:

>>> model = reference_gpt2(vocabulary_size=257, layers=1, width=8, sequence_length=16, seed=0)
>>> model.count_params(), weight_bytes(model)
(3072, 12288)
"""

import os

import keras
import tensorflow as tf

from keras_distill import validation

PRESET_FILES = ("config.json", "metadata.json")


class MissingDependencyError(ImportError):
    """An optional dependency is not installed; the message says what to install."""


def import_keras_hub():
    """`keras_hub`, or a `MissingDependencyError` naming what to install."""
    try:
        import keras_hub
    except ImportError:
        raise MissingDependencyError("Distilling language models needs keras-hub: "
                                     "pip install 'keras-distill[lm]' (or keras-hub)") from None
    return keras_hub


def reference_gpt2(vocabulary_size, layers, width, sequence_length, seed):
    """An untrained keras-hub `GPT2CausalLM` (no preprocessor): `layers` blocks `width` wide,
    4 heads from width 64 (2 below), a feed-forward 4 times the width.

    Args:
        vocabulary_size: Token ids of the tokenizer.
        layers: Transformer blocks.
        width: Hidden size.
        sequence_length: The longest sequence the model takes.
        seed: Seed of the initial weights (the same seed, the same weights).
    """
    keras_hub = import_keras_hub()
    keras.utils.set_random_seed(seed)
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=vocabulary_size, num_layers=layers, num_heads=4 if width >= 64 else 2,
        hidden_dim=width, intermediate_dim=4 * width, max_sequence_length=sequence_length)
    return keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)


def is_preset(path):
    """Whether `path` is a keras-hub preset directory."""
    return os.path.isdir(path) and all(os.path.isfile(os.path.join(path, name))
                                       for name in PRESET_FILES)


def load_causal_lm(path, role):
    """The causal LM saved at `path`: a keras-hub preset directory or a `.keras` file.

    Args:
        path: The preset directory or `.keras` file.
        role: `"teacher"` or `"student"`, for the error message.

    Raises:
        ValueError: If `path` is neither.
    """
    keras_hub = import_keras_hub()
    if is_preset(path):
        return keras_hub.models.CausalLM.from_preset(path, preprocessor=None)
    if os.path.isfile(path) and path.endswith(".keras"):
        model = keras.saving.load_model(path)
        if getattr(model, "preprocessor", None) is not None:
            model.preprocessor = None  # It trains on token ids; a preprocessor expects text.
        return model
    raise validation.invalid(role, "a keras-hub preset directory (config.json, metadata.json, "
                             "...) or a .keras file of a CausalLM", path)


def weight_bytes(model):
    """Bytes of `model`'s weights as stored, each in its own dtype."""
    return sum(int(keras.ops.size(w)) * tf.as_dtype(w.dtype).size for w in model.weights)
