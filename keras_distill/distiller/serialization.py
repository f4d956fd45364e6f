"""Saving and loading a `Distiller`: its constructor config and its compile config."""

import keras


class SerializationMixin:
    """Mixin of `Distiller` (before `keras.Model` in its bases): `get_config`/`from_config`
    return and take exactly the constructor's arguments, and the compile config holds the
    optimizer, the student loss (under the name of the form `compile` was called in) and the
    metrics. `alpha` and the temperatures are variables, saved with the weights, and in the
    config: each term's in its own config, one common `temperature` when they agree.
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
            evaluate_teacher=self.evaluate_teacher,
            teacher_dtype=self._teacher_dtype,
            boundary_step=self.boundary_step,
            augmentation=(None if self.augmentation is None else
                          keras.saving.serialize_keras_object(self.augmentation)),
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("teacher", "student", "augmentation"):
            if config.get(key) is None:
                continue
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
        loss_key = "student_loss_fn" if self._keras_io_form else "loss"
        return {
            "optimizer": keras.saving.serialize_keras_object(self.optimizer),
            loss_key: keras.saving.serialize_keras_object(self._student_loss),
            "metrics": keras.saving.serialize_keras_object(self._helpers.metrics),
            "keras_io_form": self._keras_io_form,
        }

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(config)
        keras_io_form = config.pop("keras_io_form", False)
        self.compile(**config)
        self._keras_io_form = keras_io_form  # Also with no student loss (alpha = 0).
        if self.built:
            self.optimizer.build(self.trainable_variables)
