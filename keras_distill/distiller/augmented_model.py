"""`AugmentedModel`: a model trained alone under the same augmentation as a `Distiller`.

The fair baseline of a distilled student: same data, same augmentation applied the same way
(once per batch, on the device, mixed labels for mixing augmentations), same loss arithmetic
(`keras_distill.distiller.loss.compute_loss` with `alpha=1`), only without a teacher.
"""

import keras
import tensorflow as tf

from keras_distill.augment import augmentation as augmentation_lib
from keras_distill.distiller import loss as loss_lib


@keras.saving.register_keras_serializable(package="keras_distill")
class AugmentedModel(keras.Model):
    """Trains `model` with `augmentation` applied to each training batch; evaluates it plain.

    `call`, `predict` and `evaluate` are the model's (no augmentation). Compile it like any
    model; `loss` is the hard-label loss (a sparse cross-entropy takes mixed labels as its
    categorical counterpart).

    Args:
        model: The `keras.Model` to train.
        augmentation: A Keras layer or callable (see `keras_distill.augment.Augmentation`),
            or `None`: the model trained plainly, with the same loss arithmetic.
        name: Model name. Defaults to `None` (`"augmented_<model>"`).

    Example:

    >>> import keras, numpy as np
    >>> from keras_distill import augment
    >>> from keras_distill.distiller import AugmentedModel
    >>> net = keras.Sequential([keras.Input((16, 1)), keras.layers.Flatten(),
    ...                         keras.layers.Dense(3)])
    >>> trainer = AugmentedModel(net, augment.MixUp(1.0, seed=0))
    >>> trainer.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    ...                 metrics=["accuracy"])
    >>> x, y = np.random.rand(32, 16, 1), np.random.randint(0, 3, 32)
    >>> sorted(trainer.fit(x, y, epochs=1, verbose=0).history)
    ['accuracy', 'loss']
    """

    def __init__(self, model, augmentation, name=None, **kwargs):
        super().__init__(name=name or f"augmented_{model.name}", **kwargs)
        self.model = model
        self.augmentation = augmentation_lib.as_augmentation(augmentation, model, "model")
        self._hard_loss = None
        if model.built:
            self.built = True

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, **kwargs):
        if loss is None:
            raise ValueError(
                "Invalid value for argument `loss`. Expected the hard-label loss of the model. "
                "Received: loss=None"
            )
        self._hard_loss = keras.losses.get(loss) if isinstance(loss, str) else loss
        super().compile(optimizer=optimizer, metrics=metrics, **kwargs)

    def get_compile_config(self):
        if not self.compiled:
            return {}
        return {"optimizer": keras.saving.serialize_keras_object(self.optimizer),
                "loss": keras.saving.serialize_keras_object(self._hard_loss),
                "metrics": keras.saving.serialize_keras_object(self._compile_config.config.get(
                    "metrics"))}

    def compile_from_config(self, config):
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def build(self, input_shape):
        if not self.model.built:
            self.model.build(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        return self.model(inputs, training=training)

    def _step_loss(self, y, y_pred, sample_weight, mixed=False):
        loss = augmentation_lib.soft_label_loss(self._hard_loss) if mixed else self._hard_loss
        value = loss_lib.compute_loss(y_pred, labels=y, sample_weight=sample_weight,
                                      student_loss_fn=loss, alpha=1.0).total
        if self.model.losses:
            value = value + tf.add_n(self.model.losses)
        replicas = self.distribute_strategy.num_replicas_in_sync
        # This replica's share of the global-batch loss; the tracker's weighted mean over
        # replicas reads the global value (as `Distiller` does).
        self._loss_tracker.update_state(
            value * replicas, sample_weight=tf.shape(keras.tree.flatten(y_pred)[0])[0])
        return value

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        batch = augmentation_lib.AugmentedBatch(x, y, y, False)
        if self.augmentation is not None:
            batch = self.augmentation.apply(x, y)
        with tf.GradientTape() as tape:
            y_pred = self.model(batch.x, training=True)
            loss = self._step_loss(batch.labels, y_pred, sample_weight, batch.mixed)
            scaled = self.optimizer.scale_loss(loss)
        variables = self.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        return self.compute_metrics(batch.x, batch.metric_labels, y_pred, sample_weight)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        y_pred = self.model(x, training=False)
        self._step_loss(y, y_pred, sample_weight)
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def get_config(self):
        return {**super().get_config(),
                "model": keras.saving.serialize_keras_object(self.model),
                "augmentation": keras.saving.serialize_keras_object(
                    self.augmentation.augmentation)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("model", "augmentation"):
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects)
        config.pop("trainable", None)
        config.pop("dtype", None)
        return cls(**config)
