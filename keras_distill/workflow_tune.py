"""Searching alpha/T for the reference student as Python calls: `tune` (the `keras-distill tune`
command) and `choose_alpha_temperature` (what `keras_distill.workflow.run(tune=N)` calls).

Both hold a validation split out of the training split (never the test split), search on it with
`keras_distill.tuning`, and leave the test split to the final comparison.
"""

import os

from keras_distill import artifacts
from keras_distill import models as models_lib
from keras_distill import workflow

TUNERS = ("random", "bayesian", "hyperband")


def _check(trials, epochs, final_epochs, batch_size, tuner, validation_split):
    workflow.check_counts(trials=trials, epochs=epochs, batch_size=batch_size)
    if final_epochs is not None and (isinstance(final_epochs, bool) or not isinstance(
            final_epochs, int) or final_epochs < 0):
        raise ValueError(
            "Invalid value for argument `final_epochs`. Expected a non-negative integer (0: no "
            f"retraining). Received: final_epochs={final_epochs!r}"
        )
    if tuner not in TUNERS:
        raise ValueError(
            f"Invalid value for argument `tuner`. Expected one of {list(TUNERS)}. "
            f"Received: tuner={tuner!r}"
        )
    if isinstance(validation_split, bool) or not 0 < validation_split < 1:
        raise ValueError(
            "Invalid value for argument `validation_split`. Expected a fraction in (0, 1). "
            f"Received: validation_split={validation_split!r}"
        )


def hypermodel(data, teacher, *, student="cnn", student_size=1.0, epochs=5, batch_size=64,
               seed=0, learning_rate=3e-3, alpha=(0.0, 1.0), temperature=(1.0, 20.0),
               cache_teacher=True):
    """A `DistillerHyperModel` over the reference student of `data` (same weights every trial).

    The optimizer is `workflow`'s: Adam with a cosine decay over `epochs` of the training split;
    the objective is `val_accuracy`.
    """
    from keras_distill import tuning

    steps = workflow._steps(data.sizes.get("train", 0), batch_size, epochs)

    def build_student(hp):
        return models_lib.reference_student(student, data.input_shape, data.num_classes,
                                            size=student_size, input_name=data.feature_name,
                                            seed=seed)

    return tuning.DistillerHyperModel(
        teacher, build_student, alpha=alpha, temperature=temperature,
        optimizer=lambda hp: workflow._optimizer(learning_rate, steps), metrics=["accuracy"],
        cache=bool(cache_teacher))


def _splits(data, batch_size, seed):
    return data.batches("train", batch_size, seed=seed), data.batches("validation", 1024)


def choose_alpha_temperature(data, teacher, output, *, trials=8, student="cnn", student_size=1.0,
                             epochs=5, batch_size=64, seed=0, learning_rate=3e-3,
                             cache_teacher=True, tuner="random", alpha=(0.0, 1.0),
                             temperature=(1.0, 20.0), log=print):
    """Searches alpha/T on `data`'s validation split and compares with the scratch student there.

    Runs `keras_distill.tuning.tune_and_compare`: `trials` trials of `epochs` epochs each on the
    training split (without the validation examples), the best configuration retrained, and the
    same student trained from labels alone, both scored on the validation split. Writes
    `tuning_results.txt`/`.csv` and `tune_compare.txt` to `output`.

    Args:
        data: A `ClassificationData` loaded with a `validation_split`.
        teacher: The teacher `keras.Model`.
        output: Directory of the results (and keras-tuner's `tuning/` working directory).
        trials: Number of trials. Defaults to `8`.
        student: Student family. Defaults to `"cnn"`.
        student_size: Width multiplier of the reference student. Defaults to `1.0`.
        epochs: Epochs per trial and of the two compared students. Defaults to `5`.
        batch_size: Batch size. Defaults to `64`.
        seed: Seed of the student's weights, the shuffling and the tuner. Defaults to `0`.
        learning_rate: Peak learning rate. Defaults to `3e-3`.
        cache_teacher: Run the teacher once for the whole search. Defaults to `True`.
        tuner: `"random"`, `"bayesian"` or `"hyperband"`. Defaults to `"random"`.
        alpha: Range of alpha (see `DistillerHyperModel`). Defaults to `(0.0, 1.0)`.
        temperature: Range of T. Defaults to `(1.0, 20.0)`.
        log: Called with one line per stage. Defaults to `print`.

    Returns:
        A JSON-ready dict: `alpha`, `temperature`, `trials`, `validation_examples`, `objective`,
        `distilled_validation`, `scratch_validation`, `winner` and `text` (one sentence).
    """
    from keras_distill import tuning

    _check(trials, epochs, None, batch_size, tuner, 0.5)
    train, validation = _splits(data, batch_size, seed)
    n_val = data.sizes.get("validation", 0)
    log(f"tuning: {trials} trials of {epochs} epochs on {data.sizes.get('train', 0):,} training "
        f"examples, alpha/T scored on {n_val:,} held-out validation examples")
    model = hypermodel(data, teacher, student=student, student_size=student_size, epochs=epochs,
                       batch_size=batch_size, seed=seed, learning_rate=learning_rate,
                       alpha=alpha, temperature=temperature, cache_teacher=cache_teacher)
    comparison = tuning.tune_and_compare(
        model, train, validation_data=validation, max_trials=trials, epochs=epochs,
        final_epochs=epochs, report_dir=output, tuner=tuner, seed=seed, overwrite=True)
    values = comparison.best_hyperparameters.values
    alpha_, temperature_ = float(values["alpha"]), float(values["temperature"])
    text = (f"alpha={alpha_:.3g}, T={temperature_:.3g} chosen by a {trials}-trial search on a "
            f"validation split ({n_val:,} examples held out of training): distilled "
            f"{comparison.distilled_score:.1%} vs scratch {comparison.scratch_score:.1%} on "
            f"validation, {comparison.winner} won")
    log(f"tuning: {text}")
    return {"alpha": alpha_, "temperature": temperature_, "trials": trials,
            "validation_examples": n_val, "objective": comparison.objective,
            "distilled_validation": comparison.distilled_score,
            "scratch_validation": comparison.scratch_score, "winner": comparison.winner,
            "text": text}


