"""The search stage: alpha/T for the reference student, scored on a validation split held out of
the training split (never the test split), with `keras_distill.tuning`.
"""

import os

from keras_distill import io
from keras_distill import teacher_precision
from keras_distill import tuning
from keras_distill.workflow import recipe
from keras_distill.workflow import run_directory
from keras_distill.workflow import setup
from keras_distill.workflow import students
from keras_distill.workflow import teacher as teacher_stage
from keras_distill.workflow import training


def hypermodel(data, teacher, config):
    """A `DistillerHyperModel` over the reference student of `data` (same weights every trial).

    The optimizer is every run's (Adam with a cosine decay over `config.tune_epochs` of the
    training split); the ranges are `config.tune`'s; the objective is `val_accuracy`.
    """
    steps = training.total_steps(data.sizes.get("train", 0), config.train.batch_size,
                                 config.tune_epochs)
    teacher = teacher_precision.reduced_precision(teacher, config.distill.teacher_dtype)
    return tuning.DistillerHyperModel(  # Every trial shares one (reduced-precision) teacher.
        teacher, lambda hp: students.build_student(data, config),
        alpha=config.tune.alpha, temperature=config.tune.temperature,
        optimizer=lambda hp: training.cosine_adam(config.train.learning_rate, steps),
        metrics=["accuracy"], cache=config.distill.cache_teacher,
        augmentation=lambda hp: recipe.augmentation(data, config, teacher_labels=True))


def _splits(data, config):
    return (data.batches("train", config.train.batch_size, seed=config.train.seed),
            data.batches("validation", 1024))


def choose_alpha_temperature(data, teacher, config, directory, *, log=print):
    """Searches alpha/T on `data`'s validation split and compares with the scratch student there.

    Runs `keras_distill.tuning.tune_and_compare`: `config.tune.trials` trials of
    `config.tune_epochs` epochs each on the training split (without the validation examples),
    the best configuration retrained, and the same student trained from labels alone, both
    scored on the validation split. Writes `tuning_results.txt`/`.csv` and `tune_compare.txt`
    (and keras-tuner's `tuning/` working directory) to `directory`.

    Args:
        data: A `ClassificationData` loaded with a validation split.
        teacher: The teacher `keras.Model`.
        config: A `RunConfig`.
        directory: The run's directory.
        log: Called with one line per stage. Defaults to `print`.

    Returns:
        A JSON-ready dict: `alpha`, `temperature`, `trials`, `validation_examples`, `objective`,
        `distilled_validation`, `scratch_validation`, `winner` and `text` (one sentence).
    """
    trials, epochs = config.tune.trials, config.tune_epochs
    train, validation = _splits(data, config)
    n_val = data.sizes.get("validation", 0)
    log(f"tuning: {trials} trials of {epochs} epochs on {data.sizes.get('train', 0):,} training "
        f"examples, alpha/T scored on {n_val:,} held-out validation examples")
    comparison = tuning.tune_and_compare(
        hypermodel(data, teacher, config), train, validation_data=validation, max_trials=trials,
        epochs=epochs, final_epochs=epochs, report_dir=directory, tuner=config.tune.tuner,
        seed=config.train.seed, overwrite=True)
    values = comparison.best_hyperparameters.values
    alpha, temperature = float(values["alpha"]), float(values["temperature"])
    text = (f"alpha={alpha:.3g}, T={temperature:.3g} chosen by a {trials}-trial search on a "
            f"validation split ({n_val:,} examples held out of training): distilled "
            f"{comparison.distilled_score:.1%} vs scratch {comparison.scratch_score:.1%} on "
            f"validation, {comparison.winner} won")
    log(f"tuning: {text}")
    return {"alpha": alpha, "temperature": temperature, "trials": trials,
            "validation_examples": n_val, "objective": comparison.objective,
            "distilled_validation": comparison.distilled_score,
            "scratch_validation": comparison.scratch_score, "winner": comparison.winner,
            "text": text}


def tune(config=None, *, log=print, **values):
    """The `keras-distill tune` command: searches alpha/T on a validation split.

    The teacher is `config.teacher.path`, or the reference teacher of `run` (reused from the
    output, or trained on the whole training split). The best configuration is retrained for
    `config.tune.final_epochs` (default: the trial epochs; `0` skips it) and saved as
    `student.keras`; the results tables too, in a new run directory under `config.output`.

    Args:
        config: A `RunConfig`, or `None` for `tune`'s defaults. Defaults to `None`.
        log: Called with one line per stage. Defaults to `print`.
        **values: Keyword names applied to the config (`trials`, `epochs` per trial, `alpha`
            and `temperature` ranges, ...).

    Returns:
        A `keras_distill.tuning.SearchResult`.
    """
    config = setup.command_config("tune", config, values)
    data = setup.load_data(config, validation_split=True, transfer=False)
    log(setup.describe_data(data))
    students.check_student(data, config)
    if config.teacher.path is not None:
        teacher, _, _ = teacher_stage.obtain_teacher(data, config, log=log)
    else:  # The reference teacher of `run`, trained on the whole training split.
        full = setup.load_data(config, transfer=False)
        teacher, _, _ = teacher_stage.cached_teacher(full, config, log=log)
    train, validation = _splits(data, config)
    log(f"tuning: {config.tune.trials} trials ({config.tune.tuner}) of {config.tune_epochs} "
        "epochs, scored on the validation split")
    with run_directory.run_directory(config) as directory:
        result = tuning.search(
            hypermodel(data, teacher, config), train, validation_data=validation,
            tuner=config.tune.tuner, max_trials=config.tune.trials, epochs=config.tune_epochs,
            final_epochs=config.tune.final_epochs, report_dir=directory,
            seed=config.train.seed, overwrite=True)
        if result.student is not None:
            path = io.save_model(result.student, os.path.join(directory, setup.STUDENT_FILE))
            log(f"tuning: best configuration retrained, saved to {path}")
    log(f"tuning: results in {directory}")
    return result
