"""Tests of `keras_distill.teacher_precision`: a reduced-precision copy of the teacher, and the
`teacher_dtype` of `Distiller`, `cache_teacher_outputs`, the config and the command line."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_distill as kd
from keras_distill import cli
from keras_distill.teacher_precision import reduced_precision
from tests import helpers


def _functional(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    hidden = keras.layers.BatchNormalization()(hidden)
    return keras.Model(inputs, keras.layers.Dense(4)(hidden), name="functional_teacher")


def _snapshot(model):
    return ([w.copy() for w in model.get_weights()],
            [layer.dtype_policy.name for layer in model.layers], model.trainable)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("build", [helpers.mlp, _functional])
def test_copy_computes_in_dtype_and_agrees_with_float32(build, dtype):
    teacher = build()
    x, _ = helpers.data(n=128)
    before = _snapshot(teacher)
    copy = reduced_precision(teacher, dtype)
    assert copy is not teacher
    assert {layer.dtype_policy.name for layer in copy.layers
            if not isinstance(layer, keras.layers.InputLayer)} == {f"mixed_{dtype}"}
    assert not copy.trainable
    low = copy(x, training=False)
    assert low.dtype == dtype
    full = teacher(x, training=False).numpy()
    low = np.asarray(tf.cast(low, tf.float32))
    # bfloat16 keeps 8 bits of mantissa: logits of order 1 agree to about 1e-2.
    np.testing.assert_allclose(low, full, atol=0.05 if dtype == "bfloat16" else 5e-3)
    # The user's teacher is untouched: weights, policies, trainable flag.
    after = _snapshot(teacher)
    for a, b in zip(before[0], after[0]):
        np.testing.assert_array_equal(a, b)
    assert before[1:] == after[1:]


def test_none_returns_the_model_itself():
    teacher = helpers.mlp()
    assert reduced_precision(teacher, None) is teacher


def test_copy_survives_a_config_round_trip():
    teacher = _functional()
    copy = reduced_precision(teacher, "bfloat16")
    restored = keras.Model.from_config(copy.get_config())
    restored.set_weights(copy.get_weights())
    assert [layer.dtype_policy.name for layer in restored.layers] == [
        layer.dtype_policy.name for layer in copy.layers]
    x, _ = helpers.data(n=16)
    np.testing.assert_array_equal(np.asarray(tf.cast(restored(x), tf.float32)),
                                  np.asarray(tf.cast(copy(x), tf.float32)))


def test_keras_applications_teacher_nested_in_a_sequential_model():
    backbone = keras.applications.MobileNet(input_shape=(32, 32, 3), alpha=0.25, weights=None,
                                            include_top=False, pooling="avg")
    teacher = keras.Sequential([keras.Input((32, 32, 3)), backbone, keras.layers.Dense(5)])
    copy = reduced_precision(teacher, "bfloat16")
    inner = copy.layers[0]
    assert inner is not backbone
    policies = {layer.dtype_policy.name for layer in inner.layers
                if not isinstance(layer, keras.layers.InputLayer)}
    assert policies == {"mixed_bfloat16"}
    x = np.random.default_rng(0).uniform(size=(4, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(tf.cast(copy(x, training=False), tf.float32)),
                               teacher(x, training=False).numpy(), atol=0.05)
    assert {layer.dtype_policy.name for layer in backbone.layers} == {"float32"}


def test_subclassed_teacher_is_refused():
    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(3)

        def call(self, x):
            return self.dense(x)

    with pytest.raises(ValueError, match="subclassed"):
        reduced_precision(Subclassed(), "bfloat16")


@pytest.mark.parametrize("value", ["float64", "bf16", 16, True])
def test_invalid_dtype_is_refused(value):
    with pytest.raises(ValueError, match="Invalid value for argument `teacher_dtype`"):
        reduced_precision(helpers.mlp(), value)
    with pytest.raises(ValueError, match="Invalid value for argument `teacher_dtype`"):
        kd.Distiller(teacher=helpers.mlp(), student=helpers.mlp(hidden=()), teacher_dtype=value)


def test_distiller_trains_with_a_bfloat16_teacher_and_float32_losses():
    teacher, student = helpers.mlp(), helpers.mlp(hidden=(8,), seed=1)
    before = _snapshot(teacher)
    x, y = helpers.data()
    distiller = kd.Distiller(teacher=teacher, student=student, teacher_dtype="bfloat16").compile(
        optimizer="adam", student_loss_fn=helpers.SCCE, alpha=0.1, temperature=4.0)
    assert distiller.teacher is not teacher
    copy_weights = [w.copy() for w in distiller.teacher.get_weights()]
    history = distiller.fit(x, y, batch_size=16, epochs=2, verbose=0).history
    assert np.all(np.isfinite(history["distillation_loss"]))
    # The loss is float32 and matches the NumPy formula on the bfloat16 teacher's logits.
    teacher_logits = np.asarray(tf.cast(distiller.teacher(x), tf.float32))
    breakdown = distiller._compute_loss(y, None, {"logits": student(x)},
                                        distiller.compute_teacher_outputs(x))
    assert breakdown.total.dtype == tf.float32
    expected, _, _ = helpers.np_distill_loss(teacher_logits, student(x).numpy(), y, 0.1, 4.0)
    np.testing.assert_allclose(float(breakdown.total), expected, rtol=1e-4)
    for a, b in zip(copy_weights, distiller.teacher.get_weights()):  # The copy is frozen.
        np.testing.assert_array_equal(a, b)
    after = _snapshot(teacher)  # The user's teacher: not frozen, not cast, not trained.
    for a, b in zip(before[0], after[0]):
        np.testing.assert_array_equal(a, b)
    assert before[1:] == after[1:] and teacher.trainable


def test_distiller_config_round_trip_keeps_teacher_dtype():
    distiller = kd.Distiller(teacher=helpers.mlp(), student=helpers.mlp(hidden=()),
                             teacher_dtype="float16")
    config = distiller.get_config()
    assert config["teacher_dtype"] == "float16"
    restored = kd.Distiller.from_config(config)
    assert restored.get_config()["teacher_dtype"] == "float16"
    assert restored.teacher.layers[0].dtype_policy.name == "mixed_float16"


def test_cache_with_a_bfloat16_teacher_stores_float32_close_to_float32():
    teacher = helpers.mlp()
    x, y = helpers.data()
    source = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    full = kd.cache_teacher_outputs(teacher, source, shuffle=False)
    low = kd.cache_teacher_outputs(teacher, source, shuffle=False, teacher_dtype="bfloat16")
    key = "keras_distill_teacher_outputs"
    assert low.element_spec[0][key]["logits"].dtype == tf.float32
    full_logits = np.concatenate([b[0][key]["logits"].numpy() for b in full])
    low_logits = np.concatenate([b[0][key]["logits"].numpy() for b in low])
    np.testing.assert_allclose(low_logits, full_logits, atol=0.05)
    assert not np.array_equal(low_logits, full_logits)  # It did run in bfloat16.


def test_cache_refuses_teacher_dtype_with_a_distiller():
    distiller = kd.Distiller(teacher=helpers.mlp(), student=helpers.mlp(hidden=()))
    x, y = helpers.data(n=16)
    source = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    with pytest.raises(ValueError, match="set it there"):
        kd.cache_teacher_outputs(distiller, source, teacher_dtype="bfloat16")


def test_config_and_command_line_carry_teacher_dtype():
    assert kd.RunConfig.for_command("run").distill.teacher_dtype is None
    config = kd.RunConfig.for_command("distill", teacher=__file__, teacher_dtype="bfloat16")
    assert config.distill.teacher_dtype == "bfloat16"
    with pytest.raises(ValueError, match="teacher_dtype"):
        kd.RunConfig.for_command("run", teacher_dtype="int8")
    parser = cli.build_parser()
    for command in ("run", "distill", "tune"):
        args = parser.parse_args([command, "--teacher-dtype", "float16", "--teacher", "t.keras"])
        assert args.teacher_dtype == "float16"
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--teacher-dtype", "float64"])
