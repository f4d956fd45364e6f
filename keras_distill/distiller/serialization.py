"""Saving and loading a `Distiller`: its constructor config and its compile config."""

import keras


class SerializationMixin:
    """Mixin of `Distiller` (before `keras.Model` in its bases): `get_config`/`from_config`
    return and take exactly the constructor's arguments, and the compile config holds the
    optimizer, the student loss and the metrics. `alpha` and `temperature` are variables, saved
    with the weights and in the config.
    """

    def get_config(self):
        config = super().get_config()
        config.update(
            teacher=keras.saving.serialize_keras_object(self.teacher),
            teacher_weights=list(self.teacher_weights),
            student=keras.saving.serialize_keras_object(self.student),
            distillation_losses=[keras.saving.serialize_keras_object(t) for t in self._terms],
            distillation_loss_weights=list(self._term_weights),
            student_loss_weight=self.alpha,
            temperature=self.temperature,
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("teacher", "student"):
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects
            )
        config["distillation_losses"] = [
            keras.saving.deserialize_keras_object(t, custom_objects=custom_objects)
            for t in config["distillation_losses"]
        ]
        config.pop("trainable", None)
        config.pop("dtype", None)
        return cls(**config)

    def get_compile_config(self):
        if not self.compiled:
            return {}
        return {
            "optimizer": keras.saving.serialize_keras_object(self.optimizer),
            "loss": keras.saving.serialize_keras_object(self._student_loss),
            "metrics": keras.saving.serialize_keras_object(self._user_metrics),
        }

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)
