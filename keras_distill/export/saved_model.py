"""SavedModel export in TF Serving's layout: `base_dir/<version>/saved_model.pb` + `variables/`.

Every version appears atomically: it is written, warmed-up and verified in a temporary directory
inside `base_dir` (TF Serving ignores names that are not integers), then renamed into place, so
a server polling `base_dir` never sees half a model.
"""

import os

import tensorflow as tf

from keras_distill import io, validation
from keras_distill.export import measure
from keras_distill.export import signature as signature_lib
from keras_distill.export import verify as verify_lib
from keras_distill.export import warmup as warmup_lib


def _check_version(version):
    if version is None:
        return None
    try:
        return validation.check_non_negative_int(version, "version")
    except ValueError:
        raise validation.invalid("version", "a non-negative integer (TF Serving serves the "
                                 "highest one) or `None` for the next one", version) from None


def existing_versions(base_dir):
    """The integer version directories under `base_dir`, sorted.

    Example:

    >>> import os, tempfile
    >>> base = tempfile.mkdtemp()
    >>> for name in ("1", "7", ".7.tmp-x", "notes"):
    ...     os.makedirs(os.path.join(base, name))
    >>> existing_versions(base)
    [1, 7]
    """
    if not os.path.isdir(base_dir):
        return []
    return sorted(
        int(name) for name in os.listdir(base_dir)
        if name.isdigit() and os.path.isdir(os.path.join(base_dir, name))
    )


def export_saved_model(
    model,
    base_dir,
    version=None,
    *,
    input_name=None,
    input_signature=None,
    classifier=None,
    preprocessing=None,
    warmup_inputs=None,
    overwrite=False,
    verify=True,
    atol=1e-5,
    verbose=True,
):
    """Exports a model (a `Distiller`'s student) as a TF Serving version directory.

    The SavedModel has one signature, `serving_default`, with named input(s) and, for a
    classifier, the outputs `logits` (float32 `[batch, classes]`), `probabilities` (softmax of the
    logits) and `class_ids` (int64 `[batch]`); other models keep their outputs. With a
    `preprocessing`, the input is the raw one it describes (e.g. `uint8` pixels), preprocessed
    in the graph as in training, and its class names add `classes` (string `[batch]`).

    Args:
        model: A `keras.Model`, a `keras_distill.Distiller` (its student is exported, never its
            teacher), or the path of a `.keras` file.
        base_dir: TF Serving's model base path; created if missing.
        version: The version number (a non-negative integer). Defaults to `None`: one more
            than the highest version in `base_dir`, or 1.
        input_name: Name of the signature's input (a list for several inputs). Defaults to
            `None`: the model's input name.
        input_signature: `tf.TensorSpec` (or a list of them) for a model that was never built.
            Defaults to `None`: read from the model.
        classifier: Whether to serve `logits`/`probabilities`/`class_ids`. Defaults to `None`:
            detected (one output of shape `[batch, classes >= 2]`).
        preprocessing: A `keras_distill.export.Preprocessing`: the raw inputs the signature
            takes and the training preprocessing applied to them before the model. Defaults to
            `None`: the model's inputs, unchanged.
        warmup_inputs: Sample inputs (an array, a list of arrays, or a dict by input name,
            batch first; raw inputs with a `preprocessing`). When given, they are written as
            TF Serving warm-up requests (one request of batch 1 per example, at most 100) and
            used for the verification.
            Defaults to `None`: no warm-up file, synthetic inputs for the verification.
        overwrite: Whether to replace an existing version. Defaults to `False`.
        verify: Whether to reload the export in a fresh Python process and compare its outputs
            with the Keras model's before publishing it. Defaults to `True`.
        atol: Largest absolute difference the verification accepts. Defaults to `1e-5`.
        verbose: Whether to print what was exported. Defaults to `True`.

    Returns:
        The version directory, `base_dir/<version>`.

    Raises:
        ValueError: if `base_dir` is a file, the version exists (and `overwrite=False`), the
            model was never built, the sample inputs have the wrong shape, or the reloaded
            model does not match. Nothing is left behind in these cases.

    Example:

    >>> import keras, os, tempfile
    >>> model = keras.Sequential([keras.Input((4,), name="x"), keras.layers.Dense(3)])
    >>> base = tempfile.mkdtemp()
    >>> path = export_saved_model(model, base, verify=False, verbose=False)
    >>> os.path.relpath(path, base), sorted(os.listdir(path))[-2:]
    ('1', ['saved_model.pb', 'variables'])
    >>> os.path.basename(export_saved_model(model, base, verify=False, verbose=False))
    '2'
    """
    return _export_saved_model(**locals())[0]


def _export_saved_model(
    model, base_dir, version=None, *, input_name=None, input_signature=None, classifier=None,
    preprocessing=None, warmup_inputs=None, overwrite=False, verify=True, atol=1e-5,
    verbose=True,
):
    """`export_saved_model`, also returning a record `{max_abs_diff, warmup_records, ...}`."""
    base_dir = validation.check_directory_path(base_dir, "base_dir")
    version = _check_version(version)
    model = signature_lib.resolve_model(model, verbose=verbose)
    signature = signature_lib.ServingSignature(model, input_name, input_signature, classifier,
                                               preprocessing)
    samples = None
    if warmup_inputs is not None:
        samples, _ = signature.as_arrays(warmup_inputs, "warmup_inputs")
    if version is None:
        version = (existing_versions(base_dir) or [0])[-1] + 1
    final = os.path.join(base_dir, str(version))
    if os.path.lexists(final) and not overwrite:
        raise ValueError(
            f"Invalid value for argument `version`. Version {version} already exists in "
            f"{base_dir}; an export never replaces a version a server may be serving. Pass "
            f"another version, `version=None` for the next one, or `overwrite=True`. "
            f"Received: version={version}"
        )
    record = {"format": "saved_model", "quantization": None, "version": version,
              "max_abs_diff": None}
    # The staging name, `.<version>.tmp-*`, is not an integer, so TF Serving ignores it.
    with io.atomic_directory(final, overwrite=overwrite) as tmp:
        _write(signature, tmp, samples, base_dir, record)
        if verify:
            inputs = samples if samples is not None else signature.example_inputs(4)
            inputs = [x[:256] for x in inputs]
            expected = signature.reference_outputs(inputs)
            actual = verify_lib.reload_in_fresh_process(
                tmp, dict(zip(signature.input_names, inputs))
            )
            record["max_abs_diff"] = verify_lib.check_close(
                expected, actual, atol, f"The SavedModel reloaded from {final}"
            )
    record.update(path=final, size_bytes=measure.path_size(final))
    if verbose:
        print(
            f"Exported `{model.name}` to {final} (signature `serving_default`: inputs "
            f"{signature.input_names} -> outputs {signature.output_names}"
            + (f", verified: max abs diff {record['max_abs_diff']:.2g}" if verify else "")
            + ")."
        )
    return final, record, signature


def _write(signature, directory, samples, base_dir, record):
    signature.archive().write_out(directory, verbose=False)
    record["warmup_records"] = 0
    if samples is not None:
        model_name = os.path.basename(os.path.normpath(os.path.abspath(base_dir))) or "model"
        warmup_lib.write_warmup_requests(
            directory, dict(zip(signature.input_names, samples)), model_name=model_name
        )
        record["warmup_records"] = min(len(samples[0]), 100)


def load_serving_function(export_dir):
    """Loads the `serving_default` function of a SavedModel (for checks and measurements)."""
    return tf.saved_model.load(export_dir).signatures[signature_lib.SIGNATURE_KEY]
