"""What every command does before it trains: the config for the command, the strategy resolved
once, the output directories checked and created, the data loaded.

Everything here either succeeds or raises a `ValueError` naming the bad value, before any model
is built.
"""

import dataclasses

from keras_distill import config as config_lib
from keras_distill import distribute
from keras_distill import keras_workarounds
from keras_distill.data import datasets

TEACHER_FILE, STUDENT_FILE, SCRATCH_FILE = "teacher.keras", "student.keras", "scratch.keras"
TEACHER_META_FILE = "teacher.json"

MULTI_WORKER_FIT = (
    "plain `keras.Model.fit` fails under MultiWorkerMirroredStrategy with several workers "
    "(keras-team/keras#20585; only `Distiller.fit` carries the workaround). Train the teacher on "
    "one host (`keras-distill train-teacher`, `--strategy mirrored` for its GPUs), distill on "
    "every worker with `keras-distill distill --strategy multi_worker --teacher PATH`, then "
    "compare with `keras-distill evaluate`."
)


def command_config(command, config=None, values=None):
    """The `RunConfig` of `command`: `config` (or the command's defaults) with `values` applied.

    Args:
        command: One of `keras_distill.config.COMMANDS`.
        config: A `RunConfig`, or `None` for the command's defaults. Defaults to `None`.
        values: Keyword names (`epochs`, `alpha`, ...) to apply. Defaults to `None`.

    Example:

    >>> command_config("distill", values={"teacher": None})
    Traceback (most recent call last):
    ...
    ValueError: Invalid value for argument `teacher`. Expected a value: `distill` needs it. Received: teacher=None
    """
    if config is None:
        return config_lib.RunConfig.for_command(command, **(values or {}))
    if not isinstance(config, config_lib.RunConfig):
        raise TypeError(f"Expected a `keras_distill.RunConfig`. Received: config={config!r}")
    if config.command != command:
        config = dataclasses.replace(config, command=command)
    return config.replace(**values) if values else config


def resolve_strategy(config, *, plain_fit=None):
    """The `tf.distribute.Strategy` of `config.train.strategy` (or `None`), checked once.

    The batch size must divide over the replicas; with `plain_fit` (what would run a plain
    `keras.Model.fit`, e.g. `"train the teacher"`) a multi-worker strategy is refused
    (keras-team/keras#20585).

    Example:

    >>> resolve_strategy(config_lib.RunConfig()) is None
    True
    """
    strategy = config.train.strategy
    if strategy is None:
        return None
    if isinstance(strategy, str):
        strategy = distribute.get_strategy(strategy)
    distribute.check_global_batch_size(config.train.batch_size, strategy)
    if plain_fit and keras_workarounds.in_multi_worker_mode(strategy):
        raise ValueError(f"Cannot {plain_fit} under the `multi_worker` strategy: "
                         f"{MULTI_WORKER_FIT}")
    return strategy


def check_backup_directory(config):
    """Checks `config.distill.backup_dir` (if any) can be written, creating it."""
    if config.distill.backup_dir is not None:
        distribute.check_writable_directory(config.distill.backup_dir)


def load_data(config, *, validation_split=False, transfer=True):
    """Loads `config.data` as a `ClassificationData` (checked: the dataset exists).

    Args:
        config: A `RunConfig`.
        validation_split: Hold `config.data.validation_split` of the training split out as
            `validation`. Defaults to `False`.
        transfer: Add the transfer set (`config.data.transfer_samples` generated examples, or
            `config.data.unlabeled`). Defaults to `True`.
    """
    data = config.data
    return datasets.load(
        data.dataset, data_dir=data.data_dir,
        transfer_samples=data.transfer_samples if transfer else 0,
        unlabeled=data.unlabeled if transfer else None,
        validation_split=data.validation_split if validation_split else 0.0,
        test_split=data.test_split, label_column=data.label_column, features=data.features,
        image_size=data.image_size)


def describe_data(data):
    """One line about `data`: `"data: mnist1d, 4,000 train, 1,000 test"`."""
    return f"data: {data.name}, " + ", ".join(f"{n:,} {k}" for k, n in data.sizes.items())
