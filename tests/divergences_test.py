"""Reverse KL and GKD's generalized JSD: NumPy references, limits, extremes, use in a Distiller."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_distill as kd
from keras_distill import losses
from tests import helpers


def np_softmax(z, temperature):
    z = np.asarray(z, np.float64) / temperature
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_kl(p, q):
    return (p * (np.log(p) - np.log(q))).sum(-1)


def logits(seed, shape=(4, 5, 7)):
    return np.random.default_rng(seed).normal(scale=2.0, size=shape).astype("float32")


@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_reverse_kl_matches_numpy_per_position(temperature):
    t, s = logits(0), logits(1)
    expected = temperature**2 * np_kl(np_softmax(s, temperature), np_softmax(t, temperature))
    got = losses.reverse_kl_loss(t, s, temperature).numpy()
    assert got.shape == (4, 5)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("beta,temperature", [(0.5, 1.0), (0.1, 2.0), (0.9, 1.0)])
def test_generalized_jsd_matches_numpy_per_position(beta, temperature):
    t, s = logits(2), logits(3)
    p, q = np_softmax(t, temperature), np_softmax(s, temperature)
    m = beta * p + (1 - beta) * q
    expected = temperature**2 * (beta * np_kl(p, m) + (1 - beta) * np_kl(q, m))
    got = losses.generalized_jsd_loss(t, s, temperature, beta).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    # Symmetric at beta 0.5, zero when the student is the teacher.
    if beta == 0.5:
        np.testing.assert_allclose(losses.generalized_jsd_loss(s, t, temperature).numpy(), got,
                                   rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(losses.generalized_jsd_loss(t, t, temperature, beta), 0.0,
                               atol=1e-6)


@pytest.mark.parametrize("name", ["reverse_kl", "generalized_jsd"])
def test_extreme_logits_give_finite_values_and_gradients(name):
    t = tf.constant([[1e4, -1e4, 0.0]])
    s = tf.Variable([[-1e4, 1e4, 0.0]])
    loss = losses.get(name)
    with tf.GradientTape() as tape:
        value = loss.per_example(t, s, 1.0)
    gradient = tape.gradient(value, s)
    assert np.isfinite(value.numpy()).all() and np.isfinite(gradient.numpy()).all()


def test_names_configs_and_bad_beta():
    assert isinstance(losses.get("reverse_kl"), losses.ReverseKL)
    jsd = losses.get("gkd")
    assert isinstance(jsd, losses.GeneralizedJSD) and jsd.beta == 0.5
    again = losses.GeneralizedJSD.from_config(losses.GeneralizedJSD(beta=0.2).get_config())
    assert again.beta == 0.2
    for beta in (0, 1, -0.5, 2, "half", True, float("nan")):
        with pytest.raises(ValueError, match=r"Expected a fraction in \(0, 1\)"):
            losses.GeneralizedJSD(beta=beta)


@pytest.mark.parametrize("loss", ["reverse_kl", losses.GeneralizedJSD(beta=0.3)])
def test_a_distiller_trains_on_them_with_its_temperature_variable(loss):
    teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
    x, y = helpers.data()
    term = kd.LogitsDistillation(temperature=2.0, loss=loss)
    distiller = kd.Distiller(teacher=teacher, student=student, distillation_losses=term,
                             student_loss_weight=0.0)
    distiller.compile(keras.optimizers.SGD(0.0), loss=helpers.SCCE)
    logs = distiller.evaluate(x, y, verbose=0, return_dict=True)
    per_example = term.loss.per_example(teacher.predict(x, verbose=0),
                                        student.predict(x, verbose=0), 2.0)
    assert logs["distillation_loss"] == pytest.approx(float(np.mean(per_example)), rel=1e-4)
    distiller.compile(keras.optimizers.Adam(1e-2), loss=helpers.SCCE)
    history = distiller.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
