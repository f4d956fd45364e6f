"""Publishing a run's SavedModel into a TF Serving base path, only when the user asks for it."""

import os
import shutil

from keras_distill import io
from keras_distill.export import saved_model as saved_model_lib


def publish_saved_model(version_dir, base_path):
    """Copies the SavedModel at `version_dir` into `base_path` as its next version, atomically.

    TF Serving serves the highest version of a base path, so a published model is served at
    once; nothing already in `base_path` is replaced.

    Args:
        version_dir: A SavedModel directory (a run's `export/saved_model/<n>`).
        base_path: The TF Serving base path, e.g. `saved_models/mnist1d_student`.

    Returns:
        `(version, path)` of the published version.
    """
    version = (saved_model_lib.existing_versions(base_path) or [0])[-1] + 1
    path = os.path.join(base_path, str(version))
    with io.atomic_directory(path) as staging:
        shutil.copytree(version_dir, staging, dirs_exist_ok=True)
    return version, path
