"""MixUp for inputs of any rank: images, 1-D signals, sequences, tabular rows.

Keras's own `keras.layers.MixUp` and `keras.layers.CutMix` take image batches only. This one
mixes any `[batch, ...]` inputs and, through the same dictionary interface (`{"images": x,
"labels": y}`), their one-hot labels, so the `Distiller` treats both alike.
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="keras_distill")
class MixUp(keras.layers.Layer):
    """Mixes each example with another of the batch: `lam * x_i + (1 - lam) * x_j`.

    Each example draws its own `lam ~ Beta(alpha, alpha)` and its partner `j` from a shuffle of
    the batch; labels (one-hot or soft, when given) are mixed with the same weights. `alpha=1`
    draws `lam` uniformly, the function-matching setting of Beyer et al. (2022).

    Called like `keras.layers.MixUp`: with a dict `{"images": x, "labels": y}` (or
    `{"images": x}`), it returns a dict of the same keys; with a tensor, the mixed tensor.
    Acts only when `training=True`.

    Args:
        alpha: The Beta distribution's parameter, > 0. Defaults to `0.2`.
        seed: Seed of the weights and the shuffle. Defaults to `None`.

    Example:

    >>> import numpy as np
    >>> out = MixUp(1.0, seed=0)({"images": np.eye(4, dtype="float32"),
    ...                           "labels": np.eye(4, dtype="float32")}, training=True)
    >>> np.allclose(out["images"], out["labels"])   # Inputs and labels mixed alike.
    True
    """

    mixes_labels = True

    def __init__(self, alpha=0.2, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha > 0:
            raise ValueError(
                "Invalid value for argument `alpha`. Expected a number > 0. "
                f"Received: alpha={alpha!r}"
            )
        self.alpha, self.seed = float(alpha), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, data, training=False):
        if not training:
            return data
        images = data["images"] if isinstance(data, dict) else data
        images = tf.convert_to_tensor(images)
        batch = tf.shape(images)[0]
        weights = keras.random.beta((batch,), self.alpha, self.alpha,
                                    seed=self.seed_generator)
        partners = keras.random.shuffle(tf.range(batch), seed=self.seed_generator)

        def mix(values):
            values = tf.convert_to_tensor(values)
            lam = tf.reshape(tf.cast(weights, values.dtype), tf.concat(
                [[batch], tf.ones([tf.rank(values) - 1], tf.int32)], axis=0))
            return lam * values + (1 - lam) * tf.gather(values, partners)

        if not isinstance(data, dict):
            return mix(images)
        return {key: mix(value) if key in ("images", "labels") else value
                for key, value in data.items()}

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "seed": self.seed}
