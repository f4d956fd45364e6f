"""The student stage: the reference student trained from scratch, or distilled from a teacher,
the same way (same initial weights, data, epochs, optimizer and schedule) so they compare fairly.
"""

import os

import keras

from keras_distill import distiller as distiller_lib
from keras_distill import io
from keras_distill import models as models_lib
from keras_distill.data import cache as cache_lib
from keras_distill.data import views as views_lib
from keras_distill.workflow import recipe
from keras_distill.workflow import run_directory
from keras_distill.workflow import setup
from keras_distill.workflow import teacher as teacher_stage
from keras_distill.workflow import training


def check_student(data, config):
    """Raises `ValueError` unless the student of `config` can be built for `data` (before
    anything trains)."""
    if config.student.family in models_lib.APPLICATIONS:
        models_lib.check_application_input(config.student.family, data.input_shape, "student")


def build_student(data, config, strategy=None):
    """The student of `config.student` for `data` (a reference family, or a keras.applications
    model at the data's resolution), seeded with `config.train.seed`."""
    with training.strategy_scope(strategy):
        if config.student.family in models_lib.APPLICATIONS:
            return models_lib.application(config.student.family, data.input_shape,
                                          data.num_classes, input_name=data.feature_name,
                                          seed=config.train.seed)
        return models_lib.reference_student(
            config.student.family, data.input_shape, data.num_classes, size=config.student.size,
            input_name=data.feature_name, seed=config.train.seed)


def train_student(data, config, *, teacher=None, strategy=None):
    """Trains the reference student from scratch (`teacher=None`) or distilled from `teacher`.

    Both kinds start from the same weights for the same seed, see the same labeled examples in
    the same order for the same epochs, under the same label-preserving augmentation (seeded
    alike; the distilled student's teacher sees its view), with the same optimizer (Adam, cosine
    decay), and both keep the weights of their best epoch on `data`'s validation split (the
    last epoch's when there is none). The distilled one also sees inputs only a teacher can
    label: MixUp between training inputs (`config.distill.mixup`) and `data.transfer` when
    `data` has one (see `recipe`).

    Args:
        data: A `ClassificationData`, with a validation split for model selection.
        config: A `RunConfig`: `student`, `distill` (alpha, T, augmentation, cached outputs,
            backup directory), `train` and `verbose`.
        teacher: The teacher `keras.Model`, or `None` to train from scratch. Defaults to `None`.
        strategy: A resolved `tf.distribute.Strategy` or `None`: the student (and a copy of the
            teacher, if it lives elsewhere) are created in its scope. Defaults to `None`.

    Returns:
        `(student, history)`; `history["best_epoch"]` is the selected epoch (0-based).
    """
    train, epochs = config.train, config.student.epochs
    drop = strategy is not None
    validation_data = data.batches("validation", 1024) if data.validation is not None else None
    student = build_student(data, config, strategy)
    with_transfer = teacher is not None and data.transfer is not None
    examples = data.sizes.get("train", 0) + (data.sizes.get("transfer", 0) if with_transfer else 0)
    optimizer = training.cosine_adam(train.learning_rate,
                                     training.total_steps(examples, train.batch_size, epochs))
    augmentation = recipe.augmentation(data, config, teacher_labels=teacher is not None)
    views = recipe.cached_views(data, config) if teacher is not None else 0
    with training.strategy_scope(strategy):
        if teacher is None:
            model = (distiller_lib.AugmentedModel(student, augmentation) if augmentation
                     else student)
            model.compile(optimizer=optimizer, loss=training.classification_loss(),
                          metrics=["accuracy"])
        else:
            model = distiller_lib.Distiller(
                student=student, teacher=training.copy_into_scope(teacher, strategy),
                augmentation=None if views else augmentation,  # A view holds its augmentation.
                teacher_dtype=config.distill.teacher_dtype,
                boundary_step=config.distill.boundary_step or None,
            ).compile(optimizer=optimizer, metrics=["accuracy"],
                      student_loss_fn=training.classification_loss(),
                      alpha=config.distill.alpha, temperature=config.distill.temperature)
    if teacher is not None and (views or config.distill.cache_teacher):
        source = data.batches("train", 1024, shuffle=False, with_transfer=with_transfer)
        cached = dict(batch_size=train.batch_size, shuffle=True, seed=train.seed,
                      drop_remainder=drop, teacher_dtype=config.distill.teacher_dtype)
        train_data = (views_lib.cache_teacher_views(teacher, source, augmentation, views=views,
                                                    **cached) if views
                      else cache_lib.cache_teacher_outputs(teacher, source, **cached))
    else:
        train_data = data.batches("train", train.batch_size, seed=train.seed,
                                  with_transfer=with_transfer, drop_remainder=drop)
    keep = training.KeepBestWeights(student)
    callbacks = [keep]
    if teacher is not None and config.distill.backup_dir:
        callbacks.append(keras.callbacks.BackupAndRestore(config.distill.backup_dir))
    history = model.fit(train_data, epochs=epochs, shuffle=False,
                        verbose=training.fit_verbose(config.verbose),
                        validation_data=validation_data, callbacks=callbacks)
    history = training.history_dict(history)
    history["best_epoch"] = epochs - 1 if keep.best_epoch is None else keep.best_epoch
    return student, history


