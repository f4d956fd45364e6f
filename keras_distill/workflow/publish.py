"""Publishing a run's SavedModel into a TF Serving base path, only when the user asks for it."""

import os
import shutil

from keras_distill import io
from keras_distill.export import saved_model as saved_model_lib


def next_version(base_path):
    """The version a SavedModel published into `base_path` now would get: the highest + 1.

    Example:

    >>> import tempfile
    >>> next_version(tempfile.mkdtemp())
    1
    """
    return (saved_model_lib.existing_versions(base_path) or [0])[-1] + 1


def publish_saved_model(version_dir, base_path, version=None):
    """Copies the SavedModel at `version_dir` into `base_path` as a new version, atomically.

    TF Serving serves the highest version of a base path, so a published model is served at
    once; nothing already in `base_path` is replaced (a version that exists is an error).

    Args:
        version_dir: A SavedModel directory (a run's `export/saved_model/<n>`).
        base_path: The TF Serving base path, e.g. `saved_models/mnist1d_student`.
        version: The version to publish as. Defaults to `None`: `next_version(base_path)`.

    Returns:
        The published version's path.
    """
    version = next_version(base_path) if version is None else version
    path = os.path.join(base_path, str(version))
    with io.atomic_directory(path) as staging:
        shutil.copytree(version_dir, staging, dirs_exist_ok=True)
    return path
