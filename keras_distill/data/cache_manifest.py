"""The manifest of an on-disk teacher-output cache: what it holds, for what, and its checksum.

`cache_teacher_outputs(..., path=...)` writes `manifest.json` into the cache directory last,
after every data file, and the directory is then renamed into place whole:

    {"format": "keras_distill.teacher_outputs", "version": 1,
     "examples": 1000,
     "arrays": {"0/keras_distill_teacher_outputs/logits": {"shape": [10], "dtype": "float32"},
                ...},                       # one entry per stored array, whatever the format
     "fingerprint": {"teacher": "<sha256>", "data": "<sha256>", "options": {"dtype": ...}},
     "files": {"<relative path>": {"bytes": 123, "sha256": "..."}, ...},
     "checksum": "<sha256 of files>",
     "checked": true}                       # every example checked as written (absent: not)

`load` verifies it before `tf.data` reads a byte: a missing directory, a missing or unreadable
manifest, a file missing, cut short or changed, arrays or an example count that differ, or a
cache written for another teacher or other data each fail with a `ValueError` that names the
path and what is wrong.

Example:

>>> import os, tempfile, tensorflow as tf
>>> path = os.path.join(tempfile.mkdtemp(), "cache")
>>> tf.data.Dataset.range(3).save(path)
>>> write(path, examples=3, fingerprint={"teacher": "t", "data": "d", "options": {}})
>>> int(load(path).cardinality())
3
>>> open(os.path.join(path, MANIFEST), "w").close()
>>> load(path)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: Invalid value for argument `path`. Expected a complete teacher-output cache written by `cache_teacher_outputs(..., path=...)`. Received: path=... (its manifest.json is not valid JSON). Delete the directory and cache the teacher outputs again
"""

import hashlib
import json
import os

import keras
import numpy as np
import tensorflow as tf

from keras_distill import io
from keras_distill import validation

MANIFEST = "manifest.json"
FORMAT = "keras_distill.teacher_outputs"
VERSION = 1
_EXPECTED = "a complete teacher-output cache written by `cache_teacher_outputs(..., path=...)`"
_HINT = "Delete the directory and cache the teacher outputs again"


def _bad(path, detail, hint=_HINT):
    shown = os.fspath(path) if isinstance(path, (str, os.PathLike)) else path
    return validation.invalid_data("path", _EXPECTED, f"path={shown!r} ({detail})", hint)


def _arrays(element_spec):
    return {"/".join(str(p) for p in path) or "0": {"shape": list(spec.shape.as_list()),
                                                     "dtype": spec.dtype.name}
            for path, spec in keras.tree.flatten_with_path(element_spec)}


def _files(path):
    """`{relative path: {"bytes", "sha256"}}` of every file under `path` but the manifest."""
    files = {}
    for root, _, names in os.walk(path):
        for name in names:
            full = os.path.join(root, name)
            relative = os.path.relpath(full, path)
            if relative == MANIFEST:
                continue
            with open(full, "rb") as f:
                digest = hashlib.file_digest(f, "sha256").hexdigest()
            files[relative] = {"bytes": os.path.getsize(full), "sha256": digest}
    return dict(sorted(files.items()))


def _checksum(files):
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def _hash_arrays(digest, values):
    for value in values:
        array = np.ascontiguousarray(np.asarray(value))
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes() if array.dtype.kind not in "OUS" else
                      repr(array.tolist()).encode())


def teacher_fingerprint(teacher):
    """A digest of a teacher's weights (values, shapes, dtypes) and output shapes: the same for
    the same trained teacher, whatever its layers are named.

    Args:
        teacher: A `keras.Model`, a list of them (an ensemble), or a `Distiller` (its teachers).

    Example:

    >>> import keras
    >>> a = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, kernel_initializer="ones")])
    >>> b = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, kernel_initializer="ones")])
    >>> teacher_fingerprint(a) == teacher_fingerprint([b])
    True
    """
    if callable(getattr(teacher, "compute_teacher_outputs", None)):
        teacher = teacher.teacher
    digest = hashlib.sha256()
    for model in teacher if isinstance(teacher, (list, tuple)) else [teacher]:
        outputs = getattr(model, "outputs", None) or []
        digest.update(repr([tuple(t.shape) for t in outputs]).encode())
        _hash_arrays(digest, [w.numpy() for w in model.weights])
    return digest.hexdigest()


def data_fingerprint(dataset, first_batch):
    """A digest of a source dataset: its element spec, its batch count (when known) and the
    values of its first batch."""
    digest = hashlib.sha256()
    digest.update(repr(dataset.element_spec).encode())
    digest.update(str(int(dataset.cardinality())).encode())
    _hash_arrays(digest, [v for v in tf.nest.flatten(first_batch) if v is not None])
    return digest.hexdigest()


