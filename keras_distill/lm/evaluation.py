"""How good and how fast a language model is on held-out text: perplexity, next-token accuracy,
scoring throughput, and whether one model's gain over another is larger than the text's noise.

Only real tokens count (labels `-1`, under padding, are skipped). Logits are reduced batch by
batch, so a large vocabulary never holds the whole split's logits in memory.

Example:

>>> import numpy as np
>>> from keras_distill.lm import models, sequences
>>> model = models.reference_gpt2(257, layers=1, width=8, sequence_length=8, seed=0)
>>> x, y = sequences.next_token_examples(sequences.byte_sequences("hello world! " * 9, 9))
>>> result = held_out(model, x, y)
>>> result.tokens == int((y >= 0).sum()), 200 < result.perplexity < 320  # ~uniform over 257
(True, True)
"""

import math
import time
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf


class HeldOut(NamedTuple):
    """A model on held-out text.

    Attributes:
        perplexity: `exp` of the mean next-token cross-entropy over the real tokens.
        accuracy: Share of real tokens whose most likely prediction is the next token.
        tokens: Real (labelled) tokens counted.
        sequence_losses: Summed cross-entropy per sequence (nats), for paired comparisons.
        sequence_tokens: Real tokens per sequence.
    """

    perplexity: float
    accuracy: float
    tokens: int
    sequence_losses: np.ndarray
    sequence_tokens: np.ndarray

    @property
    def cross_entropy(self):
        """Mean cross-entropy per real token, in nats (the log of the perplexity)."""
        return math.log(self.perplexity)


def next_token_loss():
    """The hard-label loss of a language model: cross-entropy on logits, skipping `-1` labels
    (the positions whose next token is padding)."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)


def _batches(data, batch_size):
    """`data` in batches, without tf.data's autotuning: its background loop, cancelled when a
    traced loop ends, prints a C++ warning ("Optimization loop failed: CANCELLED")."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return tf.data.Dataset.from_tensor_slices(data).batch(batch_size).with_options(options)


def held_out(model, x, y, batch_size=64):
    """`HeldOut` figures of `model` on next-token examples `(x, y)` (see `next_token_examples`).

    Args:
        model: A causal LM: `{"token_ids", "padding_mask"}` -> logits `[batch, length, vocab]`.
        x: The inputs, arrays `[n, length]`.
        y: The next tokens `[n, length]`, `-1` where unlabeled.
        batch_size: Sequences per forward pass. Defaults to `64`.
    """

    data = _batches((x, tf.cast(y, tf.int32)), batch_size)

    @tf.function  # One trace for the whole split, the last partial batch included.
    def per_sequence():
        def array():
            return tf.TensorArray(tf.float32, size=0, dynamic_size=True, infer_shape=False)

        losses, hits, counts, index = array(), array(), array(), 0
        for inputs, labels in data:
            logits = tf.cast(model(inputs, training=False), tf.float32)
            real = labels >= 0
            safe = tf.where(real, labels, 0)
            weight = tf.cast(real, tf.float32)
            loss = tf.nn.sparse_softmax_cross_entropy_with_logits(safe, logits)
            hit = tf.cast(tf.argmax(logits, -1, output_type=safe.dtype) == safe, tf.float32)
            losses = losses.write(index, tf.reduce_sum(loss * weight, -1))
            hits = hits.write(index, tf.reduce_sum(hit * weight, -1))
            counts = counts.write(index, tf.reduce_sum(weight, -1))
            index += 1
        return losses.concat(), hits.concat(), counts.concat()

    losses, hits, counts = (v.numpy().astype("float64") for v in per_sequence())
    tokens = max(int(counts.sum()), 1)
    return HeldOut(math.exp(losses.sum() / tokens), float(hits.sum() / tokens), int(counts.sum()),
                   losses, counts)


def paired_gain(baseline, model):
    """How many nats per token `model` saves over `baseline` on the same text, and one standard
    error of that, from the sequences' spread (a ratio estimator: sequences differ in length).

    Example:

    >>> a = HeldOut(0, 0, 4, np.array([4.0, 6.0]), np.array([2.0, 2.0]))
    >>> b = HeldOut(0, 0, 4, np.array([3.0, 5.0]), np.array([2.0, 2.0]))
    >>> paired_gain(a, b)
    (0.5, 0.0)
    """
    differences = baseline.sequence_losses - model.sequence_losses
    tokens = model.sequence_tokens
    mean = differences.sum() / tokens.sum()
    n = len(differences)
    residuals = differences - mean * tokens
    se = math.sqrt(n / (n - 1) * np.sum(residuals ** 2)) / tokens.sum() if n > 1 else math.nan
    return float(mean), float(se)


def tokens_per_second(models, x, batch_size=32, rounds=5):
    """Tokens per second each of `models` scores (forward passes over `x`, batch `batch_size`).

    The models take turns, round after round, and each keeps its fastest pass (after an untimed
    one that traces it), so a busy moment of a shared machine slows a round, not one model.

    Args:
        models: `{name: model}`.
        x: `{"token_ids", "padding_mask"}` arrays.
        batch_size: Sequences per forward pass. Defaults to `32`.
        rounds: Timed passes per model. Defaults to `5`.

    Returns:
        `{name: tokens per second}`.
    """
    data = _batches(x, batch_size).cache()
    tokens = int(np.sum(x["padding_mask"]))

    def forward_pass(model):
        @tf.function
        def forward():
            total = tf.constant(0.0)
            for inputs in data:
                logits = model(inputs, training=False)
                total += tf.reduce_sum(tf.cast(logits[:, -1, :1], tf.float32))
            return total
        return forward

    passes = {name: forward_pass(model) for name, model in models.items()}
    fastest = {name: math.inf for name in models}
    for timed in [False] + [True] * rounds:  # The first round traces.
        for name, forward in passes.items():
            started = time.perf_counter()
            forward().numpy()
            if timed:
                fastest[name] = min(fastest[name], time.perf_counter() - started)
    return {name: tokens / seconds for name, seconds in fastest.items()}
