"""keras-tuner's tuners with the distillation defaults: objective from the hypermodel, checked
before any trial runs, and no full garbage collection of the whole heap before every trial.

The stock `keras_tuner.RandomSearch(hm, objective=hm.objective, ...)` works too (checkpoints are
student-only because `DistillerHyperModel` builds `TrialDistiller`s, and a bad objective stops
the search before the first trial trains); these subclasses also default the objective and
reject a bad one when the tuner is created, and their `search` runs under `frozen_heap`.
"""

import contextlib
import gc

import keras_tuner as kt

from keras_distill.tuning import hypermodel as hypermodel_lib


@contextlib.contextmanager
def frozen_heap():
    """Sets the objects alive now aside from garbage collection until the block ends.

    keras-tuner clears the Keras session and collects garbage twice before every trial. A full
    collection walks every object Python tracks, most of them TensorFlow's and Keras's own
    modules: about 0.2 s each on this project's machine, as long as a small trial's epoch. With
    those objects frozen (`gc.freeze`) a collection walks only what was made since (the earlier
    trials' models, which it still frees), in about a millisecond. On leaving, the frozen
    objects go back to the collector (`gc.unfreeze`). Nothing is frozen if the caller already
    froze objects itself: unfreezing would undo its freeze.

    Example:

    >>> import gc
    >>> with frozen_heap():
    ...     inside = gc.get_freeze_count() > 0
    >>> inside, gc.get_freeze_count()
    (True, 0)
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class _DistillationTuner:
    def __init__(self, hypermodel=None, objective=None, *args, **kwargs):
        if isinstance(hypermodel, hypermodel_lib.DistillerHyperModel):
            if objective is None:
                objective = hypermodel.objective
            hypermodel.check_objective(objective)
        super().__init__(hypermodel, objective, *args, **kwargs)

    def search(self, *args, **kwargs):
        """`keras_tuner.Tuner.search`, its per-trial garbage collections cheap (`frozen_heap`)."""
        with frozen_heap():
            return super().search(*args, **kwargs)


class RandomSearch(_DistillationTuner, kt.RandomSearch):
    """`keras_tuner.RandomSearch` whose `objective` defaults to `hypermodel.objective`.

    Args:
        hypermodel: A `DistillerHyperModel`.
        objective: Defaults to `None`: `hypermodel.objective`.
        *args: Passed to `keras_tuner.RandomSearch`.
        **kwargs: Passed to `keras_tuner.RandomSearch` (`max_trials`, `directory`, ...).
    """


class BayesianOptimization(_DistillationTuner, kt.BayesianOptimization):
    """`keras_tuner.BayesianOptimization` whose `objective` defaults to `hypermodel.objective`.

    Args:
        hypermodel: A `DistillerHyperModel`.
        objective: Defaults to `None`: `hypermodel.objective`.
        *args: Passed to `keras_tuner.BayesianOptimization`.
        **kwargs: Passed to `keras_tuner.BayesianOptimization`.
    """


class Hyperband(_DistillationTuner, kt.Hyperband):
    """`keras_tuner.Hyperband` whose `objective` defaults to `hypermodel.objective`.

    Hyperband trains a trial for a few epochs, then reloads its checkpoint (the student only)
    to continue the promising ones; the teacher is never reloaded.

    Args:
        hypermodel: A `DistillerHyperModel`.
        objective: Defaults to `None`: `hypermodel.objective`.
        *args: Passed to `keras_tuner.Hyperband` (`max_epochs`, `factor`, ...).
        **kwargs: Passed to `keras_tuner.Hyperband`.
    """


TUNERS = {
    "random": RandomSearch,
    "bayesian": BayesianOptimization,
    "hyperband": Hyperband,
}


def get(identifier):
    """Returns the tuner class for `"random"`, `"bayesian"` or `"hyperband"` (or a class)."""
    if isinstance(identifier, type) and issubclass(identifier, kt.Tuner):
        return identifier
    if identifier in TUNERS:
        return TUNERS[identifier]
    raise ValueError(
        f"Invalid value for argument `tuner`. Expected one of {sorted(TUNERS)} or a "
        f"`keras_tuner.Tuner` subclass. Received: tuner={identifier!r}"
    )
