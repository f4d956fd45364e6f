"""Small models, data and NumPy references shared by the tests."""

import keras
import numpy as np
import tensorflow as tf

import keras_distill as kd

SCCE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def mlp(in_dim=6, classes=4, hidden=(16,), seed=0, name=None):
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((in_dim,), name="x")]
    layers += [keras.layers.Dense(h, activation="relu") for h in hidden]
    layers.append(keras.layers.Dense(classes))
    return keras.Sequential(layers, name=name)


def data(n=64, in_dim=6, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, in_dim)).astype("float32")
    y = rng.integers(0, classes, size=n).astype("int32")
    return x, y


def np_log_softmax(z):
    z = np.asarray(z, "float64")
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def np_kd(t, s, temperature):
    log_p, log_q = np_log_softmax(np.asarray(t) / temperature), np_log_softmax(np.asarray(s) / temperature)
    return temperature**2 * (np.exp(log_p) * (log_p - log_q)).sum(axis=-1)


def np_ce(y, s):
    return -np.take_along_axis(np_log_softmax(s), np.asarray(y)[..., None], axis=-1)[..., 0]


def np_distill_loss(t, s, y, alpha, temperature, sample_weight=None):
    """alpha * mean(w * CE) + (1 - alpha) * mean(w * T^2 KL), means over the batch."""
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, "float64")
    student = np.sum(w * np_ce(y, s)) / len(y)
    distill = np.sum(w * np_kd(t, s, temperature)) / len(y)
    return alpha * student + (1 - alpha) * distill, student, distill


class CountingLayer(keras.layers.Layer):
    """Identity layer that counts its calls in a variable and records the `training` flag."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = self.add_weight(shape=(), initializer="zeros", trainable=False, name="calls")
        self.trained_calls = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                             name="trained_calls")

    def call(self, x, training=None):
        self.calls.assign_add(1.0)
        if training:
            self.trained_calls.assign_add(1.0)
        return x


def counting_teacher(in_dim=6, classes=4, seed=0):
    keras.utils.set_random_seed(seed)
    counter = CountingLayer(name="counter")
    inputs = keras.Input((in_dim,), name="x")
    outputs = keras.layers.Dense(classes)(counter(keras.layers.Dense(16, activation="relu")(inputs)))
    return keras.Model(inputs, outputs, name="teacher"), counter


def dataset(x, y, batch_size, sample_weight=None, drop_remainder=False):
    parts = (x, y) if sample_weight is None else (x, y, sample_weight)
    return tf.data.Dataset.from_tensor_slices(parts).batch(batch_size, drop_remainder=drop_remainder)


TRACES = []


class TraceCountingDistiller(kd.Distiller):
    """A `Distiller` that counts how often its train step is traced (Python runs once a trace)."""

    def train_step(self, data):
        TRACES.append(1)
        return super().train_step(data)
