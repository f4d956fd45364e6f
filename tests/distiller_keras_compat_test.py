"""What a keras.distillation user relies on: per-term temperatures, several outputs, `evaluate`'s
values in `metrics_names` order, values and errors as given; checked against NumPy references and
against `keras.distillation` itself where the two agree."""

import keras
import numpy as np
import pytest

import keras_distill as kd
from keras_distill.losses import term_base
from tests import helpers
from tests.helpers import SCCE

TOL = {"rtol": 1e-4, "atol": 1e-6}


def frozen_sgd():
    return keras.optimizers.SGD(learning_rate=0.0)


def first_batch_logs(distiller, x, y, **kwargs):
    history = distiller.fit(x, y, batch_size=len(x), epochs=1, verbose=0, shuffle=False, **kwargs)
    return {k: v[0] for k, v in history.history.items()}




# ------------------------------------------------------------------ per-term temperatures
def test_each_term_keeps_its_temperature_and_changes_without_retracing():
    teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
    x, y = helpers.data()
    t, s = teacher.predict(x, verbose=0), student.predict(x, verbose=0)
    terms = [kd.LogitsDistillation(temperature=2.0), kd.LogitsDistillation(temperature=5.0)]
    distiller = helpers.TraceCountingDistiller(
        teacher=teacher, student=student, distillation_losses=terms,
        distillation_loss_weights=[0.7, 0.3], student_loss_weight=0.0)
    distiller.compile(optimizer=frozen_sgd(), loss=SCCE)
    assert distiller.temperatures == [2.0, 5.0]
    assert [term.temperature for term in distiller.distillation_losses] == [2.0, 5.0]
    assert distiller.temperature is None  # No one temperature: read `temperatures`.
    logs = first_batch_logs(distiller, x, y)
    kd2, kd5 = np.mean(helpers.np_kd(t, s, 2.0)), np.mean(helpers.np_kd(t, s, 5.0))
    np.testing.assert_allclose(logs["distillation_loss"], 0.7 * kd2 + 0.3 * kd5, **TOL)
    np.testing.assert_allclose(logs["logits_distillation_1"], kd5, **TOL)
    traces = len(helpers.TRACES)

    terms[1].temperature = 8.0  # The term's own setter: state, no retrace.
    logs = first_batch_logs(distiller, x, y)
    np.testing.assert_allclose(logs["logits_distillation_1"], np.mean(helpers.np_kd(t, s, 8.0)),
                               **TOL)
    distiller.temperature = 4.0  # The distiller's: every term.
    logs = first_batch_logs(distiller, x, y)
    assert len(helpers.TRACES) == traces
    assert distiller.temperature == 4.0 and terms[0].temperature == 4.0
    np.testing.assert_allclose(logs["distillation_loss"], np.mean(helpers.np_kd(t, s, 4.0)), **TOL)


def test_distiller_temperature_sets_a_single_term():
    term = kd.LogitsDistillation(temperature=3.0)
    distiller = kd.Distiller(teacher=helpers.mlp(seed=1), student=helpers.mlp(hidden=(), seed=2),
                             distillation_losses=term, temperature=6.0)
    assert distiller.temperature == 6.0 and term.temperature == 6.0
    distiller.compile("adam", loss=SCCE, temperature=2.5)
    assert (distiller.temperature, term.temperature) == (2.5, 2.5)


def test_different_temperatures_survive_a_keras_file(tmp_path):
    distiller = kd.Distiller(teacher=helpers.mlp(seed=1), student=helpers.mlp(hidden=(), seed=2),
                             distillation_losses=[kd.LogitsDistillation(temperature=2.0),
                                                  kd.LogitsDistillation(temperature=5.0)],
                             student_loss_weight=0.7)
    distiller.compile("adam", loss=SCCE)
    assert distiller.get_config()["temperature"] is None
    path = str(tmp_path / "d.keras")
    distiller.save(path)
    restored = keras.saving.load_model(path)
    assert restored.temperatures == [2.0, 5.0]
    assert restored.student_loss_weight == 0.7  # Exactly as given, not float32's 0.699999988.


# ------------------------------------------------------------------ values and errors
def test_values_read_back_as_given_unless_a_checkpoint_changed_them(tmp_path):
    teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
    distiller = kd.Distiller(teacher=teacher, student=student,
                             distillation_losses=kd.LogitsDistillation(temperature=2.2),
                             student_loss_weight=0.7)
    assert distiller.student_loss_weight == 0.7 and distiller.alpha == 0.7
    assert kd.Distiller.from_config(distiller.get_config()).student_loss_weight == 0.7
    distiller.alpha, distiller.temperature = 0.3, 1.1
    assert (distiller.alpha, distiller.temperature) == (0.3, 1.1)
    path = str(tmp_path / "d.weights.h5")
    distiller.save_weights(path)
    other = kd.Distiller(teacher=teacher, student=student,
                         distillation_losses=kd.LogitsDistillation(temperature=9.0))
    other.load_weights(path)
    assert other.alpha == pytest.approx(0.3) and other.temperature == pytest.approx(1.1)


