"""`DistillerHyperModel`: a keras-tuner search space over alpha, temperature and the student.

One teacher is frozen once and shared by every trial. Each trial gets a `TrialDistiller`, whose
`save_weights`/`load_weights` write and read the *student's* weights only, so keras-tuner's
per-trial checkpoints (and Hyperband's reloads, and `get_best_models`) never copy the teacher.
"""

import keras
import keras_tuner as kt
import tensorflow as tf

from keras_distill import distiller as distiller_lib
from keras_distill import teacher as teacher_lib
from keras_distill.tuning import ranges
from keras_distill.tuning import teacher_cache
from keras_distill.tuning import trial_runner
from keras_distill.tuning.ranges import check_range

ALPHA = "alpha"
TEMPERATURE = "temperature"


@keras.saving.register_keras_serializable(package="keras_distill")
class TrialDistiller(distiller_lib.Distiller):
    """A `Distiller` whose weight files hold the student only.

    `DistillerHyperModel.build` returns this class. keras-tuner checkpoints every trial with
    `model.save_weights(...)` and reloads with `model.load_weights(...)` (Hyperband, and
    `get_best_models`); here both go to `self.student`, so a checkpoint is the size of the
    student, not of the teacher. `alpha` and `temperature` are not in the file either: they come
    back from the trial's hyperparameters when the tuner rebuilds the model.
    """

    def save_weights(self, filepath, overwrite=True, max_shard_size=None):
        """Saves the student's weights only (see the class docstring)."""
        return self.student.save_weights(
            filepath, overwrite=overwrite, max_shard_size=max_shard_size
        )

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """Loads weights written by `save_weights` into the student."""
        return self.student.load_weights(filepath, skip_mismatch=skip_mismatch, **kwargs)

    def get_build_config(self):
        return {"student": self.student.get_build_config()}

    def build_from_config(self, config):
        student_config = (config or {}).get("student")
        if student_config and not self.student.built:
            self.student.build_from_config(student_config)
        self.built = self.student.built


def metric_name(metric):
    """The name Keras logs for a `compile(metrics=[...])` entry."""
    if isinstance(metric, str):
        return metric
    return getattr(metric, "name", None) or getattr(metric, "__name__", type(metric).__name__)


def _clone_metric(metric):
    if isinstance(metric, keras.metrics.Metric):
        return metric.__class__.from_config(metric.get_config())
    return metric


def objective_names(objective):
    """The metric names an objective (str, `kt.Objective` or a list of them) reads."""
    if isinstance(objective, (list, tuple)):
        return [name for obj in objective for name in objective_names(obj)]
    if isinstance(objective, kt.Objective):
        inner = getattr(objective, "objectives", None)
        return objective_names(inner) if inner else [objective.name]
    return [objective]