def write(path, *, examples, fingerprint, checked=False):
    """Writes the manifest of the dataset saved at `path` (the last file written there).

    Args:
        path: The directory `tf.data.Dataset.save` wrote (the staging directory).
        examples: How many examples were saved.
        fingerprint: `{"teacher": ..., "data": ..., "options": {...}}`.
        checked: Whether every example was checked as it was written (finite inputs and
            teacher outputs, sample weights finite and `>= 0`, numeric labels; see
            `written_checked`). Defaults to `False`.
    """
    files = _files(path)
    element_spec = tf.data.Dataset.load(path).element_spec
    io.write_json(os.path.join(path, MANIFEST), {
        "format": FORMAT, "version": VERSION, "examples": int(examples),
        "arrays": _arrays(element_spec), "fingerprint": fingerprint, "files": files,
        "checksum": _checksum(files), "checked": bool(checked)})


def read(path):
    """The manifest at `path`, checked to be one; raises `ValueError` naming what is wrong."""
    if not isinstance(path, (str, os.PathLike)) or not os.path.isdir(path):
        raise _bad(path, "no such directory" if isinstance(path, (str, os.PathLike))
                   and not os.path.exists(path) else "not a directory",
                   "Pass the directory given to `cache_teacher_outputs(..., path=...)`")
    manifest_path = os.path.join(path, MANIFEST)
    if not os.path.isfile(manifest_path):
        raise _bad(path, f"it has no {MANIFEST}: it was not written completely, or by an older "
                   "keras_distill")
    try:
        with open(manifest_path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (ValueError, UnicodeDecodeError):
        raise _bad(path, f"its {MANIFEST} is not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _bad(path, f"its {MANIFEST} is not a teacher-output cache manifest")
    if manifest.get("version") != VERSION:
        raise _bad(path, f"format version {manifest.get('version')!r}; this keras_distill "
                   f"reads version {VERSION}")
    return manifest


def _verify_files(path, manifest):
    expected = manifest.get("files") or {}
    if _checksum(expected) != manifest.get("checksum"):
        raise _bad(path, f"its {MANIFEST} does not match its own checksum")
    found = _files(path)
    for name, entry in expected.items():
        got = found.get(name)
        if got is None:
            raise _bad(path, f"{name!r} is missing")
        if got["bytes"] != entry["bytes"]:
            raise _bad(path, f"{name!r} has {got['bytes']} bytes, {entry['bytes']} were "
                       "written: it was cut short or changed")
        if got["sha256"] != entry["sha256"]:
            raise _bad(path, f"{name!r} does not match its checksum: it is corrupt")
    extra = sorted(set(found) - set(expected))
    if extra:
        raise _bad(path, f"it holds files the cache did not write: {extra[:3]}")


def _verify_fingerprint(path, manifest, fingerprint):
    stored = manifest.get("fingerprint") or {}
    for part, what in (("teacher", "another teacher (or other weights)"),
                       ("data", "other data")):
        if fingerprint.get(part) is not None and stored.get(part) != fingerprint[part]:
            raise _bad(path, f"it was written for {what}",
                       "Use another directory for this teacher and data, or delete this one")


def load(path, fingerprint=None):
    """Verifies the cache at `path` against its manifest and returns its example dataset.

    Args:
        path: The cache directory.
        fingerprint: `{"teacher": ..., "data": ...}` the cache must have been written for
            (either may be missing or `None`: not checked). Defaults to `None`.

    Returns:
        The unbatched `tf.data.Dataset` of examples.

    Raises:
        ValueError: The cache is missing, incomplete, corrupt, truncated or mismatched.
    """
    manifest = read(path)
    _verify_files(path, manifest)
    if fingerprint:
        _verify_fingerprint(path, manifest, fingerprint)
    try:
        examples = tf.data.Dataset.load(os.fspath(path))
    except Exception as error:  # NotFoundError, DecodeError, ...: whatever tf.data says.
        raise _bad(path, f"tf.data could not read it: {type(error).__name__}: "
                   f"{str(error).splitlines()[0][:200]}") from None
    arrays = _arrays(examples.element_spec)
    if arrays != manifest.get("arrays"):
        raise _bad(path, f"it holds arrays {arrays}, its {MANIFEST} says "
                   f"{manifest.get('arrays')}")
    count = int(examples.cardinality())
    if count >= 0 and count != manifest.get("examples"):
        raise _bad(path, f"it holds {count} examples, {manifest.get('examples')} were written")
    return examples