@pytest.mark.parametrize("role", ["teacher", "student"])
def test_a_non_model_is_a_value_error_and_a_type_error(role):
    models = {"teacher": helpers.mlp(seed=1), "student": helpers.mlp(hidden=(), seed=2)}
    models[role] = "not_a_model"
    for error in (ValueError, TypeError):
        with pytest.raises(error, match=f"Received: {role}='not_a_model'"):
            kd.Distiller(distillation_losses=kd.LogitsDistillation(), **models)


# ------------------------------------------------------------------ what is reported
@pytest.mark.parametrize("metric", ["sparse_categorical_accuracy",
                                    keras.metrics.SparseCategoricalAccuracy])
def test_keras_io_form_evaluate_returns_loss_and_accuracy(metric):
    metric = metric() if isinstance(metric, type) else metric
    teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
    x, y = helpers.data()
    distiller = kd.Distiller(student=student, teacher=teacher)
    distiller.compile(optimizer="adam", metrics=[metric], student_loss_fn=SCCE,
                      distillation_loss_fn=keras.losses.KLDivergence(), alpha=0.1, temperature=10)
    distiller.fit(x, y, epochs=1, verbose=0)
    assert distiller.metrics_names == ["loss", "sparse_categorical_accuracy"]
    loss, acc = distiller.evaluate(x, y, verbose=0)
    logs = distiller.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "sparse_categorical_accuracy"}
    assert (loss, acc) == pytest.approx((logs["loss"], logs["sparse_categorical_accuracy"]))
    s = student.predict(x, verbose=0)
    np.testing.assert_allclose(loss, np.mean(helpers.np_ce(y, s)), **TOL)
    assert acc == pytest.approx(np.mean(np.argmax(s, -1) == y))


def test_keras_distillation_form_reports_what_keras_reports():
    teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
    x, y = helpers.data()
    distiller = kd.Distiller(teacher=teacher, student=student,
                             distillation_losses=kd.LogitsDistillation(temperature=2.0),
                             student_loss_weight=0.4)
    distiller.compile(optimizer=frozen_sgd(), loss=SCCE,
                      metrics=[keras.metrics.SparseCategoricalAccuracy()])
    history = distiller.fit(x, y, epochs=1, verbose=0, validation_data=(x, y)).history
    expected = ["loss", "sparse_categorical_accuracy", "student_loss", "distillation_loss",
                "total_loss"]
    assert set(history) == set(expected) | {"val_" + name for name in expected}
    np.testing.assert_allclose(history["total_loss"], history["loss"])
    assert distiller.metrics_names == expected
    values = distiller.evaluate(x, y, verbose=0)
    logs = distiller.evaluate(x, y, verbose=0, return_dict=True)
    assert values == pytest.approx([logs[name] for name in expected])
    total, student_loss, distill = helpers.np_distill_loss(
        teacher.predict(x, verbose=0), student.predict(x, verbose=0), y, 0.4, 2.0)
    np.testing.assert_allclose([logs["loss"], logs["distillation_loss"], logs["total_loss"]],
                               [student_loss, distill, total], **TOL)
    distiller.evaluate_teacher = False  # The student alone: keras.distillation's names, fewer.
    assert distiller.metrics_names == ["loss", "sparse_categorical_accuracy", "student_loss"]
    assert len(distiller.evaluate(x, y, verbose=0)) == 3


# ------------------------------------------------------------------ several outputs
def two_output_model(seed, units, as_dict=False):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6,), name="x")
    hidden = keras.layers.Dense(units, activation="relu")(inputs)
    digit = keras.layers.Dense(4, name="digit")(hidden)
    parity = keras.layers.Dense(2, name="parity")(hidden)
    return keras.Model(inputs, {"digit": digit, "parity": parity} if as_dict else [digit, parity])


def two_output_data():
    x, digit = helpers.data(n=48)
    return x, [digit, digit % 2]


