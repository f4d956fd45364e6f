"""Feature-map terms: FitNets hints (Romero et al., 2015) and attention transfer (Zagoruyko &
Komodakis, ICLR 2017).

Both read intermediate layers by name; the `Distiller` runs each model once per step and calls
`build(teacher_shape, student_shape)` once with the two features' static shapes, so shape
errors appear when the distiller is created, before any training step.
"""

import keras
import tensorflow as tf

from keras_distill import validation
from keras_distill.losses import registry
from keras_distill.losses import terms

_ADAPTERS = ("auto", "dense", "conv")
_CONVS = {3: keras.layers.Conv1D, 4: keras.layers.Conv2D, 5: keras.layers.Conv3D}


def _shape(shape):
    return tuple(None if d is None else int(d) for d in shape)


def _per_example_mean(values):
    if values.shape.rank and values.shape.rank > 1:
        values = tf.reduce_mean(values, axis=list(range(1, values.shape.rank)))
    return values


def hint_loss(teacher_feature, student_feature):
    """FitNets' hint loss: the squared error averaged over every axis but the batch axis.

    `student_feature` is the student's feature already mapped to the teacher's shape (by the
    regressor that `FitNetsHint` learns). The paper's `1/2 ||u_h - r(v_g)||^2` is a sum; the
    mean used here (as in mdistiller's `FitNet`) makes the value independent of the feature
    size.

    Args:
        teacher_feature: Tensor `[batch, ...]`.
        student_feature: Tensor of the same shape.

    Returns:
        Float32 tensor `[batch]`.

    Example:

    >>> float(hint_loss([[1.0, 3.0]], [[0.0, 1.0]])[0])
    2.5
    """
    teacher_feature = tf.cast(teacher_feature, tf.float32)
    student_feature = tf.cast(student_feature, tf.float32)
    return _per_example_mean(tf.square(teacher_feature - student_feature))


