"""The main job as Python calls: train or load a teacher, train scratch and distilled students,
compare them, export the distilled student, write the report.

Each step is one function (`train_teacher`, `cached_teacher`, `train_student`, `distill`,
`evaluate`, and `keras_distill.workflow_export.export_artifacts`), and `run` chains them; the
`keras-distill` command is a thin layer over these (`keras_distill.workflow_tune` holds `tune`
and the search behind `run(tune=N)`, `keras_distill.workflow_export` holds `export_model`). Everything a user can get wrong (dataset name, teacher path, output path,
epochs, strategy, batch size, backup directory) is checked before any training starts.

Under a `tf.distribute` strategy (`strategy="mirrored"`, ...), every model is created inside
`strategy.scope()`, `batch_size` is the global batch (divisible by the replicas), training
batches drop the remainder, and only the chief writes files.
"""

import contextlib
import json
import os
import time

import keras
import numpy as np

from keras_distill import artifacts
from keras_distill import distribute
from keras_distill import keras_workarounds
from keras_distill import models as models_lib
from keras_distill import report as report_lib
from keras_distill.data import cache as cache_lib
from keras_distill.data import datasets
from keras_distill.distiller import Distiller

DEFAULT_OUTPUT = "keras_distill_output"
DEFAULT_EXPORT_DIR = "saved_models"
TEACHER_FILE, STUDENT_FILE, SCRATCH_FILE = "teacher.keras", "student.keras", "scratch.keras"


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a positive integer. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def _positive_float(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a positive number. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def check_counts(**values):
    """Raises `ValueError` unless each value (epochs, batch size, ...) is a positive integer.

    Example:

    >>> check_counts(epochs=0)
    Traceback (most recent call last):
    ...
    ValueError: Invalid value for argument `epochs`. Expected a positive integer. Received: epochs=0
    """
    for name, value in values.items():
        _positive_int(value, name)


def check_output_dir(output):
    """Creates `output` if needed; raises `ValueError` if it is a file."""
    if os.path.exists(output) and not os.path.isdir(output):
        raise ValueError(
            "Invalid value for argument `output`. Expected a directory (created if missing), "
            f"but it is a file. Received: output={output!r}"
        )
    os.makedirs(output, exist_ok=True)
    return output


# --------------------------------------------------------------------------- strategies
MULTI_WORKER_FIT = (
    "plain `keras.Model.fit` fails under MultiWorkerMirroredStrategy with several workers "
    "(keras-team/keras#20585; only `Distiller.fit` carries the workaround). Train the teacher on "
    "one host (`keras-distill train-teacher`, `--strategy mirrored` for its GPUs), distill on "
    "every worker with `keras-distill distill --strategy multi_worker --teacher PATH`, then "
    "compare with `keras-distill evaluate`."
)


def resolve_strategy(strategy=None, batch_size=None):
    """Returns the `tf.distribute.Strategy` for `strategy` (a name, a strategy, or `None`).

    Args:
        strategy: `None` (no strategy: Keras's default), a name of
            `keras_distill.distribute.STRATEGIES`, or a `tf.distribute.Strategy`.
            Defaults to `None`.
        batch_size: If given, checked to be a global batch divisible by the replicas.
            Defaults to `None`.

    Returns:
        A `tf.distribute.Strategy`, or `None`.

    Example:

    >>> resolve_strategy(None) is None
    True
    >>> resolve_strategy("one_device", batch_size=64).num_replicas_in_sync
    1
    """
    if strategy is None:
        return None
    if isinstance(strategy, str):
        strategy = distribute.get_strategy(strategy)
    if batch_size is not None:
        distribute.check_global_batch_size(_positive_int(batch_size, "batch_size"), strategy)
    return strategy


def _check_plain_fit(strategy, what):
    if strategy is not None and keras_workarounds.in_multi_worker_mode(strategy):
        raise ValueError(f"Cannot {what} under the `multi_worker` strategy: {MULTI_WORKER_FIT}")


def _scope(strategy):
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def _in_scope(model, strategy):
    """`model`, or a copy of it created in `strategy`'s scope if its variables live elsewhere."""
    if strategy is None or all(
            distribute._variable_strategy(v) is strategy for v in model.variables):
        return model
    try:
        with strategy.scope():
            copy = keras.models.clone_model(model)
            copy.set_weights(model.get_weights())
    except Exception as error:  # Keras raises many kinds for a model it cannot clone.
        raise ValueError(
            f"Cannot copy the {model.name!r} model into the `{type(strategy).__name__}` scope "
            f"({type(error).__name__}: {str(error).splitlines()[0][:200]}). Under a strategy, "
            "pass the teacher as a `.keras` file."
        ) from None
    return copy


def _optimizer(learning_rate, steps):
    """Adam with a cosine decay over the whole run: the same for every model of a run."""
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, max(1, steps))
    return keras.optimizers.Adam(schedule)


