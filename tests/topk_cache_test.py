"""Tests of the compact (top-k) teacher cache: `teacher_outputs.top_k_outputs`,
`losses.top_k.top_k_kd_loss` against NumPy, and `cache_teacher_outputs(..., top_k=)` with the
`Distiller`."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_distill as kd
from keras_distill.data import teacher_outputs as fmt
from keras_distill.losses.top_k import top_k_kd_loss
from tests import helpers

KEY = fmt.TEACHER_OUTPUTS_KEY


def _np_folded_kd(t, s, k, temperature, rest_log_mass=None):
    """T^2 KL over the top-k classes of `t` plus one bucket of the others, from the equations of
    `losses/top_k.py`; `rest_log_mass` replaces the teacher's exact `log sum_rest exp(t/T)`."""
    t, s = np.asarray(t, "float64"), np.asarray(s, "float64")
    order = np.argsort(-t, axis=-1)[..., :k]
    rest = np.ones_like(t, bool)
    np.put_along_axis(rest, order, False, axis=-1)
    t_top = np.take_along_axis(t, order, axis=-1) / temperature
    if rest_log_mass is None:
        rest_log_mass = np.log(np.where(rest, np.exp(t / temperature), 0.0).sum(-1))
    teacher = np.concatenate([t_top, rest_log_mass[..., None]], -1)
    teacher = helpers.np_log_softmax(teacher)
    log_q = helpers.np_log_softmax(s / temperature)
    student = np.concatenate([
        np.take_along_axis(log_q, order, axis=-1),
        np.log(np.where(rest, np.exp(log_q), 0.0).sum(-1))[..., None]], -1)
    return temperature**2 * (np.exp(teacher) * (teacher - student)).sum(-1)


def _np_rest_log_mass(t, k, temperature):
    """The loss's estimate: log(n) + mu / T + (b - mu) / T^2 over the rest logits."""
    t = np.sort(np.asarray(t, "float64"), axis=-1)[..., :-k]
    n = t.shape[-1]
    mu = t.mean(-1)
    b = np.log(np.exp(t).mean(-1))
    return np.log(n) + mu / temperature + (b - mu) / temperature**2


def _logits(shape, seed=0, scale=2.0):
    return np.random.default_rng(seed).normal(scale=scale, size=shape).astype("float32")


def test_top_k_outputs_match_numpy():
    t = _logits((5, 3, 12))  # Sequence outputs: any rank.
    out = fmt.top_k_outputs({fmt.LOGITS: tf.constant(t), "feature": tf.ones((5, 2))}, 4)
    assert set(out) == {"feature", *fmt.TOP_K_KEYS}
    assert out[fmt.TOP_K_LOGITS].dtype == tf.float16
    assert out[fmt.TOP_K_INDICES].dtype == tf.int32
    expected = -np.sort(-t, axis=-1)[..., :4]
    np.testing.assert_allclose(out[fmt.TOP_K_LOGITS].numpy(), expected, rtol=1e-3)
    np.testing.assert_array_equal(out[fmt.TOP_K_INDICES].numpy(), np.argsort(-t, -1)[..., :4])
    rest = np.sort(t, axis=-1)[..., :-4]
    np.testing.assert_allclose(out[fmt.TOP_K_REST].numpy()[..., 0], rest.mean(-1), atol=2e-3)
    np.testing.assert_allclose(out[fmt.TOP_K_REST].numpy()[..., 1],
                               np.log(np.exp(rest).mean(-1)), atol=5e-3)


@pytest.mark.parametrize("temperature", [1.0, 2.0, 4.0])
def test_loss_matches_numpy(temperature):
    t, s = _logits((8, 20)), _logits((8, 20), seed=1)
    out = fmt.top_k_outputs({fmt.LOGITS: tf.constant(t)}, 5)
    loss = tf.function(top_k_kd_loss)(out[fmt.TOP_K_LOGITS], out[fmt.TOP_K_INDICES],
                                      out[fmt.TOP_K_REST], s, temperature)
    # The stored float16 values round the teacher's logits by ~1e-3.
    expected = _np_folded_kd(t, s, 5, temperature, _np_rest_log_mass(t, 5, temperature))
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-2, atol=1e-3)
    if temperature == 1.0:  # At T = 1 the rest mass is exact: the folded KL itself.
        np.testing.assert_allclose(loss.numpy(), _np_folded_kd(t, s, 5, 1.0), rtol=1e-2,
                                   atol=1e-3)


def test_rest_estimate_is_close_for_normal_rest_logits_at_any_temperature():
    t = _logits((64, 1000), scale=1.5)
    t[:, :3] += 8.0  # A few confident classes above a normal bulk.
    for temperature in (2.0, 4.0, 10.0):
        exact = _np_folded_kd(t, t * 0.5, 10, temperature)
        estimate = _np_folded_kd(t, t * 0.5, 10, temperature,
                                 _np_rest_log_mass(t, 10, temperature))
        np.testing.assert_allclose(estimate, exact, rtol=0.05)


