"""The frozen, validated configuration of a run: every default and every check in one place.

A `RunConfig` is a tree of small frozen dataclasses, one per concern:

| section | holds |
|---|---|
| `data` | dataset name, tfds directory, transfer-set size, validation split |
| `teacher` | a saved teacher's path, or the reference teacher's epochs/family |
| `student` | the student family, size and epochs (and saved students, for `evaluate`) |
| `distill` | alpha, temperature, cached teacher outputs, `BackupAndRestore` directory |
| `train` | what every model of a run shares: batch size, learning rate, seed, strategy |
| `tune` | the alpha/T search: trials, epochs, tuner, ranges |
| `export` | SavedModel/`.tflite` export: directory, formats, quantization, verification |
| `lm` | `keras-distill lm`: text, tokenizer, sequence length, LM student/teacher, divergence |

It is built from command-line flags (`keras-distill`), from Python keyword arguments
(`RunConfig.for_command("run", epochs=3, alpha=0.7)`, the same names as the flags), or section
by section. Each section checks itself when it is created and `RunConfig` checks what spans
sections, so a bad value fails here, before any model is built or any file is written.

Example:

>>> config = RunConfig.for_command("run", epochs=3, alpha=0.7)
>>> config.student.epochs, config.distill.alpha, config.distill.temperature
(3, 0.7, 2.0)
>>> RunConfig.for_command("run", alpha=2)
Traceback (most recent call last):
...
ValueError: Invalid value for argument `alpha`. Expected a number between 0 and 1 inclusive. Received: alpha=2
"""

import dataclasses
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from keras_distill import models
from keras_distill import validation
from keras_distill.config import toml_file
from keras_distill.config.export_section import ExportConfig
from keras_distill.config.lm_section import LMConfig
from keras_distill.config.sections import COMMANDS
from keras_distill.config.sections import DEFAULT_OUTPUT
from keras_distill.config.sections import DataConfig
from keras_distill.config.sections import DistillConfig
from keras_distill.config.sections import StudentConfig
from keras_distill.config.sections import TeacherConfig
from keras_distill.config.sections import TrainConfig
from keras_distill.config.sections import TuneConfig
from keras_distill.config.sections import set_field

# Keyword (and flag) names -> "section.field". A command may read a name differently.
KEYS = {
    "output": "output", "verbose": "verbose",
    "dataset": "data.dataset", "data_dir": "data.data_dir",
    "transfer_samples": "data.transfer_samples", "validation_split": "data.validation_split",
    "unlabeled": "data.unlabeled", "test_split": "data.test_split",
    "label_column": "data.label_column", "features": "data.features",
    "image_size": "data.image_size",
    "teacher": "teacher.path", "teacher_weights": "teacher.weights",
    "teacher_epochs": "teacher.epochs",
    "retrain_teacher": "teacher.retrain", "family": "teacher.family", "width": "teacher.width",
    "depth": "teacher.depth", "trust_savedmodel": "teacher.trust_savedmodel",
    "student": "student.family", "student_size": "student.size", "epochs": "student.epochs",
    "scratch": "student.scratch_path",
    "alpha": "distill.alpha", "temperature": "distill.temperature",
    "augment": "distill.augment", "mixup": "distill.mixup",
    "cache_teacher": "distill.cache_teacher", "views": "distill.views",
    "boundary_step": "distill.boundary_step", "synthetic_samples": "distill.synthetic_samples",
    "backup_dir": "distill.backup_dir",
    "teacher_dtype": "distill.teacher_dtype",
    "batch_size": "train.batch_size", "learning_rate": "train.learning_rate",
    "seed": "train.seed", "strategy": "train.strategy",
    "tune": "tune.trials", "trials": "tune.trials", "tune_epochs": "tune.epochs",
    "final_epochs": "tune.final_epochs", "tuner": "tune.tuner",
    "export": "export.enabled", "publish": "export.publish",
    "verify_export": "export.verify", "model": "export.model",
    "formats": "export.formats", "quantization": "export.quantization",
    "min_agreement": "export.min_agreement", "version": "export.version",
    "overwrite": "export.overwrite", "calibration_examples": "export.calibration_examples",
    **{name: f"lm.{name}" for name in (
        "text", "tokenizer", "sequence_length", "student_layers", "student_width",
        "teacher_layers", "teacher_width", "divergence", "beta", "top_k")},
}
COMMAND_KEYS = {
    "train-teacher": {"epochs": "teacher.epochs"},
    "tune": {"epochs": "tune.epochs", "alpha": "tune.alpha", "temperature": "tune.temperature"},
    "evaluate": {"student": "student.path"},
    "export": {"output": "export.dir"},
    "lm": {"student": "lm.student"},
}
COMMAND_DEFAULTS = {
    "tune": {"tune.trials": 8, "tune.epochs": 5},
    "export": {"data.dataset": None},
    # A language model: T 1 (the usual for LMs), no augmentation, a brief reference teacher.
    "lm": {"data.dataset": None, "data.validation_split": 0.1, "data.test_split": 0.1,
           "distill.augment": False, "distill.temperature": 1.0, "teacher.epochs": 10,
           "student.epochs": 4, "train.batch_size": 32},
}
# Settings a command would ignore: set to anything but their default, they are an error.
DISTILLED_EXTRAS = ("distill.views", "distill.boundary_step", "distill.synthetic_samples")
UNUSED = {
    "run": ("export.formats", "export.quantization", "export.version", "export.overwrite",
            "export.dir", "export.model", "tune.final_epochs"),
    "tune": ("train.strategy", "export.publish", *DISTILLED_EXTRAS),
    "lm": ("data.data_dir", "data.transfer_samples", "data.unlabeled", "data.label_column",
           "data.features", "data.image_size", "teacher.weights", "teacher.retrain",
           "teacher.family", "teacher.width", "teacher.depth", "teacher.trust_savedmodel",
           "student.family", "student.size", "student.path", "student.scratch_path",
           "distill.augment", "distill.mixup", *DISTILLED_EXTRAS, "tune.trials", "tune.epochs",
           "tune.final_epochs", "tune.tuner", "tune.alpha", "tune.temperature",
           "export.publish", "export.dir", "export.model", "export.formats",
           "export.quantization", "export.version", "export.overwrite", "export.min_agreement",
           "export.calibration_examples"),
}
REQUIRED = {
    "distill": ("teacher.path",),
    "evaluate": ("teacher.path", "student.path"),
    "export": ("export.model", "export.dir"),
}