def tune(dataset="mnist1d", *, data_dir=None, output=workflow.DEFAULT_OUTPUT, teacher=None,
         teacher_epochs=30, retrain_teacher=False, student="cnn", student_size=1.0, trials=8,
         tuner="random", epochs=5, final_epochs=None, alpha=(0.0, 1.0), temperature=(1.0, 20.0),
         batch_size=64, learning_rate=3e-3, cache_teacher=True, seed=0, validation_split=0.2,
         verbose="auto", log=print):
    """Searches alpha/T for the reference student on a validation split held out of training.

    Args:
        dataset: Dataset name. Defaults to `"mnist1d"`.
        data_dir: tfds data directory. Defaults to `None`.
        output: Directory of the results table (`tuning_results.txt`, `.csv`), keras-tuner's
            `tuning/` directory, the retrained `student.keras`, and the cached reference teacher.
            Defaults to `"keras_distill_output"`.
        teacher: Path of a teacher. Defaults to `None`: reuse the reference teacher cached in
            `output` (as `workflow.run` does) or train it, on the whole training split.
        teacher_epochs: Epochs of the reference teacher. Defaults to `30`.
        retrain_teacher: Train the reference teacher even if one is cached. Defaults to `False`.
        student: Student family. Defaults to `"cnn"`.
        student_size: Width multiplier of the reference student. Defaults to `1.0`.
        trials: Number of trials (Hyperband: its budget comes from `epochs`). Defaults to `8`.
        tuner: `"random"`, `"bayesian"` or `"hyperband"`. Defaults to `"random"`.
        epochs: Epochs per trial. Defaults to `5`.
        final_epochs: Epochs of the best configuration's retraining, saved as
            `output/student.keras`; `0` skips it. Defaults to `None`: `epochs`.
        alpha: A number, a `(min, max)` range or a list (`tuning.parse_range`).
            Defaults to `(0.0, 1.0)`.
        temperature: Same for T, log-sampled. Defaults to `(1.0, 20.0)`.
        batch_size: Batch size. Defaults to `64`.
        learning_rate: Peak learning rate. Defaults to `3e-3`.
        cache_teacher: Run the teacher once for the whole search. Defaults to `True`.
        seed: Seed of the weights, shuffling and tuner. Defaults to `0`.
        validation_split: Fraction of the training split held out. Defaults to `0.2`.
        verbose: Verbosity of the teacher's training. Defaults to `"auto"`.
        log: Called with one line per stage. Defaults to `print`.

    Returns:
        A `keras_distill.tuning.SearchResult`.
    """
    from keras_distill import tuning

    _check(trials, epochs, final_epochs, batch_size, tuner, validation_split)
    hypermodel_lib = tuning.hypermodel
    hypermodel_lib.check_range(alpha, "alpha", 0.0, 1.0)
    hypermodel_lib.check_range(temperature, "temperature", 0.0)
    if teacher is None:
        workflow.check_counts(teacher_epochs=teacher_epochs)
    workflow.check_output_dir(output)
    data = workflow.load_data(dataset, data_dir=data_dir, validation_split=validation_split)
    log(f"data: {data.name}, " + ", ".join(f"{n:,} {k}" for k, n in data.sizes.items()))
    if teacher is not None:
        teacher_model = artifacts.load_teacher(teacher, data)
        log(f"teacher: loaded from {teacher}")
    else:  # The reference teacher of `run`, trained on the whole training split.
        full = workflow.load_data(dataset, data_dir=data_dir)
        teacher_model, _ = workflow.cached_teacher(
            full, output, log=log, retrain=retrain_teacher, verbose=verbose,
            epochs=teacher_epochs, batch_size=batch_size, seed=seed, learning_rate=learning_rate)
    train, validation = _splits(data, batch_size, seed)
    model = hypermodel(data, teacher_model, student=student, student_size=student_size,
                       epochs=epochs, batch_size=batch_size, seed=seed,
                       learning_rate=learning_rate, alpha=alpha, temperature=temperature,
                       cache_teacher=cache_teacher)
    log(f"tuning: {trials} trials ({tuner}) of {epochs} epochs, scored on the validation split")
    result = tuning.search(model, train, validation_data=validation, tuner=tuner,
                           max_trials=trials, epochs=epochs, final_epochs=final_epochs,
                           report_dir=output, seed=seed, overwrite=True)
    if result.student is not None:
        path = artifacts.save_model(result.student, os.path.join(output, workflow.STUDENT_FILE))
        log(f"tuning: best configuration retrained, saved to {path}")
    return result
