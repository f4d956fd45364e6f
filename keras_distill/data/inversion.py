"""Inputs synthesized from a trained teacher alone (DeepInversion), for a transfer set that needs
no data beyond the labeled examples.

A student distilled on a small training set is short of inputs more than of labels: given
50,000 new MNIST-1D inputs that only the teacher labels, the reference CNN student gains 2.8
points over the scratch student (README). `synthesize_inputs` makes such inputs from the teacher:
it starts each batch from Gaussian noise and moves the inputs, by gradient descent on the inputs
themselves, until the teacher assigns each its target class (cross-entropy) *and* the mean and
variance of every BatchNormalization layer's input over the batch match the moving mean and
variance that layer learned on the real training data (Yin et al. 2020, "Dreaming to Distill:
Data-free Knowledge Transfer via DeepInversion"). The BatchNorm term is what keeps the inputs
near the training distribution, so a teacher without BatchNormalization layers is refused.

Targets are balanced over the classes; each batch has its own noise, targets and Adam state, and
the same `seed` gives the same inputs. The inputs lie in the space the teacher reads (after the
data's normalisation). Measured on MNIST-1D and the 8x8 digits (`benchmarks/recipes.py`, row
`kd+synthetic`).
"""

import keras
import numpy as np
import tensorflow as tf

from keras_distill import teacher as teacher_lib
from keras_distill import validation

STEPS, BATCH_SIZE, LEARNING_RATE = 200, 256, 0.05
_BETA_1, _BETA_2, _EPSILON = 0.9, 0.999, 1e-8  # Adam's defaults.


def _normalized_layers(model):
    layers = [layer for layer in model.layers
              if isinstance(layer, keras.layers.BatchNormalization)]
    if not layers:
        raise ValueError(
            f"Invalid value for argument `teacher`. Synthesizing inputs matches the statistics "
            f"of the teacher's BatchNormalization layers, and `{model.name}` has none at its top "
            f"level. Use a teacher with BatchNormalization, or unlabeled data instead "
            f"(--unlabeled). Received: teacher={model.name!r}"
        )
    return layers


def _input_spec(model):
    inputs = model.inputs
    if len(inputs) != 1 or not inputs[0].dtype.startswith("float"):
        raise ValueError(
            f"Invalid value for argument `teacher`. Synthesizing inputs needs a teacher with one "
            f"floating-point input. Received: inputs "
            f"{[(tuple(i.shape), i.dtype) for i in inputs]}"
        )
    return tuple(inputs[0].shape[1:])


def check_teacher(teacher):
    """Raises `ValueError` unless inputs can be synthesized from `teacher`: one float input,
    BatchNormalization layers at its top level.

    Example:

    >>> import keras
    >>> check_teacher(keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)], name="mlp"))
    Traceback (most recent call last):
    ...
    ValueError: Invalid value for argument `teacher`. Synthesizing inputs matches the statistics of the teacher's BatchNormalization layers, and `mlp` has none at its top level. Use a teacher with BatchNormalization, or unlabeled data instead (--unlabeled). Received: teacher='mlp'
    """
    teacher_lib.check_model(teacher, "teacher")
    _input_spec(teacher)
    _normalized_layers(teacher)


def statistics_loss(features, layers):
    """The BatchNorm term: for each layer, the L2 distance between the batch mean of its input
    and its moving mean, plus the same for the variance; summed over the layers."""
    total = 0.0
    for feature, layer in zip(features, layers):
        axes = [layer.axis] if isinstance(layer.axis, int) else list(layer.axis)
        axes = [a % len(feature.shape) for a in axes]
        mean, variance = tf.nn.moments(
            feature, [a for a in range(len(feature.shape)) if a not in axes])
        total += (tf.norm(mean - tf.cast(layer.moving_mean, mean.dtype))
                  + tf.norm(variance - tf.cast(layer.moving_variance, variance.dtype)))
    return total


def synthesize_inputs(teacher, num_samples, *, steps=STEPS, batch_size=BATCH_SIZE,
                      learning_rate=LEARNING_RATE, seed=None):
    """Returns `num_samples` inputs synthesized from `teacher`'s classes and BatchNorm statistics.

    Args:
        teacher: A trained Sequential or functional `keras.Model` with one float input and
            BatchNormalization layers (their moving statistics describe the training inputs);
            its outputs are logits or end in softmax.
        num_samples: How many inputs (an int > 0).
        steps: Adam steps per batch. Defaults to `200`.
        batch_size: Inputs optimized together; the BatchNorm statistics are matched over a
            batch, so a small one matches them poorly. Defaults to `256`.
        learning_rate: Adam's learning rate on the inputs. Defaults to `0.05`.
        seed: Seed of the starting noise and the target classes. Defaults to `None`.

    Returns:
        A float32 NumPy array `[num_samples, *input_shape]`, in the space the teacher reads.

    Raises:
        ValueError: If a count or the learning rate is not positive, or the teacher has no
            BatchNormalization layer at its top level or not one float input.

    Example:

    >>> import keras
    >>> teacher = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16),
    ...                             keras.layers.BatchNormalization(), keras.layers.ReLU(),
    ...                             keras.layers.Dense(3)])
    >>> x = synthesize_inputs(teacher, 10, steps=5, batch_size=8, seed=0)
    >>> x.shape, x.dtype.name
    ((10, 8), 'float32')
    """
    num_samples = validation.check_positive_int(num_samples, "num_samples")
    steps = validation.check_positive_int(steps, "steps")
    batch_size = validation.check_positive_int(batch_size, "batch_size")
    learning_rate = validation.check_positive(learning_rate, "learning_rate")
    check_teacher(teacher)
    model = teacher_lib.logits_model(teacher)
    shape = (min(batch_size, num_samples),) + _input_spec(model)
    layers = _normalized_layers(model)
    features = keras.Model(model.inputs, [layer.input for layer in layers] + [model.outputs[0]])
    x, m, v = (tf.Variable(tf.zeros(shape)) for _ in range(3))
    t = tf.Variable(0.0)

    @tf.function
    def step(targets):
        with tf.GradientTape() as tape:
            *inner, logits = features(x, training=False)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                targets, tf.cast(logits, tf.float32))) + statistics_loss(inner, layers)
        gradient = tape.gradient(loss, x)
        t.assign_add(1.0)
        m.assign(_BETA_1 * m + (1 - _BETA_1) * gradient)
        v.assign(_BETA_2 * v + (1 - _BETA_2) * tf.square(gradient))
        x.assign_sub(learning_rate * (m / (1 - _BETA_1 ** t))
                     / (tf.sqrt(v / (1 - _BETA_2 ** t)) + _EPSILON))

    rng = np.random.default_rng(seed)
    classes = int(model.outputs[0].shape[-1])
    batches = []
    for _ in range(-(-num_samples // shape[0])):
        x.assign(rng.standard_normal(shape).astype("float32"))
        for variable in (m, v, t):
            variable.assign(tf.zeros_like(variable))
        targets = tf.constant(rng.permutation(np.arange(shape[0]) % classes), tf.int32)
        for _ in range(steps):
            step(targets)
        batches.append(x.numpy())
    return np.concatenate(batches)[:num_samples]
