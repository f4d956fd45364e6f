"""Workarounds for upstream Keras bugs, kept in one place so they can be removed in one place.

keras-team/keras issue 20585: in Keras 3 (checked on 3.15.1, TensorFlow backend), `Model.fit`
under `tf.distribute.MultiWorkerMirroredStrategy` with more than one worker fails twice:

1. `_maybe_symbolic_build` takes the first batch from the distributed iterator and, when the
   batch holds a `None` (no `sample_weight`), passes `PerReplica` values on to `_symbolic_build`:
   "Attempt to convert a value (PerReplica:{...}) with an unsupported type".
2. `reduce_per_replica(..., reduction="auto")` reduces each scalar log with
   `strategy.reduce("MEAN", v, axis=0)`, which fails on a scalar: "Invalid reduction dimension 0".

Under any `tf.distribute` strategy, `_maybe_symbolic_build` also averages the first batch's
replicas (`strategy.reduce("MEAN", ...)`) only to learn its shapes and dtypes, which fails for a
boolean input such as keras-hub's `padding_mask` ("Value for attr 'T' of bool is not in the list
of allowed values", `AddN`); `tests/distribute_test.py` checks that plain Keras still fails
there.

`MultiWorkerFitFixes` fixes all three for a model that inherits it: the first batch is reduced to
one replica's local values before the symbolic build (same shapes and dtypes), and under multi-worker training the step
returns every log with a leading axis of size 1, which Keras's `axis=0` mean reduces back to a
scalar. The logs are already global (trackers and metrics aggregate over replicas), so the mean
of identical values changes nothing. `tests/multi_worker_test.py` checks that plain Keras still
fails; when it stops failing, remove this module.
"""

import tensorflow as tf


def in_multi_worker_mode(strategy):
    """Whether `strategy` is a `MultiWorkerMirroredStrategy` spanning several workers."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and (
        strategy.extended._in_multi_worker_mode()
    )


def _local(strategy, value):
    if isinstance(value, tf.distribute.DistributedValues):
        return strategy.experimental_local_results(value)[0]
    return value


class MultiWorkerFitFixes:
    """Mixin for a `keras.Model` subclass; see the module docstring."""

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self.distribute_strategy
        if iterator is not None and getattr(self, "_distribute_strategy", None) is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(
                    lambda v: _local(strategy, v), next(batches)
                )
                break
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def _logs_for_reduction(self, logs):
        """Adds the leading axis Keras's multi-worker `axis=0` reduction needs."""
        if not in_multi_worker_mode(self.distribute_strategy):
            return logs
        return {name: tf.reshape(value, [1]) for name, value in logs.items()}
