"""keras-tuner's tuners with the distillation defaults: objective from the hypermodel, checked
before any trial runs.

The stock `keras_tuner.RandomSearch(hm, objective=hm.objective, ...)` works too (checkpoints are
student-only because `DistillerHyperModel` builds `TrialDistiller`s, and a bad objective stops
the search before the first trial trains); these subclasses also default the objective and
reject a bad one when the tuner is created.
"""

import keras_tuner as kt

from keras_distill.tuning import hypermodel as hypermodel_lib


class _DistillationTuner:
    def __init__(self, hypermodel=None, objective=None, *args, **kwargs):
        if isinstance(hypermodel, hypermodel_lib.DistillerHyperModel):
            if objective is None:
                objective = hypermodel.objective
            hypermodel.check_objective(objective)
        super().__init__(hypermodel, objective, *args, **kwargs)


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
