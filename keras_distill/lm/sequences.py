"""Next-token training examples for causal language models, in keras-hub's input format.

A causal LM reads `{"token_ids", "padding_mask"}` of shape `[batch, length]` and predicts, at
each position, the next token. `next_token_examples` turns sequences one token longer into
`(x, y)`: `x` the first `length` tokens with their padding mask, `y` the following tokens, and
`-1` (unlabeled: counted in no term) where the next token is padding. The `Distiller` takes the
padding mask of `x` as the mask of the per-position logits, so padded positions count in no
term, the distillation term included.

`byte_sequences` is the offline tokenizer of the tests and the benchmark: UTF-8 bytes, shifted by
one so that token 0 is padding (`BYTE_VOCABULARY = 257`).
"""

import numpy as np
import tensorflow as tf

from keras_distill import validation
from keras_distill.distiller.distiller import PADDING_MASK

TOKEN_IDS = "token_ids"
BYTE_VOCABULARY = 257  # 0 is padding; byte b is token b + 1.


def token_sequences(tokens, length, padding_id=0):
    """Splits a 1-D array of token ids (a tokenized text) into `[n, length]` rows and their
    padding mask; the last row is padded with `padding_id`.

    Example:

    >>> sequences = token_sequences([5, 6, 7, 8, 9], 3)
    >>> sequences["token_ids"].tolist(), sequences["padding_mask"].tolist()
    ([[5, 6, 7], [8, 9, 0]], [[True, True, True], [True, True, False]])
    """
    length = validation.check_positive_int(length, "length")
    padding_id = validation.check_non_negative_int(padding_id, "padding_id")
    tokens = np.asarray(tokens).reshape(-1)
    if tokens.size == 0 or tokens.dtype.kind not in "iu":
        raise validation.invalid("tokens", "a non-empty array of integer token ids",
                                 f"{tokens.size} values of dtype {tokens.dtype}")
    rows = -(-tokens.size // length)
    token_ids = np.full((rows, length), padding_id, "int32")
    mask = np.zeros((rows, length), bool)
    token_ids.flat[:tokens.size], mask.flat[:tokens.size] = tokens, True
    return {TOKEN_IDS: token_ids, PADDING_MASK: mask}


def byte_sequences(text, length):
    """`token_sequences` of the UTF-8 bytes of `text` (token = byte + 1, 0 is padding).

    Example:

    >>> byte_sequences("abcde", 3)["token_ids"].tolist()
    [[98, 99, 100], [101, 102, 0]]
    """
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    if not data:
        raise validation.invalid("text", "a non-empty text", text)
    return token_sequences(np.frombuffer(data, np.uint8).astype("int32") + 1, length)


def check_inputs(inputs):
    """Raises `ValueError` unless `inputs` is a dict of token ids and their padding mask."""
    if not isinstance(inputs, dict) or TOKEN_IDS not in inputs:
        raise validation.invalid(
            "inputs", f"a dict with {TOKEN_IDS!r} and {PADDING_MASK!r}",
            type(inputs).__name__ if not isinstance(inputs, dict) else sorted(inputs))
    if PADDING_MASK not in inputs:
        raise validation.invalid(
            "inputs", f"a {PADDING_MASK!r} beside {TOKEN_IDS!r}: without it padding would be "
            "trained on as text", sorted(inputs))


def next_token_examples(inputs):
    """`(x, y)` for next-token prediction from sequences one token longer than the model's.

    Works on NumPy arrays and on tensors (inside `tf.data.Dataset.map`).

    Args:
        inputs: `{"token_ids": [batch, length + 1], "padding_mask": [batch, length + 1]}`.

    Returns:
        `(x, y)`: `x` holds the first `length` tokens and their mask, `y` the next tokens,
        with `-1` where the next token is padding.

    Raises:
        ValueError: If `inputs` is not such a dict, or has no padding mask.

    Example:

    >>> x, y = next_token_examples(byte_sequences("abcde", 3))
    >>> x["token_ids"].tolist(), y.tolist()
    ([[98, 99], [101, 102]], [[99, 100], [102, -1]])
    """
    check_inputs(inputs)
    token_ids, mask = inputs[TOKEN_IDS], inputs[PADDING_MASK]
    x = {TOKEN_IDS: token_ids[:, :-1], PADDING_MASK: mask[:, :-1]}
    following, known = token_ids[:, 1:], mask[:, 1:]
    if isinstance(token_ids, np.ndarray):
        return x, np.where(known, following, -1).astype("int32")
    return x, tf.where(tf.cast(known, tf.bool), tf.cast(following, tf.int32), -1)
