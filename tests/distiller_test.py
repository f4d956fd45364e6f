"""Distiller: the loss formula, both call forms, frozen teacher, weights, masks, labels, config."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_distill as kd
from tests import helpers
from tests.helpers import SCCE


def frozen_sgd():
    return keras.optimizers.SGD(learning_rate=0.0)


def first_batch_loss(distiller, x, y, **fit_kwargs):
    history = distiller.fit(x, y, batch_size=len(x), epochs=1, verbose=0, shuffle=False, **fit_kwargs)
    return {k: v[0] for k, v in history.history.items()}


@pytest.mark.parametrize("alpha,temperature", [(0.1, 3.0), (0.5, 1.0), (0.0, 8.0), (1.0, 2.0)])
def test_keras_io_form_matches_numpy(alpha, temperature):
    teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
    x, y = helpers.data()
    t, s = teacher.predict(x, verbose=0), student.predict(x, verbose=0)
    distiller = kd.Distiller(student=student, teacher=teacher).compile(
        optimizer=frozen_sgd(), metrics=["sparse_categorical_accuracy"], student_loss_fn=SCCE,
        distillation_loss_fn=keras.losses.KLDivergence(), alpha=alpha, temperature=temperature)
    logs = first_batch_loss(distiller, x, y)
    total, student_loss, distill = helpers.np_distill_loss(t, s, y, alpha, temperature)
    assert logs["loss"] == pytest.approx(total, rel=1e-4)
    assert logs["student_loss"] == pytest.approx(student_loss, rel=1e-4)
    assert logs["distillation_loss"] == pytest.approx(distill, rel=1e-4)


def test_keras_distillation_form_matches_numpy():
    teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
    x, y = helpers.data()
    t, s = teacher.predict(x, verbose=0), student.predict(x, verbose=0)
    distiller = kd.Distiller(teacher=teacher, student=student,
                             distillation_losses=[kd.LogitsDistillation(temperature=3.0)],
                             distillation_loss_weights=[1.0], student_loss_weight=0.5)
    distiller.compile(optimizer=frozen_sgd(), loss=SCCE, metrics=["sparse_categorical_accuracy"])
    assert distiller.alpha == 0.5 and distiller.temperature == 3.0
    total, _, _ = helpers.np_distill_loss(t, s, y, 0.5, 3.0)
    assert first_batch_loss(distiller, x, y)["loss"] == pytest.approx(total, rel=1e-4)


def test_default_alpha_follows_the_form_used():
    teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
    assert kd.Distiller(student=student, teacher=teacher).alpha == pytest.approx(0.1)
    both = kd.Distiller(teacher=teacher, student=student, distillation_losses=kd.LogitsDistillation())
    assert both.alpha == 0.5 and both.temperature == 3.0


def test_student_loss_fn_reads_back_what_compile_was_given():
    distiller = kd.Distiller(student=helpers.mlp(hidden=(), seed=2), teacher=helpers.mlp(seed=1))
    assert distiller.student_loss_fn is None
    distiller.compile(optimizer="sgd", student_loss_fn=SCCE)
    assert distiller.student_loss_fn is SCCE


def test_compile_returns_the_distiller_and_fit_trains():
    teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(8,), seed=2)
    x, y = helpers.data(n=128)
    teacher.compile("adam", SCCE)
    teacher.fit(x, y, epochs=30, verbose=0)
    history = kd.Distiller(student=student, teacher=teacher).compile(
        optimizer=keras.optimizers.Adam(0.01), student_loss_fn=SCCE,
        metrics=["sparse_categorical_accuracy"]).fit(x, y, epochs=10, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_history_keys_and_evaluate_does_not_run_teacher():
    teacher, counter = helpers.counting_teacher()
    student = helpers.mlp(hidden=(), seed=2)
    x, y = helpers.data()
    distiller = kd.Distiller(student=student, teacher=teacher).compile(
        optimizer="adam", student_loss_fn=SCCE, metrics=["sparse_categorical_accuracy"])
    history = distiller.fit(x, y, batch_size=16, epochs=1, verbose=0, validation_data=(x, y))
    # keras.io form: validation reports what the keras.io example's own Distiller reports.
    assert set(history.history) == {
        "loss", "student_loss", "distillation_loss", "sparse_categorical_accuracy",
        "val_loss", "val_sparse_categorical_accuracy"}
    calls = float(counter.calls.numpy())
    assert calls == 4  # One teacher call per training batch, none for validation.
    assert float(counter.trained_calls.numpy()) == 0  # Always training=False.
    logs = distiller.evaluate(x, y, verbose=0, return_dict=True)
    assert float(counter.calls.numpy()) == calls
    _, student_loss, _ = helpers.np_distill_loss(
        teacher.predict(x, verbose=0), student.predict(x, verbose=0), y, 0.1, 3.0)
    assert logs["loss"] == pytest.approx(student_loss, rel=1e-4)
    distiller.evaluate_teacher = True
    assert "distillation_loss" in distiller.evaluate(x, y, verbose=0, return_dict=True)
    np.testing.assert_allclose(distiller.predict(x, verbose=0), student.predict(x, verbose=0))
    np.testing.assert_allclose(distiller(x), student(x))


def test_teacher_weights_are_bit_identical_after_fit():
    teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
    before = [w.copy() for w in teacher.get_weights()]
    x, y = helpers.data()
    distiller = kd.Distiller(student=student, teacher=teacher).compile(
        optimizer=keras.optimizers.Adam(0.1), student_loss_fn=SCCE)
    distiller.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert teacher.trainable is False
    assert all(np.array_equal(a, b) for a, b in zip(before, teacher.get_weights()))
    assert {id(v) for v in distiller.trainable_variables} == {id(v) for v in student.trainable_variables}




def test_alpha_and_temperature_change_without_retracing():
    teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
    x, y = helpers.data()
    t, s = teacher.predict(x, verbose=0), student.predict(x, verbose=0)
    distiller = helpers.TraceCountingDistiller(student=student, teacher=teacher).compile(
        optimizer=frozen_sgd(), student_loss_fn=SCCE, alpha=0.1, temperature=3.0)
    first_batch_loss(distiller, x, y)
    traces = len(helpers.TRACES)
    distiller.alpha, distiller.temperature = 0.7, 6.0
    logs = first_batch_loss(distiller, x, y)
    assert len(helpers.TRACES) == traces
    assert logs["loss"] == pytest.approx(helpers.np_distill_loss(t, s, y, 0.7, 6.0)[0], rel=1e-4)


def test_alpha_can_change_from_a_callback():
    teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
    x, y = helpers.data()
    distiller = kd.Distiller(student=student, teacher=teacher).compile(
        optimizer=frozen_sgd(), student_loss_fn=SCCE, alpha=0.0)
    ramp = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: setattr(distiller, "alpha", 1.0 if e else 0.0))
    history = distiller.fit(x, y, batch_size=64, epochs=2, verbose=0, callbacks=[ramp]).history
    assert history["loss"][0] == pytest.approx(history["distillation_loss"][0], rel=1e-5)
    assert history["loss"][1] == pytest.approx(history["student_loss"][1], rel=1e-5)


def test_sample_weight_weighs_both_terms():
    teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
    x, y = helpers.data()
    w = np.random.default_rng(0).uniform(0, 2, size=len(x)).astype("float32")
    t, s = teacher.predict(x, verbose=0), student.predict(x, verbose=0)
    distiller = kd.Distiller(student=student, teacher=teacher).compile(
        optimizer=frozen_sgd(), student_loss_fn=SCCE, alpha=0.3, temperature=2.0)
    logs = first_batch_loss(distiller, x, y, sample_weight=w)
    total, student_loss, distill = helpers.np_distill_loss(t, s, y, 0.3, 2.0, w)
    assert logs["student_loss"] == pytest.approx(student_loss, rel=1e-4)
    assert logs["distillation_loss"] == pytest.approx(distill, rel=1e-4)
    assert logs["loss"] == pytest.approx(total, rel=1e-4)


def test_zero_weight_batch_changes_nothing():
    teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
    x, y = helpers.data()
    before = [w.copy() for w in student.get_weights()]
    distiller = kd.Distiller(student=student, teacher=teacher).compile(
        optimizer=keras.optimizers.SGD(0.5), student_loss_fn=SCCE)
    distiller.fit(x, y, sample_weight=np.zeros(len(x)), batch_size=16, epochs=2, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, student.get_weights()))


def sequence_models(classes=5, steps=7, features=3):
    def build(units, seed):
        keras.utils.set_random_seed(seed)
        inputs = keras.Input((steps, features), name="x")
        masked = keras.layers.Masking(mask_value=0.0)(inputs)
        hidden = keras.layers.GRU(units, return_sequences=True)(masked)
        return keras.Model(inputs, keras.layers.Dense(classes)(hidden))
    return build(8, 1), build(4, 2)


def test_sequence_outputs_with_masks():
    teacher, student = sequence_models()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 7, 3)).astype("float32")
    x[:, 5:, :] = 0.0  # Padding: the last two steps of every sequence are masked.
    y = rng.integers(0, 5, size=(6, 7))
    t, s = teacher.predict(x, verbose=0), student.predict(x, verbose=0)
    distiller = kd.Distiller(student=student, teacher=teacher).compile(
        optimizer=frozen_sgd(), student_loss_fn=SCCE, alpha=0.4, temperature=2.0)
    logs = first_batch_loss(distiller, x, y)
    valid = np.zeros((6, 7)); valid[:, :5] = 1
    ce = np.sum(valid * helpers.np_ce(y, s)) / valid.sum()
    kl = np.sum(valid * helpers.np_kd(t, s, 2.0)) / valid.sum()
    assert logs["student_loss"] == pytest.approx(ce, rel=1e-4)
    assert logs["distillation_loss"] == pytest.approx(kl, rel=1e-4)
    assert logs["loss"] == pytest.approx(0.4 * ce + 0.6 * kl, rel=1e-4)


def test_unlabeled_examples_train_on_distillation_alone():
    teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
    x, y = helpers.data()
    t, s = teacher.predict(x, verbose=0), student.predict(x, verbose=0)
    distiller = kd.Distiller(student=student, teacher=teacher).compile(
        optimizer=frozen_sgd(), student_loss_fn=SCCE, alpha=0.5, temperature=2.0,
        metrics=["sparse_categorical_accuracy"])
    partial = y.copy()
    partial[::2] = -1
    logs = first_batch_loss(distiller, x, partial)
    assert logs["student_loss"] == pytest.approx(np.mean(helpers.np_ce(y, s)[1::2]), rel=1e-4)
    assert logs["distillation_loss"] == pytest.approx(np.mean(helpers.np_kd(t, s, 2.0)), rel=1e-4)
    accuracy = np.mean(np.argmax(s, -1)[1::2] == y[1::2])
    assert logs["sparse_categorical_accuracy"] == pytest.approx(accuracy)
    unlabeled = distiller.fit(x, batch_size=64, epochs=1, verbose=0).history
    assert set(unlabeled) == {"loss", "distillation_loss"}
    assert unlabeled["loss"][0] == pytest.approx(0.5 * np.mean(helpers.np_kd(t, s, 2.0)), rel=1e-4)


def test_teacher_ending_in_softmax_is_read_before_the_softmax():
    keras.utils.set_random_seed(0)
    teacher = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, activation="softmax")])
    with pytest.warns(UserWarning, match="pre-softmax logits"):
        distiller = kd.Distiller(student=helpers.mlp(hidden=()), teacher=teacher)
    x, _ = helpers.data()
    dense = teacher.layers[-1]
    expected = x @ dense.kernel.numpy() + dense.bias.numpy()
    np.testing.assert_allclose(distiller.teacher(x), expected, rtol=1e-5, atol=1e-5)


def test_student_ending_in_softmax_is_an_error():
    student = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4), keras.layers.Softmax()])
    with pytest.raises(ValueError, match="student's last layer .* applies softmax"):
        kd.Distiller(student=student, teacher=helpers.mlp())


@pytest.mark.parametrize("kwargs,error,match", [
    ({"student": "model"}, TypeError, "Expected a `keras.Model`. Received: student='model'"),
    ({"teacher": None}, TypeError, "Received: teacher=None"),
    ({"student_loss_weight": 1.5}, ValueError, "between 0 and 1.*student_loss_weight=1.5"),
    ({"temperature": 0}, ValueError, "positive number. Received: temperature=0"),
    ({"temperature": "hot"}, ValueError, "Received: temperature='hot'"),
    ({"distillation_losses": 42}, TypeError, "Invalid distillation loss.*42"),
    ({"distillation_losses": [kd.LogitsDistillation()] * 2, "distillation_loss_weights": [1.0]},
     ValueError, "a list of 2 weights"),
    ({"distillation_losses": [kd.LogitsDistillation()] * 2, "distillation_loss_weights": [1.0, -1.0]},
     ValueError, "non-negative"),
])
def test_constructor_validation(kwargs, error, match):
    arguments = {"teacher": helpers.mlp(seed=1), "student": helpers.mlp(hidden=(), seed=2)}
    arguments.update(kwargs)
    with pytest.raises(error, match=match):
        kd.Distiller(**arguments)


def test_class_count_mismatch():
    with pytest.raises(ValueError, match="teacher outputs 4 classes but the student outputs 3"):
        kd.Distiller(teacher=helpers.mlp(classes=4), student=helpers.mlp(classes=3))


@pytest.mark.parametrize("kwargs,match", [
    ({"alpha": -0.1}, "alpha=-0.1"),
    ({"temperature": -2}, "temperature=-2"),
    ({"alpha": 0.5, "student_loss_fn": None}, "Expected 0 when no student loss is given. Received: alpha=0.5"),
    ({"loss": SCCE, "student_loss_fn": SCCE}, "Pass only one"),
    ({"loss_weights": [1.0]}, "Expected None.*Received: loss_weights=\\[1.0\\]"),
])
def test_compile_validation(kwargs, match):
    distiller = kd.Distiller(teacher=helpers.mlp(seed=1), student=helpers.mlp(hidden=(), seed=2))
    arguments = {"optimizer": "adam", "student_loss_fn": SCCE}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        distiller.compile(**arguments)


def test_alpha_setter_validation():
    distiller = kd.Distiller(teacher=helpers.mlp(seed=1), student=helpers.mlp(hidden=(), seed=2))
    distiller.compile("adam", alpha=0.0)
    with pytest.raises(ValueError, match="alpha=2"):
        distiller.alpha = 2
    with pytest.raises(ValueError, match="no student loss"):
        distiller.alpha = 0.5
    with pytest.raises(ValueError, match="temperature=0"):
        distiller.temperature = 0


def test_empty_dataset_is_rejected_before_training():
    distiller = kd.Distiller(teacher=helpers.mlp(seed=1), student=helpers.mlp(hidden=(), seed=2))
    distiller.compile("adam", student_loss_fn=SCCE)
    x, y = helpers.data()
    empty = helpers.dataset(x, y, 8).take(0)
    with pytest.raises(ValueError, match="yields at least one batch"):
        distiller.fit(empty, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="yields at least one batch"):
        distiller.fit(helpers.dataset(x, y, 8).filter(lambda a, b: False), epochs=1, verbose=0)


def test_label_shape_mismatch_is_rejected_before_training():
    student = helpers.mlp(hidden=(), seed=2)
    before = [w.copy() for w in student.get_weights()]
    distiller = kd.Distiller(teacher=helpers.mlp(seed=1), student=student)
    distiller.compile("adam", student_loss_fn=SCCE)
    x, _ = helpers.data()
    with pytest.raises(ValueError, match=r"Labels of shape .* cannot match the student's outputs"):
        distiller.fit(x, np.zeros((len(x), 3, 2)), epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, student.get_weights()))


def test_non_finite_loss_stops_training_and_names_the_step():
    teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
    x, y = helpers.data()
    x[40] = 3e38  # In the third batch of 16: finite (the data checks pass), but overflows.
    distiller = kd.Distiller(student=student, teacher=teacher).compile("sgd", student_loss_fn=SCCE)
    with pytest.raises(FloatingPointError, match="loss was nan at training step 3"):
        distiller.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    assert np.all(np.isfinite(np.concatenate([w.ravel() for w in student.get_weights()])))


def test_mixed_precision_training_is_finite():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
    x, y = helpers.data()
    distiller = kd.Distiller(student=student, teacher=teacher).compile(
        "adam", student_loss_fn=SCCE, temperature=4.0)
    history = distiller.fit(x * 1e3, y, batch_size=16, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0])


def test_keras_file_round_trip(tmp_path):
    teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
    x, y = helpers.data()
    distiller = kd.Distiller(teacher=teacher, student=student,
                             distillation_losses=[kd.LogitsDistillation(), kd.LogitsDistillation(loss="logit_mse", name="mse")],
                             distillation_loss_weights=[1.0, 0.25])
    distiller.compile(optimizer="adam", loss=SCCE, metrics=["sparse_categorical_accuracy"])
    distiller.fit(x, y, epochs=1, verbose=0)
    distiller.alpha, distiller.temperature = 0.3, 7.0
    path = str(tmp_path / "distiller.keras")
    distiller.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, kd.Distiller)
    assert restored.alpha == pytest.approx(0.3) and restored.temperature == pytest.approx(7.0)
    assert [type(t) for t in restored.distillation_losses] == [kd.LogitsDistillation] * 2
    assert restored.distillation_loss_weights == [1.0, 0.25]
    for a, b in zip(restored.teacher.get_weights() + restored.student.get_weights(),
                    teacher.get_weights() + student.get_weights()):
        np.testing.assert_array_equal(a, b)
    restored.fit(x, y, epochs=1, verbose=0)  # Compiled from its config, ready to train on.
    restored.evaluate_teacher = True
    logs = restored.evaluate(x, y, verbose=0, return_dict=True)
    assert {"mse", "logits_distillation", "sparse_categorical_accuracy"} <= set(logs)


def test_save_weights_and_checkpoint(tmp_path):
    teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
    distiller = kd.Distiller(teacher=teacher, student=student)
    assert distiller.built
    distiller.compile("adam", student_loss_fn=SCCE)
    path = str(tmp_path / "d.weights.h5")
    distiller.save_weights(path)
    other = kd.Distiller(teacher=helpers.mlp(seed=3), student=helpers.mlp(hidden=(), seed=4))
    other.load_weights(path)
    for a, b in zip(other.student.get_weights(), student.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_several_terms_are_reported_by_name():
    teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
    x, y = helpers.data()
    t, s = teacher.predict(x, verbose=0), student.predict(x, verbose=0)
    distiller = kd.Distiller(teacher=teacher, student=student, student_loss_weight=0.0,
                             distillation_losses=[kd.LogitsDistillation(temperature=2.0),
                                                  kd.LogitsDistillation(temperature=2.0, loss="logit_mse", name="mse")],
                             distillation_loss_weights=[1.0, 0.5])
    distiller.compile(optimizer=frozen_sgd())
    logs = first_batch_loss(distiller, x, y)
    kl, mse = np.mean(helpers.np_kd(t, s, 2.0)), np.mean((t - s) ** 2)
    assert logs["logits_distillation"] == pytest.approx(kl, rel=1e-4)
    assert logs["mse"] == pytest.approx(mse, rel=1e-4)
    assert logs["distillation_loss"] == pytest.approx(kl + 0.5 * mse, rel=1e-4)


def test_feature_distillation_by_layer_name():
    keras.utils.set_random_seed(0)
    def build(name):
        inputs = keras.Input((6,), name="x")
        hidden = keras.layers.Dense(5, activation="relu", name="hidden")(inputs)
        return keras.Model(inputs, keras.layers.Dense(4, name="out")(hidden), name=name)
    teacher, student = build("teacher"), build("student")
    x, y = helpers.data()
    features = keras.Model(teacher.inputs, teacher.get_layer("hidden").output)(x).numpy()
    student_features = keras.Model(student.inputs, student.get_layer("hidden").output)(x).numpy()
    distiller = kd.Distiller(teacher=teacher, student=student, student_loss_weight=0.0,
                             distillation_losses=kd.FeatureDistillation(
                                 loss="mse", teacher_layer_name="hidden", student_layer_name="hidden"))
    distiller.compile(optimizer=frozen_sgd())
    logs = first_batch_loss(distiller, x, y)
    assert logs["distillation_loss"] == pytest.approx(np.mean((features - student_features) ** 2), rel=1e-4)
    with pytest.raises(ValueError, match=r"Invalid layer name for the teacher: 'nope'. Available layers: \['x', 'hidden', 'out'\]"):
        kd.Distiller(teacher=teacher, student=student,
                     distillation_losses=kd.FeatureDistillation(teacher_layer_name="nope", student_layer_name="hidden"))


def test_mirrored_strategy_matches_one_device(mirrored):
    """2 logical CPUs (tests/conftest.py) vs one device: same global batches, same updates."""
    x, y = helpers.data(n=96)
    w = np.random.default_rng(1).uniform(0.2, 2.0, size=len(x)).astype("float32")
    teacher_weights = helpers.mlp(seed=1).get_weights()
    student_weights = helpers.mlp(hidden=(8,), seed=2).get_weights()

    def run(strategy, cached=False):
        with strategy.scope():
            teacher, student = helpers.mlp(seed=5), helpers.mlp(hidden=(8,), seed=6)
            teacher.set_weights(teacher_weights)
            student.set_weights(student_weights)
            distiller = kd.Distiller(student=student, teacher=teacher).compile(
                optimizer=keras.optimizers.Adam(0.01), student_loss_fn=SCCE, alpha=0.3,
                temperature=2.0, metrics=["sparse_categorical_accuracy"])
        data = helpers.dataset(x, y, 16, sample_weight=w, drop_remainder=True)
        if cached:
            data = kd.cache_teacher_outputs(teacher, data, shuffle=False, drop_remainder=True)
        history = distiller.fit(data, epochs=2, verbose=0).history
        return student.get_weights(), history

    one_weights, one_history = run(tf.distribute.OneDeviceStrategy("/cpu:0"))
    assert mirrored.num_replicas_in_sync == 2
    for cached in (False, True):  # Online and cached teacher outputs: one formula.
        two_weights, two_history = run(mirrored, cached=cached)
        for a, b in zip(one_weights, two_weights):
            np.testing.assert_allclose(a, b, atol=1e-5)
        for key in ("loss", "student_loss", "distillation_loss", "sparse_categorical_accuracy"):
            np.testing.assert_allclose(one_history[key], two_history[key], rtol=1e-4, atol=1e-6)


def test_ensemble_of_teachers_averages_probabilities_at_the_temperature():
    teachers = [helpers.mlp(seed=1, name="t1"), helpers.mlp(hidden=(8,), seed=3, name="t2")]
    student = helpers.mlp(hidden=(), seed=2)
    x, y = helpers.data()
    members = [t.predict(x, verbose=0) for t in teachers]
    s = student.predict(x, verbose=0)
    temperature, weights = 2.5, np.array([0.75, 0.25])
    before = [w.copy() for t in teachers for w in t.get_weights()]
    distiller = kd.Distiller(teacher=teachers, student=student, teacher_weights=[3, 1]).compile(
        optimizer=frozen_sgd(), alpha=0.0, temperature=temperature)
    assert distiller.teacher_weights == [0.75, 0.25]
    logs = first_batch_loss(distiller, x, y)
    probs = sum(w * np.exp(helpers.np_log_softmax(m / temperature)) for w, m in zip(weights, members))
    log_q = helpers.np_log_softmax(s / temperature)
    expected = temperature**2 * np.mean(np.sum(probs * (np.log(probs) - log_q), axis=-1))
    assert logs["distillation_loss"] == pytest.approx(expected, rel=1e-4)
    distiller.compile(optimizer="adam", alpha=0.0, temperature=temperature)
    distiller.fit(x, y, epochs=1, verbose=0)
    assert all(not t.trainable for t in teachers)
    assert all(np.array_equal(a, b) for a, b in zip(before, [w for t in teachers for w in t.get_weights()]))
    # The cache stores the members' logits; the loss on it is the same.
    cached = kd.cache_teacher_outputs(teachers, helpers.dataset(x, y, len(x)), shuffle=False)
    distiller.compile(optimizer=frozen_sgd(), alpha=0.0, temperature=temperature)
    student.set_weights(helpers.mlp(hidden=(), seed=2).get_weights())
    assert distiller.fit(cached, epochs=1, verbose=0).history["distillation_loss"][0] == pytest.approx(expected, rel=1e-4)


def test_ensemble_validation():
    student = helpers.mlp(hidden=(), seed=2)
    with pytest.raises(ValueError, match="different class counts"):
        kd.Distiller(teacher=[helpers.mlp(classes=4, name="a"), helpers.mlp(classes=5, name="b")],
                     student=student)
    with pytest.raises(ValueError, match="a list of 2 weights"):
        kd.Distiller(teacher=[helpers.mlp(name="a"), helpers.mlp(name="b")], student=student,
                     teacher_weights=[1.0])
    with pytest.raises(ValueError, match="non-negative"):
        kd.Distiller(teacher=[helpers.mlp(name="a"), helpers.mlp(name="b")], student=student,
                     teacher_weights=[1.0, -1.0])
    with pytest.raises(TypeError, match="Received: teacher='t.keras'"):
        kd.Distiller(teacher=[helpers.mlp(name="a"), "t.keras"], student=student)


def test_non_finite_loss_stops_training_under_xla_too():
    teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
    x, y = helpers.data()
    x[40] = 3e38
    distiller = kd.Distiller(student=student, teacher=teacher).compile(
        "sgd", student_loss_fn=SCCE, jit_compile=True)
    with pytest.raises(FloatingPointError, match="loss was nan at training step 3"):
        distiller.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)


def test_streamed_checks_run_once_per_dataset_and_name_the_bad_batch():
    teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
    x, y = helpers.data()
    reads = []

    def count(index):
        reads.append(int(index))
        return index

    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16).enumerate().map(
        lambda i, batch: (tf.py_function(count, [i], tf.int64), batch)).map(lambda i, b: b)
    distiller = kd.Distiller(student=student, teacher=teacher).compile(
        keras.optimizers.SGD(0.0), student_loss_fn=SCCE)
    distiller.fit(ds, epochs=1, verbose=0)
    first_fit = list(reads)
    del reads[:]
    distiller.fit(ds, epochs=1, verbose=0)
    # The first fit also read the first batch on the host; the second reuses the checked
    # dataset: its four batches, each read once.
    assert len(first_fit) > 4 and reads == [0, 1, 2, 3]

    x[20, 1] = np.nan  # Batch 2.
    bad = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    with pytest.raises(ValueError, match="x holding nan in batch 2"):
        distiller.fit(bad, epochs=1, verbose=0)
