"""Boundary-seeking inputs (`Distiller(boundary_step=)`): where they go, how far, what the step
trains on, what they refuse."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_distill as kd
from keras_distill.augment import augmentation as augmentation_lib
from tests import helpers
from tests.helpers import SCCE

STEP, T = 0.3, 2.0


def distiller(step=STEP, **kwargs):
    teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
    return kd.Distiller(student=student, teacher=teacher, boundary_step=step, **kwargs).compile(
        optimizer=keras.optimizers.SGD(0.0), student_loss_fn=SCCE, alpha=0.5, temperature=T,
        metrics=["sparse_categorical_accuracy"])


def moved_batch(model, x, y, sample_weight=None):
    batch = augmentation_lib.AugmentedBatch(tf.constant(x), tf.constant(y), tf.constant(y), False)
    return model._with_boundary_inputs(batch, sample_weight)


def test_moved_inputs_go_up_the_distillation_loss_by_the_step_asked():
    model, (x, y) = distiller(), helpers.data()
    batch, weights = moved_batch(model, x, y, tf.ones(len(x)) * 2)
    moved = batch.x.numpy()[len(x):]
    np.testing.assert_array_equal(batch.x.numpy()[:len(x)], x)
    assert batch.labels.numpy().tolist() == y.tolist() + [-1] * len(x)
    assert batch.metric_labels.numpy().tolist() == y.tolist() + [-1] * len(x)
    assert weights.numpy().tolist() == [2.0] * (2 * len(x))
    rms = np.sqrt(np.mean(np.square(moved - x), axis=1))
    np.testing.assert_allclose(rms, STEP * x.std(), rtol=1e-4)
    kd_at = lambda inputs: helpers.np_kd(model.teacher.predict(inputs, verbose=0),  # noqa: E731
                                         model.student.predict(inputs, verbose=0), T)
    assert np.mean(kd_at(moved) > kd_at(x)) > 0.9  # A gradient step up, for (nearly) every one.
    random = x + STEP * x.std() * np.random.default_rng(0).standard_normal(x.shape)
    assert kd_at(moved).mean() > kd_at(random).mean()


def test_a_step_trains_on_the_batch_and_its_moved_inputs():
    model, (x, y) = distiller(), helpers.data()
    batch, _ = moved_batch(model, x, y)
    joined = batch.x.numpy()
    t, s = model.teacher.predict(joined, verbose=0), model.student.predict(joined, verbose=0)
    logs = {k: v[0] for k, v in model.fit(x, y, batch_size=len(x), epochs=1, verbose=0,
                                          shuffle=False).history.items()}
    assert logs["distillation_loss"] == pytest.approx(np.mean(helpers.np_kd(t, s, T)), rel=1e-4)
    assert logs["student_loss"] == pytest.approx(np.mean(helpers.np_ce(y, s[:len(x)])),
                                                 rel=1e-4)
    accuracy = np.mean(np.argmax(s[:len(x)], -1) == y)
    assert logs["sparse_categorical_accuracy"] == pytest.approx(accuracy)


def test_it_trains_after_augmentation_and_round_trips_its_config():
    model = distiller(augmentation=kd.augment.MixUp(1.0, seed=0))
    x, y = helpers.data()
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0).history
    assert np.isfinite(history["distillation_loss"]).all()
    assert kd.Distiller.from_config(model.get_config()).boundary_step == STEP
    assert kd.Distiller.from_config(distiller(step=None).get_config()).boundary_step is None


@pytest.mark.parametrize("step", [0, -0.1, "far", float("nan")])
def test_a_bad_step_is_refused_naming_it(step):
    with pytest.raises(ValueError, match=r"`boundary_step`.*Received: boundary_step="):
        distiller(step=step)


def test_cached_teacher_outputs_are_refused_before_a_step():
    model, (x, y) = distiller(), helpers.data()
    cached = kd.cache_teacher_outputs(model.teacher, tf.data.Dataset.from_tensor_slices(
        (x, y)).batch(16))
    with pytest.raises(ValueError, match=r"`boundary_step` with cached teacher outputs"):
        model.fit(cached, epochs=1, verbose=0)
    assert int(model.optimizer.iterations) == 0


def test_under_mirrored_strategy_each_replica_moves_its_own_slice(mirrored):
    """A global batch of two copies of one batch, split over two replicas, trains on what one
    device trains on for that batch: each replica moves its slice by its slice's spread."""
    x, y = helpers.data(n=16)
    single = distiller()
    with mirrored.scope():
        replicated = distiller()
    replicated.student.set_weights(single.student.get_weights())
    replicated.teacher.set_weights(single.teacher.get_weights())
    one = single.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False).history
    two = replicated.fit(np.concatenate([x, x]), np.concatenate([y, y]), batch_size=32,
                         epochs=1, verbose=0, shuffle=False).history
    assert two["distillation_loss"][0] == pytest.approx(one["distillation_loss"][0], rel=1e-5)
    assert two["student_loss"][0] == pytest.approx(one["student_loss"][0], rel=1e-5)
