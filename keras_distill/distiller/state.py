"""The distiller's state: `alpha` and one temperature per term.

Each is a Python float as given, mirrored in a non-trainable variable that the traced step reads:
changing one never retraces, and each reads back as it was given (`0.7`, not the float32
`0.699999988`) unless its variable was restored from a checkpoint since.
"""

import keras

from keras_distill import validation
from keras_distill.distiller import arguments
from keras_distill.distiller import terms as distiller_terms
from keras_distill.losses import term_base


class StateMixin:
    """Mixin of `Distiller` (before `keras.Model` in its bases): alpha and the temperatures.

    A term that keeps a temperature (`LogitsDistillation`) is bound to the distiller's variable
    for it, so `term.temperature = 5.0` and `distiller.temperature = 5.0` both take effect at
    the next step. Terms without one (e.g. `FeatureDistillation`) use the distiller's default
    temperature, which matters only to an ensemble's soft targets.
    """

    def _create_state(self, alpha, term_count):
        self._alpha_value = alpha
        self._alpha = self.add_weight(
            name="alpha", shape=(), dtype="float32", trainable=False,
            initializer=keras.initializers.Constant(alpha),
        )
        self._default_temperature = distiller_terms.DEFAULT_TEMPERATURE
        # One per term, made once: a built Keras layer takes no new variables.
        self._temperature_variables = [
            self.add_weight(name="temperature" if i == 0 else f"temperature_{i}", shape=(),
                            dtype="float32", trainable=False,
                            initializer=keras.initializers.Constant(self._default_temperature))
            for i in range(term_count)
        ]

    def _bind_temperatures(self, old_terms, terms):
        """Binds the terms to the distiller's temperature variables (and unbinds old ones)."""
        if len(terms) > len(self._temperature_variables):
            raise ValueError(
                f"This distiller was built with {len(self._temperature_variables)} distillation "
                f"terms and cannot take {len(terms)}. Build a new `Distiller` with them."
            )
        for term, variable in zip(old_terms, self._temperature_variables):
            if distiller_terms.has_temperature(term):
                term.unbind_temperature(variable)
        for term, variable in zip(terms, self._temperature_variables):
            if distiller_terms.has_temperature(term):
                term.bind_temperature(variable)
            else:
                variable.assign(self._default_temperature)

    @property
    def alpha(self):
        """Weight of the hard-label loss, a float in [0, 1]; assignable at any time."""
        return term_base.read_state(self._alpha, self._alpha_value)

    @alpha.setter
    def alpha(self, value):
        value = validation.check_fraction(value, "alpha")
        if self.compiled:
            arguments.check_alpha_has_student_loss(value, self._student_loss)
        self._alpha_value = value
        self._alpha.assign(value)

    student_loss_weight = alpha  # keras.distillation's name.

    @property
    def student_loss_fn(self):
        """The hard-label loss given to `compile` (`None` before it, or when none was)."""
        return self._student_loss

    @property
    def temperatures(self):
        """Each term's temperature, in the terms' order."""
        return [
            term_base.read_state(variable, term.temperature if distiller_terms.has_temperature(
                term) else self._default_temperature)
            for term, variable in zip(self._terms, self._temperature_variables)
        ]

    @property
    def temperature(self):
        """The softmax temperature `T > 0` of every term, or `None` while the terms have
        different ones (see `temperatures`); assignable at any time (it sets every term's)."""
        values = self.temperatures
        own = {v for t, v in zip(self._terms, values) if distiller_terms.has_temperature(t)}
        values = own or set(values)
        return values.pop() if len(values) == 1 else None

    @temperature.setter
    def temperature(self, value):
        value = validation.check_positive(value, "temperature")
        self._default_temperature = value
        for term, variable in zip(self._terms, self._temperature_variables):
            if distiller_terms.has_temperature(term):
                term.temperature = value
            variable.assign(value)