def describe_distillation(data, config, strategy=None, *, stage="distilling"):
    """One line: `"distilling: 30 epochs, alpha=0.5, T=4, online teacher, augmentation ..."`,
    that names the student `stage`."""
    views = recipe.cached_views(data, config)
    mode = (f"the teacher's outputs cached for {views} augmented "
            f"view{'s' if views != 1 else ''} of each example"
            if views else "cached teacher outputs" if config.distill.cache_teacher
            else "online teacher")
    note = recipe.views_memory_note(data, config)
    mode += f" ({note})" if note else ""
    synthetic = config.distill.synthetic_samples
    extra = (f", {data.sizes['transfer']:,} unlabeled transfer examples"
             + (f" ({synthetic:,} synthesized from the teacher)" if synthetic else "")
             if data.transfer is not None else "")
    replicas = f", {strategy.num_replicas_in_sync} replica(s)" if strategy is not None else ""
    return (f"{stage}: {config.student.epochs} epochs, alpha={config.distill.alpha:.4g}, "
            f"T={config.distill.temperature:.4g}, {mode}, {recipe.describe(data, config)}"
            f"{extra}{replicas}")


def distill(config=None, *, log=print, **values):
    """The `keras-distill distill` command: distills the reference student from a saved teacher
    and saves `student.keras` in a new run directory under `config.output` (by the chief only).

    Args:
        config: A `RunConfig` with `teacher.path`, or `None` for `distill`'s defaults.
            Defaults to `None`.
        log: Called with one line per stage. Defaults to `print`.
        **values: Keyword names applied to the config (`teacher`, `epochs`, `alpha`, ...).

    Returns:
        `(student, history, path)`.
    """
    config = setup.command_config("distill", config, values)
    strategy = setup.resolve_strategy(config)
    setup.check_backup_directory(config)
    data = setup.load_data(config, validation_split=True)
    check_student(data, config)
    teacher, _, _ = teacher_stage.obtain_teacher(data, config, strategy=strategy, log=log)
    data = recipe.with_synthetic_inputs(data, teacher, config, log=log)
    log(describe_distillation(data, config, strategy))
    with run_directory.run_directory(config, strategy) as directory:
        student, history = train_student(data, config, teacher=teacher, strategy=strategy)
        path = io.save_model(student, os.path.join(directory, setup.STUDENT_FILE))
    log(f"distilled student: validation accuracy {_best(history):.1%} (epoch "
        f"{history['best_epoch'] + 1}), saved to {path}")
    return student, history, path


def _best(history):
    values = history.get("val_accuracy")
    return values[history["best_epoch"]] if values else float("nan")
