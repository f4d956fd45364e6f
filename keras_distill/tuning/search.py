"""`search`: tune alpha/T then retrain the best; `tune_and_compare`: the same against scratch."""

import collections
import os
import tempfile

import numpy as np
import tensorflow as tf

from keras_distill import distiller as distiller_lib
from keras_distill import io, validation
from keras_distill.tuning import results as results_lib
from keras_distill.tuning import tuners as tuners_lib

SearchResult = collections.namedtuple(
    "SearchResult", ["tuner", "best_hyperparameters", "student", "distiller", "history", "table"]
)
SearchResult.__doc__ = """What `search` returns.

`tuner`: the keras-tuner `Tuner`; `best_hyperparameters`: a `keras_tuner.HyperParameters`;
`student`: the student retrained with them (`distiller.student`, compiled on its own so that
`student.evaluate` works); `distiller`: its
`TrialDistiller`; `history`: the retraining's `History`; `table`: the results table as text.
On a distributed-tuning worker only `tuner` is set (the chief retrains and reports).
"""

Comparison = collections.namedtuple(
    "Comparison",
    ["winner", "objective", "distilled_score", "scratch_score", "best_hyperparameters",
     "student", "distilled_student", "scratch_student", "search", "summary"],
)
Comparison.__doc__ = """What `tune_and_compare` returns.

`winner`: `"distilled"` or `"scratch"`, whichever scored better on the held-out validation split
(ties go to `"distilled"`); `objective`: the objective's name; `distilled_score`,
`scratch_score`: the objective on that split; `student`: the winner's student; `summary`: the
report as text.
"""

COMPARISON_NAME = "tune_compare.txt"


