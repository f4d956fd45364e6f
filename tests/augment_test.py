"""Consistent augmentation: `keras_distill.augment` layers, `Distiller(augmentation=...)` and the
fair baseline `AugmentedModel`."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_distill import augment
from keras_distill import cache_teacher_outputs
from keras_distill.distiller import AugmentedModel
from keras_distill.distiller import Distiller

CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _net(seed, length=16, classes=3):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((length, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(8, activation="relu"),
                             keras.layers.Dense(classes)])


def _data(n=64, length=16, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, length, 1)).astype("float32"),
            rng.integers(0, classes, n).astype("int32"))


class _FixedMix:
    """A deterministic mixing augmentation: each example with the batch reversed, lam=0.3."""

    mixes_labels = True

    def __call__(self, data):
        return {key: 0.3 * v + 0.7 * tf.reverse(v, [0]) for key, v in data.items()}


def _distiller(augmentation, alpha=0.5, teacher_seed=2, strategy=None):
    with strategy.scope() if strategy else keras.utils.custom_object_scope({}):
        distiller = Distiller(student=_net(1), teacher=_net(teacher_seed),
                              augmentation=augmentation)
        return distiller.compile(optimizer=keras.optimizers.SGD(0.1), metrics=["accuracy"],
                                 student_loss_fn=CE, alpha=alpha, temperature=2.0)


# ----------------------------------------------------------------------------- layers
def test_random_shift_moves_each_example_by_at_most_max_shift():
    x = np.tile(np.arange(1, 17, dtype="float32")[None, :, None], (32, 1, 1))
    out = augment.RandomShift(3, seed=0)(x, training=True).numpy()[..., 0]
    for row in out:
        kept = row[row != 0]
        shift = int(np.argmax(row == kept[0])) - int(kept[0] - 1)
        assert abs(shift) <= 3
        np.testing.assert_array_equal(row, np.roll(np.arange(1, 17), shift) * (
            (np.arange(16) - shift >= 0) & (np.arange(16) - shift < 16)))
    assert len({tuple(r) for r in out}) > 1  # Each example its own shift.
    np.testing.assert_array_equal(augment.RandomShift(3)(x), x)  # Inference: unchanged.


def test_random_shift_wrap_keeps_every_value():
    x = np.arange(10, dtype="float32").reshape(1, 10, 1)
    out = augment.RandomShift(0.3, fill_mode="wrap", seed=3)(x, training=True).numpy()
    np.testing.assert_array_equal(np.sort(out.ravel()), x.ravel())


def test_random_scale_multiplies_each_example_by_one_factor_in_range():
    x = np.ones((16, 8, 2), "float32")
    out = augment.RandomScale(0.25, seed=0)(x, training=True).numpy()
    factors = out[:, 0, 0]
    np.testing.assert_allclose(out, factors[:, None, None] * x)
    assert factors.min() >= 0.75 and factors.max() <= 1.25 and factors.std() > 0


def test_mixup_mixes_inputs_and_labels_with_the_same_weights():
    x = np.eye(6, dtype="float32")[:, :, None] * np.arange(1, 7, dtype="float32")[:, None, None]
    labels = np.eye(6, dtype="float32")
    out = augment.MixUp(1.0, seed=0)({"images": x, "labels": labels}, training=True)
    np.testing.assert_allclose(out["images"].numpy()[..., 0] / np.arange(1, 7), out["labels"],
                               atol=1e-6)
    np.testing.assert_allclose(out["labels"].numpy().sum(-1), 1.0, atol=1e-6)


@pytest.mark.parametrize("layer", [augment.RandomShift(2, "wrap", seed=4),
                                   augment.RandomScale(0.2, seed=5), augment.MixUp(0.5, seed=6)])
def test_layer_config_round_trip(layer):
    restored = type(layer).from_config(layer.get_config())
    assert restored.get_config() == layer.get_config()


@pytest.mark.parametrize("make, match", [
    (lambda: augment.RandomShift(-1), "max_shift"),
    (lambda: augment.RandomShift(2, fill_mode="reflect"), "fill_mode"),
    (lambda: augment.RandomScale(1.5), "factor"),
    (lambda: augment.MixUp(0), "alpha"),
])
def test_layer_arguments_are_checked(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# -------------------------------------------------------------------------- wrapper
def test_mixed_integer_labels_become_soft_rows_and_unlabeled_stays_unlabeled():
    wrapped = augment.Augmentation(_FixedMix(), num_classes=3)
    y = np.array([0, 1, -1, 2], "int32")
    batch = wrapped.apply(np.zeros((4, 2), "float32"), y)
    hot = np.where(y[:, None] >= 0, np.eye(3)[np.maximum(y, 0)], -1.0)
    expected = 0.3 * hot + 0.7 * hot[::-1]
    np.testing.assert_allclose(batch.labels, expected, atol=1e-6)
    assert batch.mixed
    # Rows 1 and 2 mix with the unlabeled example: unlabeled. Rows 0 and 3: the larger weight.
    np.testing.assert_array_equal(batch.metric_labels, [2, -1, -1, 0])


def test_soft_label_loss_keeps_from_logits():
    assert augment.soft_label_loss(CE).get_config()["from_logits"]
    mse = keras.losses.MeanSquaredError()
    assert augment.soft_label_loss(mse) is mse


# ------------------------------------------------------------------------ distiller
def test_teacher_and_student_see_the_same_augmented_view():
    # Identical teacher and student: with one view the KL term is 0 however strong the noise.
    distiller = _distiller(keras.layers.GaussianNoise(1.0, seed=0), alpha=0.0, teacher_seed=1)
    x, y = _data()
    logs = distiller.train_on_batch(x[:16], y[:16], return_dict=True)
    assert logs["distillation_loss"] == pytest.approx(0.0, abs=1e-6)
    # Without augmentation the check is meaningful: different teacher weights give > 0.
    assert _distiller(None, alpha=0.0).train_on_batch(
        x[:16], y[:16], return_dict=True)["distillation_loss"] > 1e-3


def test_mixed_labels_enter_the_hard_label_loss():
    distiller = _distiller(_FixedMix(), alpha=1.0)
    x, y = _data(n=8)
    mixed_x = 0.3 * x + 0.7 * x[::-1]
    logits = distiller.student(mixed_x).numpy()
    soft = 0.3 * np.eye(3)[y] + 0.7 * np.eye(3)[y[::-1]]
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = float(np.mean(-(soft * log_p).sum(-1)))
    logs = distiller.train_on_batch(x, y, return_dict=True)
    assert logs["student_loss"] == pytest.approx(expected, rel=1e-4)


def test_augmentation_is_not_applied_in_evaluate_or_predict():
    distiller = _distiller(keras.layers.GaussianNoise(1.0, seed=0))
    x, y = _data()
    np.testing.assert_allclose(distiller.predict(x, verbose=0),
                               distiller.student.predict(x, verbose=0), atol=1e-6)
    plain = _distiller(None)
    assert distiller.evaluate(x, y, verbose=0) == pytest.approx(
        plain.evaluate(x, y, verbose=0), rel=1e-6)


def test_same_seed_same_training():
    x, y = _data()
    weights = []
    for _ in range(2):
        distiller = _distiller(augment.RandomShift(3, seed=7))
        distiller.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        weights.append(distiller.student.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


class _StopAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            raise RuntimeError("killed")


def test_resume_continues_the_same_random_stream(tmp_path):
    x, y = _data()
    straight = _distiller(augment.RandomShift(3, seed=7))
    straight.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    first = _distiller(augment.RandomShift(3, seed=7))
    with pytest.raises(RuntimeError, match="killed"):
        first.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0,
                  callbacks=[backup, _StopAfterFirstEpoch()])
    resumed = _distiller(augment.RandomShift(3, seed=7))
    resumed.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=[backup])
    for a, b in zip(straight.student.get_weights(), resumed.student.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_under_mirrored_strategy_views_stay_consistent(mirrored):
    """Each replica augments its own slice, so the random draws differ from one device's, but
    the teacher and the student still see one view: identical models give a zero KL term."""
    with mirrored.scope():
        distiller = _distiller(keras.layers.GaussianNoise(1.0, seed=0), alpha=0.0,
                               teacher_seed=1, strategy=mirrored)
    x, y = _data()
    history = distiller.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert history.history["distillation_loss"][0] == pytest.approx(0.0, abs=1e-5)


def test_distiller_config_round_trip_keeps_the_augmentation():
    distiller = _distiller(augment.RandomShift(2, seed=3))
    restored = Distiller.from_config(distiller.get_config())
    assert isinstance(restored.augmentation.augmentation, augment.RandomShift)
    assert restored.augmentation.augmentation.get_config() == (
        distiller.augmentation.augmentation.get_config())


@pytest.mark.parametrize("bad, error, match", [
    (3, TypeError, "augmentation=3"),
    ("flip", TypeError, "augmentation='flip'"),
    (keras.layers.Reshape((8, 2)), ValueError, r"\(16, 1\) into \(8, 2\)"),
])
def test_bad_augmentation_is_refused_before_training(bad, error, match):
    with pytest.raises(error, match=match):
        Distiller(student=_net(1), teacher=_net(2), augmentation=bad)


def test_augmentation_with_cached_outputs_is_refused():
    x, y = _data()
    cached = cache_teacher_outputs(_net(2), tf.data.Dataset.from_tensor_slices((x, y)).batch(16))
    distiller = _distiller(augment.RandomShift(2))
    before = [w.copy() for w in distiller.student.get_weights()]
    with pytest.raises(ValueError, match="cached teacher outputs"):
        distiller.fit(cached, epochs=1, verbose=0)
    for a, b in zip(before, distiller.student.get_weights()):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------- baseline
def test_augmented_model_trains_like_the_distiller_with_alpha_one():
    """The baseline and a distiller with alpha=1 make the same updates from the same start."""
    x, y = _data()
    distiller = _distiller(_FixedMix(), alpha=1.0)
    baseline = AugmentedModel(_net(1), _FixedMix())
    baseline.compile(keras.optimizers.SGD(0.1), CE, metrics=["accuracy"])
    d = distiller.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0).history
    b = baseline.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0).history
    for u, v in zip(distiller.student.get_weights(), baseline.model.get_weights()):
        np.testing.assert_allclose(u, v, atol=1e-5)
    assert b["loss"][0] == pytest.approx(d["student_loss"][0], rel=1e-5)
    assert b["accuracy"][0] == pytest.approx(d["accuracy"][0])


def test_augmented_model_without_augmentation_trains_like_the_plain_model():
    x, y = _data()
    baseline, plain = AugmentedModel(_net(1), None), _net(1)
    baseline.compile(keras.optimizers.SGD(0.1), CE)
    plain.compile(keras.optimizers.SGD(0.1), CE)
    b = baseline.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0).history
    p = plain.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0).history
    for u, v in zip(baseline.model.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(u, v, atol=1e-5)
    assert b["loss"][0] == pytest.approx(p["loss"][0], rel=1e-5)


def test_augmented_model_evaluates_plain_and_round_trips(tmp_path):
    baseline = AugmentedModel(_net(1), augment.RandomScale(0.5, seed=1))
    baseline.compile("adam", CE, metrics=["accuracy"])
    x, y = _data()
    baseline.fit(x, y, epochs=1, verbose=0)
    plain = keras.models.clone_model(baseline.model)
    plain.set_weights(baseline.model.get_weights())
    plain.compile(loss=CE, metrics=["accuracy"])
    assert baseline.evaluate(x, y, verbose=0) == pytest.approx(plain.evaluate(x, y, verbose=0),
                                                               rel=1e-5)
    path = str(tmp_path / "baseline.keras")
    baseline.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_allclose(restored.predict(x, verbose=0), baseline.predict(x, verbose=0),
                               atol=1e-6)


def test_augmented_model_needs_a_loss():
    with pytest.raises(ValueError, match="loss=None"):
        AugmentedModel(_net(1), augment.RandomShift(1)).compile("adam")


def test_a_list_applies_in_order_and_round_trips():
    steps = [augment.RandomScale(0.2, seed=1), augment.MixUp(1.0, seed=2)]
    distiller = _distiller(steps)
    assert distiller.augmentation.mixed
    x, y = _data()
    assert np.isfinite(distiller.fit(x, y, epochs=1, verbose=0).history["loss"][0])
    restored = Distiller.from_config(distiller.get_config())
    assert [type(s).__name__ for s in restored.augmentation.steps] == ["RandomScale", "MixUp"]
    with pytest.raises(TypeError, match="augmentation=5"):
        augment.Augmentation([augment.RandomScale(0.1), 5])
