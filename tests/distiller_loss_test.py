"""`distiller.loss.compute_loss` against a NumPy reference written from the formula

    L = alpha * CE(y, s) + (1 - alpha) * T^2 * KL(softmax(t / T) || softmax(s / T)),

each term a weighted sum over elements divided by a count of the global batch: labeled unmasked
elements for CE, unmasked elements for KL. Tolerance: rtol=1e-5, atol=1e-6 (float32 against
float64).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_distill.data.teacher_outputs import MEMBER_LOGITS
from keras_distill.distiller import loss as loss_lib
from keras_distill.losses import terms as terms_lib

TOL = {"rtol": 1e-5, "atol": 1e-6}
SCCE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
CCE = keras.losses.CategoricalCrossentropy(from_logits=True)


def log_softmax(z):
    z = np.asarray(z, "float64")
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def kd(t, s, temperature):
    """T^2 * KL(softmax(t/T) || softmax(s/T)) per element."""
    log_p, log_q = log_softmax(t / temperature), log_softmax(s / temperature)
    return temperature**2 * np.sum(np.exp(log_p) * (log_p - log_q), axis=-1)


def ce(y, s):
    """-log softmax(s)[y] per element, for integer labels (unlabeled ones give any value)."""
    y = np.maximum(np.asarray(y), 0)
    return -np.take_along_axis(log_softmax(s), y[..., None], axis=-1)[..., 0]


def reference(t, s, y, alpha, temperature, sample_weight=None, mask=None):
    """(total, student, distill) of the formula; y < 0 marks an unlabeled element."""
    mask = np.ones(s.shape[:-1]) if mask is None else np.asarray(mask, "float64")
    w = np.ones(s.shape[:-1]) if sample_weight is None else np.asarray(sample_weight, "float64")
    w = np.broadcast_to(w.reshape(w.shape + (1,) * (mask.ndim - w.ndim)), mask.shape)
    labeled = mask * (np.asarray(y) >= 0)
    student = np.sum(labeled * w * ce(y, s)) / max(labeled.sum(), 1.0)
    distill = np.sum(mask * w * kd(t, s, temperature)) / max(mask.sum(), 1.0)
    return alpha * student + (1 - alpha) * distill, student, distill


def logits(*shape, seed):
    return np.random.default_rng(seed).normal(scale=2.0, size=shape).astype("float32")


def check(result, expected):
    total, student, distill = expected
    np.testing.assert_allclose(float(result.total), total, **TOL)
    np.testing.assert_allclose(float(result.student_loss), student, **TOL)
    np.testing.assert_allclose(float(result.distillation_loss), distill, **TOL)


@pytest.mark.parametrize("alpha,temperature", [(0.1, 3.0), (0.5, 1.0), (0.0, 8.0), (1.0, 2.0)])
def test_matches_numpy_with_sample_weights_and_unlabeled_examples(alpha, temperature):
    t, s = logits(32, 5, seed=0), logits(32, 5, seed=1)
    y = np.random.default_rng(2).integers(0, 5, 32)
    y[[3, 7, 20]] = -1
    w = np.random.default_rng(3).uniform(0.0, 2.0, 32).astype("float32")
    result = loss_lib.compute_loss(s, t, y, sample_weight=w, student_loss_fn=SCCE,
                                   alpha=alpha, temperature=temperature)
    check(result, reference(t, s, y, alpha, temperature, sample_weight=w))
    assert float(result.counts.labeled) == 29 and float(result.counts.elements) == 32


def test_matches_numpy_under_tf_function():
    t, s = logits(16, 4, seed=0), logits(16, 4, seed=1)
    y = np.random.default_rng(2).integers(-1, 4, 16)
    fn = tf.function(lambda s, t, y: loss_lib.compute_loss(
        s, t, y, student_loss_fn=SCCE, alpha=0.3, temperature=4.0))
    check(fn(s, t, y), reference(t, s, y, 0.3, 4.0))


def test_sequence_mask_and_per_example_weights():
    t, s = logits(6, 5, 3, seed=0), logits(6, 5, 3, seed=1)
    y = np.random.default_rng(2).integers(-1, 3, (6, 5))
    mask = np.random.default_rng(3).uniform(size=(6, 5)) > 0.3
    w = np.random.default_rng(4).uniform(0.5, 2.0, 6).astype("float32")
    result = loss_lib.compute_loss(s, t, y, sample_weight=w, mask=mask, student_loss_fn=SCCE,
                                   alpha=0.4, temperature=2.0)
    check(result, reference(t, s, y, 0.4, 2.0, sample_weight=w, mask=mask))


def test_one_hot_labels_with_unlabeled_rows():
    t, s = logits(12, 4, seed=0), logits(12, 4, seed=1)
    y = np.random.default_rng(2).integers(0, 4, 12)
    one_hot = np.eye(4, dtype="float32")[y]
    one_hot[[0, 5]] = -1.0
    y[[0, 5]] = -1
    result = loss_lib.compute_loss(s, t, one_hot, student_loss_fn=CCE, alpha=0.5,
                                   temperature=3.0)
    check(result, reference(t, s, y, 0.5, 3.0))


def test_missing_parts_are_none_and_count_as_zero():
    t, s = logits(8, 3, seed=0), logits(8, 3, seed=1)
    y = np.arange(8) % 3
    student_only = loss_lib.compute_loss(s, None, y, student_loss_fn=SCCE, alpha=0.25)
    assert student_only.distillation_loss is None and student_only.term_losses == ()
    _, student, _ = reference(t, s, y, 0.25, 1.0)
    np.testing.assert_allclose(float(student_only.total), 0.25 * student, **TOL)
    unlabeled = loss_lib.compute_loss(s, t, None, student_loss_fn=SCCE, alpha=0.25,
                                      temperature=2.0)
    assert unlabeled.student_loss is None and float(unlabeled.counts.labeled) == 0.0
    _, _, distill = reference(t, s, y, 0.25, 2.0)
    np.testing.assert_allclose(float(unlabeled.total), 0.75 * distill, **TOL)


def test_weighted_terms_and_ensemble_teacher():
    members = logits(10, 2, 4, seed=0)  # [batch, teachers, classes]
    s = logits(10, 4, seed=1)
    weights, temperature = [0.25, 0.75], 2.0
    probs = np.exp(log_softmax(members / temperature))
    mixture = np.einsum("btc,t->bc", probs, weights)
    # softmax(z / T) == mixture for z = T * log(mixture): the reference's teacher logits.
    expected = np.mean(kd(temperature * np.log(mixture), s, temperature))
    result = loss_lib.compute_loss(
        s, {MEMBER_LOGITS: members}, terms=[terms_lib.LogitsDistillation()] * 2,
        term_weights=[1.0, 0.5], teacher_weights=weights, alpha=0.0, temperature=temperature)
    np.testing.assert_allclose([float(v) for v in result.term_losses], [expected] * 2, **TOL)
    np.testing.assert_allclose(float(result.distillation_loss), 1.5 * expected, **TOL)
    np.testing.assert_allclose(float(result.total), 1.5 * expected, **TOL)


class MeanFeatureGap(terms_lib.DistillationTerm):
    """A per-example term on sequence logits: |mean(t) - mean(s)| over steps and classes."""

    def per_example(self, teacher_output, student_output, temperature, labels=None):
        return tf.abs(tf.reduce_mean(teacher_output - student_output, axis=[1, 2]))


def test_per_example_term_on_sequences_divides_by_examples():
    t, s = logits(4, 6, 3, seed=0), logits(4, 6, 3, seed=1)
    mask = np.random.default_rng(2).uniform(size=(4, 6)) > 0.4
    w = np.array([1.0, 2.0, 0.5, 0.0], "float32")
    result = loss_lib.compute_loss(s, t, mask=mask, sample_weight=w, terms=[MeanFeatureGap()],
                                   alpha=0.0)
    values = np.abs(np.mean(t.astype("float64") - s, axis=(1, 2)))
    example_weights = np.mean(mask * w[:, None], axis=1)  # Each example's mean element weight.
    np.testing.assert_allclose(float(result.total), np.sum(example_weights * values) / 4, **TOL)


def halves_loss(t, s, y, w, counts):
    return [
        loss_lib.compute_loss(s[part], t[part], y[part], sample_weight=w[part],
                              student_loss_fn=SCCE, alpha=0.3, temperature=2.5,
                              global_counts=counts)
        for part in (slice(0, 16), slice(16, 32))
    ]


def test_halves_with_global_counts_add_up_to_the_full_batch():
    t, s = logits(32, 5, seed=0), logits(32, 5, seed=1)
    y = np.random.default_rng(2).integers(0, 5, 32)
    y[:10] = -1  # Unbalanced: the first half holds most unlabeled examples.
    w = np.random.default_rng(3).uniform(0.0, 2.0, 32).astype("float32")
    full = loss_lib.compute_loss(s, t, y, sample_weight=w, student_loss_fn=SCCE, alpha=0.3,
                                 temperature=2.5)
    check(full, reference(t, s, y, 0.3, 2.5, sample_weight=w))
    halves = halves_loss(t, s, y, w, full.counts)
    for field in ("total", "student_loss", "distillation_loss"):
        summed = sum(float(getattr(half, field)) for half in halves)
        np.testing.assert_allclose(summed, float(getattr(full, field)), **TOL)
    # Each half's own counts would weigh the labeled examples of the first half 10 times more
    # than the one-device mean does: the global counts are what makes the sum right.
    local = halves_loss(t, s, y, w, None)
    assert abs(sum(float(h.student_loss) for h in local) - float(full.student_loss)) > 1e-2


def test_halves_gradients_add_up_to_the_full_batch_gradient():
    x = logits(32, 6, seed=0)
    t = logits(32, 4, seed=1)
    y = np.random.default_rng(2).integers(-1, 4, 32)
    kernel = tf.Variable(logits(6, 4, seed=3))

    def gradient(part, counts):
        with tf.GradientTape() as tape:
            result = loss_lib.compute_loss(
                tf.matmul(x[part], kernel), t[part], y[part], student_loss_fn=SCCE,
                alpha=0.5, temperature=3.0, global_counts=counts)
        return tape.gradient(result.total, kernel).numpy(), result.counts

    full, counts = gradient(slice(None), None)
    halves = [gradient(part, counts)[0] for part in (slice(0, 16), slice(16, 32))]
    np.testing.assert_allclose(halves[0] + halves[1], full, **TOL)


def test_two_replicas_sum_to_the_one_device_loss(mirrored):
    t, s = logits(16, 4, seed=0), logits(16, 4, seed=1)
    y = np.random.default_rng(2).integers(0, 4, 16)
    y[:6] = -1
    w = np.random.default_rng(3).uniform(0.5, 2.0, 16).astype("float32")
    values = mirrored.experimental_distribute_values_from_function(
        lambda context: tuple(
            tf.constant(a[8 * context.replica_id_in_sync_group:][:8]) for a in (t, s, y, w)))

    @tf.function
    def replica_loss(t, s, y, w):
        result = loss_lib.compute_loss(s, t, y, sample_weight=w, student_loss_fn=SCCE,
                                       alpha=0.2, temperature=2.0)
        return result.total, result.student_loss, result.distillation_loss

    per_replica = mirrored.run(replica_loss, args=values)
    summed = [float(mirrored.reduce(tf.distribute.ReduceOp.SUM, v, axis=None))
              for v in per_replica]
    np.testing.assert_allclose(summed, reference(t, s, y, 0.2, 2.0, sample_weight=w), **TOL)


def test_inconsistent_shapes_are_rejected():
    s = logits(4, 3, seed=0)
    with pytest.raises(ValueError, match="teacher outputs 5 classes but the student outputs 3"):
        loss_lib.compute_loss(s, logits(4, 5, seed=1))
    with pytest.raises(ValueError, match=r"Labels of shape \(4, 2, 2\) cannot match"):
        loss_lib.compute_loss(s, None, np.zeros((4, 2, 2), "int32"), student_loss_fn=SCCE)


def test_each_term_at_its_own_temperature():
    t, s = logits(12, 5, seed=0), logits(12, 5, seed=1)
    terms = [terms_lib.LogitsDistillation(temperature=2.0),
             terms_lib.LogitsDistillation(temperature=6.0)]
    expected = [np.mean(kd(t, s, 2.0)), np.mean(kd(t, s, 6.0))]
    own = loss_lib.compute_loss(s, t, terms=terms, term_weights=[1.0, 0.5], alpha=0.0)
    np.testing.assert_allclose([float(v) for v in own.term_losses], expected, **TOL)
    np.testing.assert_allclose(float(own.total), expected[0] + 0.5 * expected[1], **TOL)
    given = loss_lib.compute_loss(s, t, terms=terms, alpha=0.0, temperature=[6.0, 2.0])
    np.testing.assert_allclose([float(v) for v in given.term_losses], expected[::-1], **TOL)


def two_heads(seed):
    """A sequence head `[batch, steps, 3]` with a mask, and a per-example head `[batch, 4]`."""
    rng = np.random.default_rng(seed)
    t = [logits(8, 5, 3, seed=seed), logits(8, 4, seed=seed + 1)]
    s = [logits(8, 5, 3, seed=seed + 2), logits(8, 4, seed=seed + 3)]
    y = [rng.integers(-1, 3, (8, 5)), rng.integers(-1, 4, 8)]
    mask = rng.uniform(size=(8, 5)) > 0.3
    w = rng.uniform(0.5, 2.0, 8).astype("float32")
    return t, s, y, mask, w


def test_several_outputs_sum_each_output_mean():
    t, s, y, mask, w = two_heads(seed=0)
    result = loss_lib.compute_loss(s, t, y, sample_weight=w, mask=[mask, None],
                                   student_loss_fn=[SCCE, SCCE], alpha=0.4, temperature=2.0)
    heads = [reference(t[0], s[0], y[0], 0.4, 2.0, sample_weight=w, mask=mask),
             reference(t[1], s[1], y[1], 0.4, 2.0, sample_weight=w)]
    check(result, [a + b for a, b in zip(*heads)])
    np.testing.assert_allclose(result.counts.elements, [mask.sum(), 8], **TOL)
    # One loss per output, `None` skipping one; and a term on the second output only.
    only_second = loss_lib.compute_loss(
        s, t, y, student_loss_fn=[None, SCCE], alpha=0.5, temperature=2.0,
        terms=[terms_lib.LogitsDistillation(loss=[None, "kl_divergence"])])
    check(only_second, reference(t[1], s[1], y[1], 0.5, 2.0))


def test_several_outputs_halves_with_global_counts_add_up():
    t, s, y, mask, w = two_heads(seed=4)

    def loss(part, counts):
        return loss_lib.compute_loss(
            [h[part] for h in s], [h[part] for h in t], [h[part] for h in y],
            sample_weight=w[part], mask=[mask[part], None], student_loss_fn=SCCE, alpha=0.3,
            temperature=2.5, global_counts=counts)

    full = loss(slice(None), None)
    halves = [loss(part, full.counts) for part in (slice(0, 3), slice(3, 8))]
    for field in ("total", "student_loss", "distillation_loss"):
        np.testing.assert_allclose(sum(float(getattr(h, field)) for h in halves),
                                   float(getattr(full, field)), **TOL)


def test_several_outputs_on_two_replicas_sum_to_one_device(mirrored):
    t, s, y, mask, w = two_heads(seed=8)
    arrays = [*t, *s, *y, mask, w]
    values = mirrored.experimental_distribute_values_from_function(
        lambda context: tuple(
            tf.constant(a[4 * context.replica_id_in_sync_group:][:4]) for a in arrays))

    @tf.function
    def replica_loss(t0, t1, s0, s1, y0, y1, mask, w):
        result = loss_lib.compute_loss([s0, s1], [t0, t1], [y0, y1], sample_weight=w,
                                       mask=[mask, None], student_loss_fn=SCCE, alpha=0.2,
                                       temperature=2.0)
        return result.total, result.student_loss, result.distillation_loss

    per_replica = mirrored.run(replica_loss, args=values)
    summed = [float(mirrored.reduce(tf.distribute.ReduceOp.SUM, v, axis=None))
              for v in per_replica]
    one_device = loss_lib.compute_loss(s, t, y, sample_weight=w, mask=[mask, None],
                                       student_loss_fn=SCCE, alpha=0.2, temperature=2.0)
    np.testing.assert_allclose(summed, [float(one_device.total), float(one_device.student_loss),
                                        float(one_device.distillation_loss)], **TOL)
