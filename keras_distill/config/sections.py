"""The sections of a `RunConfig`: small frozen dataclasses that check themselves on creation.

Example:

>>> DistillConfig(alpha=0.3).temperature
2.0
>>> DistillConfig(temperature=0)
Traceback (most recent call last):
...
ValueError: Invalid value for argument `temperature`. Expected a positive number. Received: temperature=0
"""

import os
from dataclasses import dataclass
from typing import Any
from typing import Optional

from keras_distill import distribute
from keras_distill import models
from keras_distill import teacher_precision
from keras_distill import validation
from keras_distill.tuning import ranges
from keras_distill.tuning import tuners

# Choice lists, defined by the modules that implement them and reused by the CLI.
COMMANDS = ("run", "train-teacher", "distill", "evaluate", "tune", "export", "lm")
STUDENT_FAMILIES = models.FAMILIES + tuple(models.APPLICATIONS)
STRATEGIES = distribute.STRATEGIES
TUNERS = tuple(tuners.TUNERS)
TEACHER_DTYPES = tuple(d for d in teacher_precision.TEACHER_DTYPES if d is not None)

DEFAULT_OUTPUT = "keras_distill_output"
MODEL_PATH = "a `.keras` file or a SavedModel directory"
TEACHER_SOURCE = (f"{MODEL_PATH}, or a keras.applications name (" +
                  ", ".join(models.APPLICATIONS) + ") with `teacher_weights` (for `lm`: a "
                  "keras-hub preset directory or a `.keras` CausalLM)")


def set_field(section, name, value):
    """Stores a checked (converted) value on a frozen section, from its `__post_init__`."""
    object.__setattr__(section, name, value)


def optional(value, check, name, *args):
    """`None`, or `check(value, name, *args)`: the check of a field that may be unset."""
    return None if value is None else check(value, name, *args)


