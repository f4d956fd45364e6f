"""`Distiller`: trains a student against a frozen teacher with one loss formula.

    loss = alpha * student_loss(y, s) + (1 - alpha) * sum_i w_i * term_i(t, s; T_i)

The default term is Hinton's `T^2 * KL(softmax(t/T) || softmax(s/T))`. The arithmetic is the pure
function `loss.compute_loss` (sample weights, masks, unlabeled examples, several outputs,
global-batch counts); this module runs the models and applies the gradients; alpha and the
temperatures are `state.py`'s, the reports `metrics.py`'s.
"""

import contextlib

import keras
import tensorflow as tf

from keras_distill import distribute
from keras_distill import keras_workarounds
from keras_distill import teacher as teacher_lib
from keras_distill import validation
from keras_distill.augment import augmentation as augmentation_lib
from keras_distill.data.teacher_outputs import LOGITS
from keras_distill.data.teacher_outputs import split_cached
from keras_distill.distiller import arguments
from keras_distill.distiller import boundary
from keras_distill.distiller import features
from keras_distill.distiller import guards
from keras_distill.distiller import loss as loss_lib
from keras_distill.distiller import metrics
from keras_distill.distiller import serialization
from keras_distill.distiller import state
from keras_distill.distiller import terms as distiller_terms
from keras_distill.losses import terms as terms_lib

PADDING_MASK = "padding_mask"  # keras-hub's name for the mask of token inputs.


