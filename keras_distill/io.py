"""Files that appear whole or not at all, and model files: the one helper for each.

- `atomic_file(path)` / `write_bytes`, `write_text`, `write_json`: a file written to a staging
  name beside `path`, then renamed over it, so a reader never sees half a file.
- `atomic_directory(path)`: the same for a directory (a SavedModel version, a teacher cache).
- `save_model(model, path)`, `load_model(path, role=..., data=...)`: `.keras` files written
  atomically; teachers and students loaded from `.keras`/`.h5` files or SavedModel directories
  and checked against the data they will see (`check_fits`).

Example:

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "notes.json")
>>> write_json(path, {"alpha": 0.5})
>>> open(path).read()
'{\\n  "alpha": 0.5\\n}'
"""

import contextlib
import json
import os
import re
import shutil
import socket
import tempfile
import time

from keras_distill import validation


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path, mode="wb"):
    """Yields a file open on a staging name beside `path`; renamed to `path` on success.

    On an exception (a `KeyboardInterrupt` included) the staging file is removed and `path`
    keeps what it held before. The file gets the permissions of a plain `open`.

    Args:
        path: The file to write; its directory is created if needed.
        mode: `"wb"` or `"w"` (text, UTF-8, written as given: no newline translation).
            Defaults to `"wb"`.
    """
    if mode not in ("wb", "w"):
        raise validation.invalid("mode", "'wb' or 'w'", mode)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                                       dir=directory)
    text = {} if mode == "wb" else {"encoding": "utf-8", "newline": ""}
    try:
        with os.fdopen(handle, mode, **text) as f:
            yield f
        os.chmod(staging, 0o666 & ~_umask())
        os.replace(staging, path)
    finally:
        if os.path.exists(staging):
            os.remove(staging)


def write_bytes(path, content):
    """Writes `content` to `path` atomically."""
    with atomic_file(path) as f:
        f.write(content)


def write_text(path, text):
    """Writes `text` (UTF-8) to `path` atomically."""
    with atomic_file(path, "w") as f:
        f.write(text)


def write_json(path, value):
    """Writes `value` as indented JSON to `path` atomically."""
    write_text(path, json.dumps(value, indent=2))