@registry.register_term("fitnets", "fitnets_hint", "hint")
@keras.saving.register_keras_serializable(package="keras_distill")
class FitNetsHint(terms.DistillationTerm):
    """FitNets hint: a learned regressor maps a student feature onto a teacher feature.

    `build` (called by the `Distiller`) creates `adapter`, which the distiller trains with the
    student and never exports: a `Dense` projection for features `[batch, features]` (or any
    features whose axes other than the last match), a 1x1 `Conv1D`/`Conv2D`/`Conv3D` for feature
    maps `[batch, *spatial, channels]` with equal spatial sizes. The paper's stage-wise
    pre-training of the hint layers is not done; the hint is trained jointly with the other
    terms, as in mdistiller.

    Args:
        teacher_layer_name: Teacher layer giving the hint. Required.
        student_layer_name: Student layer being guided. Required.
        adapter: `"auto"` (Dense for rank-2 features, a 1x1 convolution for feature maps),
            `"dense"`, `"conv"`, or `None` for no adapter (the features must then have equal
            shapes). Defaults to `"auto"`.
        loss: A Keras loss or its name, applied to the teacher feature and the adapted student
            feature and averaged over every axis but the batch axis; `"mse"` is `hint_loss`.
            Defaults to `"mse"`.
        name: Name under which the term is reported. Defaults to `"fitnets_hint"`.

    Example:

    >>> import numpy as np
    >>> term = FitNetsHint("hidden", "hidden")
    >>> term.build((None, 8), (None, 4))
    >>> tuple(term.adapter.kernel.shape)
    (4, 8)
    >>> term.per_example(np.zeros((2, 8), "float32"), np.zeros((2, 4), "float32"), 1.0).shape
    TensorShape([2])
    """

    def __init__(self, teacher_layer_name, student_layer_name, adapter="auto", loss="mse",
                 name="fitnets_hint"):
        for arg, value in (("teacher_layer_name", teacher_layer_name),
                           ("student_layer_name", student_layer_name)):
            if not isinstance(value, str) or not value:
                raise ValueError(
                    f"Invalid value for argument `{arg}`. Expected the name of a layer. "
                    f"Received: {arg}={value!r}"
                )
        if adapter is not None:
            validation.check_choice(adapter, _ADAPTERS, "adapter")
        self.loss_identifier = loss
        self.loss = terms.resolve_feature_loss(loss)
        self.teacher_layer_name = teacher_layer_name
        self.student_layer_name = student_layer_name
        self.adapter_kind = adapter
        self.name = name
        self.adapter = None
        self._built_shapes = None

    def _error(self, teacher_shape, student_shape, why):
        return ValueError(
            f"FitNetsHint cannot map the student's `{self.student_layer_name}` output of shape "
            f"{student_shape} onto the teacher's `{self.teacher_layer_name}` "
            f"output of shape {teacher_shape}: {why}. Pick layers whose outputs have the same "
            "rank and, for feature maps, the same spatial size (pool or resize one of them)."
        )

    def build(self, teacher_shape, student_shape):
        teacher_shape, student_shape = _shape(teacher_shape), _shape(student_shape)
        if self._built_shapes == (teacher_shape, student_shape):
            return  # Already built for these features: keep the trained adapter.
        rank = len(teacher_shape)
        if len(student_shape) != rank or rank < 2:
            raise self._error(teacher_shape, student_shape,
                              f"their ranks differ ({rank} and {len(student_shape)})")
        if teacher_shape[1:-1] != student_shape[1:-1]:
            raise self._error(teacher_shape, student_shape,
                              f"the axes before the last differ ({teacher_shape[1:-1]} and "
                              f"{student_shape[1:-1]})")
        units = teacher_shape[-1]
        if units is None or student_shape[-1] is None:
            raise self._error(teacher_shape, student_shape, "the last axis must be known")
        kind = self.adapter_kind
        if kind is None:
            if units != student_shape[-1]:
                raise self._error(teacher_shape, student_shape,
                                  "adapter=None needs equal shapes; use adapter='auto'")
        elif kind == "dense" or (kind == "auto" and rank not in _CONVS):
            self.adapter = keras.layers.Dense(units, name=f"{self.name}_adapter")
        elif rank in _CONVS:
            self.adapter = _CONVS[rank](units, 1, name=f"{self.name}_adapter")
        else:
            raise self._error(teacher_shape, student_shape,
                              "adapter='conv' needs feature maps of rank 3 to 5")
        if self.adapter is not None:
            self.adapter.build(student_shape)
        self._built_shapes = (teacher_shape, student_shape)

    def per_example(self, teacher_output, student_output, temperature, labels=None):
        del temperature, labels
        if self.adapter is not None:
            student_output = self.adapter(student_output)
        elif self.adapter_kind is not None:
            raise ValueError(
                "FitNetsHint has no adapter yet: call `build(teacher_shape, student_shape)` "
                "first (a `Distiller` does this when it is created)."
            )
        teacher_output = tf.cast(teacher_output, tf.float32)
        student_output = tf.cast(student_output, tf.float32)
        if self.loss is keras.losses.mean_squared_error:
            return hint_loss(teacher_output, student_output)
        return _per_example_mean(tf.cast(
            terms.unreduced(self.loss, teacher_output, student_output), tf.float32))

    def get_config(self):
        return {
            "teacher_layer_name": self.teacher_layer_name,
            "student_layer_name": self.student_layer_name,
            "adapter": self.adapter_kind,
            "loss": keras.saving.serialize_keras_object(self.loss_identifier),
            "name": self.name,
        }


def attention_map(feature, p=2.0):
    """Spatial attention map of a feature map: `mean_c |A_c|^p`, flattened, L2-normalised.

    Channels are the last axis (Keras's `channels_last`). The normalisation divides by
    `max(||Q||, 1e-12)` (PyTorch's `F.normalize`, used by the official code), so an all-zero
    map stays zero.

    Args:
        feature: Tensor `[batch, *spatial, channels]`.
        p: Exponent. Defaults to `2.0`.

    Returns:
        Float32 tensor `[batch, prod(spatial)]` with rows of unit L2 norm.

    Example:

    >>> import numpy as np
    >>> a = np.array([[[1.0, 1.0], [2.0, 0.0]]], "float32")  # 2 positions, 2 channels
    >>> [round(float(v), 4) for v in attention_map(a)[0]]     # means of squares: [1, 2]
    [0.4472, 0.8944]
    """
    feature = tf.cast(feature, tf.float32)
    p = float(p)
    powered = tf.square(feature) if p == 2.0 else tf.pow(tf.abs(feature), p)
    flat = tf.reshape(tf.reduce_mean(powered, axis=-1), [tf.shape(feature)[0], -1])
    return tf.math.l2_normalize(flat, axis=-1, epsilon=1e-24)


