"""Model files: saving atomically, loading a teacher (`.keras` or SavedModel) and checking it fits
the data, exporting a student for TF Serving.
"""

import json
import os
import shutil
import tempfile

import keras


def save_model(model, path):
    """Saves a `.keras` file through a temporary name, so `path` is never half-written."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    staging_dir = tempfile.mkdtemp(prefix=".tmp-", dir=directory)
    try:
        staging = os.path.join(staging_dir, "model.keras")  # Created with the user's umask.
        model.save(staging)
        os.replace(staging, path)
    finally:
        shutil.rmtree(staging_dir, ignore_errors=True)
    return path


def write_json(path, value):
    staging = f"{path}.tmp-{os.getpid()}"
    with open(staging, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2)
    os.replace(staging, path)


def _load_saved_model(path):
    """A `keras.Model` over a SavedModel directory's `serving_default` signature."""
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
    layer = keras.layers.TFSMLayer(path, call_endpoint="serving_default")
    result = layer(inputs)
    return keras.Model(inputs, result[key] if isinstance(result, dict) else result,
                       name="saved_model")


def load_teacher(path, data=None, *, role="teacher"):
    """Loads a teacher from a `.keras` file or a SavedModel directory and checks it fits `data`.

    Args:
        path: A `.keras` (or `.h5`) file, or a SavedModel directory.
        data: A `ClassificationData` the teacher must fit (input shape, class count).
            Defaults to `None`: no check.
        role: What the model is, for messages (`"student"` for a saved student).
            Defaults to `"teacher"`.

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: the path is missing or not a model, or the model does not fit `data`.
    """
    if not isinstance(path, (str, os.PathLike)) or not os.path.exists(path):
        raise ValueError(
            f"Invalid value for argument `{role}`. Expected the path of a `.keras` file or a "
            f"SavedModel directory. Received: {role}={path!r} (no such file or directory)"
        )
    path = os.fspath(path)
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
        raise ValueError(
            f"Invalid value for argument `{role}`. Expected a Keras model saved as `.keras` or "
            f"a SavedModel directory. Received: {role}={path!r}, which could not be loaded as "
            f"a model ({type(cause).__name__}: {str(cause).splitlines()[0][:200]})"
        ) from None
    if data is not None:
        check_fits(model, data, role=role, path=path)
    return model


def check_fits(model, data, *, role="teacher", path=None):
    """Raises `ValueError` unless `model` takes `data`'s inputs and outputs its class count."""
    where = f" ({path})" if path else ""
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