class DistillerHyperModel(kt.HyperModel):
    """Search space for distillation: `alpha`, `temperature` and whatever the student tunes.

    `build(hp)` builds the student with `build_student(hp)` (or clones a fixed student model),
    wraps it in a `TrialDistiller` with the shared, frozen teacher and compiles it. Each of
    `alpha` and `temperature` is a number (fixed), a `(min, max)` range or a list of choices;
    `temperature` ranges are log-sampled. Add student-size hyperparameters inside `build_student`
    (`hp.Int("units", 8, 64)`).

    Objective: `hypermodel.objective` is `val_<first metric>` (direction inferred by keras-tuner,
    e.g. maximize `val_sparse_categorical_accuracy`), or `val_loss` (the student's hard-label
    validation loss, minimized) when no metrics are given. Pass it on:
    `keras_tuner.RandomSearch(hm, objective=hm.objective, ...)`. An objective naming a metric the
    distiller never logs stops the search before the first trial trains.

    Teacher outputs: with `cache=True` (default) the first `fit` runs the teacher once over the
    training dataset and every later trial, in this process, reuses those outputs (`N` trials
    cost one teacher pass and `N` student trainings). `cache="some/dir"` stores them on disk so
    that several processes (distributed tuning) share one teacher pass: the first process to
    arrive computes them, the others wait and load. Use `cache=False` (online) when the input
    pipeline applies random augmentation: the teacher must then see each augmented batch.

    `get_best_models()` returns `TrialDistiller`s with the trial's trained student
    (`model.student`); `evaluate`/`predict` run the student only.

    Args:
        teacher: The trained teacher `keras.Model`. It is frozen once and shared by all trials;
            its weights never change.
        build_student: A function `hp -> keras.Model` returning a fresh student that outputs
            logits, or a `keras.Model` to clone (fresh weights) for every trial.
        alpha: Weight of the hard-label loss, within [0, 1]. A range reaching 1 includes
            training from labels alone. Defaults to `(0.0, 1.0)`.
        temperature: Softmax temperature, > 0. Defaults to `(1.0, 20.0)`, log-sampled.
        optimizer: An optimizer name, a `keras.optimizers.Optimizer` (cloned per trial) or a
            function `hp -> optimizer` (to tune the learning rate). Defaults to `"adam"`.
        loss: The student's hard-label loss. Defaults to `None`: sparse categorical
            cross-entropy on logits.
        metrics: Metrics of the student; the first one names the objective. Defaults to
            `("sparse_categorical_accuracy",)`.
        distillation_losses: Distillation terms passed to the `Distiller`. Defaults to `None`
            (Hinton's KD).
        cache: `True` (teacher outputs computed once per process, in memory), a directory path
            (computed once and shared through disk), or `False` (online). Defaults to `True`.
        augmentation: The `Distiller`'s `augmentation` in every trial (the scratch baseline of
            `tune_and_compare` trains under it too): a Keras layer or a list of them (shared by
            the trials), or a function `hp -> augmentation` called per trial (fresh, identically
            seeded layers each time). Needs `cache=False`. Defaults to `None`.
        **kwargs: Passed to `keras_tuner.HyperModel` (`name`, `tunable`).

    Example:

    >>> import keras, keras_tuner as kt, numpy as np, tempfile
    >>> teacher = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)])
    >>> def build_student(hp):
    ...     units = hp.Int("units", 2, 4)
    ...     return keras.Sequential([keras.Input((8,)), keras.layers.Dense(units),
    ...                              keras.layers.Dense(3)])
    >>> hm = DistillerHyperModel(teacher, build_student, temperature=(1.0, 10.0))
    >>> hm.objective.name
    'val_sparse_categorical_accuracy'
    >>> tuner = kt.RandomSearch(hm, objective=hm.objective, max_trials=1, seed=0,
    ...                         directory=tempfile.mkdtemp())
    >>> x, y = np.random.rand(32, 8), np.random.randint(0, 3, 32)
    >>> tuner.search(x, y, validation_data=(x, y), epochs=1, verbose=0)
    >>> sorted(tuner.get_best_hyperparameters()[0].values)
    ['alpha', 'temperature', 'units']
    """

    def __init__(
        self,
        teacher,
        build_student,
        *,
        alpha=(0.0, 1.0),
        temperature=(1.0, 20.0),
        optimizer="adam",
        loss=None,
        metrics=("sparse_categorical_accuracy",),
        distillation_losses=None,
        cache=True,
        augmentation=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        teacher_lib.check_model(teacher, "teacher")
        if not (callable(build_student) or isinstance(build_student, keras.Model)):
            raise TypeError(
                "Invalid value for argument `build_student`. Expected a function `hp -> "
                f"keras.Model` or a `keras.Model`. Received: build_student={build_student!r}"
            )
        if not (isinstance(cache, (bool, str)) or hasattr(cache, "__fspath__")):
            raise TypeError(
                "Invalid value for argument `cache`. Expected True, False or a directory path. "
                f"Received: cache={cache!r}"
            )
        self.alpha_spec = check_range(alpha, ALPHA, 0.0, 1.0)
        self.temperature_spec = check_range(temperature, TEMPERATURE, 0.0, log=True)
        # Done once: a softmax-ending teacher is wrapped here, not once per trial.
        self.teacher = teacher_lib.freeze(teacher_lib.logits_model(teacher))
        self.build_student = build_student
        self.optimizer = optimizer
        self.loss = loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.metrics = list(metrics or [])
        self.distillation_losses = distillation_losses
        if augmentation is not None and cache:
            raise ValueError(
                "Invalid value for argument `cache`. Expected False with `augmentation`: cached "
                "teacher outputs belong to the un-augmented inputs. Received: cache=" + repr(cache)
            )
        self.cache = cache
        self.augmentation = augmentation
        self._teacher_outputs = teacher_cache.TeacherOutputs(self.teacher, cache)
        self._runner = trial_runner.TrialRunner()

    # ------------------------------------------------------------ objective
    @property
    def objective(self):
        """The default `keras_tuner.Objective`: `val_<first metric>`, else `val_loss`."""
        if not self.metrics:
            return kt.Objective("val_loss", "min")
        name = "val_" + metric_name(self.metrics[0])
        direction = kt.engine.metrics_tracking.infer_metric_direction(name)
        if direction is None:  # Keras metric objects say "up" or "down".
            keras_direction = getattr(self.metrics[0], "_direction", None)
            direction = {"up": "max", "down": "min"}.get(keras_direction)
        if direction is None:
            raise ValueError(
                f"Cannot tell whether the objective {name!r} should be minimized or maximized. "
                f"Pass `objective=keras_tuner.Objective({name!r}, direction='max')` (or 'min')."
            )
        return kt.Objective(name, direction)

    def reported_metrics(self, validation=True, cached_validation=False):
        """The names `fit` logs: losses, `distillation_loss`, metrics, and their `val_` forms."""
        names = [metric_name(m) for m in self.metrics]
        train = ["loss", "student_loss", "distillation_loss", *names]
        val = ["loss", "student_loss", *names]
        if cached_validation:
            val.append("distillation_loss")
        return train + (["val_" + n for n in val] if validation else [])

    def check_objective(self, objective, validation=True, cached_validation=False):
        """Raises `ValueError` if `objective` names a metric the distiller never logs."""
        available = self.reported_metrics(validation, cached_validation)
        for name in objective_names(objective):
            if name not in available:
                hint = ""
                if name == "val_distillation_loss":
                    hint = (" `val_distillation_loss` is logged only when the validation data "
                            "carries cached teacher outputs.")
                elif name == "default_objective":
                    hint = (" keras-tuner uses `default_objective` when no objective is given; "
                            "pass `objective=hypermodel.objective`.")
                elif name.startswith("val_") and not validation:
                    hint = " Pass `validation_data` to the search."
                raise kt.errors.FatalValueError(
                    f"Invalid value for argument `objective`. Expected one of the metrics the "
                    f"distiller logs: {available}. Received: objective={name!r}.{hint} Add the "
                    "metric to the hypermodel's `metrics` or pick one of these."
                )

    # ---------------------------------------------------------------- build
    def _student(self, hp):
        if isinstance(self.build_student, keras.Model):
            student = keras.models.clone_model(self.build_student)
        else:
            student = self.build_student(hp)
        if not isinstance(student, keras.Model):
            raise kt.errors.FatalTypeError(
                "Invalid value for argument `build_student`. Expected a function returning a "
                f"`keras.Model`. Received: build_student(hp) returned {student!r} of type "
                f"{type(student).__name__} for hyperparameters {hp.values}"
            )
        outputs = getattr(student, "outputs", None)
        classes = outputs[0].shape[-1] if outputs else None
        teacher_outputs = getattr(self.teacher, "outputs", None)
        expected = teacher_outputs[0].shape[-1] if teacher_outputs else None
        if None not in (classes, expected) and classes != expected:
            raise kt.errors.FatalValueError(
                "Invalid value for argument `build_student`. Expected a student with "
                f"{expected} output classes, like the teacher. Received: build_student(hp) "
                f"returned a model with {classes} classes for hyperparameters {hp.values}"
            )
        return student

    def _optimizer(self, hp):
        if isinstance(self.optimizer, keras.optimizers.Optimizer):
            return self.optimizer.__class__.from_config(self.optimizer.get_config())
        if callable(self.optimizer):
            return self.optimizer(hp)
        return self.optimizer

    def build(self, hp):
        """Builds and compiles a `TrialDistiller` for the hyperparameters `hp`."""
        alpha = ranges.declare(hp, ALPHA, self.alpha_spec, log=False)
        temperature = ranges.declare(hp, TEMPERATURE, self.temperature_spec, log=True)
        distiller = TrialDistiller(
            teacher=self.teacher,
            student=self._student(hp),
            distillation_losses=self.distillation_losses,
            student_loss_weight=alpha,
            temperature=temperature,
            augmentation=self._augmentation(hp),
        )
        return distiller.compile(
            optimizer=self._optimizer(hp),
            loss=self.loss,
            metrics=[_clone_metric(m) for m in self.metrics],
        )

    def build_scratch(self, hp):
        """Builds and compiles the student of `hp` alone (no teacher): the scratch baseline,
        an `AugmentedModel` under the trials' augmentation when there is one."""
        student, augmentation = self._student(hp), self._augmentation(hp)
        if augmentation is None:
            return self.compile_student(student, hp)
        return self.compile_student(distiller_lib.AugmentedModel(student, augmentation), hp)

    def _augmentation(self, hp):
        augmentation = self.augmentation
        if augmentation is None or isinstance(augmentation, (keras.layers.Layer, list, tuple)):
            return augmentation
        return augmentation(hp)

    def compile_student(self, student, hp):
        """Compiles `student` on its own with the hypermodel's optimizer, loss and metrics, so
        that `student.evaluate` reports what the search measured. Returns `student`."""
        student.compile(
            optimizer=self._optimizer(hp),
            loss=self.loss,
            metrics=[_clone_metric(m) for m in self.metrics],
        )
        return student

    # ------------------------------------------------------------------ fit
    def fit(self, hp, model, x=None, y=None, *, validation_data=None, callbacks=None, **kwargs):
        """Trains one trial; the teacher's outputs are computed once and reused (see `cache`)."""
        for callback in callbacks or []:
            # The tuner's checkpoint callback carries the search objective: check it before
            # the first epoch, so a bad objective stops the search instead of failing trials.
            objective = getattr(callback, "objective", None)
            if isinstance(objective, kt.Objective):
                self.check_objective(
                    objective,
                    validation=validation_data is not None or "validation_split" in kwargs,
                    cached_validation=teacher_cache.is_cached(validation_data),
                )
        x, y, kwargs = self.prepare(x, y, **kwargs)
        # Trials of one structure reuse one traced distiller (`trial_runner`).
        return self._runner.fit(model, self.build, hp, x, y, validation_data=validation_data,
                                callbacks=callbacks, **kwargs)

    def prepare(self, x, y=None, **kwargs):
        """Returns `(x, y, fit_kwargs)` with the teacher's outputs attached (unless online)."""
        if not self.cache or teacher_cache.is_cached(x):
            if isinstance(x, tf.data.Dataset):
                kwargs = dict(kwargs, shuffle=False)  # Keras ignores it for datasets, and warns.
            return x, y, kwargs
        if not isinstance(x, tf.data.Dataset):
            if y is None:
                return x, y, kwargs  # Unlabeled arrays: nothing to key a cache on; stay online.
            kwargs = dict(kwargs)
            batch_size = kwargs.pop("batch_size", None) or 32
            x = self._teacher_outputs.for_arrays(x, y, batch_size, kwargs.pop("shuffle", True))
            y = None
        else:
            x = self._teacher_outputs(x)
        # The cached dataset reshuffles itself each epoch; Keras would warn about `shuffle`.
        return x, y, dict(kwargs, shuffle=False)