@contextlib.contextmanager
def atomic_directory(path, *, overwrite=False):
    """Yields an empty staging directory beside `path`; renamed to `path` on success.

    An existing `path` is replaced only with `overwrite`: it is first renamed aside, so a crash
    between the two renames leaves it (as `.<name>.old-*`), never neither; it is deleted after
    the new directory is in place. Staging names carry their writer (`.<name>.tmp-<pid>@<host>-*`),
    so each write first removes what writers of this host that are gone (SIGKILL, a crash) left
    beside `path` (`remove_stale_staging`).

    Args:
        path: The directory to publish.
        overwrite: Replace an existing `path`. Defaults to `False`.

    Raises:
        FileExistsError: `path` exists (or appears while the body runs) and `overwrite` is
            `False`; `path` is left as it was.

    Example:

    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "cache")
    >>> with atomic_directory(target) as staging:
    ...     write_text(os.path.join(staging, "a.txt"), "a")
    >>> os.listdir(target)
    ['a.txt']
    """
    path = os.path.abspath(path)
    parent, name = os.path.split(path)
    if os.path.lexists(path) and not overwrite:
        raise FileExistsError(f"{path} already exists; it is not replaced without overwrite")
    os.makedirs(parent, exist_ok=True)
    remove_stale_staging(parent)
    staging = tempfile.mkdtemp(prefix=f".{name}.tmp-{_OWNER}-", dir=parent)
    try:
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp's 0700 would hide it from a server.
        yield staging
        _publish(staging, path, overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


_OWNER = f"{os.getpid()}@{socket.gethostname()}"
# `.<name>.tmp-<pid>@<host>-<random>` (and `.old-`): what `atomic_directory` stages or sets aside.
_STAGING = re.compile(r"^\.(.+)\.(tmp|old)-(\d+)@(.+)-[^-]+$")
# Names older versions staged with no owner: removed once they are a day old.
_UNOWNED = re.compile(r"^(?:\..+\.tmp-[a-z0-9_]{8}|\.teacher-cache-.+)$")
UNOWNED_STALE_SECONDS = 24 * 3600


def _gone(pid, host):
    if host != socket.gethostname():
        return False  # Another host's process cannot be seen from here.
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def remove_stale_staging(parent):
    """Removes the staging and set-aside directories that dead writers left in `parent`.

    A directory named by `atomic_directory` for a process of this host that no longer runs is
    removed; one of another host, or of a running process, is left alone. A set-aside old
    directory whose replacement never arrived is renamed back instead. Unowned names of older
    versions (`.<name>.tmp-XXXXXXXX`, `.teacher-cache-*`) go once a day old.

    Returns:
        The names removed (or restored).
    """
    removed = []
    for name in os.listdir(parent) if os.path.isdir(parent) else ():
        full = os.path.join(parent, name)
        match = _STAGING.match(name)
        if match:
            stale = _gone(int(match.group(3)), match.group(4))
            target = os.path.join(parent, match.group(1))
            if stale and match.group(2) == "old" and not os.path.lexists(target):
                os.rename(full, target)  # Killed between the two renames: the old one is it.
                removed.append(name)
                continue
        else:
            try:
                age = time.time() - os.path.getmtime(full)
            except OSError:
                continue
            stale = bool(_UNOWNED.match(name)) and age > UNOWNED_STALE_SECONDS
        if stale and os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full, ignore_errors=True)
            removed.append(name)
    return removed


def _publish(staging, path, overwrite):
    old = None
    if os.path.lexists(path):
        if not overwrite:
            raise FileExistsError(f"{path} appeared while it was being written; not replaced")
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.old-{_OWNER}-",
                               dir=os.path.dirname(path))
        os.rmdir(old)
        os.rename(path, old)
    try:
        os.rename(staging, path)
    except OSError:
        if old is not None:
            os.rename(old, path)
        raise
    if old is not None:
        _remove(old)


def _remove(path):
    """Removes a replaced file or directory; the new one is in place, so failing is harmless."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.remove(path)


# --------------------------------------------------------------------------- model files
def save_model(model, path):
    """Saves `model` as a `.keras` file at `path`, atomically; returns `path`."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    staging_dir = tempfile.mkdtemp(prefix=".tmp-", dir=directory)
    try:
        staging = os.path.join(staging_dir, "model.keras")  # Keras wants the extension.
        model.save(staging)
        os.replace(staging, path)
    finally:
        shutil.rmtree(staging_dir, ignore_errors=True)
    return path


def _load_saved_model(path):
    """A `keras.Model` over a SavedModel directory's `serving_default` signature."""
    import keras
    import tensorflow as tf

    loaded = tf.saved_model.load(path)
    signature = loaded.signatures.get("serving_default")
    if signature is None:
        raise ValueError(f"The SavedModel at {path!r} has no `serving_default` signature.")
    specs = signature.structured_input_signature[1]
    if len(specs) != 1:
        raise ValueError(f"The SavedModel at {path!r} takes {len(specs)} inputs; expected one.")
    (name, spec), = specs.items()
    outputs = signature.structured_outputs
    key = "logits" if "logits" in outputs else next(iter(outputs))
    inputs = keras.Input(spec.shape[1:], dtype=spec.dtype, name=name)
    result = keras.layers.TFSMLayer(path, call_endpoint="serving_default")(inputs)
    return keras.Model(inputs, result[key] if isinstance(result, dict) else result,
                       name="saved_model")