@keras.saving.register_keras_serializable(package="keras_distill")
class Distiller(
    keras_workarounds.MultiWorkerFitFixes,
    boundary.BoundaryInputsMixin,
    metrics.MetricsMixin,
    serialization.SerializationMixin,
    state.StateMixin,
    features.FeatureModelsMixin,
    keras.Model,
):
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
    `alpha` and each term's temperature are state (`distiller.alpha = 0.5` takes effect without
    retracing); `fit` works under `MultiWorkerMirroredStrategy`; models with several outputs
    (lists or dicts) get one student loss and one term loss per output, summed, where Keras
    3.15's student loss fails on them.

    Behaviour:
        * The teacher is frozen (`trainable=False`), called with `training=False` outside the
          gradient tape (its activations are not kept), and its weights never change.
        * A teacher ending in softmax is read before the softmax (see `keras_distill.teacher`);
          a student ending in softmax is an error.
        * `call`, `predict` and `evaluate` are the student's. `evaluate` returns one value per
          name in `metrics_names`: `loss` (the student's hard-label loss), the compiled metrics
          and `student_loss` (not in the keras.io form, where it repeats `loss`); it adds
          `distillation_loss`, the terms and `total_loss` when the data carries cached teacher
          outputs or `evaluate_teacher` is on.
        * Unlabeled data: a batch without `y`, or integer labels equal to `-1` (any negative
          value; for one-hot labels, a row of `-1`), trains on the distillation term alone for
          those examples.
        * Inputs carrying cached teacher outputs (`keras_distill.data`) skip the teacher call.

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
        temperature: Softmax temperature `T > 0` given to every term. Defaults to `None`: each
            `LogitsDistillation` term keeps its own (see `temperatures`); 3.0 for the default term.
        teacher_weights: For an ensemble, one non-negative weight per teacher (normalised to
            sum to 1). Defaults to `None` (equal weights).
        evaluate_teacher: Whether the distiller reports as keras.distillation does: `evaluate`
            (and validation in `fit`) runs the teacher to report `distillation_loss` and
            `total_loss`, and `fit` logs `total_loss`. Defaults to `None`: on when
            `distillation_losses` is given (keras.distillation's form), off otherwise (the
            student alone is judged).
        augmentation: Applied to each training batch, on the device, before the teacher and
            the student see it: both get the *same* augmented view (consistent teaching). A
            Keras layer (`keras.layers.RandomTranslation`, `RandAugment`, ...; for 1-D signals
            `keras_distill.augment.RandomShift`/`RandomScale`), or a callable on input batches.
            A mixing one (`keras.layers.MixUp`/`CutMix`, `keras_distill.augment.MixUp`) mixes
            the labels too, and the hard-label loss takes the mixed labels; with `alpha=0` it is
            function matching. Never applied in `evaluate` or `predict`; not with cached
            teacher outputs (they belong to the un-augmented inputs). Defaults to `None`.
        teacher_dtype: `"bfloat16"` or `"float16"`: the teacher runs as a reduced-precision copy
            (see `keras_distill.teacher_precision`); the student and the losses stay float32.
            Defaults to `None` (the teacher as given).
        boundary_step: Also train on each input moved this many standard deviations up the
            distillation loss, teacher-labelled (`distiller.boundary`). Defaults to `None`.
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
        evaluate_teacher=None,
        augmentation=None,
        teacher_dtype=None,
        boundary_step=None,
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
            self._teacher_dtype = teacher_dtype
            self._initialize(teachers, student, distillation_losses, distillation_loss_weights,
                             student_loss_weight, temperature, teacher_weights)
        if evaluate_teacher is None:
            evaluate_teacher = distillation_losses is not None
        self._evaluate_teacher = bool(evaluate_teacher)
        self.augmentation = augmentation_lib.as_augmentation(augmentation, student)
        self.boundary_step = boundary.check_step(boundary_step)

    def _initialize(self, teachers, student, distillation_losses, distillation_loss_weights,
                    student_loss_weight, temperature, teacher_weights):
        teacher_lib.check_student_outputs_logits(student)
        teachers = [teacher_lib.prepare(t, self._teacher_dtype) for t in teachers]
        teacher_lib.check_class_counts(teachers, student)
        self.teacher = teachers[0] if len(teachers) == 1 else teachers
        self._teachers = tuple(teachers)
        self.teacher_weights = arguments.teacher_weights(teacher_weights, len(teachers))
        self.student = student
        self._helpers = features.Untracked()
        if student_loss_weight is None:
            student_loss_weight = 0.5 if distillation_losses is not None else 0.1
        student_loss_weight = validation.check_fraction(student_loss_weight, "student_loss_weight")
        if temperature is not None:
            temperature = validation.check_positive(temperature, "temperature")
        terms = distiller_terms.as_terms(distillation_losses)
        self._create_state(student_loss_weight, len(terms))
        self._terms = ()
        self._set_terms(terms, distillation_loss_weights)
        if temperature is not None:
            self.temperature = temperature
        self.student_loss_tracker = keras.metrics.Mean(name="student_loss")
        self.distillation_loss_tracker = keras.metrics.Mean(name="distillation_loss")
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self._student_loss = None
        self._keras_io_form = False
        self._evaluated_names = None
        if student.built:
            self.built = True

    # ----------------------------------------------------------------- state
    @property
    def evaluate_teacher(self):
        """Whether `evaluate` runs the teacher (and `fit` logs `total_loss`), as Keras's does."""
        return self._evaluate_teacher

    @evaluate_teacher.setter
    def evaluate_teacher(self, value):
        self._evaluate_teacher = bool(value)
        self._evaluated_names = None
        # Retrace: the flag decides what the steps compute and report.
        self.train_function = self.test_function = None

    @property
    def distillation_losses(self):
        """The distillation terms, in order."""
        return list(self._terms)

    @property
    def distillation_loss_weights(self):
        """The weight of each distillation term."""
        return list(self._term_weights)

    def _set_terms(self, losses, weights):
        terms = distiller_terms.as_terms(losses)
        self._term_weights = tuple(validation.check_weights(weights, len(terms)))
        old_terms, self._terms = self._terms, terms
        self._term_names = distiller_terms.unique_names(self._terms)
        self._term_trackers = (
            [keras.metrics.Mean(name=name) for name in self._term_names]
            if len(self._terms) > 1 else []
        )
        models = self._feature_models()  # Validates layer names now, before any training step.
        for term in self._terms:
            term.validate_model_compatibility(self._teachers[0], self.student)
        distiller_terms.build(self._terms, {
            "teacher": (self._teachers[0], models.get("teacher")),
            "student": (self.student, models.get("student")),
        })
        if not old_terms:
            self._default_temperature = (distiller_terms.common_temperature(terms)
                                         or distiller_terms.DEFAULT_TEMPERATURE)
        self._bind_temperatures(old_terms, terms)
        # Tracked, so adapters train with the student and are saved with the distiller; they
        # are not part of the student and never exported with it.
        self.adapters = [term.adapter for term in self._terms if term.adapter is not None]

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
            loss: The student's hard-label loss (keras.distillation form); for a student with
                several outputs, one loss for all or a list/dict with one per output (`None`
                skips one). Defaults to `None`.
            metrics: Metrics of the student's outputs against the labels. Defaults to `None`.
            student_loss_fn: Same as `loss` (keras.io form); give one of the two. In this form
                `evaluate` reports `loss` and the metrics only, as the keras.io example's own
                `Distiller` does. Defaults to `None`.
            distillation_loss_fn: Replaces the distillation term(s) with
                `LogitsDistillation(loss=distillation_loss_fn)` at the current temperature: our
                losses get logits and `T`, any other Keras loss (e.g.
                `keras.losses.KLDivergence()`) gets `softmax(t/T)`, `softmax(s/T)` and is
                multiplied by `T^2`. Also the keras.io form. Defaults to `None` (keep the terms).
            alpha: Weight of the student loss, in [0, 1]. Defaults to `None` (keep).
            temperature: Temperature `T > 0` of every term. Defaults to `None` (keep).
            **kwargs: Passed to `keras.Model.compile` (`jit_compile`, `steps_per_execution`, ...).

        Returns:
            The distiller.
        """
        student_loss = arguments.student_loss(loss, student_loss_fn)
        arguments.check_compile_kwargs(kwargs)
        if alpha is not None:
            alpha = validation.check_fraction(alpha, "alpha")
        if temperature is not None:
            temperature = validation.check_positive(temperature, "temperature")
        arguments.check_alpha_has_student_loss(self.alpha if alpha is None else alpha, student_loss)
        if distillation_loss_fn is not None:
            current = self.temperature or self._default_temperature
            self._set_terms(terms_lib.LogitsDistillation(current, loss=distillation_loss_fn), None)
        replicas = self.distribute_strategy.num_replicas_in_sync
        if kwargs.get("jit_compile", "auto") == "auto" and replicas > 1:
            # XLA cannot compile the cross-replica sum of the global batch size.
            kwargs["jit_compile"] = False
        self._student_loss = student_loss
        self._helpers.metrics = metrics  # Untracked: Keras tracks them once, in compile.
        self._keras_io_form = student_loss_fn is not None or distillation_loss_fn is not None
        self._evaluated_names = None
        strategy = self.distribute_strategy
        scope = contextlib.nullcontext() if tf.distribute.has_strategy() else strategy.scope()
        with scope:  # Optimizer variables must live where the student's do.
            if getattr(optimizer, "_distribution_strategy", strategy) is not strategy and not (
                optimizer.built
            ):
                optimizer = optimizer.__class__.from_config(optimizer.get_config())
            super().compile(optimizer=optimizer, loss=None, metrics=metrics, **kwargs)
        if alpha is not None:
            self.alpha = alpha
        if temperature is not None:
            self.temperature = temperature
        return self

    # --------------------------------------------------------------- forward
    def build(self, input_shape):
        if not self.student.built:
            self.student.build(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        inputs, _ = split_cached(inputs)
        return self.student(inputs, training=training)

    # ------------------------------------------------------------------ loss
    def _compute_loss(self, y, sample_weight, student_out, teacher_out, mixed=False,
                      inputs=None):
        """This replica's `loss_lib.LossBreakdown` of the global batch (see `loss.py`); mixed
        labels take the soft-label form of the student loss. Per-position logits without a
        Keras mask take the `"padding_mask"` of dict inputs (keras-hub's) as theirs."""
        outputs = student_out[LOGITS]
        masks = [getattr(head, "_keras_mask", None) for head in keras.tree.flatten(outputs)]
        padding = inputs.get(PADDING_MASK) if isinstance(inputs, dict) else None
        if (padding is not None and masks == [None] and not keras.tree.is_nested(outputs)
                and len(outputs.shape) == 3):
            masks = [padding]
        return loss_lib.compute_loss(
            student_out, teacher_out, y, sample_weight=sample_weight,
            mask=masks if keras.tree.is_nested(outputs) else masks[0],
            student_loss_fn=(augmentation_lib.soft_label_loss(self._student_loss) if mixed
                             else self._student_loss), terms=self._terms,
            term_weights=self._term_weights, alpha=self._alpha,
            temperature=list(self._temperature_variables[:len(self._terms)]),
            teacher_weights=self.teacher_weights,
        )

    # ------------------------------------------------------------ train/test
    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x, teacher_out = split_cached(x)
        batch = augmentation_lib.AugmentedBatch(x, y, y, False)
        if self.augmentation is not None:
            augmentation_lib.check_not_cached(teacher_out)
            batch = self.augmentation.apply(x, y)  # One view, for the teacher and the student.
        batch, sample_weight = self._with_boundary_inputs(batch, sample_weight, teacher_out)
        if teacher_out is None:
            teacher_out = self.compute_teacher_outputs(batch.x)  # Outside the tape.
        with tf.GradientTape() as tape:
            student_out = self._forward("student", batch.x, training=True)
            breakdown = self._compute_loss(batch.labels, sample_weight, student_out, teacher_out,
                                           batch.mixed, inputs=batch.x)
            scaled = self.optimizer.scale_loss(breakdown.total)
        variables = self.trainable_variables  # Loss, gradients, weights: finite, or stop.
        gradients = guards.checked_gradients(tape.gradient(scaled, variables), variables,
                                             breakdown.total, self.optimizer)
        self.optimizer.apply_gradients(zip(gradients, variables))
        self._update_trackers(breakdown.total, breakdown, total=breakdown.total)
        logs = self._metric_update(batch.x, batch.metric_labels, student_out[LOGITS],
                                   sample_weight)
        return self._logs_for_reduction(self._train_logs(logs))

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x, teacher_out = split_cached(x)
        if teacher_out is None and self._evaluate_teacher:
            teacher_out = self.compute_teacher_outputs(x)
        if teacher_out is None:
            student_out = {LOGITS: self.student(x, training=False)}
        else:
            student_out = self._forward("student", x, training=False)
        breakdown = self._compute_loss(y, sample_weight, student_out, teacher_out, inputs=x)
        # Evaluate judges the student: `loss` is its hard-label loss (0 without labels).
        loss = breakdown.student_loss if breakdown.student_loss is not None else tf.constant(0.0)
        teacher_ran = teacher_out is not None
        self._update_trackers(loss, breakdown, total=breakdown.total if teacher_ran else None)
        logs = self._metric_update(x, y, student_out[LOGITS], sample_weight)
        return self._logs_for_reduction(self._evaluate_logs(logs, teacher_ran))

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self(x, training=False)

    # -------------------------------------------------------------------- fit
    def fit(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.fit` on checked data (`guards.checked_fit`: labels, inputs, weights,
        `epochs >= 1`; `non_finite_inputs="skip"` skips NaN/inf input batches), stopping
        with a `FloatingPointError` naming the step if the loss, gradients or weights become
        NaN/inf."""
        return guards.checked_fit(super().fit, self, x, y, args, kwargs)
