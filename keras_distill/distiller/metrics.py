"""What a `Distiller` reports: its loss trackers as global-batch means, and compiled metrics on
labeled elements only."""

import tensorflow as tf

from keras_distill.distiller import labels as label_lib


class MetricsMixin:
    """Mixin of `Distiller` (before `keras.Model` in its bases): its losses and metrics logs.

    It reads the distiller's `student_loss_tracker`, `distillation_loss_tracker` and
    `_term_trackers` (`keras.metrics.Mean`s, one per term when there are several), and Keras's
    own `_loss_tracker`, `_compile_metrics` and `compute_metrics`.
    """

    def _update_trackers(self, loss, breakdown):
        """Updates the loss trackers so that they read global, batch-weighted means.

        Args:
            loss: What `loss` reports: the total when training, the student loss in `evaluate`.
            breakdown: This replica's `loss.LossBreakdown`; a `None` loss is not tracked.
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
        ]
        for tracker, value in values:
            if value is not None:
                tracker.update_state(value * replicas, sample_weight=weight)

    def _metric_update(self, x, y, logits, sample_weight):
        """Updates the compiled metrics on labeled elements and returns the logs."""
        if y is None:  # Unlabeled data: only the losses that were computed are reported.
            trackers = [self._loss_tracker, self.distillation_loss_tracker, *self._term_trackers]
            return {tracker.name: tracker.result() for tracker in trackers}
        present, labels = label_lib.labeled_mask(y, logits)
        mask = getattr(logits, "_keras_mask", None)
        # Keras metrics honour the outputs' mask (not `sample_weight`, for plain `metrics`):
        # unlabeled elements are masked out of them.
        logits = tf.identity(logits)
        logits._keras_mask = present if mask is None else tf.logical_and(present, mask)
        return self.compute_metrics(x, labels, logits, sample_weight=sample_weight)

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