def _distributed_role():
    """`None` (not distributed), `"chief"` or `"worker"`, from keras-tuner's variables."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return None
    return "chief" if "chief" in os.environ.get("KERASTUNER_TUNER_ID", "") else "worker"


def search(
    hypermodel,
    x,
    y=None,
    *,
    validation_data=None,
    tuner="random",
    max_trials=10,
    epochs=5,
    final_epochs=None,
    objective=None,
    batch_size=None,
    directory=None,
    project_name="keras_distill_tuning",
    overwrite=False,
    seed=None,
    callbacks=None,
    report_dir=None,
    verbose=0,
    **tuner_kwargs,
):
    """Searches alpha/T (and the student's hyperparameters), then retrains the best for longer.

    The teacher's outputs are computed once for the whole search (see `DistillerHyperModel`'s
    `cache`). In keras-tuner's distributed mode (`KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP`,
    `KERASTUNER_ORACLE_PORT`), run the same call in every process: the chief serves the oracle
    (and, with a `cache` directory, writes the teacher outputs first), workers run trials and
    return, and the chief retrains the best configuration and writes the report.

    Args:
        hypermodel: A `DistillerHyperModel`.
        x: Training data: a batched `tf.data.Dataset` or NumPy inputs (then give `y`).
        y: Training labels when `x` is arrays. Defaults to `None`.
        validation_data: Data the objective is measured on. Required for `val_` objectives.
            Defaults to `None`.
        tuner: `"random"`, `"bayesian"`, `"hyperband"` or a `keras_tuner.Tuner` class.
            Defaults to `"random"`.
        max_trials: Trials to run (random and Bayesian search; Hyperband's budget comes from
            `epochs`, `factor` and `hyperband_iterations`). Defaults to `10`.
        epochs: Epochs per trial (Hyperband: its `max_epochs`). Defaults to `5`.
        final_epochs: Epochs to retrain the best configuration; `0` skips retraining.
            Defaults to `None`: `epochs`.
        objective: The objective. Defaults to `None`: `hypermodel.objective`.
        batch_size: Batch size when `x` is arrays. Defaults to `None` (32).
        directory: keras-tuner's working directory. Defaults to `None`: `<report_dir>/tuning`,
            else a new temporary directory.
        project_name: keras-tuner's project name. Defaults to `"keras_distill_tuning"`.
        overwrite: Start over instead of resuming a search in `directory`. Defaults to `False`.
        seed: Seed of the tuner's sampling. Defaults to `None`.
        callbacks: Keras callbacks for every trial and the retraining. Defaults to `None`.
        report_dir: If given, the results table is written there (`write_results`).
            Defaults to `None`.
        verbose: Verbosity of search and training. Defaults to `0`.
        **tuner_kwargs: Passed to the tuner (`factor`, `num_initial_points`, ...).

    Returns:
        A `SearchResult(tuner, best_hyperparameters, student, distiller, history, table)`.

    Example:

    >>> import keras, numpy as np
    >>> from keras_distill.tuning import DistillerHyperModel
    >>> teacher = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)])
    >>> student = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)])
    >>> x, y = np.random.rand(64, 8), np.random.randint(0, 3, 64)
    >>> result = search(DistillerHyperModel(teacher, student), x, y,
    ...                 validation_data=(x, y), max_trials=2, epochs=1, seed=0)
    >>> len(result.tuner.oracle.trials), sorted(result.best_hyperparameters.values)
    (2, ['alpha', 'temperature'])
    """
    tuner_cls = tuners_lib.get(tuner)
    objective = objective or hypermodel.objective
    hypermodel.check_objective(objective, validation=validation_data is not None)
    if final_epochs is None:
        final_epochs = epochs
    if directory is None:
        directory = (os.path.join(report_dir, "tuning") if report_dir
                     else tempfile.mkdtemp(prefix="keras_distill_tuning-"))
    tuner_kwargs.update(directory=directory, project_name=project_name, overwrite=overwrite,
                        seed=seed)
    if issubclass(tuner_cls, tuners_lib.kt.Hyperband):
        tuner_kwargs.setdefault("max_epochs", epochs)
    else:
        tuner_kwargs.setdefault("max_trials", max_trials)
    search_tuner = tuner_cls(hypermodel, objective, **tuner_kwargs)

    fit_kwargs = {"validation_data": validation_data, "callbacks": list(callbacks or []),
                  "verbose": verbose}
    if not isinstance(x, tf.data.Dataset):
        fit_kwargs["batch_size"] = batch_size or 32
    role = _distributed_role()
    if role == "chief" and not isinstance(hypermodel.cache, bool):
        hypermodel.prepare(x, y, **fit_kwargs)  # Teacher outputs on disk before workers need them.
    search_tuner.search(x, y, epochs=epochs, **fit_kwargs)
    if role == "worker":
        return SearchResult(search_tuner, None, None, None, None, None)

    best = search_tuner.get_best_hyperparameters()[0]
    distiller = history = None
    if final_epochs:
        distiller = hypermodel.build(best)
        history = hypermodel.fit(best, distiller, x, y, epochs=final_epochs, **fit_kwargs)
    if report_dir:
        table = results_lib.write_results(search_tuner, report_dir)
    else:
        table = results_lib.format_table(results_lib.results_table(search_tuner))
    student = None
    if distiller is not None:  # Compiled alone, so `student.evaluate(...)` works as is.
        student = hypermodel.compile_student(distiller.student, best)
    return SearchResult(search_tuner, best, student, distiller, history, table)


def split_validation(x, y=None, validation_split=0.2):
    """Holds out a validation split: the last fraction of arrays, the first batches of a dataset.

    Args:
        x: NumPy inputs (with `y`) or a batched `tf.data.Dataset` of known length. A dataset must
            not reshuffle each iteration, or the two parts would overlap.
        y: Labels when `x` is arrays. Defaults to `None`.
        validation_split: Fraction held out, in (0, 1). Defaults to `0.2`.

    Returns:
        `((x_train, y_train), validation_data)`.

    Example:

    >>> import numpy as np
    >>> (x, y), (x_val, y_val) = split_validation(np.arange(10), np.arange(10), 0.2)
    >>> len(x), x_val.tolist()
    (8, [8, 9])
    """
    validation_split = validation.check_open_fraction(validation_split, "validation_split")
    if isinstance(x, tf.data.Dataset):
        batches = int(x.cardinality())
        if batches < 2:
            raise ValueError(
                "Invalid value for argument `x`. Expected a dataset of at least 2 batches and "
                f"known length to split, or pass `validation_data`. Received: {batches} batches"
            )
        held_out = min(batches - 1, max(1, round(batches * validation_split)))
        return (x.skip(held_out), None), x.take(held_out)
    count = len(x)
    held_out = min(count - 1, max(1, int(count * validation_split)))
    x_train, x_val = x[:-held_out], x[-held_out:]
    y_train, y_val = (None, None) if y is None else (y[:-held_out], y[-held_out:])
    return (x_train, y_train), (x_val, y_val)


def _score(model, data, metric, batch_size):
    if isinstance(data, tf.data.Dataset):
        logs = model.evaluate(data, verbose=0, return_dict=True)
    else:
        logs = model.evaluate(*data, batch_size=batch_size, verbose=0, return_dict=True)
    return float(logs[metric])


def tune_and_compare(
    hypermodel,
    x,
    y=None,
    *,
    validation_data=None,
    validation_split=0.2,
    max_trials=10,
    epochs=5,
    final_epochs=None,
    batch_size=32,
    report_dir=None,
    verbose=0,
    **search_kwargs,
):
    """Picks alpha/T on a held-out split, then compares the distilled student with scratch.

    Runs `search` on the training part with the held-out split as validation data, trains the
    same student from labels alone (no teacher) for as many epochs, and scores both on that
    split with the search's objective. Keep `alpha`'s range reaching 1 (the default): the search
    then includes label-only training, and the returned student is the better of the two on
    validation, so distillation never leaves you worse than scratch there.

    Args:
        hypermodel: A `DistillerHyperModel`.
        x: Training data, arrays (with `y`) or a batched dataset.
        y: Labels when `x` is arrays. Defaults to `None`.
        validation_data: Held-out data. Defaults to `None`: split off `validation_split`.
        validation_split: Fraction of `x` held out when `validation_data` is `None`.
            Defaults to `0.2`.
        max_trials: Trials of the search. Defaults to `10`.
        epochs: Epochs per trial. Defaults to `5`.
        final_epochs: Epochs of the best configuration's retraining and of the scratch student.
            Defaults to `None`: `epochs`.
        batch_size: Batch size for arrays. Defaults to `32`.
        report_dir: If given, the results table and the comparison (`tune_compare.txt`) are
            written there. Defaults to `None`.
        verbose: Verbosity. Defaults to `0`.
        **search_kwargs: Passed to `search` (`tuner`, `seed`, `directory`, ...).

    Returns:
        A `Comparison`, or `None` on a distributed-tuning worker (the chief compares).

    Example:

    >>> import keras, numpy as np
    >>> from keras_distill.tuning import DistillerHyperModel
    >>> teacher = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)])
    >>> student = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)])
    >>> x, y = np.random.rand(80, 8), np.random.randint(0, 3, 80)
    >>> result = tune_and_compare(DistillerHyperModel(teacher, student), x, y, max_trials=1,
    ...                           epochs=1, seed=0)
    >>> result.winner == ("scratch" if result.scratch_score > result.distilled_score
    ...                   else "distilled")
    True
    """
    if validation_data is None:
        (x, y), validation_data = split_validation(x, y, validation_split)
    final_epochs = epochs if final_epochs is None else final_epochs
    if not final_epochs:
        raise ValueError(
            "Invalid value for argument `final_epochs`. Expected a positive number of epochs "
            f"to train the compared students. Received: final_epochs={final_epochs!r}"
        )
    result = search(hypermodel, x, y, validation_data=validation_data, max_trials=max_trials,
                    epochs=epochs, final_epochs=final_epochs, batch_size=batch_size,
                    report_dir=report_dir, verbose=verbose, **search_kwargs)
    if result.distiller is None:  # A distributed-tuning worker: the chief compares.
        return None
    objective = result.tuner.oracle.objective
    metric = objective.name[4:] if objective.name.startswith("val_") else objective.name
    distilled = _score(result.distiller, validation_data, metric, batch_size)

    scratch = hypermodel.build_scratch(result.best_hyperparameters)
    fit_kwargs = {"epochs": final_epochs, "verbose": verbose}
    if isinstance(x, tf.data.Dataset):
        scratch.fit(x, **fit_kwargs)
    else:
        scratch.fit(x, y, batch_size=batch_size, **fit_kwargs)
    scratch_score = _score(scratch, validation_data, metric, batch_size)
    if isinstance(scratch, distiller_lib.AugmentedModel):
        scratch = scratch.model

    diverged = not np.isfinite(distilled)
    better = diverged or objective.better_than(scratch_score, distilled)
    winner = "scratch" if better else "distilled"
    values = result.best_hyperparameters.values
    summary = "\n".join([
        f"Validation {objective.name} ({objective.direction}imize), same held-out split:",
        f"  distilled (alpha={values['alpha']:.4g}, T={values['temperature']:.4g}): "
        f"{distilled:.4f}",
        f"  scratch (labels only): {scratch_score:.4f}",
        f"  winner: {winner}" + (" (distilled diverged)" if diverged else ""),
    ])
    if report_dir:
        io.write_text(os.path.join(report_dir, COMPARISON_NAME), summary + "\n")
    return Comparison(
        winner, objective.name, distilled, scratch_score, result.best_hyperparameters,
        scratch if winner == "scratch" else result.student, result.student, scratch, result,
        summary,
    )