def load_model(path, role="model", data=None, *, trust_savedmodel=False):
    """Loads a model from a `.keras`/`.h5` file or a SavedModel directory, checked against `data`.

    `.keras` and `.h5` files load in Keras's safe mode (a `Lambda` layer's Python code is
    refused). A SavedModel directory is code: its graph runs whatever ops it holds (writing
    files, for one) whenever the model runs, so it loads only with `trust_savedmodel=True`.

    Args:
        path: A `.keras` (or `.h5`) file, or a SavedModel directory.
        role: What the model is (`"teacher"`, `"student"`, `"scratch"`, ...), for messages.
            Defaults to `"model"`.
        data: A `ClassificationData` the model must fit (input shape, class count).
            Defaults to `None`: no check.
        trust_savedmodel: Allow a SavedModel directory. Defaults to `False`.

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: the path is missing or not a model, or the model does not fit `data`.

    Example:

    >>> load_model("/nonexistent.keras", role="teacher")
    Traceback (most recent call last):
    ...
    ValueError: Invalid value for argument `teacher`. Expected the path of a `.keras` file or a SavedModel directory. Received: teacher='/nonexistent.keras' (no such file or directory)
    """
    import keras

    path = validation.check_existing_path(path, role, "a `.keras` file or a SavedModel directory")
    if os.path.isdir(path) and not trust_savedmodel:
        raise validation.invalid(
            role, "a `.keras` file, or a SavedModel directory you trust", path,
            "A SavedModel is code: its graph runs when the model runs and can, for example, "
            "write files. Load it only if you trust its source, with `--trust-savedmodel` "
            "(`trust_savedmodel=True`)")
    cause = None
    try:
        if os.path.isdir(path):
            model = _load_saved_model(path)
        else:
            model = keras.saving.load_model(path, compile=False)
    except ValueError as error:
        if "SavedModel" in str(error):
            raise
        model, cause = None, error
    except Exception as error:  # Keras raises many kinds for a file that is not a model.
        model, cause = None, error
    if not isinstance(model, keras.Model):
        reason = f"{type(cause).__name__}: {str(cause).splitlines()[0][:200]}" if cause else (
            f"it holds a {type(model).__name__}")
        raise validation.invalid(role, "a Keras model saved as `.keras` or a SavedModel "
                                 "directory", path, f"It could not be loaded as a model ({reason})")
    if data is not None:
        check_fits(model, data, role=role, path=path)
    return model


def check_fits(model, data, *, role="teacher", path=None):
    """Raises `ValueError` unless `model` takes `data`'s inputs and outputs its class count."""
    where = f" ({path})" if path else ""
    outputs = getattr(model, "outputs", None) or []
    if len(outputs) > 1:
        names = [t._keras_history[0].name for t in outputs]
        raise ValueError(
            f"The {role}{where} has {len(outputs)} outputs {names}; expected one output of "
            f"{data.num_classes} class logits. Save a model with the one output to distill "
            f"(`keras_distill.teacher.select_output(model, {names[0]!r})`).")
    inputs = getattr(model, "inputs", None) or []
    if len(inputs) != 1:
        raise ValueError(f"The {role}{where} has {len(inputs)} inputs; expected one input of "
                         f"shape {tuple(data.input_shape)} for the dataset {data.name!r}.")
    shape = tuple(inputs[0].shape[1:])
    expected = tuple(data.input_shape)
    if len(shape) != len(expected) or any(
        got is not None and got != want for got, want in zip(shape, expected)
    ):
        raise ValueError(
            f"The {role}{where} takes inputs of shape {shape}, but the dataset {data.name!r} has "
            f"inputs of shape {expected}. Expected a {role} trained on this dataset."
        )
    classes = model.outputs[0].shape[-1] if getattr(model, "outputs", None) else None
    if classes is not None and classes != data.num_classes:
        raise ValueError(
            f"The {role}{where} outputs {classes} classes, but the dataset {data.name!r} has "
            f"{data.num_classes}. Expected a {role} trained on this dataset."
        )