@pytest.mark.parametrize("temperature", [1.0, 3.0])
def test_one_rest_class_is_the_full_kd_loss(temperature):
    t, s = _logits((6, 5)), _logits((6, 5), seed=1)
    out = fmt.top_k_outputs({fmt.LOGITS: tf.constant(t)}, 4)
    loss = top_k_kd_loss(out[fmt.TOP_K_LOGITS], out[fmt.TOP_K_INDICES], out[fmt.TOP_K_REST], s,
                         temperature)
    np.testing.assert_allclose(loss.numpy(), helpers.np_kd(t, s, temperature), rtol=1e-2,
                               atol=1e-3)


def test_gradient_is_finite_for_extreme_logits():
    t = np.array([[1e4, -1e4, 0.0, 5.0, -3.0]], "float32")
    s = tf.Variable([[-1e4, 1e4, 0.0, 0.0, 1.0]])
    out = fmt.top_k_outputs({fmt.LOGITS: tf.constant(t)}, 2)
    with tf.GradientTape() as tape:
        loss = top_k_kd_loss(out[fmt.TOP_K_LOGITS], out[fmt.TOP_K_INDICES],
                             out[fmt.TOP_K_REST], s, 2.0)
    assert np.isfinite(loss.numpy()).all()
    assert np.isfinite(tape.gradient(loss, s).numpy()).all()


def _source(n=64, classes=6, batch=16):
    x, y = helpers.data(n=n, classes=classes)
    return x, y, tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)


def _bytes_per_example(examples):
    """Bytes of the teacher outputs of one example of a saved (unbatched) cache."""
    specs = tf.nest.flatten(examples.element_spec[KEY])  # Inputs only: no labels.
    return sum(spec.shape.num_elements() * spec.dtype.size for spec in specs)


def test_cache_stores_the_summary_and_the_distiller_trains_on_it(tmp_path):
    teacher = helpers.mlp(classes=6)
    x, y, source = _source()
    cached = kd.cache_teacher_outputs(teacher, source, top_k=2, shuffle=False)
    outputs = cached.element_spec[0][KEY]
    assert set(outputs) == set(fmt.TOP_K_KEYS)
    assert outputs[fmt.TOP_K_INDICES].dtype == tf.int32
    on_disk = kd.cache_teacher_outputs(teacher, source, top_k=2, shuffle=False,
                                       path=str(tmp_path / "cache"))
    reloaded = kd.data.load_teacher_outputs(str(tmp_path / "cache"), 16, shuffle=False)
    assert on_disk.element_spec == cached.element_spec == reloaded.element_spec
    student = helpers.mlp(classes=6, hidden=(8,), seed=1)
    distiller = kd.Distiller(teacher=teacher, student=student).compile(
        optimizer="adam", student_loss_fn=helpers.SCCE, alpha=0.1, temperature=2.0)
    # The distiller's loss is the NumPy folded KD on the teacher's logits.
    batch = next(iter(cached))
    inputs = batch[0][fmt.INPUTS_KEY]
    breakdown = distiller._compute_loss(batch[1], None, {"logits": student(inputs)},
                                        batch[0][KEY])
    t, s = teacher(inputs).numpy(), student(inputs).numpy()
    expected = _np_folded_kd(t, s, 2, 2.0, _np_rest_log_mass(t, 2, 2.0)).mean()
    np.testing.assert_allclose(float(breakdown.distillation_loss), expected, rtol=1e-2)
    history = distiller.fit(cached, epochs=2, verbose=0).history
    assert np.all(np.isfinite(history["distillation_loss"]))
    assert distiller.evaluate(cached, verbose=0, return_dict=True)["student_loss"] > 0


def test_top_k_cache_is_under_two_percent_of_float32_for_1000_classes(tmp_path):
    teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1000)])
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    source = tf.data.Dataset.from_tensor_slices(x).batch(8)
    stored = {}
    for name, top_k in (("full", None), ("compact", 10)):
        kd.cache_teacher_outputs(teacher, source, top_k=top_k, path=str(tmp_path / name))
        stored[name] = _bytes_per_example(tf.data.Dataset.load(str(tmp_path / name)))
    assert stored == {"full": 4000, "compact": 64}  # 1.6%


def test_terms_that_need_every_logit_are_refused():
    teacher = helpers.mlp(classes=6)
    _, _, source = _source()
    cached = kd.cache_teacher_outputs(teacher, source, top_k=2)
    distiller = kd.Distiller(teacher=teacher, student=helpers.mlp(classes=6, hidden=()),
                             distillation_losses="dkd").compile(optimizer="adam",
                                                                loss=helpers.SCCE)
    with pytest.raises(ValueError, match="needs the teacher's full logits"):
        distiller.fit(cached, epochs=1, verbose=0)


@pytest.mark.parametrize("top_k, match", [(0, "positive"), (6, "from 1 to 6 - 1"),
                                          (2.5, "positive")])
def test_invalid_top_k_is_refused(top_k, match):
    _, _, source = _source()
    with pytest.raises(ValueError, match=match):
        kd.cache_teacher_outputs(helpers.mlp(classes=6), source, top_k=top_k)


def test_ensemble_top_k_is_refused():
    _, _, source = _source()
    with pytest.raises(ValueError, match="ensemble"):
        kd.cache_teacher_outputs([helpers.mlp(classes=6), helpers.mlp(classes=6, seed=1)],
                                 source, top_k=2)