def attention_transfer_loss(teacher_feature, student_feature, p=2.0):
    """Attention transfer, per example: `mean_j (Q_s[j] / ||Q_s|| - Q_t[j] / ||Q_t||)^2`.

    This is the official code's `at_loss` (github.com/szagoruyko/attention-transfer,
    `(at(x) - at(y)).pow(2).mean()`), whose batch mean equals the value returned here averaged
    over the batch. The paper writes the p-norm of the difference instead; the official code
    multiplies the loss by `beta / 2 = 500` per pair of layers (use `distillation_loss_weights`).

    Args:
        teacher_feature: Tensor `[batch, *spatial, channels_t]`.
        student_feature: Tensor `[batch, *spatial, channels_s]`, same spatial size.
        p: Exponent of the attention map. Defaults to `2.0`.

    Returns:
        Float32 tensor `[batch]`.

    Example:

    >>> import numpy as np
    >>> t = np.array([[[1.0], [0.0]]], "float32")  # attention [1, 0]
    >>> s = np.array([[[0.0], [3.0]]], "float32")  # attention [0, 1]
    >>> float(attention_transfer_loss(t, s)[0])     # ((1 - 0)^2 + (0 - 1)^2) / 2
    1.0
    """
    difference = attention_map(student_feature, p) - attention_map(teacher_feature, p)
    return tf.reduce_mean(tf.square(difference), axis=-1)


@registry.register_term("attention_transfer", "at")
@keras.saving.register_keras_serializable(package="keras_distill")
class AttentionTransfer(terms.DistillationTerm):
    """Attention transfer between two feature maps of the same spatial size; see
    `attention_transfer_loss`.

    Channel counts may differ (the maps average over channels). The official code weighs each
    pair of layers by `beta / 2 = 500`: pass `distillation_loss_weights` to the `Distiller`.

    Args:
        teacher_layer_name: Teacher layer, output `[batch, *spatial, channels]`. Required.
        student_layer_name: Student layer, output of the same spatial size. Required.
        p: Exponent of the attention map, `>= 1`. Defaults to `2` (the paper's choice).
        name: Name under which the term is reported. Defaults to `"attention_transfer"`.

    Example:

    >>> import numpy as np
    >>> term = AttentionTransfer("conv_t", "conv_s")
    >>> term.build((None, 4, 8), (None, 4, 2))
    >>> t, s = np.ones((1, 4, 8), "float32"), np.ones((1, 4, 2), "float32")
    >>> float(term.per_example(t, s, 1.0)[0])
    0.0
    """

    def __init__(self, teacher_layer_name, student_layer_name, p=2, name="attention_transfer"):
        for arg, value in (("teacher_layer_name", teacher_layer_name),
                           ("student_layer_name", student_layer_name)):
            if not isinstance(value, str) or not value:
                raise ValueError(
                    f"Invalid value for argument `{arg}`. Expected the name of a convolutional "
                    f"layer. Received: {arg}={value!r}"
                )
        validation.check_at_least(p, 1.0, "p")
        self.teacher_layer_name = teacher_layer_name
        self.student_layer_name = student_layer_name
        self.p = p
        self.name = name

    def build(self, teacher_shape, student_shape):
        teacher_shape, student_shape = _shape(teacher_shape), _shape(student_shape)
        if len(teacher_shape) < 3 or len(student_shape) < 3:
            raise ValueError(
                f"AttentionTransfer needs feature maps `[batch, *spatial, channels]`, but the "
                f"teacher's `{self.teacher_layer_name}` has shape {teacher_shape} and the "
                f"student's `{self.student_layer_name}` has shape {student_shape}. Pick "
                "convolutional layers."
            )
        if teacher_shape[1:-1] != student_shape[1:-1]:
            raise ValueError(
                f"AttentionTransfer compares maps of the same spatial size, but the teacher's "
                f"`{self.teacher_layer_name}` has shape {teacher_shape} and the student's "
                f"`{self.student_layer_name}` has shape {student_shape}. Pick layers with equal "
                "spatial sizes (or pool the larger one)."
            )

    def per_example(self, teacher_output, student_output, temperature, labels=None):
        del temperature, labels
        return attention_transfer_loss(teacher_output, student_output, self.p)

    def get_config(self):
        return {
            "teacher_layer_name": self.teacher_layer_name,
            "student_layer_name": self.student_layer_name,
            "p": self.p,
            "name": self.name,
        }
