"""Augmentations for 1-D signals and sequences, where Keras has none: shift and scale.

Both are Keras layers that act only when `training=True`, draw their randomness from a seeded
`keras.random.SeedGenerator` (reproducible for a seed), and keep the input's shape. Noise is
Keras's own `keras.layers.GaussianNoise`.
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="keras_distill")
class RandomShift(keras.layers.Layer):
    """Shifts each example along its time axis by a random whole number of steps.

    Inputs are `[batch, length, ...]`; each example moves by its own shift drawn uniformly from
    `[-max_shift, max_shift]`. With `fill_mode="constant"` the steps shifted in are 0 (after
    normalisation, the mean); with `"wrap"` they come round from the other end.

    Args:
        max_shift: The largest shift, in steps (an int >= 0), or a fraction of the length in
            (0, 1). Defaults to `0.1`.
        fill_mode: `"constant"` or `"wrap"`. Defaults to `"constant"`.
        seed: Seed of the random shifts. Defaults to `None`.

    Example:

    >>> import numpy as np
    >>> layer = RandomShift(2, seed=1)
    >>> x = np.arange(8, dtype="float32").reshape(1, 8, 1)
    >>> layer(x).shape                         # Inference: unchanged.
    TensorShape([1, 8, 1])
    >>> shifted = layer(x, training=True)[0, :, 0].numpy()
    >>> bool(np.all(np.isin(shifted[shifted != 0], x)))
    True
    """

    def __init__(self, max_shift=0.1, fill_mode="constant", seed=None, **kwargs):
        super().__init__(**kwargs)
        if fill_mode not in ("constant", "wrap"):
            raise ValueError(
                "Invalid value for argument `fill_mode`. Expected 'constant' or 'wrap'. "
                f"Received: fill_mode={fill_mode!r}"
            )
        if isinstance(max_shift, bool) or not isinstance(max_shift, (int, float)) or (
                max_shift < 0 or (isinstance(max_shift, float) and max_shift >= 1)):
            raise ValueError(
                "Invalid value for argument `max_shift`. Expected an int >= 0 or a fraction in "
                f"[0, 1). Received: max_shift={max_shift!r}"
            )
        self.max_shift, self.fill_mode, self.seed = max_shift, fill_mode, seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training:
            return inputs
        inputs = tf.convert_to_tensor(inputs)
        length = tf.shape(inputs)[1]
        most = (tf.cast(tf.round(self.max_shift * tf.cast(length, tf.float32)), tf.int32)
                if isinstance(self.max_shift, float) else tf.constant(self.max_shift))
        shifts = keras.random.randint(
            (tf.shape(inputs)[0], 1), -most, most + 1, dtype="int32", seed=self.seed_generator)
        source = tf.range(length)[tf.newaxis, :] - shifts  # [batch, length]
        inside = (source >= 0) & (source < length)
        source = tf.math.floormod(source, length)
        shifted = tf.gather(inputs, source, axis=1, batch_dims=1)
        if self.fill_mode == "wrap":
            return shifted
        inside = tf.reshape(inside, tf.concat(
            [tf.shape(inside), tf.ones([tf.rank(inputs) - 2], tf.int32)], axis=0))
        return tf.where(inside, shifted, tf.zeros_like(shifted))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_shift": self.max_shift,
                "fill_mode": self.fill_mode, "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_distill")
class RandomScale(keras.layers.Layer):
    """Multiplies each example by a random factor drawn uniformly from `[1 - factor, 1 + factor]`.

    Args:
        factor: The largest relative change of amplitude, in [0, 1). Defaults to `0.1`.
        seed: Seed of the random factors. Defaults to `None`.

    Example:

    >>> import numpy as np
    >>> x = np.ones((4, 8, 1), "float32")
    >>> scaled = RandomScale(0.2, seed=1)(x, training=True).numpy()
    >>> bool(np.all((scaled >= 0.8) & (scaled <= 1.2)))
    True
    """

    def __init__(self, factor=0.1, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not (
                0 <= factor < 1):
            raise ValueError(
                "Invalid value for argument `factor`. Expected a number in [0, 1). "
                f"Received: factor={factor!r}"
            )
        self.factor, self.seed = float(factor), seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training:
            return inputs
        inputs = tf.convert_to_tensor(inputs)
        shape = tf.concat([tf.shape(inputs)[:1], tf.ones([tf.rank(inputs) - 1], tf.int32)], 0)
        factors = keras.random.uniform(shape, 1 - self.factor, 1 + self.factor,
                                       dtype=inputs.dtype, seed=self.seed_generator)
        return inputs * factors

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "seed": self.seed}