@dataclass(frozen=True)
class RunConfig:
    """The whole configuration of one `keras-distill` command, validated on creation.

    Args:
        command: One of `COMMANDS`: which fields are required and which combinations are
            allowed. Defaults to `"run"`.
        output: Directory of the report, the models and the cached teacher. Defaults to
            `"keras_distill_output"`.
        verbose: Keras progress: `"auto"`, `0`, `1` or `2`. Defaults to `"auto"`.
        data, teacher, student, distill, train, tune, export, lm: The sections. Default to
            their defaults.
    """

    command: str = "run"
    output: str = DEFAULT_OUTPUT
    verbose: Any = "auto"
    data: DataConfig = field(default_factory=DataConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    student: StudentConfig = field(default_factory=StudentConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    tune: TuneConfig = field(default_factory=TuneConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    lm: LMConfig = field(default_factory=LMConfig)

    def __post_init__(self):
        validation.check_choice(self.command, COMMANDS, "command")
        set_field(self, "output", validation.check_directory_path(self.output, "output"))
        if self.verbose not in ("auto", 0, 1, 2) or isinstance(self.verbose, bool):
            raise validation.invalid("verbose", "'auto', 0, 1 or 2", self.verbose)
        for key in REQUIRED.get(self.command, ()):
            if self.get(key) is None:
                name = next(k for k, v in _keys(self.command).items() if v == key)
                raise validation.invalid(name, f"a value: `{self.command}` needs it", None)
        if self.command == "tune":
            validation.check_positive_int(self.tune.trials, "trials")
        self._check_used()
        if self.command == "run" and self.tune.trials and self.train.strategy is not None:
            raise validation.invalid(
                "tune", "0 under a strategy: the alpha/T search runs without a tf.distribute "
                "strategy", self.tune.trials, "Search first (`keras-distill tune`), then run "
                "with the chosen --alpha and --temperature under the strategy")
        if (self.command == "lm" and self.distill.cache_teacher
                and self.lm.divergence != "forward_kl"):
            raise validation.invalid(
                "divergence", "'forward_kl' with `cache_teacher`: the top-k cache keeps only "
                "the teacher's largest logits, which Hinton's KD on the folded distribution "
                "can use and the other divergences cannot", self.lm.divergence,
                "Drop --cache-teacher to distil online")
        if self.export.tflite_quantization == "int8" and self.data.dataset is None:
            raise ValueError(
                "Invalid value for argument `quantization`. `int8` needs calibration data: pass "
                "`dataset` (its first training examples calibrate the ranges). "
                "Received: quantization='int8' with dataset=None")
        if self.data.transfer_samples and self.data.dataset is not None and (
                self.data.dataset.lower().replace("-", "").replace("_", "") != "mnist1d"):
            raise validation.invalid(
                "transfer_samples", "0 for this dataset: only the built-in 'mnist1d' can "
                "generate unlabeled examples (give yours with `unlabeled`)",
                self.data.transfer_samples, f"Dataset: {self.data.dataset!r}")

    def _check_used(self):
        """A setting this command would ignore is an error, not a silent no-op."""
        unused = UNUSED.get(self.command, ())
        if self.command != "lm":
            unused += tuple(f"lm.{f.name}" for f in dataclasses.fields(LMConfig))
        else:
            self._check_lm_used()
        for key in unused:
            if self.get(key) != _default_of(self.command, key):
                name = next((k for k, v in _keys(self.command).items() if v == key), key)
                raise validation.invalid(name, f"it only with another command: `{self.command}` "
                                         "does not use it", self.get(key))
        if self.export.publish is not None and not self.export.enabled:
            raise validation.invalid("publish", "it only with the export on (without "
                                     "`--no-export`)", self.export.publish)
        if self.student.family in models.APPLICATIONS and self.student.size != 1.0:
            raise validation.invalid("student_size", "1.0 for a keras.applications student "
                                     "(its width is the application's)", self.student.size)

    def _check_lm_used(self):
        """`lm` settings that only mean something beside another one."""
        settings, default = self.lm, LMConfig()
        if self.teacher.path is not None:
            if settings.teacher_layers or settings.teacher_width:
                raise validation.invalid("teacher_layers", "it (and `teacher_width`) only for "
                                         "the reference teacher, not with a `teacher` path",
                                         settings.teacher_layers or settings.teacher_width)
            if self.teacher.epochs != _default_of("lm", "teacher.epochs"):
                raise validation.invalid("teacher_epochs", "it only for the reference teacher, "
                                         "not with a `teacher` path", self.teacher.epochs)
        if settings.top_k != default.top_k and not self.distill.cache_teacher:
            raise validation.invalid("top_k", "it only with `cache_teacher` (the teacher then "
                                     "runs once and its top-k logits are kept)", settings.top_k)
        if settings.beta != default.beta and settings.divergence != "generalized_jsd":
            raise validation.invalid("beta", "it only with divergence='generalized_jsd'",
                                     settings.beta)

    # ----------------------------------------------------------------- building
    @classmethod
    def for_command(cls, command="run", **values):
        """The defaults of `command` with `values` (keyword/flag names, see `KEYS`) applied.

        Example:

        >>> RunConfig.for_command("tune", trials=3).tune
        TuneConfig(trials=3, epochs=5, final_epochs=None, tuner='random', alpha=(0.0, 1.0), temperature=(1.0, 20.0))
        """
        return cls.resolve(command, **values)

    @classmethod
    def resolve(cls, command="run", *, file=None, overrides=(), **values):
        """The config of `command`: its defaults, then a TOML `file`, then keyword `values`
        (the flags), then `overrides` (`"section.key=value"` strings, `--set`), each overriding
        the one before.

        Example:

        >>> RunConfig.resolve("run", overrides=["distill.alpha=0.9"], alpha=0.2).distill.alpha
        0.9
        """
        validation.check_choice(command, COMMANDS, "command")
        keys = _keys(command)
        _check_names(values, keys)
        updates = {"command": command, **COMMAND_DEFAULTS.get(command, {})}
        if file is not None:
            updates.update(toml_file.load(file))
        updates.update({keys[name]: value for name, value in values.items()})
        updates.update(toml_file.parse_override(text) for text in overrides)
        try:
            return cls.from_dict(updates)
        except ValueError as error:
            raise _as_command_reads_it(error, command) from None

    @classmethod
    def from_dict(cls, values):
        """A config from `{"section.field": value}` and top-level fields; the rest default.

        Example:

        >>> RunConfig.from_dict({"distill.alpha": 0.2, "output": "out"}).distill.alpha
        0.2
        """
        top, sections = _grouped(values)
        plain = [f.name for f in dataclasses.fields(cls) if not _is_section(f)]
        for name in top:
            if name not in plain:
                raise validation.invalid("config key", "a section's key or one of " +
                                         ", ".join(plain), name)
        names = [f.name for f in dataclasses.fields(cls) if _is_section(f)]
        for name in sections:
            if name not in names:
                raise validation.invalid("config key", "a section among " + ", ".join(names),
                                         name)
        built = {f.name: _build(f.default_factory, f.name, sections.get(f.name, {}))
                 for f in dataclasses.fields(cls) if _is_section(f)}
        return cls(**top, **built)

    def replace(self, **values):
        """A copy with `values` (keyword names, read as this config's command reads them).

        Example:

        >>> RunConfig().replace(epochs=2, alpha=0.1).student.epochs
        2
        """
        keys = _keys(self.command)
        _check_names(values, keys)
        top, sections = _grouped({keys[name]: value for name, value in values.items()})
        replaced = {name: _build(getattr(self, name), name, changes)
                    for name, changes in sections.items()}
        return dataclasses.replace(self, **top, **replaced)

    @classmethod
    def default(cls, command, name):
        """The default of keyword `name` for `command` (what `--help` shows).

        Example:

        >>> RunConfig.default("tune", "epochs"), RunConfig.default("run", "epochs")
        (5, 100)
        """
        return _default_of(command, _keys(command)[name])

    # ----------------------------------------------------------------- reading
    def get(self, key):
        """The value at `"section.field"` (or a top-level field)."""
        section, _, name = key.partition(".")
        return getattr(getattr(self, section), name) if name else getattr(self, section)

    def to_dict(self, raw=False):
        """The config as nested values: plain ones for JSON (tuples as lists, a strategy object
        by its class name), or with `raw=True` the values as they are."""
        plain = (lambda v: v) if raw else _plain
        return {f.name: ({g.name: plain(getattr(getattr(self, f.name), g.name))
                          for g in dataclasses.fields(getattr(self, f.name))}
                         if _is_section(f) else plain(getattr(self, f.name)))
                for f in dataclasses.fields(self)}

    def to_toml(self):
        """The config as TOML text, which `RunConfig.resolve(command, file=...)` reads back."""
        return toml_file.dumps(self)

    @property
    def tune_epochs(self):
        """Epochs of each search trial (and of the students compared on validation)."""
        return self.tune.epochs if self.tune.epochs is not None else self.student.epochs


def _default_of(command, key):
    """The default of `"section.field"` (or a top-level field) for `command`."""
    defaults = COMMAND_DEFAULTS.get(command, {})
    if key in defaults:
        return defaults[key]
    section, _, name = key.partition(".")
    owner = {f.name: f for f in dataclasses.fields(RunConfig)}[section]
    if not name:
        return owner.default
    return {f.name: f for f in dataclasses.fields(owner.default_factory)}[name].default


def _keys(command):
    return {**KEYS, **COMMAND_KEYS.get(command, {})}


def _as_command_reads_it(error, command):
    """`error` naming a keyword as `command` reads it: `train-teacher`'s `epochs` is the
    teacher's epochs, checked under the name `teacher_epochs`."""
    message = str(error)
    for alias, key in COMMAND_KEYS.get(command, {}).items():
        for name in (k for k, v in KEYS.items() if v == key):
            message = message.replace(f"`{name}`", f"`{alias}`").replace(
                f"Received: {name}=", f"Received: {alias}=")
    return ValueError(message)


def _check_names(values, keys):
    unknown = sorted(set(values) - set(keys))
    if unknown:
        raise validation.invalid(unknown[0], "a keyword among " + ", ".join(sorted(keys)),
                                 values[unknown[0]])


def _grouped(values):
    """`{"section.field": v, "top": w}` -> `({"top": w}, {"section": {"field": v}})`."""
    top, sections = {}, {}
    for key, value in values.items():
        section, _, name = key.partition(".")
        if name:
            sections.setdefault(section, {})[name] = value
        else:
            top[key] = value
    return top, sections


def _build(section, name, changes):
    """`section` (a section class or instance) with `changes`, checking the field names."""
    fields = {f.name for f in dataclasses.fields(section)} if section else set()
    unknown = sorted(set(changes) - fields)
    if unknown:
        raise validation.invalid("config key", "one of " + ", ".join(
            f"{name}.{k}" for k in sorted(fields)), f"{name}.{unknown[0]}")
    if isinstance(section, type):
        return section(**changes)
    return dataclasses.replace(section, **changes)


def _is_section(f):
    return f.default_factory is not dataclasses.MISSING


def _plain(value):
    if value is None or isinstance(value, (bool, int, float, str, list)):
        return value
    if isinstance(value, tuple):
        return list(value)
    return type(value).__name__
