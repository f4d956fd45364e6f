"""`model_card.json`: what an export takes, what it does to it, what it returns, how well it does.

The card sits beside the artifacts (`<output_dir>/model_card.json`) and is written atomically. It
records the signature's inputs (name, shape, dtype: the raw inputs when a `Preprocessing` is
inside), the preprocessing (normalisation numbers, resize), the inputs the Keras model itself
takes, the outputs, the class names, and each artifact's measurements on the evaluation data.
"""

import os

from keras_distill import io
from keras_distill.export import signature as signature_lib

MODEL_CARD_FILE = "model_card.json"
FORMAT_VERSION = 1
ARTIFACT_FIELDS = ("format", "quantization", "version", "size_bytes", "latency_ms_batch1",
                   "accuracy", "agreement", "keras_accuracy", "accuracy_change", "max_abs_diff",
                   "eval_examples")


def build_model_card(signature, records, *, directory=None, evaluation=None, dataset=None):
    """The model card of an export, as a JSON-ready dict.

    Args:
        signature: The `keras_distill.export.ServingSignature` every artifact serves.
        records: `{artifact_name: record}` as `export_student` returns them.
        directory: Artifact paths are written relative to it. Defaults to `None`: as given.
        evaluation: JSON-ready notes on the evaluation data (`inputs`, `examples`, ...).
            Defaults to `None`.
        dataset: A dataset description (`ClassificationData.describe()`). Defaults to `None`.

    Returns:
        A dict with the keys `format_version`, `model`, `signature`, `inputs`, `preprocessing`,
        `model_inputs`, `outputs`, `class_names`, `artifacts`, `evaluation` and `dataset`.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((4,), name="x"), keras.layers.Dense(3)])
    >>> card = build_model_card(signature_lib.ServingSignature(model), {})
    >>> card["inputs"]
    [{'name': 'x', 'shape': [None, 4], 'dtype': 'float32'}]
    >>> [output["name"] for output in card["outputs"]]
    ['logits', 'probabilities', 'class_ids']
    """
    preprocessing = signature.preprocessing
    artifacts = {}
    for name, record in records.items():
        entry = {key: record.get(key) for key in ARTIFACT_FIELDS if key in record}
        path = record.get("path")
        entry["path"] = (os.path.relpath(path, directory) if path and directory is not None
                         else path)
        artifacts[name] = entry
    return {
        "format_version": FORMAT_VERSION,
        "model": signature.model.name,
        "signature": signature_lib.SIGNATURE_KEY,
        **signature.describe(),
        "preprocessing": None if preprocessing is None else {
            "normalization": (None if preprocessing.normalization is None
                              else preprocessing.normalization.to_dict()),
            "normalization_formula": "(cast(x, float32) * scale - mean) / std",
            "resize": None if preprocessing.resize is None else list(preprocessing.resize),
            "resize_method": None if preprocessing.resize is None else "bilinear, rounded",
        },
        "class_names": (None if signature.class_names is None
                        else list(signature.class_names)),
        "artifacts": artifacts,
        "evaluation": evaluation,
        "dataset": dataset,
    }


def write_model_card(directory, signature, records, *, evaluation=None, dataset=None):
    """Writes `build_model_card(...)` to `directory/model_card.json` atomically; returns its path.

    Example:

    >>> import json, keras, tempfile
    >>> model = keras.Sequential([keras.Input((4,), name="x"), keras.layers.Dense(3)])
    >>> path = write_model_card(tempfile.mkdtemp(), signature_lib.ServingSignature(model), {})
    >>> json.load(open(path))["signature"]
    'serving_default'
    """
    path = os.path.join(directory, MODEL_CARD_FILE)
    io.write_json(path, build_model_card(signature, records, directory=directory,
                                   evaluation=evaluation, dataset=dataset))
    return path
