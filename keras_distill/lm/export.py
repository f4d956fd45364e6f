"""The distilled language model as a keras-hub preset directory.

`save_preset(model, path)` writes `model.save_to_preset` into a staging directory beside `path`
and renames it into place (`io.atomic_directory`): an existing directory is never replaced or
half-written. `keras_hub.models.CausalLM.from_preset(path)` loads it back, offline.
"""

from keras_distill import io
from keras_distill import validation


def save_preset(model, path):
    """Writes the keras-hub model `model` (e.g. `distiller.student`) as a preset at `path`.

    Args:
        model: A keras-hub task or backbone (anything with `save_to_preset`).
        path: A directory that does not exist yet.

    Returns:
        `path`.

    Raises:
        TypeError: If `model` has no `save_to_preset` (not a keras-hub model).
        FileExistsError: If `path` exists; it is left as it was.
    """
    if not callable(getattr(model, "save_to_preset", None)):
        raise TypeError(
            "Invalid value for argument `model`. Expected a keras-hub model (with "
            f"`save_to_preset`). Received: model of type {type(model).__name__}")
    path = validation.check_directory_path(path, "path")
    with io.atomic_directory(path) as staging:
        model.save_to_preset(staging)
    return path
