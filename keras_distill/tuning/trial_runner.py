"""Tuning without the per-trial retrace: trials of one structure train on one traced distiller.

keras-tuner builds a fresh model for every trial, and Keras traces a fresh train and test
function for it: on a small student that fixed cost rivals the trial's training. The trials of
an alpha/temperature search all have the same student, optimizer and distillation terms, only
different numbers, so `TrialRunner` keeps one compiled distiller per structure (the *runner*)
and, for each trial:

1. copies the trial's freshly initialised student weights into the runner's student,
2. sets the runner's `alpha` and `temperature` (variables: no retrace),
3. puts the runner's optimizer back to its state before any step (zero slots, step 0),
4. trains the runner (the tuner's callbacks see it, and checkpoint its student), and
5. copies the trained student weights back into the trial's model.

So a trial trains exactly as its own fresh model would, from the same initial weights, except
that random layers inside the student (dropout) continue the runner's random stream instead of
starting a new one. A trial whose structure differs (a tuned student width, a tuned optimizer,
an augmentation) gets its own runner, or trains its own model when it has augmentation.

Example:

>>> import keras, keras_tuner as kt, numpy as np
>>> from keras_distill.tuning import hypermodel
>>> teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
>>> hm = hypermodel.DistillerHyperModel(teacher, keras.Sequential(
...     [keras.Input((4,)), keras.layers.Dense(3)]), cache=False)
>>> runner, x, y = TrialRunner(), np.ones((8, 4)), np.zeros(8)
>>> for alpha in (0.2, 0.8):
...     hp = kt.HyperParameters()
...     hp.values.update(alpha=alpha, temperature=2.0)
...     trial_model = hm.build(hp)
...     _ = runner.fit(trial_model, hm.build, hp, x, y, epochs=1, verbose=0)
>>> len(runner.runners)  # Both trials trained on one runner.
1
"""

import json

import numpy as np


def _without(config, keys=("name",)):
    if isinstance(config, dict):
        return {k: _without(v, keys) for k, v in config.items() if k not in keys}
    if isinstance(config, (list, tuple)):
        return [_without(v, keys) for v in config]
    return config


def structure(distiller):
    """A string that is equal for two compiled distillers whose trials can share one traced
    train function: the student's architecture (layer names aside) and weight shapes, the
    optimizer's and the loss's configuration, the distillation terms (temperature aside) and
    the metrics; or `None` when the distiller has an augmentation (its layers' random state is
    per trial), terms with different temperatures, or a student without a config."""
    if distiller.augmentation is not None or distiller.temperature is None:
        return None
    student = distiller.student
    try:
        config = student.get_config()
    except NotImplementedError:  # A subclassed student that does not describe itself.
        return None
    parts = {
        "student": _without(config),
        "weights": [list(w.shape) for w in student.weights],
        "optimizer": _without(distiller.optimizer.get_config()),
        "loss": repr(distiller.student_loss_fn),
        "terms": [[type(t).__name__, _without(t.get_config(), ("name", "temperature"))]
                  for t in distiller.distillation_losses],
        "metrics": [getattr(m, "name", repr(m)) for m in distiller.metrics],
    }
    return json.dumps(parts, sort_keys=True, default=repr)


class _Runner:
    """One compiled distiller and its optimizer's state before any step."""

    def __init__(self, distiller):
        self.distiller = distiller
        optimizer = distiller.optimizer
        if not optimizer.built:
            optimizer.build(distiller.trainable_variables)
        self.optimizer_start = [np.array(v) for v in optimizer.variables]

    def train(self, model, *args, **kwargs):
        """Trains `model`'s trial on the runner: `runner.fit(*args, **kwargs)`."""
        runner = self.distiller
        runner.student.set_weights(model.student.get_weights())
        runner.alpha, runner.temperature = float(model.alpha), float(model.temperature)
        for variable, value in zip(runner.optimizer.variables, self.optimizer_start):
            variable.assign(value)
        try:
            return runner.fit(*args, **kwargs)
        finally:  # Also after an interrupted trial: the trial's model holds what was trained.
            model.student.set_weights(runner.student.get_weights())


class TrialRunner:
    """Trains tuning trials on runners, one per `structure` (see the module docstring)."""

    def __init__(self):
        self.runners = {}

    def fit(self, model, build, hp, *args, **kwargs):
        """Trains the trial `model` (built by `build(hp)`) like `model.fit(*args, **kwargs)`.

        Returns:
            The `History` of the trial's training.
        """
        key = structure(model)
        if key is None:
            return model.fit(*args, **kwargs)
        if key not in self.runners:
            runner = build(hp)
            if structure(runner) != key:  # `build` is not repeatable: train the trial alone.
                return model.fit(*args, **kwargs)
            self.runners[key] = _Runner(runner)
        return self.runners[key].train(model, *args, **kwargs)
