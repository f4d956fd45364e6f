"""Tests of `keras_distill.data.inversion`: inputs synthesized from a teacher's classes and
BatchNorm statistics (DeepInversion)."""

import keras
import numpy as np
import pytest

from keras_distill.data import inversion


def _teacher(softmax=False, normalized=True, seed=0):
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((8,)), keras.layers.Dense(16, use_bias=False)]
    layers += [keras.layers.BatchNormalization()] if normalized else []
    layers += [keras.layers.ReLU(), keras.layers.Dense(3, activation="softmax" if softmax
                                                       else None)]
    return keras.Sequential(layers)


@pytest.fixture(scope="module")
def trained_teacher():
    """Three Gaussian blobs in 8-D, far from the origin, learned with BatchNorm."""
    rng = np.random.default_rng(0)
    centres = rng.normal(3.0, 2.0, (3, 8))
    y = rng.integers(0, 3, 600)
    x = (centres[y] + rng.normal(0, 0.5, (600, 8))).astype("float32")
    teacher = _teacher()
    teacher.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    teacher.fit(x, y, epochs=30, batch_size=32, verbose=0)
    return teacher


def _features(teacher, x):
    layer = teacher.layers[1]  # The BatchNormalization layer.
    return keras.Model(teacher.inputs, layer.input)(x).numpy(), layer


def test_statistics_loss_matches_numpy(trained_teacher):
    x = np.random.default_rng(1).normal(size=(64, 8)).astype("float32")
    features, layer = _features(trained_teacher, x)
    expected = (np.linalg.norm(features.mean(0) - layer.moving_mean.numpy())
                + np.linalg.norm(features.var(0) - layer.moving_variance.numpy()))
    got = float(inversion.statistics_loss([features], [layer]))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_inputs_match_the_statistics_and_are_classified_as_balanced_targets(trained_teacher):
    x = inversion.synthesize_inputs(trained_teacher, 96, steps=150, batch_size=48, seed=0)
    assert x.shape == (96, 8) and x.dtype == np.float32
    features, layer = _features(trained_teacher, x[:48])
    noise, _ = _features(trained_teacher, np.random.default_rng(0).standard_normal(
        (48, 8)).astype("float32"))
    after = float(inversion.statistics_loss([features], [layer]))
    before = float(inversion.statistics_loss([noise], [layer]))
    assert after < 0.2 * before, (after, before)
    counts = np.bincount(trained_teacher.predict(x, verbose=0).argmax(-1), minlength=3)
    # Balanced targets (32 each), most reached: the BatchNorm term pulls against some.
    assert counts.min() >= 20, counts


def test_the_same_seed_gives_the_same_inputs_and_softmax_teachers_work():
    teacher = _teacher(softmax=True)
    a = inversion.synthesize_inputs(teacher, 10, steps=5, batch_size=4, seed=3)
    b = inversion.synthesize_inputs(teacher, 10, steps=5, batch_size=4, seed=3)
    c = inversion.synthesize_inputs(teacher, 10, steps=5, batch_size=4, seed=4)
    assert a.shape == (10, 8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("kwargs,match", [
    ({"num_samples": 0}, "Received: num_samples=0"),
    ({"steps": 0}, "Received: steps=0"),
    ({"batch_size": 2.5}, "Received: batch_size=2.5"),
    ({"learning_rate": -1.0}, "Received: learning_rate=-1.0"),
])
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        inversion.synthesize_inputs(_teacher(), **{"num_samples": 4, **kwargs})


def test_teachers_without_statistics_or_one_float_input_are_refused():
    with pytest.raises(ValueError, match="has none at its top level"):
        inversion.synthesize_inputs(_teacher(normalized=False), 4)
    a, b = keras.Input((4,)), keras.Input((4,))
    hidden = keras.layers.BatchNormalization()(keras.layers.Concatenate()([a, b]))
    two_inputs = keras.Model([a, b], keras.layers.Dense(3)(hidden))
    with pytest.raises(ValueError, match="one floating-point input"):
        inversion.check_teacher(two_inputs)
