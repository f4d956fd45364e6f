"""One epoch of each distillation method through the real `Distiller` on tiny models."""

import keras
import numpy as np
import pytest

import keras_distill as kd
from keras_distill import losses
from tests import helpers

CLASSES = 4


def conv_model(name, channels, seed, counter=False):
    """Conv1D model: x [16, 2] -> `conv` [16, channels] -> pool -> `hidden` [channels] -> logits."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((16, 2), name="x")
    features = keras.layers.Conv1D(channels, 3, padding="same", activation="relu", name="conv")(inputs)
    hidden = keras.layers.Dense(channels, activation="relu", name="hidden")(
        keras.layers.GlobalAveragePooling1D(name="pool")(features))
    counting = helpers.CountingLayer(name="counter") if counter else None
    if counting is not None:
        hidden = counting(hidden)
    model = keras.Model(inputs, keras.layers.Dense(CLASSES, name="logits")(hidden), name=name)
    return (model, counting) if counter else model


def conv_data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 16, 2)).astype("float32")
    y = rng.integers(0, CLASSES, size=n).astype("int32")
    y[::5] = -1  # Some unlabeled examples: DKD falls back to the teacher's argmax there.
    return x, y


def fit_one_epoch(terms_list, teacher=None, student=None, **fit_kwargs):
    teacher = teacher or conv_model("teacher", 12, seed=1)
    student = student or conv_model("student", 4, seed=2)
    x, y = conv_data()
    distiller = kd.Distiller(teacher=teacher, student=student, distillation_losses=terms_list,
                             student_loss_weight=0.5)
    distiller.compile(optimizer=keras.optimizers.Adam(1e-2), loss=helpers.SCCE)
    history = distiller.fit(x, y, batch_size=32, epochs=1, verbose=0, **fit_kwargs)
    return distiller, history.history


@pytest.mark.parametrize("method,name", [
    (lambda: kd.LogitsDistillation(loss="dkd", name="dkd"), "dkd"),
    (lambda: kd.LogitsDistillation(loss=losses.DIST(), temperature=1.0, name="dist"), "dist"),
    (lambda: kd.LogitsDistillation(loss="kd_standardized", temperature=1.0, name="ls_kd"), "ls_kd"),
    (lambda: kd.AttentionTransfer("conv", "conv", name="at"), "at"),
    (lambda: kd.RelationalKD("hidden", "hidden", name="rkd"), "rkd"),
])
def test_each_method_trains_one_epoch(method, name):
    temperature = 1.0 if name in ("dist", "ls_kd") else 3.0
    _, logs = fit_one_epoch([method(), kd.LogitsDistillation(temperature=temperature)])
    assert name in logs and "logits_distillation" in logs
    for key in ("loss", "distillation_loss", name):
        assert np.isfinite(logs[key][0]), key
    assert logs[name][0] > 0


def test_dkd_as_distillation_loss_fn():
    teacher, student = conv_model("teacher", 12, seed=1), conv_model("student", 4, seed=2)
    x, y = conv_data()
    distiller = kd.Distiller(student=student, teacher=teacher).compile(
        optimizer="adam", student_loss_fn=helpers.SCCE,
        distillation_loss_fn=losses.DecoupledKD(standardize=True), alpha=0.1, temperature=2.0)
    logs = distiller.fit(x, y, batch_size=32, epochs=1, verbose=0).history
    assert np.isfinite(logs["distillation_loss"][0]) and logs["distillation_loss"][0] > 0


def test_fitnets_trains_its_adapter_with_one_pass_per_model():
    teacher, teacher_counter = conv_model("teacher", 12, seed=1, counter=True)
    student, student_counter = conv_model("student", 4, seed=2, counter=True)
    hint = kd.FitNetsHint("conv", "conv", name="hint")
    distiller = kd.Distiller(teacher=teacher, student=student, student_loss_weight=0.5,
                             distillation_losses=[kd.LogitsDistillation(), hint])
    assert isinstance(hint.adapter, keras.layers.Conv1D)  # [16, 4] -> [16, 12]: a 1x1 conv.
    adapter_ids = {id(v) for v in hint.adapter.trainable_variables}
    assert adapter_ids <= {id(v) for v in distiller.trainable_variables}
    assert not adapter_ids & {id(v) for v in distiller.student.variables}
    before = [keras.ops.convert_to_numpy(v).copy() for v in hint.adapter.trainable_variables]
    distiller.compile(optimizer=keras.optimizers.Adam(1e-2), loss=helpers.SCCE)
    x, y = conv_data()
    logs = distiller.fit(x, y, batch_size=32, epochs=1, verbose=0).history
    assert np.isfinite(logs["hint"][0]) and np.isfinite(logs["loss"][0])
    for old, new in zip(before, hint.adapter.trainable_variables):
        assert not np.allclose(old, keras.ops.convert_to_numpy(new))
    steps = 256 // 32
    assert float(teacher_counter.calls.numpy()) == steps  # One teacher pass per step...
    assert float(student_counter.calls.numpy()) == steps  # ...and one student pass.
    # The hint on the dense `hidden` layers gets a Dense adapter.
    dense_hint = kd.FitNetsHint("hidden", "hidden")
    kd.Distiller(teacher=teacher, student=student, distillation_losses=[dense_hint])
    assert isinstance(dense_hint.adapter, keras.layers.Dense)


def test_shape_errors_surface_when_the_distiller_is_built():
    teacher, student = conv_model("teacher", 12, seed=1), conv_model("student", 4, seed=2)
    with pytest.raises(ValueError, match=r"`hidden` output of shape \(None, 4\).*`conv` output of shape \(None, 16, 12\)"):
        kd.Distiller(teacher=teacher, student=student,
                     distillation_losses=[kd.FitNetsHint("conv", "hidden")])
    with pytest.raises(ValueError, match=r"AttentionTransfer needs feature maps"):
        kd.Distiller(teacher=teacher, student=student,
                     distillation_losses=[kd.AttentionTransfer("hidden", "hidden")])


def test_keras_file_round_trip_keeps_terms_and_trained_adapter(tmp_path):
    terms_list = [kd.LogitsDistillation(loss="dkd"), kd.FitNetsHint("conv", "conv"),
                  kd.AttentionTransfer("conv", "conv"), kd.RelationalKD("hidden", "hidden")]
    distiller, _ = fit_one_epoch(terms_list)
    distiller.save(tmp_path / "distiller.keras")
    restored = keras.saving.load_model(tmp_path / "distiller.keras")
    assert [type(t) for t in restored.distillation_losses] == [type(t) for t in terms_list]
    assert isinstance(restored.distillation_losses[0].loss, losses.DecoupledKD)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(restored.distillation_losses[1].adapter.kernel),
        keras.ops.convert_to_numpy(terms_list[1].adapter.kernel))
