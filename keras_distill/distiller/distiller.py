"""`Distiller`: trains a student against a frozen teacher with one loss formula.

    loss = alpha * student_loss(y, s) + (1 - alpha) * sum_i w_i * term_i(t, s)

The default term is Hinton's `T^2 * KL(softmax(t/T) || softmax(s/T))`. Every term is computed per
example, weighed by `sample_weight`, masks and label presence, and divided by the number of
elements in the *global* batch, so N replicas summing their gradients make the same update as one
device on the whole batch.
"""

import contextlib

import keras
import tensorflow as tf

from keras_distill import distribute
from keras_distill.distiller import features
from keras_distill.distiller import guards
from keras_distill.distiller import labels as label_lib
from keras_distill.distiller.inputs import LOGITS
from keras_distill.distiller.inputs import MEMBER_LOGITS
from keras_distill.distiller.inputs import split_cached
from keras_distill import keras_workarounds
from keras_distill import teacher as teacher_lib
from keras_distill.losses import ensemble
from keras_distill.losses import terms as terms_lib
from keras_distill.losses import validation

@keras.saving.register_keras_serializable(package="keras_distill")
class Distiller(keras_workarounds.MultiWorkerFitFixes, keras.Model):
    """A `keras.Model` that trains `student` to match labels and a frozen `teacher`.

    Two call forms are supported. The keras.io example's:

        distiller = Distiller(student=student, teacher=teacher)
        distiller.compile(optimizer="adam", metrics=["sparse_categorical_accuracy"],
                          student_loss_fn=SparseCategoricalCrossentropy(from_logits=True),
                          distillation_loss_fn=keras.losses.KLDivergence(),
                          alpha=0.1, temperature=3)

    and `keras.distillation`'s (Keras >= 3.12), by changing the import only:

        distiller = Distiller(teacher=teacher, student=student,
                              distillation_losses=LogitsDistillation(temperature=3.0),
                              student_loss_weight=0.5)
        distiller.compile(optimizer="adam", loss=..., metrics=[...])

    Where `keras.distillation` 3.15 differs, this class follows the paper: `LogitsDistillation`'s
    default KL uses softmax at `T` and the `T^2` factor; `sample_weight` weighs both terms;
    `alpha` and `temperature` are variables (`distiller.alpha = 0.5` takes effect without
    retracing); `evaluate` does not run the teacher; `fit` works under
    `MultiWorkerMirroredStrategy`.

    Behaviour:
        * The teacher is frozen (`trainable=False`), called with `training=False` outside the
          gradient tape (its activations are not kept), and its weights never change.
        * A teacher ending in softmax is read before the softmax (see `keras_distill.teacher`);
          a student ending in softmax is an error.
        * `call`, `predict` and `evaluate` are the student's. `evaluate` reports `loss` (the
          student's hard-label loss), `student_loss` and the compiled metrics; it adds
          `distillation_loss` when the data carries cached teacher outputs or when
          `distiller.evaluate_teacher = True`.
        * Unlabeled data: a batch without `y`, or integer labels equal to `-1` (any negative
          value; for one-hot labels, a row of `-1`), trains on the distillation term alone for
          those examples.
        * Inputs produced by `keras_distill.data.cache_teacher_outputs` are recognised and the
          teacher is not called.

    Args:
        teacher: The trained `keras.Model` whose outputs are logits (or end in softmax, see
            above), or a list of them: an ensemble whose soft targets are the weighted mean of
            the members' `softmax(t_i / T)` (probabilities, not logits, are averaged).
        student: The `keras.Model` to train; it must output logits.
        distillation_losses: A term (`LogitsDistillation`, `FeatureDistillation`), a loss, or a
            list of them. Defaults to `None`: Hinton's KD on logits, or whatever `compile`'s
            `distillation_loss_fn` says.
        distillation_loss_weights: One non-negative weight per term. Defaults to `None` (all 1).
        student_loss_weight: `alpha`, the weight of the hard-label loss, in [0, 1]. Defaults to
            `None`: 0.5 when `distillation_losses` is given (keras.distillation's default), else
            0.1 (the keras.io example's default).
        temperature: Softmax temperature `T > 0`. Defaults to `None`: the temperature of the
            `LogitsDistillation` term(s), else 3.0.
        teacher_weights: For an ensemble, one non-negative weight per teacher (normalised to
            sum to 1). Defaults to `None` (equal weights).
        name: Model name. Defaults to `"distiller"`.

    Example:

    >>> import keras, numpy as np
    >>> teacher = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)])
    >>> student = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)])
    >>> distiller = Distiller(student=student, teacher=teacher).compile(
    ...     optimizer="adam",
    ...     student_loss_fn=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    ...     alpha=0.1, temperature=4.0)
    >>> x, y = np.random.rand(32, 8), np.random.randint(0, 3, 32)
    >>> sorted(distiller.fit(x, y, epochs=1, verbose=0).history)
    ['distillation_loss', 'loss', 'student_loss']
    """

    def __init__(
        self,
        teacher=None,
        student=None,
        distillation_losses=None,
        distillation_loss_weights=None,
        student_loss_weight=None,
        *,
        temperature=None,
        teacher_weights=None,
        name="distiller",
        **kwargs,
    ):
        teacher_lib.check_model(student, "student")
        teachers = teacher_lib.as_teacher_list(teacher)
        # Built outside the scope of the strategy its models live in, the distiller enters it.
        strategy = distribute.strategy_for_models(*teachers, student)
        scope = contextlib.nullcontext()
        if strategy is not None and not tf.distribute.has_strategy():
            scope = strategy.scope()
        with scope:
            super().__init__(name=name, **kwargs)
            self._initialize(teachers, student, distillation_losses, distillation_loss_weights,
                             student_loss_weight, temperature, teacher_weights)

    def _initialize(self, teachers, student, distillation_losses, distillation_loss_weights,
                    student_loss_weight, temperature, teacher_weights):
        teacher_lib.check_student_outputs_logits(student)
        teachers = [teacher_lib.freeze(teacher_lib.logits_model(t)) for t in teachers]
        teacher_lib.check_class_counts(teachers, student)
        self.teacher = teachers[0] if len(teachers) == 1 else teachers
        self._teachers = tuple(teachers)
        weights = validation.check_weights(teacher_weights, len(teachers), "teacher_weights")
        if sum(weights) <= 0:
            raise ValueError(
                "Invalid value for argument `teacher_weights`. Expected at least one positive "
                f"weight. Received: teacher_weights={teacher_weights!r}"
            )
        self.teacher_weights = [w / sum(weights) for w in weights]
        self.student = student
        self._helpers = features.Untracked()
        if student_loss_weight is None:
            student_loss_weight = 0.5 if distillation_losses is not None else 0.1
        student_loss_weight = validation.check_fraction(student_loss_weight, "student_loss_weight")
        self._set_terms(distillation_losses, distillation_loss_weights)
        if temperature is None:
            temperature = self._terms_temperature()
        temperature = validation.check_temperature(temperature)
        self._alpha = self.add_weight(
            name="alpha", shape=(), dtype="float32", trainable=False,
            initializer=keras.initializers.Constant(student_loss_weight),
        )
        self._temperature = self.add_weight(
            name="temperature", shape=(), dtype="float32", trainable=False,
            initializer=keras.initializers.Constant(temperature),
        )
        self.student_loss_tracker = keras.metrics.Mean(name="student_loss")
        self.distillation_loss_tracker = keras.metrics.Mean(name="distillation_loss")
        self._evaluate_teacher = False
        self._student_loss = None
        if student.built:
            self.built = True

    # ----------------------------------------------------------------- state
    @property
    def alpha(self):
        """Weight of the hard-label loss, a float in [0, 1]; assignable at any time."""
        return float(keras.ops.convert_to_numpy(self._alpha))

    @alpha.setter
    def alpha(self, value):
        value = validation.check_fraction(value, "alpha")
        self._check_student_loss(value)
        self._alpha.assign(value)

    student_loss_weight = alpha

    @property
    def temperature(self):
        """Softmax temperature `T > 0`; assignable at any time."""
        return float(keras.ops.convert_to_numpy(self._temperature))

    @temperature.setter
    def temperature(self, value):
        self._temperature.assign(validation.check_temperature(value))

    @property
    def evaluate_teacher(self):
        """Whether `evaluate` runs the teacher to report `distillation_loss`. Defaults to False."""
        return self._evaluate_teacher

    @evaluate_teacher.setter
    def evaluate_teacher(self, value):
        self._evaluate_teacher = bool(value)
        self.test_function = None  # Retrace: the flag decides what the step computes.

    @property
    def distillation_losses(self):
        """The distillation terms, in order."""
        return list(self._terms)

    @property
    def distillation_loss_weights(self):
        """The weight of each distillation term."""
        return list(self._term_weights)

    def _set_terms(self, losses, weights):
        if losses is None:
            losses = [terms_lib.LogitsDistillation()]
        if not isinstance(losses, (list, tuple)):
            losses = [losses]
        if not losses:
            raise ValueError(
                "Invalid value for argument `distillation_losses`. Expected at least one term. "
                "Received: distillation_losses=[]"
            )
        self._terms = tuple(terms_lib.as_term(loss) for loss in losses)
        self._term_weights = tuple(validation.check_weights(weights, len(self._terms)))
        names = [term.name for term in self._terms]
        self._term_names = tuple(
            name if names.count(name) == 1 else f"{name}_{i}" for i, name in enumerate(names)
        )
        self._term_trackers = (
            [keras.metrics.Mean(name=name) for name in self._term_names]
            if len(self._terms) > 1 else []
        )
        models = self._feature_models()  # Validates layer names now, before any training step.
        for term in self._terms:
            shapes = [self._output_shape(models, role, getattr(term, f"{role}_layer_name"))
                      for role in ("teacher", "student")]
            if None not in shapes:
                term.build(*shapes)
        # Tracked, so adapters train with the student and are saved with the distiller; they
        # are not part of the student and never exported with it.
        self.adapters = [term.adapter for term in self._terms if term.adapter is not None]

    def _output_shape(self, models, role, layer_name):
        if layer_name is None:
            model = self._teachers[0] if role == "teacher" else self.student
            outputs = getattr(model, "outputs", None)
            return tuple(outputs[0].shape) if outputs else None
        for (model_role, _), feature_model in models.items():
            if model_role == role:
                return tuple(feature_model.output[layer_name].shape)
        return None

    def _terms_temperature(self):
        temperatures = {t.temperature for t in self._terms if hasattr(t, "temperature")}
        if len(temperatures) > 1:
            raise ValueError(
                "The distillation terms use different temperatures "
                f"{sorted(temperatures)}; a Distiller has one temperature. Give the terms the "
                "same temperature or pass `temperature=` to the Distiller."
            )
        return temperatures.pop() if temperatures else 3.0

    def _check_student_loss(self, alpha):
        if alpha > 0 and self.compiled and self._student_loss is None:
            raise ValueError(
                f"Invalid value for argument `alpha`. Expected 0 when no student loss is "
                f"given. Received: alpha={alpha}. Pass `loss=` (or `student_loss_fn=`) to "
                "`compile`, or set `alpha=0` to train on the distillation term alone."
            )

    # --------------------------------------------------------------- compile
    def compile(
        self,
        optimizer="adam",
        loss=None,
        metrics=None,
        *,
        student_loss_fn=None,
        distillation_loss_fn=None,
        alpha=None,
        temperature=None,
        **kwargs,
    ):
        """Configures training and returns the distiller, so `compile(...).fit(...)` chains.

        Args:
            optimizer: Optimizer or its name. Defaults to `"adam"`.
            loss: The student's hard-label loss (keras.distillation form). Defaults to `None`.
            metrics: Metrics of the student's outputs against the labels. Defaults to `None`.
            student_loss_fn: Same as `loss` (keras.io form); give one of the two. Defaults to
                `None`.
            distillation_loss_fn: Replaces the distillation term(s) with
                `LogitsDistillation(loss=distillation_loss_fn)`: our losses get logits and `T`,
                any other Keras loss (e.g. `keras.losses.KLDivergence()`) gets `softmax(t/T)`,
                `softmax(s/T)` and is multiplied by `T^2`. Defaults to `None` (keep the terms).
            alpha: Weight of the student loss, in [0, 1]. Defaults to `None` (keep).
            temperature: Temperature `T > 0`. Defaults to `None` (keep).
            **kwargs: Passed to `keras.Model.compile` (`jit_compile`, `steps_per_execution`, ...).

        Returns:
            The distiller.
        """
        if loss is not None and student_loss_fn is not None:
            raise ValueError(
                "Received both `loss` and `student_loss_fn`; they are the same argument in the "
                "keras.distillation and keras.io forms. Pass only one."
            )
        student_loss = loss if loss is not None else student_loss_fn
        if isinstance(student_loss, str):
            student_loss = keras.losses.get(student_loss)
        if student_loss is not None and not callable(student_loss):
            raise TypeError(
                "Invalid value for argument `loss`. Expected a Keras loss, a loss function or a "
                f"loss name. Received: loss={student_loss!r}"
            )
        if alpha is not None:
            alpha = validation.check_fraction(alpha, "alpha")
        if temperature is not None:
            temperature = validation.check_temperature(temperature)
        new_alpha = self.alpha if alpha is None else alpha
        if new_alpha > 0 and student_loss is None:
            raise ValueError(
                f"No student loss was given while alpha={new_alpha}. Pass `loss=` (or "
                "`student_loss_fn=`), or set `alpha=0` to train on the distillation term alone."
            )
        if distillation_loss_fn is not None:
            self._set_terms(terms_lib.LogitsDistillation(loss=distillation_loss_fn), None)
        if kwargs.get("loss_weights") is not None:
            raise ValueError("`loss_weights` is not supported; use `alpha` and "
                             "`distillation_loss_weights`.")
        if kwargs.get("jit_compile", "auto") == "auto" and self.distribute_strategy.num_replicas_in_sync > 1:
            # XLA cannot compile the cross-replica sum of the global batch size.
            kwargs["jit_compile"] = False
        self._student_loss = student_loss
        self._user_metrics = metrics
        strategy = self.distribute_strategy
        scope = contextlib.nullcontext() if tf.distribute.has_strategy() else strategy.scope()
        with scope:  # Optimizer variables must live where the student's do.
            if getattr(optimizer, "_distribution_strategy", strategy) is not strategy and not (
                optimizer.built
            ):
                optimizer = optimizer.__class__.from_config(optimizer.get_config())
            super().compile(optimizer=optimizer, loss=None, metrics=metrics, **kwargs)
        if alpha is not None:
            self._alpha.assign(alpha)
        if temperature is not None:
            self._temperature.assign(temperature)
        return self

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

    # --------------------------------------------------------------- forward
    def build(self, input_shape):
        if not self.student.built:
            self.student.build(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        inputs, _ = split_cached(inputs)
        return self.student(inputs, training=training)

    def _feature_models(self):
        """Builds (once) the models that return logits and intermediate features in one pass."""
        for role, model, attr in (
            ("teacher", self._teachers[0], "teacher_layer_name"),
            ("student", self.student, "student_layer_name"),
        ):
            names = sorted({getattr(t, attr) for t in self._terms} - {None})
            if names and role == "teacher" and len(self._teachers) > 1:
                raise ValueError(
                    f"Feature terms ({names}) need one teacher, but this distiller has an "
                    f"ensemble of {len(self._teachers)}. Distill features from one teacher."
                )
            key = (role, tuple(names))
            if names and key not in self._helpers.models:
                self._helpers.models[key] = features.feature_model(model, names, role)
        return self._helpers.models

    def _forward(self, role, x, training):
        """Returns `{"logits": ..., layer_name: feature, ...}` for the teacher or the student.

        An ensemble of teachers returns `{"member_logits": [batch, ..., teachers, classes]}`;
        they are combined at the current temperature in the loss (see `ensemble_logits`).
        """
        if role == "teacher" and len(self._teachers) > 1:
            members = [t(x, training=False) for t in self._teachers]
            return {MEMBER_LOGITS: tf.stack(members, axis=-2)}
        model = self._teachers[0] if role == "teacher" else self.student
        for (model_role, _), feature_model in self._feature_models().items():
            if model_role == role:
                return dict(feature_model(x, training=training))
        return {LOGITS: model(x, training=training)}

    def compute_teacher_outputs(self, x):
        """Runs the frozen teacher once: `{"logits": ..., layer_name: feature, ...}`."""
        return self._forward("teacher", x, training=False)

    # ------------------------------------------------------------------ loss
    def _global_counts(self, counts):
        """Sums `counts` over replicas (one all-reduce per step; none on one device)."""
        counts = tf.stack([tf.cast(count, tf.float32) for count in counts])
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            counts = context.all_reduce(tf.distribute.ReduceOp.SUM, counts)
        return tf.unstack(counts)

    def _loss_contributions(self, y, sample_weight, student_out, teacher_out):
        """Returns this replica's contributions `{name: scalar}` to the global-batch losses.

        Each quantity is `sum(weight * value) / global_element_count`; summing the
        contributions over replicas gives the loss of the whole global batch.
        """
        logits = student_out[LOGITS]
        mask = getattr(logits, "_keras_mask", None)
        element_shape = tf.shape(logits)[:-1]
        weights = tf.ones(element_shape, tf.float32)
        if mask is not None:
            weights = weights * tf.cast(mask, tf.float32)
        present = None
        if y is not None and self._student_loss is not None:
            label_lib.check_label_shape(y, logits)
            present, labels = label_lib.labeled_mask(y, logits)
            present = tf.cast(present, tf.float32)
        # The student loss averages over labeled elements, the distillation terms over all.
        global_elements, global_labeled, global_batch = self._global_counts([
            tf.reduce_sum(weights),
            tf.reduce_sum(weights * present) if present is not None else tf.constant(0.0),
            element_shape[0],
        ])
        if sample_weight is not None:
            weights = weights * label_lib.broadcast_weights(sample_weight, weights)

        def contribution(values, element_weights=weights, count=global_elements):
            if values.shape.rank != element_weights.shape.rank:
                # Per-example values (features): weigh by the example's mean weight.
                element_weights, count = label_lib.broadcast_weights(element_weights, values), global_batch
            return tf.reduce_sum(element_weights * values) / tf.maximum(count, 1.0)

        out = {"labeled": present is not None, "global_batch": global_batch, "student_loss": tf.constant(0.0)}
        if present is not None:
            values = tf.cast(terms_lib.unreduced(self._student_loss, labels, logits), tf.float32)
            out["student_loss"] = contribution(values, weights * present, global_labeled)
        if teacher_out is not None:
            if MEMBER_LOGITS in teacher_out:
                teacher_out = dict(teacher_out)
                teacher_out[LOGITS] = ensemble.ensemble_logits(
                    teacher_out.pop(MEMBER_LOGITS), self.teacher_weights, self._temperature)
            teacher_logits = teacher_out[LOGITS]
            if teacher_logits.shape[-1] is not None and logits.shape[-1] is not None and (
                teacher_logits.shape[-1] != logits.shape[-1]
            ):
                raise ValueError(
                    f"The teacher outputs {teacher_logits.shape[-1]} classes but the student "
                    f"outputs {logits.shape[-1]}. Expected the same number of classes."
                )
            term_labels = None if y is None else label_lib.class_labels(y, logits)
            total = tf.constant(0.0)
            for term, weight, name in zip(self._terms, self._term_weights, self._term_names):
                t = teacher_out[term.teacher_layer_name or LOGITS]
                s = student_out[term.student_layer_name or LOGITS]
                value = contribution(term.per_example(t, s, self._temperature, term_labels))
                out[name] = value
                total = total + weight * value
            out["distillation_loss"] = total
        alpha = self._alpha
        out["loss"] = alpha * out["student_loss"] + (1.0 - alpha) * out.get(
            "distillation_loss", 0.0
        )
        return out

    def _update_trackers(self, contributions):
        """Updates the loss trackers so that they read global, batch-weighted means."""
        replicas = self.distribute_strategy.num_replicas_in_sync
        weight = contributions["global_batch"] / replicas
        trackers = [(self._loss_tracker, "loss")]
        if contributions["labeled"]:
            trackers.append((self.student_loss_tracker, "student_loss"))
        if "distillation_loss" in contributions:
            trackers.append((self.distillation_loss_tracker, "distillation_loss"))
            trackers += list(zip(self._term_trackers, self._term_names))
        for tracker, key in trackers:
            tracker.update_state(contributions[key] * replicas, sample_weight=weight)

    def _metric_update(self, x, y, logits, sample_weight):
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

    # ------------------------------------------------------------ train/test
    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x, teacher_out = split_cached(x)
        if teacher_out is None:
            teacher_out = self.compute_teacher_outputs(x)  # Outside the tape: nothing kept.
        with tf.GradientTape() as tape:
            student_out = self._forward("student", x, training=True)
            contributions = self._loss_contributions(y, sample_weight, student_out, teacher_out)
            scaled = self.optimizer.scale_loss(contributions["loss"])
        finite = tf.debugging.Assert(
            tf.math.is_finite(contributions["loss"]),
            [guards.NON_FINITE, self.optimizer.iterations, contributions["loss"]],
        )
        with tf.control_dependencies([finite]):
            variables = self.trainable_variables
            gradients = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        self._update_trackers(contributions)
        logs = self._metric_update(x, y, student_out[LOGITS], sample_weight)
        return self._logs_for_reduction(logs)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x, teacher_out = split_cached(x)
        if teacher_out is None and self._evaluate_teacher:
            teacher_out = self.compute_teacher_outputs(x)
        if teacher_out is None:
            student_out = {LOGITS: self.student(x, training=False)}
        else:
            student_out = self._forward("student", x, training=False)
        contributions = self._loss_contributions(y, sample_weight, student_out, teacher_out)
        contributions["loss"] = contributions["student_loss"]  # Evaluate judges the student.
        self._update_trackers(contributions)
        logs = self._metric_update(x, y, student_out[LOGITS], sample_weight)
        if teacher_out is None:
            logs.pop("distillation_loss", None)
            for name in self._term_names:
                logs.pop(name, None)
        return self._logs_for_reduction(logs)

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self(x, training=False)

    # -------------------------------------------------------------------- fit
    def fit(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.fit`, with empty data and non-finite losses reported clearly."""
        guards.check_not_empty(x, "x")
        if kwargs.get("validation_data") is not None:
            guards.check_not_empty(kwargs["validation_data"], "validation_data")
        if self.jit_compile:
            # XLA drops the in-graph assertion; check the logged loss after every batch instead.
            kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), guards.StopOnNonFiniteLoss()]
        try:
            return super().fit(x, y, *args, **kwargs)
        except tf.errors.InvalidArgumentError as error:
            raise guards.non_finite_error(error) from None

    # ---------------------------------------------------------------- config
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
