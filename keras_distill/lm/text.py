"""The text a language model is distilled on: files read, tokenized, cut into sequences and split.

- `read_text(paths)`: UTF-8 text files, or directories of them (every file, in sorted order), or
  `None` for the built-in sample: the source of a few modules of Python's standard library, which
  ships with every Python, so the command runs offline with nothing given.
- `Tokenizer`: bytes (`byte_tokenizer()`, 257 ids, 0 is padding) or a keras-hub preset's own
  tokenizer (`preset_tokenizer(path)`), with the vocabulary size the models must share.
- `split_sequences(inputs, validation_split, test_split)`: contiguous splits of the sequences,
  the test text last, the validation text just before it, so no split shares a sentence with
  another.

Example:

>>> sequences = byte_tokenizer().sequences("abcdefghij" * 10, 9)
>>> splits = split_sequences(sequences, validation_split=0.1, test_split=0.2)
>>> {name: len(part["token_ids"]) for name, part in splits.items()}
{'train': 9, 'validation': 1, 'test': 2}
"""

import importlib
import inspect
import os
from typing import Callable
from typing import NamedTuple

import numpy as np

from keras_distill import validation
from keras_distill.lm import models
from keras_distill.lm import sequences

SAMPLE_MODULES = ("textwrap", "json.decoder", "json.encoder", "functools", "shlex", "pprint")
SAMPLE = "the source of Python's " + ", ".join(SAMPLE_MODULES) + " modules"
SPLITS = ("train", "validation", "test")


def sample_text():
    """The built-in text: the source of `SAMPLE_MODULES` (about 190 kB)."""
    return "\n".join(inspect.getsource(importlib.import_module(name))
                     for name in SAMPLE_MODULES)


def _files(path):
    if os.path.isdir(path):
        found = sorted(os.path.join(root, name) for root, _, names in os.walk(path)
                       for name in names if not name.startswith("."))
        if not found:
            raise validation.invalid("text", "a directory holding text files", path)
        return found
    return [path]


def read_text(paths=None):
    """The UTF-8 text of `paths` (files, or directories of files), joined by newlines.

    Args:
        paths: A path or a sequence of paths, or `None` for `sample_text()`. Defaults to `None`.

    Returns:
        The text.

    Raises:
        ValueError: If a path does not exist, a file is not UTF-8 text, or all are empty.
    """
    if paths is None:
        return sample_text()
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    parts = []
    for path in paths:
        path = validation.check_existing_path(path, "text", "a text file or a directory of them")
        for name in _files(path):
            try:
                with open(name, encoding="utf-8") as f:
                    parts.append(f.read())
            except UnicodeDecodeError as error:
                raise validation.invalid("text", "UTF-8 text files", name,
                                         f"Byte {error.start} is not UTF-8.") from None
    text = "\n".join(parts)
    if not text.strip():
        raise validation.invalid("text", "files holding some text", list(paths))
    return text


class Tokenizer(NamedTuple):
    """Text -> token ids, with the vocabulary size and the padding id the models are built for.

    Attributes:
        name: `"bytes"` or the preset's path.
        vocabulary_size: The number of token ids.
        padding_id: The id put under the padding mask.
        encode: `str` -> 1-D int array of token ids.
    """

    name: str
    vocabulary_size: int
    padding_id: int
    encode: Callable

    def sequences(self, text, length):
        """`{"token_ids", "padding_mask"}` rows of `length` tokens of `text`."""
        return sequences.token_sequences(self.encode(text), length, padding_id=self.padding_id)


def _encode_bytes(text):
    return np.frombuffer(text.encode("utf-8"), np.uint8).astype("int32") + 1


def byte_tokenizer():
    """UTF-8 bytes as tokens (`lm.byte_sequences`'s): byte b is b + 1, 0 is padding."""
    return Tokenizer("bytes", sequences.BYTE_VOCABULARY, 0, _encode_bytes)


def preset_tokenizer(path):
    """The tokenizer saved in the keras-hub preset directory `path` (`tokenizer.json`).

    Raises:
        ValueError: If `path` holds no tokenizer.
    """
    keras_hub = models.import_keras_hub()
    if not os.path.isfile(os.path.join(path, "tokenizer.json")):
        raise validation.invalid("tokenizer", "a keras-hub preset directory with a "
                                 "tokenizer.json, or 'bytes'", path)
    tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(path)
    padding = getattr(tokenizer, "pad_token_id", None)

    def encode(text):
        return np.asarray(tokenizer(text)).reshape(-1).astype("int32")

    return Tokenizer(os.fspath(path), int(tokenizer.vocabulary_size()),
                     0 if padding is None else int(padding), encode)


def split_sequences(inputs, validation_split, test_split):
    """`{"train", "validation", "test"}`: contiguous parts of the rows of `inputs`.

    The last `test_split` of the rows (at least one) is the test text, the last
    `validation_split` of the rest (at least one) the validation text.

    Raises:
        ValueError: If there are too few rows for three non-empty parts.
    """
    rows = len(inputs[sequences.TOKEN_IDS])
    test = max(1, int(round(rows * test_split)))
    valid = max(1, int(round((rows - test) * validation_split)))
    train = rows - test - valid
    if train < 1:
        raise validation.invalid_data(
            "text", "enough text for a training, a validation and a test split",
            f"{rows} sequences", "Give more text or a shorter `sequence_length`.")
    bounds = {"train": (0, train), "validation": (train, train + valid),
              "test": (train + valid, rows)}
    return {name: {key: value[start:stop] for key, value in inputs.items()}
            for name, (start, stop) in bounds.items()}
