"""What a `Distiller` reports: its loss trackers as global-batch means, compiled metrics on
labeled elements only, and `evaluate`'s values in `metrics_names` order.

`fit` logs `loss` (the total), `student_loss`, `distillation_loss` (and each term by name when
there are several) and the compiled metrics. `evaluate` judges the student: `loss` is its
hard-label loss, then the compiled metrics, then `student_loss` (not in the keras.io form, where
it would repeat `loss`: that example unpacks `loss, acc = distiller.evaluate(...)`).

With `evaluate_teacher` (on by default in keras.distillation's form), the reports are
keras.distillation's: `fit` also logs `total_loss` (the same as `loss`), and `evaluate` runs the
teacher and adds `distillation_loss`, the terms and `total_loss`; so does `evaluate` on data
carrying cached teacher outputs.
"""

import keras
import tensorflow as tf

from keras_distill.distiller import labels as label_lib


class MetricsMixin:
    """Mixin of `Distiller` (before `keras.Model` in its bases): its losses and metrics logs.

    It reads the distiller's `student_loss_tracker`, `distillation_loss_tracker`,
    `total_loss_tracker` and `_term_trackers` (`keras.metrics.Mean`s, one per term when there
    are several), and Keras's own `_loss_tracker`, `_compile_metrics` and `compute_metrics`.
    """

    def _update_trackers(self, loss, breakdown, total=None):
        """Updates the loss trackers so that they read global, batch-weighted means.

        Args:
            loss: What `loss` reports: the total when training, the student loss in `evaluate`.
            breakdown: This replica's `loss.LossBreakdown`; a `None` loss is not tracked.
            total: What `total_loss` reports, or `None`. Defaults to `None`.
        """
        # Each replica adds its share times the replica count, weighted by its share of the
        # examples, so the trackers' weighted mean over replicas is the global-batch loss.
        replicas = self.distribute_strategy.num_replicas_in_sync
        weight = breakdown.counts.examples / replicas
        values = [
            (self._loss_tracker, loss),
            (self.student_loss_tracker, breakdown.student_loss),
            (self.distillation_loss_tracker, breakdown.distillation_loss),
            *zip(self._term_trackers, breakdown.term_losses),
            (self.total_loss_tracker, total),
        ]
        for tracker, value in values:
            if value is not None:
                tracker.update_state(value * replicas, sample_weight=weight)

    def _metric_update(self, x, y, outputs, sample_weight):
        """Updates the compiled metrics on labeled elements and returns the logs."""
        if y is None:  # Unlabeled data: only the losses that were computed are reported.
            trackers = [self._loss_tracker, self.distillation_loss_tracker, *self._term_trackers,
                        self.total_loss_tracker]
            return {tracker.name: tracker.result() for tracker in trackers}
        heads = keras.tree.flatten(outputs)
        pairs = [_labeled_only(y_h, head)
                 for y_h, head in zip(label_lib.per_output(y, outputs), heads)]
        if keras.tree.is_nested(outputs):
            masked = keras.tree.pack_sequence_as(outputs, [p[0] for p in pairs])
            labels = keras.tree.pack_sequence_as(outputs, [p[1] for p in pairs])
        else:
            masked, labels = pairs[0]
        return self.compute_metrics(x, labels, masked, sample_weight=sample_weight)

    def _own_names(self):
        return ("student_loss", "distillation_loss", *self._term_names, "total_loss")

    def _train_logs(self, logs):
        """`fit`'s logs: `total_loss` only with keras.distillation's reports."""
        if not self._evaluate_teacher:
            logs.pop("total_loss", None)
        return logs

    def _evaluate_logs(self, logs, teacher_ran):
        """Drops from `evaluate`'s logs what it does not report (see the module docstring)."""
        if not teacher_ran:
            for name in ("distillation_loss", "total_loss", *self._term_names):
                logs.pop(name, None)
            if self._keras_io_form:
                logs.pop("student_loss", None)
        return logs

    def _ordered_names(self, names):
        """`loss`, the compiled metrics, then the distiller's own losses, of `names`."""
        own = self._own_names()
        first = [n for n in names if n == "loss"]
        return first + [n for n in names if n != "loss" and n not in own] + [
            n for n in own if n in names]

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):
        """`keras.Model.evaluate`, returning one value per reported metric, in
        `metrics_names` order (see the module docstring for what is reported)."""
        logs = super().evaluate(x, y, batch_size=batch_size, verbose=verbose,
                                sample_weight=sample_weight, steps=steps, callbacks=callbacks,
                                return_dict=True, **kwargs)
        self._evaluated_names = self._ordered_names(list(logs))
        if return_dict:
            return logs
        values = [logs[name] for name in self._evaluated_names]
        return values[0] if len(values) == 1 else values

    @property
    def metrics_names(self):
        """The names of `evaluate`'s values, in order: those of the last `evaluate`, or, before
        one, those it reports for data without cached teacher outputs."""
        if getattr(self, "_evaluated_names", None) is not None:
            return list(self._evaluated_names)
        names = ["loss"]
        compiled = getattr(self, "_compile_metrics", None)
        if compiled is not None:
            names += [m.name for m in compiled.metrics] if compiled.built else ["compile_metrics"]
        logs = dict.fromkeys(names + list(self._own_names()))
        return self._ordered_names(list(self._evaluate_logs(logs, self._evaluate_teacher)))

    def get_metrics_result(self):
        # Compiled metrics are built by the first labeled batch; data without labels has none.
        built = self._compile_metrics is None or self._compile_metrics.built
        if built:
            return super().get_metrics_result()
        compile_metrics, self._compile_metrics = self._compile_metrics, None
        try:
            return super().get_metrics_result()
        finally:
            self._compile_metrics = compile_metrics


def _labeled_only(y, logits):
    """`(logits masked to the labeled elements, labels with the missing set to 0)`."""
    present, labels = label_lib.labeled_mask(y, logits)
    mask = getattr(logits, "_keras_mask", None)
    # Keras metrics honour the outputs' mask (not `sample_weight`, for plain `metrics`):
    # unlabeled elements are masked out of them.
    logits = tf.identity(logits)
    logits._keras_mask = present if mask is None else tf.logical_and(present, mask)
    return logits, labels
