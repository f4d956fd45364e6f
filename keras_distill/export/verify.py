"""Checking what was written: reload a SavedModel in a fresh process and compare with Keras."""

import os
import subprocess
import sys
import tempfile

import numpy as np

# Only TensorFlow and NumPy: the check must not depend on this package or on Keras.
_RELOAD = """
import sys
import numpy as np
import tensorflow as tf
inputs = np.load(sys.argv[2])
function = tf.saved_model.load(sys.argv[1]).signatures[sys.argv[4]]
outputs = {name: value.numpy() for name, value in function(
    **{name: tf.constant(inputs[name]) for name in inputs.files}).items()}
# String outputs (`classes`) come back as object arrays, which `np.load` refuses without pickle.
np.savez(sys.argv[3], **{name: value.astype(bytes) if value.dtype == object else value
                         for name, value in outputs.items()})
"""


def reload_in_fresh_process(export_dir, inputs, signature_name="serving_default", timeout=300):
    """Runs a SavedModel's signature on `inputs` in a new Python process.

    Args:
        export_dir: The SavedModel directory.
        inputs: A dict `{input_name: array}`.
        signature_name: The signature to call. Defaults to `"serving_default"`.
        timeout: Seconds before the process is stopped. Defaults to `300`.

    Returns:
        A dict `{output_name: array}`.

    Raises:
        RuntimeError: if the process fails; its error output is in the message.
    """
    with tempfile.TemporaryDirectory() as tmp:
        in_path, out_path = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
        np.savez(in_path, **inputs)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        result = subprocess.run(
            [sys.executable, "-c", _RELOAD, str(export_dir), in_path, out_path, signature_name],
            capture_output=True, text=True, timeout=timeout, env=env, check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"Reloading the SavedModel {export_dir} in a fresh process failed "
                f"(exit code {result.returncode}):\n{result.stderr[-3000:]}"
            )
        with np.load(out_path) as outputs:
            return {name: outputs[name] for name in outputs.files}


def max_abs_diff(expected, actual):
    """The largest absolute difference over the floating-point outputs present in both dicts.

    Example:

    >>> import numpy as np
    >>> max_abs_diff({"a": np.zeros(2)}, {"a": np.array([0.0, 0.5])})
    0.5
    """
    diffs = [
        float(np.max(np.abs(np.asarray(expected[k], np.float64) - np.asarray(actual[k]))))
        for k in expected
        if k in actual and np.issubdtype(np.asarray(expected[k]).dtype, np.floating)
        and np.asarray(expected[k]).size
    ]
    return max(diffs) if diffs else 0.0


def check_close(expected, actual, atol, what):
    """Raises `ValueError` unless the float outputs agree within `atol`; returns the max diff."""
    missing = sorted(set(expected) - set(actual))
    if missing:
        raise ValueError(
            f"{what} lacks the outputs {missing}; it has {sorted(actual)}. Nothing was published."
        )
    diff = max_abs_diff(expected, actual)
    if not diff <= atol:
        raise ValueError(
            f"{what} does not match the Keras model: max abs difference {diff:.3g} > "
            f"{atol:g}. Nothing was published."
        )
    return diff