def test_two_outputs_with_a_term_and_a_temperature_per_output():
    teacher, student = two_output_model(1, 16), two_output_model(2, 8)
    x, (digit, parity) = two_output_data()
    (t1, t2), (s1, s2) = teacher.predict(x, verbose=0), student.predict(x, verbose=0)
    distiller = kd.Distiller(
        teacher=teacher, student=student, student_loss_weight=0.3,
        distillation_losses=[kd.LogitsDistillation(temperature=2.0, loss=["kl_divergence", None]),
                             kd.LogitsDistillation(temperature=5.0, loss=[None, "kl_divergence"])],
        distillation_loss_weights=[1.0, 0.5])
    distiller.compile(optimizer=frozen_sgd(), loss=[SCCE, SCCE])
    logs = first_batch_logs(distiller, x, [digit, parity])
    student_loss = np.mean(helpers.np_ce(digit, s1)) + np.mean(helpers.np_ce(parity, s2))
    distill = np.mean(helpers.np_kd(t1, s1, 2.0)) + 0.5 * np.mean(helpers.np_kd(t2, s2, 5.0))
    np.testing.assert_allclose([logs["student_loss"], logs["distillation_loss"], logs["loss"]],
                               [student_loss, distill, 0.3 * student_loss + 0.7 * distill], **TOL)


def test_dict_outputs_with_one_loss_for_all_and_per_output_metrics():
    teacher, student = two_output_model(1, 16, True), two_output_model(2, 8, True)
    x, (digit, parity) = two_output_data()
    t, s = teacher.predict(x, verbose=0), student.predict(x, verbose=0)
    labels = {"digit": digit, "parity": parity}
    distiller = kd.Distiller(teacher=teacher, student=student, student_loss_weight=0.5,
                             distillation_losses=kd.LogitsDistillation(temperature=3.0))
    distiller.compile(optimizer=frozen_sgd(), loss=SCCE,
                      metrics={"digit": ["accuracy"], "parity": ["accuracy"]})
    logs = first_batch_logs(distiller, x, labels)
    distill = sum(np.mean(helpers.np_kd(t[k], s[k], 3.0)) for k in ("digit", "parity"))
    np.testing.assert_allclose(logs["distillation_loss"], distill, **TOL)
    assert logs["parity_accuracy"] == pytest.approx(np.mean(np.argmax(s["parity"], -1) == parity))
    values = distiller.evaluate(x, labels, verbose=0)
    assert len(values) == len(distiller.metrics_names)
    with pytest.raises(ValueError, match="one entry per output"):
        distiller.fit(x, digit, epochs=1, verbose=0)


def test_several_outputs_match_keras_distillation():
    """Feature distillation of the final outputs, MSE per output: Keras's own numbers."""
    x, labels = two_output_data()
    results = []
    for library in (keras.distillation, kd):
        distiller = library.Distiller(
            teacher=two_output_model(1, 16), student=two_output_model(2, 8),
            distillation_losses=library.FeatureDistillation(loss=["mse", "mse"]),
            student_loss_weight=0.0)
        distiller.compile(optimizer=frozen_sgd(), loss=[SCCE, SCCE])
        results.append(first_batch_logs(distiller, x, labels)["distillation_loss"])
    np.testing.assert_allclose(results[1], results[0], **TOL)


# ------------------------------------------------------------------ keras.distillation losses
class KerasStyleGap(keras.distillation.DistillationLoss):
    """A custom loss as Keras documents it: override `compute_loss`, return a scalar."""

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        return keras.ops.mean(keras.ops.abs(teacher_outputs - student_outputs))


class OurStyleGap(kd.losses.DistillationLoss):
    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        return keras.ops.mean(keras.ops.abs(teacher_outputs - student_outputs))


@pytest.mark.parametrize("loss", [KerasStyleGap, OurStyleGap])
def test_custom_distillation_losses_in_keras_form(loss):
    teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(), seed=2)
    x, y = helpers.data()
    t, s = teacher.predict(x, verbose=0), student.predict(x, verbose=0)
    distiller = kd.Distiller(teacher=teacher, student=student, distillation_losses=loss(),
                             student_loss_weight=0.0)
    distiller.compile(optimizer=frozen_sgd(), loss=SCCE)
    assert isinstance(distiller.distillation_losses[0], kd.losses.DistillationTerm)
    logs = first_batch_logs(distiller, x, y)
    np.testing.assert_allclose(logs["distillation_loss"], np.mean(np.abs(t - s)), **TOL)


def test_temperature_state_reads_a_restored_variable():
    state, variable = term_base.Temperature(2.0), keras.Variable(1.0)
    state.bind(variable)
    assert float(variable.numpy()) == 2.0 and state.value == 2.0
    variable.assign(6.0)  # As a checkpoint restore does.
    assert state.value == 6.0
    state.unbind(variable)
    state.value = 3.0
    assert float(variable.numpy()) == 6.0