def _pair(value, name, kind, check):
    """A pair from the command line (`"image,label"`, `"64,64"`) or Python, checked."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise validation.invalid(name, f"two {kind}, e.g. {'64,64' if check else 'image,label'}",
                                 value)
    return tuple(check(v) for v in value) if check else tuple(value)


def _size(value):
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    return validation.check_positive_int(value, "image_size")


@dataclass(frozen=True)
class DataConfig:
    """Where the examples come from.

    Args:
        dataset: `"mnist1d"` (built in); a path: a folder of class subfolders of images, an
            `.npz`, a folder of `.npy` files, a `.csv`; or a prepared tensorflow-datasets name
            (`keras_distill.data.load` says what each takes). `None` only for `export` (no
            evaluation data). Defaults to `"mnist1d"`.
        data_dir: tensorflow-datasets data directory. Defaults to `None` (tfds's default).
        transfer_samples: Unlabeled MNIST-1D examples, labeled by the teacher only, added to the
            distilled student's data. Defaults to `0`.
        unlabeled: Unlabeled inputs for the transfer set (a folder of images, an `.npz` with
            `x`, an `.npy`, a CSV without the label column). Defaults to `None`.
        validation_split: Fraction of the training split held out for model selection (the
            alpha/T search). Defaults to `0.2`.
        test_split: Fraction held out as the test split when the source has none (seeded,
            recorded in the report). Defaults to `0.2`.
        label_column: The label column of a CSV. Defaults to `"label"`.
        features: `(input, label)` features of a tfds dataset without supervised keys, or the
            command line's `"image,label"`. Defaults to `None`.
        image_size: `(height, width)` to resize images to, or `"64,64"`. Defaults to `None`.
    """

    dataset: Optional[str] = "mnist1d"
    data_dir: Optional[str] = None
    transfer_samples: int = 0
    unlabeled: Optional[str] = None
    validation_split: float = 0.2
    test_split: float = 0.2
    label_column: str = "label"
    features: Any = None
    image_size: Any = None

    def __post_init__(self):
        if self.dataset is not None and not (isinstance(self.dataset, (str, os.PathLike))
                                             and os.fspath(self.dataset)):
            raise validation.invalid("dataset", "'mnist1d', a path (image folder, .npz, .npy, "
                                     ".csv) or a tensorflow-datasets name", self.dataset)
        if self.dataset is not None:
            set_field(self, "dataset", os.fspath(self.dataset))
        set_field(self, "data_dir", optional(self.data_dir, validation.check_directory_path,
                                             "data_dir"))
        set_field(self, "transfer_samples",
                  validation.check_non_negative_int(self.transfer_samples, "transfer_samples"))
        set_field(self, "unlabeled", optional(self.unlabeled, validation.check_existing_path,
                                              "unlabeled"))
        set_field(self, "validation_split",
                  validation.check_open_fraction(self.validation_split, "validation_split"))
        set_field(self, "test_split", validation.check_split(self.test_split, "test_split"))
        if not isinstance(self.label_column, str) or not self.label_column:
            raise validation.invalid("label_column", "a column name", self.label_column)
        if self.features is not None:
            set_field(self, "features", _pair(self.features, "features", "feature names", None))
        if self.image_size is not None:
            set_field(self, "image_size", _pair(self.image_size, "image_size", "sizes", _size))
        if self.transfer_samples and self.unlabeled is not None:
            raise validation.invalid("transfer_samples", "0 with `unlabeled`: one transfer set",
                                     self.transfer_samples)


@dataclass(frozen=True)
class TeacherConfig:
    """The teacher: a saved model, or the reference teacher trained (or reused) by the run.

    Args:
        path: A `.keras`/`.h5` file, a SavedModel directory, or a keras.applications name
            (`"resnet50"`, ...) with `weights`. Defaults to `None`: reuse the reference teacher
            an earlier run trained into the output with the same settings, or train it.
        weights: The trained weights (`.weights.h5`) of a keras.applications teacher.
            Defaults to `None`.
        epochs: Epochs of the reference teacher. Defaults to `30`.
        retrain: Train the reference teacher even if one is cached. Defaults to `False`.
        family: `"mlp"`, `"cnn"` or `"gru"` for `train-teacher`. Defaults to `None`: the
            reference CNN.
        width: Width of `family`. Defaults to `None` (the family's default).
        depth: Depth of `family`. Defaults to `None` (the family's default).
        trust_savedmodel: Allow `path` (and saved students) to be a SavedModel directory, which
            is code that runs with the model. Defaults to `False`.
    """

    path: Optional[str] = None
    weights: Optional[str] = None
    epochs: int = 30
    retrain: bool = False
    family: Optional[str] = None
    width: Optional[int] = None
    depth: Optional[int] = None
    trust_savedmodel: bool = False

    def __post_init__(self):
        validation.check_bool(self.trust_savedmodel, "trust_savedmodel")
        if self.is_application:
            if self.weights is None:
                raise validation.invalid(
                    "teacher_weights", f"the trained weights of the {self.path!r} teacher "
                    "(a .weights.h5 file): nothing is downloaded, and an untrained teacher "
                    "teaches nothing", None)
        else:
            set_field(self, "path", optional(self.path, validation.check_existing_path,
                                             "teacher", TEACHER_SOURCE))
            if self.weights is not None:
                raise validation.invalid("teacher_weights", "it only with a keras.applications "
                                         "teacher name such as 'resnet50'", self.weights)
        set_field(self, "weights", optional(self.weights, validation.check_existing_path,
                                            "teacher_weights", "a .weights.h5 file"))
        set_field(self, "epochs", validation.check_positive_int(self.epochs, "teacher_epochs"))
        validation.check_bool(self.retrain, "retrain_teacher")
        if self.family is not None:
            validation.check_choice(self.family, STUDENT_FAMILIES, "family")
        set_field(self, "width", optional(self.width, validation.check_positive_int, "width"))
        set_field(self, "depth", optional(self.depth, validation.check_positive_int, "depth"))
        if (self.width is not None or self.depth is not None) and (
                self.family is None or self.family in models.APPLICATIONS):
            raise validation.invalid("width", "it (and `depth`) only with a reference `family` "
                                     "(mlp, cnn, gru)", self.width if self.width else self.depth)

    @property
    def is_application(self):
        """Whether `path` names a keras.applications model rather than a file."""
        return isinstance(self.path, str) and self.path in models.APPLICATIONS


@dataclass(frozen=True)
class StudentConfig:
    """The student: a reference family and size (or saved students, for `evaluate`).

    Args:
        family: `"mlp"`, `"cnn"` or `"gru"`. Defaults to `"cnn"`.
        size: Width multiplier of the reference student. Defaults to `1.0`.
        epochs: Epochs of the scratch and the distilled student (the same for both).
            Defaults to `100`: the default recipe is patient (its benchmark trains 100).
        path: A saved distilled student (`evaluate`). Defaults to `None`.
        scratch_path: A saved student trained from scratch (`evaluate`). Defaults to `None`.
    """

    family: str = "cnn"
    size: float = 1.0
    epochs: int = 100
    path: Optional[str] = None
    scratch_path: Optional[str] = None

    def __post_init__(self):
        validation.check_choice(self.family, STUDENT_FAMILIES, "student")
        set_field(self, "size", validation.check_positive(self.size, "student_size"))
        set_field(self, "epochs", validation.check_positive_int(self.epochs, "epochs"))
        set_field(self, "path", optional(self.path, validation.check_existing_path, "student",
                                         MODEL_PATH))
        set_field(self, "scratch_path", optional(self.scratch_path, validation.check_existing_path,
                                                 "scratch", MODEL_PATH))


@dataclass(frozen=True)
class DistillConfig:
    """The distillation loss and how the teacher is run.

    Args:
        alpha: Weight of the hard-label loss, in [0, 1]. Defaults to `0.5` (the default recipe,
            `keras_distill.workflow.recipe`).
        temperature: Softmax temperature, > 0. Defaults to `2.0` (the default recipe).
        augment: Train the reference teacher and both students under the data's
            label-preserving augmentation (`recipe.augmentation_for`), the teacher seeing the
            distilled student's view. Defaults to `True`.
        mixup: MixUp's Beta parameter (> 0) for the distilled student's inputs, which the
            teacher labels, or `0` for none. Defaults to `0.0` (it hurt in the benchmark).
        cache_teacher: Run the teacher once and carry its outputs in the input pipeline (only
            without `augment` and `mixup`: cached outputs belong to un-augmented inputs).
            Defaults to `False`.
        views: When the distilled student trains under augmentation without MixUp: cache
            this many augmented views of each example with the teacher's outputs for each, one
            replayed per epoch (`keras_distill.data.views`), so consistent teaching costs what
            plain training does; `0` calls the teacher on each step's view. Does not apply
            without augmentation or with MixUp (the teacher then runs online), and no more views
            are cached than there are epochs or than fit in 2 GiB
            (`workflow.recipe.VIEWS_MEMORY`; under two, online). Defaults to `10`.
        boundary_step: Also train the distilled student, at every step, on each input moved
            this many standard deviations up the distillation loss, where it most disagrees
            with the teacher, labelled by the teacher only (`Distiller(boundary_step=)`); the
            teacher then runs online (no views). `0` for none. Defaults to `0.0`.
        synthetic_samples: Inputs synthesized from the teacher's classes and BatchNorm
            statistics (`keras_distill.data.inversion`, DeepInversion) and added to the
            distilled student's transfer set, labelled by the teacher only; needs a teacher with
            BatchNormalization layers. `0` for none. Defaults to `0`.
        backup_dir: `keras.callbacks.BackupAndRestore` directory of the distillation `fit`.
            Defaults to `None`.
        teacher_dtype: `"bfloat16"` or `"float16"`: the teacher runs as a reduced-precision
            copy (`keras_distill.teacher_precision`), online or caching. Defaults to `None`.
    """

    alpha: float = 0.5
    temperature: float = 2.0
    augment: bool = True
    mixup: float = 0.0
    cache_teacher: bool = False
    views: int = 10
    boundary_step: float = 0.0
    synthetic_samples: int = 0
    backup_dir: Optional[str] = None
    teacher_dtype: Optional[str] = None

    def __post_init__(self):
        set_field(self, "alpha", validation.check_fraction(self.alpha, "alpha"))
        teacher_precision.check_teacher_dtype(self.teacher_dtype)
        set_field(self, "temperature", validation.check_positive(self.temperature, "temperature"))
        validation.check_bool(self.augment, "augment")
        set_field(self, "mixup", validation.check_non_negative(self.mixup, "mixup"))
        validation.check_bool(self.cache_teacher, "cache_teacher")
        set_field(self, "views", validation.check_non_negative_int(self.views, "views"))
        set_field(self, "boundary_step",
                  validation.check_non_negative(self.boundary_step, "boundary_step"))
        set_field(self, "synthetic_samples", validation.check_non_negative_int(
            self.synthetic_samples, "synthetic_samples"))
        if self.cache_teacher and (self.augment or self.mixup):
            raise validation.invalid(
                "cache_teacher", "False with augmentation: cached teacher outputs belong to the "
                "un-augmented inputs, not to the view the student sees", self.cache_teacher,
                "Pass --no-augment --mixup 0 to cache the teacher's outputs, or drop "
                "--cache-teacher to distill online")
        set_field(self, "backup_dir",
             optional(self.backup_dir, validation.check_directory_path, "backup_dir"))


@dataclass(frozen=True)
class TrainConfig:
    """What every model of a run shares, so the comparison is fair.

    Args:
        batch_size: Batch size (the global batch under a strategy). Defaults to `64`.
        learning_rate: Peak learning rate of Adam with cosine decay. Defaults to `3e-3`.
        seed: Seed of weights and shuffling (the same for both students). Defaults to `0`.
        strategy: `None` (Keras's default placement), a name of `STRATEGIES`, or a
            `tf.distribute.Strategy`. Defaults to `None`.
    """

    batch_size: int = 64
    learning_rate: float = 3e-3
    seed: int = 0
    strategy: Any = None

    def __post_init__(self):
        set_field(self, "batch_size", validation.check_positive_int(self.batch_size, "batch_size"))
        set_field(self, "learning_rate",
             validation.check_positive(self.learning_rate, "learning_rate"))
        set_field(self, "seed", validation.check_non_negative_int(self.seed, "seed"))
        if isinstance(self.strategy, str):
            validation.check_choice(self.strategy, STRATEGIES, "strategy")
        elif self.strategy is not None and not hasattr(self.strategy, "scope"):
            raise validation.invalid("strategy", "None, a name of " + ", ".join(
                repr(s) for s in STRATEGIES) + " or a tf.distribute.Strategy", self.strategy)


def _range(value, name, low, high=None, log=False):
    """A search range from the command line (`"0,1"`, `"2|8"`, `"4"`) or Python, checked."""
    if isinstance(value, str):
        value = ranges.parse_range(value, name)
    ranges.check_range(value, name, low, high, log)
    return value


@dataclass(frozen=True)
class TuneConfig:
    """The alpha/T search on a validation split held out of training (never the test split).

    Args:
        trials: Number of trials; `0` (in `run`) takes alpha/T as given. Defaults to `0`
            (`8` for the `tune` command).
        epochs: Epochs per trial, and of the two students compared on validation. Defaults to
            `None`: the students' epochs (`5` for the `tune` command).
        final_epochs: `tune`: epochs of the best configuration's retraining, `0` to skip.
            Defaults to `None`: `epochs`.
        tuner: `"random"`, `"bayesian"` or `"hyperband"`. Defaults to `"random"`.
        alpha: A number, a `(min, max)` range or a list of choices (or the command line's
            `"0,1"`, `"0.1|0.5"`). Defaults to `(0.0, 1.0)`.
        temperature: The same for T, log-sampled. Defaults to `(1.0, 20.0)`.
    """

    trials: int = 0
    epochs: Optional[int] = None
    final_epochs: Optional[int] = None
    tuner: str = "random"
    alpha: Any = (0.0, 1.0)
    temperature: Any = (1.0, 20.0)

    def __post_init__(self):
        set_field(self, "trials", validation.check_non_negative_int(self.trials, "trials"))
        set_field(self, "epochs",
                  optional(self.epochs, validation.check_positive_int, "tune_epochs"))
        set_field(self, "final_epochs", optional(self.final_epochs,
                                             validation.check_non_negative_int, "final_epochs"))
        validation.check_choice(self.tuner, TUNERS, "tuner")
        set_field(self, "alpha", _range(self.alpha, "alpha", 0.0, 1.0))
        set_field(self, "temperature", _range(self.temperature, "temperature", 0.0, log=True))