def _steps(examples, batch_size, epochs):
    return -(-max(examples, 1) // batch_size) * epochs


def load_data(dataset="mnist1d", *, data_dir=None, transfer_samples=0, validation_split=0.0,
              download=False):
    """`keras_distill.data.load` with the CLI's argument names."""
    return datasets.load(dataset, data_dir=data_dir, transfer_samples=transfer_samples,
                         validation_split=validation_split, download=download)


# --------------------------------------------------------------------------- teacher
def _fit_logs(history):
    return {k: [float(v) for v in values] for k, values in history.history.items()}


def train_teacher(data, *, epochs=30, batch_size=64, seed=0, learning_rate=3e-3,
                  family=None, width=None, depth=None, verbose="auto", validation="test",
                  strategy=None):
    """Trains the reference teacher (a CNN unless `family` says otherwise).

    Args:
        data: A `ClassificationData`.
        epochs: Training epochs. Defaults to `30`.
        batch_size: Batch size. Defaults to `64`.
        seed: Seed of the weights and of the shuffling. Defaults to `0`.
        learning_rate: Peak learning rate of Adam with cosine decay. Defaults to `3e-3`.
        family: `"mlp"`, `"cnn"` or `"gru"`. Defaults to `None`: the reference teacher.
        width: Width of `family`. Defaults to `None` (the family's default).
        depth: Depth of `family`. Defaults to `None` (the family's default).
        verbose: Keras `fit` verbosity. Defaults to `"auto"`.
        validation: Split whose accuracy is recorded per epoch (only recorded: nothing is
            chosen on it), or `None`. Defaults to `"test"`.
        strategy: `None`, a strategy name (`"mirrored"`, ...) or a `tf.distribute.Strategy`;
            `batch_size` is then the global batch. Not `"multi_worker"` (keras-team/keras#20585).
            Defaults to `None`.

    Returns:
        `(model, history)`: the trained `keras.Model` (logits) and its `History.history`.
    """
    epochs, batch_size = _positive_int(epochs, "epochs"), _positive_int(batch_size, "batch_size")
    strategy = resolve_strategy(strategy, batch_size)
    _check_plain_fit(strategy, "train the teacher")
    learning_rate = _positive_float(learning_rate, "learning_rate")
    steps = _steps(data.sizes.get("train", 0), batch_size, epochs)
    with _scope(strategy):
        if family is None:
            model = models_lib.reference_teacher(data.input_shape, data.num_classes,
                                                 input_name=data.feature_name, seed=seed)
        else:
            model = models_lib.build(family, data.input_shape, data.num_classes, width=width,
                                     depth=depth, input_name=data.feature_name, name="teacher",
                                     seed=seed)
        model.compile(optimizer=_optimizer(learning_rate, steps),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
    history = model.fit(
        data.batches("train", batch_size, seed=seed, drop_remainder=strategy is not None),
        epochs=epochs, verbose=verbose,
        shuffle=False,
        validation_data=data.batches(validation, 1024) if validation else None,
    )
    return model, _fit_logs(history)


def _teacher_key(data, **config):
    dataset = data.describe()
    dataset["sizes"] = {k: v for k, v in dataset["sizes"].items() if k != "transfer"}
    return {"dataset": dataset, **config}


def cached_teacher(data, output, *, log=print, retrain=False, verbose="auto", strategy=None,
                   **config):
    """Returns `(teacher, history)`: reused from `output/teacher.keras` when it was trained on
    the same data with the same settings, else trained now and saved there."""
    path, meta_path = os.path.join(output, TEACHER_FILE), os.path.join(output, "teacher.json")
    key = _teacher_key(data, **config)
    if strategy is not None:  # Global batches without the remainder: another training run.
        key["replicas"] = strategy.num_replicas_in_sync
    if not retrain and os.path.isfile(path) and os.path.isfile(meta_path):
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
        if meta.get("key") == key:
            log(f"teacher: reused from {path} (trained by an earlier run with the same settings)")
            return keras.saving.load_model(path, compile=False), meta.get("history", {})
    log(f"teacher: training the reference teacher, {config['epochs']} epochs")
    start = time.perf_counter()
    teacher, history = train_teacher(data, verbose=verbose, strategy=strategy, **config)
    artifacts.save_model(teacher, path)
    artifacts.write_json(meta_path, {"key": key, "history": history})
    log(f"teacher: trained in {time.perf_counter() - start:.0f} s, saved to {path}")
    return teacher, history


# --------------------------------------------------------------------------- students
def train_student(data, *, teacher=None, family="cnn", size=1.0, epochs=30, batch_size=64,
                  alpha=0.1, temperature=4.0, seed=0, learning_rate=3e-3, cache_teacher=True,
                  use_transfer=True, verbose="auto", validation="test", strategy=None,
                  backup_dir=None):
    """Trains a reference student from scratch (`teacher=None`) or distilled from `teacher`.

    Both kinds start from the same weights for the same `seed`, see the same labeled examples
    in the same number of epochs, and use the same optimizer (Adam, cosine decay).

    Args:
        data: A `ClassificationData`.
        teacher: The teacher `keras.Model`, or `None` to train from scratch. Defaults to `None`.
        family: Student family, `"mlp"`, `"cnn"` or `"gru"`. Defaults to `"cnn"`.
        size: Width multiplier of the reference student. Defaults to `1.0`.
        epochs: Training epochs. Defaults to `30`.
        batch_size: Batch size. Defaults to `64`.
        alpha: Weight of the hard-label loss. Defaults to `0.1`.
        temperature: Distillation temperature. Defaults to `4.0`.
        seed: Seed of the weights and of the shuffling. Defaults to `0`.
        learning_rate: Peak learning rate. Defaults to `3e-3`.
        cache_teacher: Run the teacher once and carry its outputs in the pipeline
            (`cache_teacher_outputs`) instead of at every step. Defaults to `True`.
        use_transfer: Add `data.transfer` (unlabeled, labeled by the teacher only) to the
            distilled student's training data. Defaults to `True`.
        verbose: Keras `fit` verbosity. Defaults to `"auto"`.
        validation: Split whose accuracy is recorded per epoch, or `None`. Defaults to `"test"`.
        strategy: `None`, a strategy name or a `tf.distribute.Strategy`: the student (and a
            copy of the teacher, if it lives elsewhere) are created in its scope and
            `batch_size` is the global batch. `"multi_worker"` only with a teacher
            (keras-team/keras#20585). Defaults to `None`.
        backup_dir: Directory of a `keras.callbacks.BackupAndRestore` for the distillation
            `fit`: rerun after a crash and training resumes from the last finished epoch.
            Defaults to `None`.

    Returns:
        `(student, history)`.
    """
    epochs, batch_size = _positive_int(epochs, "epochs"), _positive_int(batch_size, "batch_size")
    learning_rate = _positive_float(learning_rate, "learning_rate")
    strategy = resolve_strategy(strategy, batch_size)
    if teacher is None:
        _check_plain_fit(strategy, "train the scratch student")
    if backup_dir is not None:
        distribute.check_writable_directory(backup_dir)
    drop = strategy is not None
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    validation_data = data.batches(validation, 1024) if validation else None
    with _scope(strategy):
        student = models_lib.reference_student(family, data.input_shape, data.num_classes,
                                               size=size, input_name=data.feature_name,
                                               seed=seed)
    if teacher is None:
        steps = _steps(data.sizes.get("train", 0), batch_size, epochs)
        with _scope(strategy):
            student.compile(optimizer=_optimizer(learning_rate, steps), loss=loss,
                            metrics=["accuracy"])
        history = student.fit(data.batches("train", batch_size, seed=seed, drop_remainder=drop),
                              epochs=epochs, verbose=verbose, validation_data=validation_data,
                              shuffle=False)
        return student, _fit_logs(history)
    teacher = _in_scope(teacher, strategy)
    with_transfer = bool(use_transfer and data.transfer is not None)
    examples = data.sizes.get("train", 0) + (data.sizes.get("transfer", 0) if with_transfer else 0)
    with _scope(strategy):
        distiller = Distiller(student=student, teacher=teacher).compile(
            optimizer=_optimizer(learning_rate, _steps(examples, batch_size, epochs)),
            metrics=["accuracy"], student_loss_fn=loss, alpha=alpha, temperature=temperature,
        )
    if cache_teacher:
        source = data.batches("train", 1024, shuffle=False, with_transfer=with_transfer)
        train = cache_lib.cache_teacher_outputs(teacher, source, batch_size=batch_size,
                                                shuffle=True, seed=seed, drop_remainder=drop)
    else:
        train = data.batches("train", batch_size, seed=seed, with_transfer=with_transfer,
                             drop_remainder=drop)
    callbacks = [keras.callbacks.BackupAndRestore(backup_dir)] if backup_dir else []
    history = distiller.fit(train, epochs=epochs, verbose=verbose, shuffle=False,
                            validation_data=validation_data, callbacks=callbacks)
    return student, _fit_logs(history)


def distill(teacher, dataset="mnist1d", *, data_dir=None, output=DEFAULT_OUTPUT,
            transfer_samples=0, strategy=None, log=print, **student_kwargs):
    """Loads a saved teacher, distills a reference student and saves `output/student.keras`.

    Args:
        teacher: Path of the teacher (`.keras` file or SavedModel directory).
        dataset: Dataset name. Defaults to `"mnist1d"`.
        data_dir: tfds data directory. Defaults to `None`.
        output: Directory of `student.keras` (written by the chief only). Defaults to
            `"keras_distill_output"`.
        transfer_samples: Unlabeled MNIST-1D examples. Defaults to `0`.
        strategy: As in `train_student`; `"multi_worker"` is supported here. Defaults to `None`.
        log: Called with one line per stage. Defaults to `print`.
        **student_kwargs: Passed to `train_student` (`family`, `epochs`, `alpha`,
            `backup_dir`, ...).

    Returns:
        `(student, history, path)`.
    """
    check_counts(epochs=student_kwargs.get("epochs", 30),
                 batch_size=student_kwargs.get("batch_size", 64))
    strategy = resolve_strategy(strategy, student_kwargs.get("batch_size", 64))
    if student_kwargs.get("backup_dir") is not None:
        distribute.check_writable_directory(student_kwargs["backup_dir"])
    check_output_dir(output)
    data = load_data(dataset, data_dir=data_dir, transfer_samples=transfer_samples)
    with _scope(strategy):
        teacher_model = artifacts.load_teacher(teacher, data)
    log(f"teacher: loaded from {teacher}")
    replicas = f", {strategy.num_replicas_in_sync} replica(s)" if strategy is not None else ""
    log(f"distilling: {student_kwargs.get('epochs', 30)} epochs, "
        f"alpha={student_kwargs.get('alpha', 0.1)}, "
        f"T={student_kwargs.get('temperature', 4.0)}{replicas}")
    student, history = train_student(data, teacher=teacher_model, strategy=strategy,
                                     **student_kwargs)
    with distribute.chief_output_dir(output, strategy) as directory:
        artifacts.save_model(student, os.path.join(directory, STUDENT_FILE))
    return student, history, os.path.join(output, STUDENT_FILE)


# --------------------------------------------------------------------------- export, report
def evaluate(models, data, *, histories=None, meta=None, batch_size=1024, **measure_kwargs):
    """Measures `{name: model}` on `data`'s test split and returns a `keras_distill.report.Report`.

    The names `"teacher"`, `"scratch"` and `"distilled"` give the rows their roles.
    """
    meta = {"dataset": data.describe(), **(meta or {})}
    return report_lib.compare(models, data.batches("test", batch_size), histories=histories,
                              meta=meta, **measure_kwargs)


def run(dataset="mnist1d", *, data_dir=None, output=DEFAULT_OUTPUT, teacher=None,
        retrain_teacher=False, student="cnn", student_size=1.0, epochs=30, teacher_epochs=30,
        batch_size=64, alpha=0.5, temperature=4.0, seed=0, learning_rate=3e-3,
        cache_teacher=True, transfer_samples=0, export_dir=DEFAULT_EXPORT_DIR,
        verify_export=True, verbose="auto", log=print, measure_kwargs=None, tune=0,
        tune_epochs=None, tuner="random", validation_split=0.2, strategy=None,
        backup_dir=None):
    """The main job: teacher, scratch student, distilled student, comparison, export, report.

    Args:
        dataset: `"mnist1d"` or a tfds image-classification name. Defaults to `"mnist1d"`.
        data_dir: tfds data directory. Defaults to `None`.
        output: Directory of the report, the models and the cached teacher. Defaults to
            `"keras_distill_output"`.
        teacher: Path of a teacher (`.keras` or SavedModel directory). Defaults to `None`:
            reuse the teacher cached in `output` by an earlier run with the same settings, or
            train the reference teacher.
        retrain_teacher: Train the reference teacher even if one is cached. Defaults to `False`.
        student: Student family. Defaults to `"cnn"`.
        student_size: Width multiplier of the reference student. Defaults to `1.0`.
        epochs: Epochs of both students. Defaults to `30`.
        teacher_epochs: Epochs of the reference teacher. Defaults to `30`.
        batch_size: Batch size of every model. Defaults to `64`.
        alpha: Weight of the hard-label loss. Defaults to `0.5`.
        temperature: Distillation temperature. Defaults to `4.0`.
        seed: Seed of weights and shuffling (the same for both students). Defaults to `0`.
        learning_rate: Peak learning rate of every model. Defaults to `3e-3`.
        cache_teacher: Compute the teacher's outputs once. Defaults to `True`.
        transfer_samples: Unlabeled MNIST-1D examples for the distilled student. Defaults to `0`.
        export_dir: Parent of the exports (`<export_dir>/<dataset>_student/saved_model/<version>`
            for TF Serving, and `.tflite` files beside it), or `None` to skip the export.
            Defaults to `"saved_models"`.
        verify_export: Reload the export in a fresh process and compare. Defaults to `True`.
        verbose: Keras `fit` verbosity. Defaults to `"auto"`.
        log: Called with one line per stage. Defaults to `print`.
        measure_kwargs: Passed to `keras_distill.report.measure_model`. Defaults to `None`.
        tune: If positive, `alpha` and `temperature` are not taken as given but chosen by a
            `tune`-trial search on a validation split held out of the training split, where the
            tuned student is also compared with the scratch student
            (`keras_distill.workflow_tune.choose_alpha_temperature`); the report says which won.
            Defaults to `0` (no search).
        tune_epochs: Epochs per trial, and of the two compared students. Defaults to `None`:
            `epochs`.
        tuner: `"random"`, `"bayesian"` or `"hyperband"`. Defaults to `"random"`.
        validation_split: Fraction of the training split held out for `tune`.
            Defaults to `0.2`.
        strategy: `None`, a name of `keras_distill.distribute.STRATEGIES` or a
            `tf.distribute.Strategy`: models are created in its scope and `batch_size` is the
            global batch. Not `"multi_worker"` (keras-team/keras#20585: use `distill`), and not
            with `tune`. Defaults to `None`.
        backup_dir: `keras.callbacks.BackupAndRestore` directory of the distillation `fit`.
            Defaults to `None`.

    Returns:
        The `keras_distill.report.Report` (also written to `output`).
    """
    started = time.perf_counter()
    check_counts(epochs=epochs, teacher_epochs=teacher_epochs, batch_size=batch_size)
    if transfer_samples and not isinstance(transfer_samples, bool):
        _positive_int(transfer_samples, "transfer_samples")
    if tune:
        _positive_int(tune, "tune")
        check_counts(tune_epochs=epochs if tune_epochs is None else tune_epochs)
        if strategy is not None:
            raise ValueError(
                "Invalid value for argument `tune`. The alpha/T search runs without a "
                f"tf.distribute strategy. Received: tune={tune!r} with strategy={strategy!r}. "
                "Search first (`keras-distill tune`), then run with the chosen --alpha and "
                "--temperature under the strategy."
            )
    strategy = resolve_strategy(strategy, batch_size)
    _check_plain_fit(strategy, "run the whole job (the teacher and the scratch student)")
    if backup_dir is not None:
        distribute.check_writable_directory(backup_dir)
    check_output_dir(output)
    if export_dir is not None and os.path.isfile(export_dir):
        raise ValueError("Invalid value for argument `export_dir`. Expected a directory. "
                         f"Received: export_dir={export_dir!r}, which is a file")
    data = load_data(dataset, data_dir=data_dir, transfer_samples=transfer_samples)
    tune_data = None
    if tune:  # Loaded (and checked) before any training.
        tune_data = load_data(dataset, data_dir=data_dir, validation_split=validation_split)
    log(f"data: {data.name}, " + ", ".join(f"{n:,} {k}" for k, n in data.sizes.items()))
    if teacher is not None:
        with _scope(strategy):
            teacher_model, teacher_history = artifacts.load_teacher(teacher, data), {}
        log(f"teacher: loaded from {teacher}")
    else:
        teacher_model, teacher_history = cached_teacher(
            data, output, log=log, retrain=retrain_teacher, verbose=verbose, strategy=strategy,
            epochs=teacher_epochs, batch_size=batch_size, seed=seed, learning_rate=learning_rate)
    tuning = None
    if tune:
        from keras_distill import workflow_tune

        tuning = workflow_tune.choose_alpha_temperature(
            tune_data, teacher_model, output, trials=tune, student=student,
            student_size=student_size, epochs=epochs if tune_epochs is None else tune_epochs,
            batch_size=batch_size, seed=seed, learning_rate=learning_rate,
            cache_teacher=cache_teacher, tuner=tuner, log=log)
        alpha, temperature = tuning["alpha"], tuning["temperature"]
    common = dict(family=student, size=student_size, epochs=epochs, batch_size=batch_size,
                  seed=seed, learning_rate=learning_rate, verbose=verbose, strategy=strategy)
    log(f"scratch: training the {student} student from scratch, {epochs} epochs")
    scratch, scratch_history = train_student(data, **common)
    mode = "cached teacher outputs" if cache_teacher else "online teacher"
    extra = f", {data.sizes['transfer']:,} unlabeled transfer examples" if data.transfer else ""
    log(f"distilling: {epochs} epochs, alpha={alpha:.4g}, T={temperature:.4g}, {mode}{extra}")
    distilled, distilled_history = train_student(
        data, teacher=teacher_model, alpha=alpha, temperature=temperature,
        cache_teacher=cache_teacher, backup_dir=backup_dir, **common)
    artifacts.save_model(scratch, os.path.join(output, SCRATCH_FILE))
    artifacts.save_model(distilled, os.path.join(output, STUDENT_FILE))
    log("evaluating: accuracy, agreement, size, CPU latency (batch 1) and throughput")
    histories = {"teacher": teacher_history, "scratch": scratch_history,
                 "distilled": distilled_history}
    config = {"teacher": teacher or "reference cnn", "student": student,
              "student_size": student_size, "epochs": epochs, "teacher_epochs": teacher_epochs,
              "batch_size": batch_size, "alpha": alpha, "temperature": temperature,
              "seed": seed, "learning_rate": learning_rate, "cache_teacher": cache_teacher,
              "transfer_samples": transfer_samples}
    if tune:
        config.update(tune=tune, tuner=tuner, validation_split=validation_split)
    if strategy is not None:
        config["strategy"] = type(strategy).__name__
        config["replicas"] = strategy.num_replicas_in_sync
    report = evaluate({"teacher": teacher_model, "scratch": scratch, "distilled": distilled},
                      data, histories={k: v for k, v in histories.items() if v},
                      meta={"config": config, "curves_split": "test"},
                      **(measure_kwargs or {}))
    if tuning is not None:
        report.meta["tuning"] = tuning
        report.row("distilled")["note"] = tuning["text"]
    if export_dir is not None:
        from keras_distill import workflow_export

        workflow_export.export_artifacts(
            distilled, data, os.path.join(export_dir, f"{data.name}_student"), report,
            verify=verify_export, log=log)
    report.meta["wall_time_s"] = round(time.perf_counter() - started, 1)
    paths = report.write(output)
    log(f"report: {', '.join(paths.values())}")
    return report
