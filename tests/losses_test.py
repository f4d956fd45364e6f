"""Losses against NumPy references written from the formulas (Hinton et al., 2015)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_distill import losses
from keras_distill.losses import terms

TEACHER = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]], "float32")
STUDENT = np.array([[1.0, 0.5, 0.2], [0.0, 1.0, 0.3]], "float32")


def np_log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def np_kd(t, s, temperature):
    """T^2 * KL(softmax(t/T) || softmax(s/T)), per example, in float64."""
    t, s = np.asarray(t, "float64") / temperature, np.asarray(s, "float64") / temperature
    log_p, log_q = np_log_softmax(t), np_log_softmax(s)
    return temperature**2 * (np.exp(log_p) * (log_p - log_q)).sum(axis=-1)


def random_logits(shape, scale, seed):
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype("float32")


def test_kd_hand_checked_case():
    # Worked by hand from the formula: T^2 * KL at T=3, batch mean 0.342 (Keras 3.15's
    # LogitsDistillation gives 1.911 on the same inputs; see test_keras_logits_distillation_differs).
    assert np.mean(losses.kd_loss(TEACHER, STUDENT, 3.0).numpy()) == pytest.approx(0.342, abs=5e-4)
    np.testing.assert_allclose(losses.kd_loss(TEACHER, STUDENT, 3.0), np_kd(TEACHER, STUDENT, 3.0),
                               rtol=1e-5)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 4.0, 20.0])
@pytest.mark.parametrize("shape", [(16, 10), (4, 7, 5)])
def test_kd_matches_numpy(temperature, shape):
    t, s = random_logits(shape, 3.0, 1), random_logits(shape, 3.0, 2)
    expected = np_kd(t, s, temperature)
    np.testing.assert_allclose(losses.kd_loss(t, s, temperature), expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(tf.function(losses.kd_loss)(t, s, temperature), expected,
                               rtol=1e-4, atol=1e-6)


def test_kd_is_zero_for_identical_logits_and_positive_otherwise():
    t = random_logits((8, 10), 2.0, 3)
    np.testing.assert_allclose(losses.kd_loss(t, t, 4.0), 0.0, atol=1e-6)
    assert np.all(losses.kd_loss(t, random_logits((8, 10), 2.0, 4), 4.0).numpy() > 0)


@pytest.mark.parametrize("fn", [losses.kd_loss, losses.logit_mse])
def test_extreme_logits_are_finite(fn):
    t, s = random_logits((8, 10), 1e4, 5), random_logits((8, 10), 1e4, 6)
    values = fn(t, s, 1.0).numpy()
    assert np.all(np.isfinite(values))
    if fn is losses.kd_loss:
        np.testing.assert_allclose(values, np_kd(t, s, 1.0), rtol=1e-4)
    grads = tf.GradientTape()
    s_var = tf.Variable(s)
    with grads:
        value = tf.reduce_mean(fn(t, s_var, 1.0))
    assert np.all(np.isfinite(grads.gradient(value, s_var).numpy()))


def test_mixed_bfloat16_inputs_stay_accurate():
    t, s = random_logits((16, 10), 3.0, 7), random_logits((16, 10), 3.0, 8)
    t16, s16 = tf.cast(t, tf.bfloat16), tf.cast(s, tf.bfloat16)
    reference = np_kd(tf.cast(t16, tf.float32).numpy(), tf.cast(s16, tf.float32).numpy(), 4.0)
    value = losses.kd_loss(t16, s16, 4.0)
    assert value.dtype == tf.float32  # Computed in float32 whatever the inputs.
    np.testing.assert_allclose(value, reference, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(losses.logit_mse(t16, s16),
                               np.mean((tf.cast(t16, tf.float32) - tf.cast(s16, tf.float32)).numpy() ** 2, -1),
                               rtol=1e-5)


def test_logit_mse_matches_numpy():
    t, s = random_logits((8, 10), 2.0, 9), random_logits((8, 10), 2.0, 10)
    np.testing.assert_allclose(losses.logit_mse(t, s), np.mean((t - s) ** 2, axis=-1), rtol=1e-5)


def test_keras_kl_divergence_on_softened_probabilities_equals_kd():
    value = terms.softened_loss(keras.losses.KLDivergence(), TEACHER, STUDENT, 3.0)
    np.testing.assert_allclose(value, np_kd(TEACHER, STUDENT, 3.0), rtol=1e-4)


def test_keras_logits_distillation_differs():
    """Documents the upstream behaviour our LogitsDistillation corrects (Keras 3.15.1)."""
    keras_term = keras.distillation.LogitsDistillation(temperature=3.0)
    ours = losses.LogitsDistillation(temperature=3.0)
    assert float(keras_term.compute_loss(TEACHER, STUDENT)) == pytest.approx(1.911, abs=1e-3)
    assert float(np.mean(ours.per_example(TEACHER, STUDENT, 3.0))) == pytest.approx(0.342, abs=5e-4)


def test_loss_classes_reduce_like_keras():
    loss = losses.KnowledgeDistillation(temperature=3.0)
    assert float(loss(TEACHER, STUDENT)) == pytest.approx(np_kd(TEACHER, STUDENT, 3.0).mean(), rel=1e-5)
    weighted = float(loss(TEACHER, STUDENT, sample_weight=np.array([1.0, 0.0])))
    assert weighted == pytest.approx(np_kd(TEACHER, STUDENT, 3.0)[0] / 2, rel=1e-5)


@pytest.mark.parametrize("name,cls", [("kd", losses.KnowledgeDistillation),
                                      ("knowledge_distillation", losses.KnowledgeDistillation),
                                      ("logit_mse", losses.LogitMSE)])
def test_get_by_name(name, cls):
    assert isinstance(losses.get(name), cls)


def test_get_rejects_unknown_identifier():
    with pytest.raises(ValueError, match="'nope'"):
        losses.get("nope")


@pytest.mark.parametrize("obj", [
    losses.KnowledgeDistillation(temperature=5.0),
    losses.LogitMSE(),
])
def test_loss_config_round_trip(obj):
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(obj))
    assert type(restored) is type(obj)
    assert restored.get_config() == obj.get_config()
    np.testing.assert_allclose(restored(TEACHER, STUDENT), obj(TEACHER, STUDENT))


@pytest.mark.parametrize("obj", [
    losses.LogitsDistillation(temperature=5.0),
    losses.LogitsDistillation(loss=keras.losses.KLDivergence()),
    losses.LogitsDistillation(loss="logit_mse", name="mse"),
    losses.FeatureDistillation(loss="mae", teacher_layer_name="a", student_layer_name="b"),
])
def test_term_config_round_trip(obj):
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(obj))
    assert type(restored) is type(obj)
    assert restored.get_config() == obj.get_config()
    np.testing.assert_allclose(restored.per_example(TEACHER, STUDENT, 2.0),
                               obj.per_example(TEACHER, STUDENT, 2.0))


@pytest.mark.parametrize("value", [0, -1.0, "3", None, float("nan")])
def test_temperature_is_validated(value):
    with pytest.raises(ValueError, match=r"Expected a positive number. Received: temperature="):
        losses.KnowledgeDistillation(temperature=value)


def test_unknown_loss_name_in_term():
    with pytest.raises(ValueError, match="loss='no_such_loss'"):
        losses.LogitsDistillation(loss="no_such_loss")


def test_as_term_rejects_wrong_kind():
    with pytest.raises(TypeError, match="Received: 42 of type int"):
        terms.as_term(42)
