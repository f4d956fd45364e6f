"""DKD, DIST, logit standardisation, FitNets, attention transfer and RKD against NumPy
references written from the papers' equations (float64), plus hand-checked cases."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_distill as kd
from keras_distill import losses
from keras_distill.losses import terms


def random_array(shape, scale, seed):
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype("float32")


def np_softmax(z):
    z = np.asarray(z, "float64")
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def np_kl(p, q):
    return np.sum(np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0), axis=-1)


def huber(x):
    return np.where(np.abs(x) < 1.0, 0.5 * x**2, np.abs(x) - 0.5)


def finite_gradient(fn, teacher, student):
    student = tf.Variable(student)
    with tf.GradientTape() as tape:
        value = tf.reduce_mean(fn(teacher, student))
    gradient = tape.gradient(value, student).numpy()
    return np.isfinite(value.numpy()) and np.all(np.isfinite(gradient))


# ------------------------------------------------------------------------------------ DKD
def np_log_softmax(z):
    z = np.asarray(z, "float64")
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def np_kl_log(log_p, log_q):
    return np.sum(np.exp(log_p) * (log_p - log_q), axis=-1)


def np_dkd(t, s, target, temperature, alpha, beta):
    """Zhao et al. 2022, eqs. (1)-(5): b = [p_target, 1 - p_target], p^ = p / (1 - p_target)
    over the non-target classes; in float64 log space so extreme logits are exact."""
    log_p, log_q = np_log_softmax(np.asarray(t) / temperature), np_log_softmax(np.asarray(s) / temperature)
    out = []
    for lp, lq, y in zip(log_p, log_q, target):
        others = np.arange(len(lp)) != y
        lp_other, lq_other = np.logaddexp.reduce(lp[others]), np.logaddexp.reduce(lq[others])
        tckd = np_kl_log(np.array([lp[y], lp_other]), np.array([lq[y], lq_other]))
        nckd = np_kl_log(lp[others] - lp_other, lq[others] - lq_other)
        out.append(alpha * tckd + beta * nckd)
    return temperature**2 * np.array(out)


def test_dkd_hand_checked_case():
    # p = [.5, .25, .25], q = [1/3, 1/3, 1/3], T = 1. Target 0: TCKD = .5 ln(.5/(1/3)) +
    # .5 ln(.5/(2/3)) = .5 ln 1.125 = 0.0588915, NCKD = 0 (p^ = q^ = [.5, .5]). Target 1:
    # TCKD = .25 ln .75 + .75 ln 1.125 = 0.0164168; p^ = [2/3, 1/3], q^ = [.5, .5], NCKD =
    # 2/3 ln(4/3) + 1/3 ln(2/3) = 0.0566330; DKD = 0.0164168 + 8 * 0.0566330 = 0.4694808.
    t = np.log(np.array([[2.0, 1.0, 1.0]] * 2, "float32"))
    s = np.zeros((2, 3), "float32")
    np.testing.assert_allclose(losses.dkd_loss(t, s, 1.0, labels=[0, 1]), [0.0588915, 0.4694808],
                               rtol=1e-5)
    # Unlabeled (-1) falls back to the teacher's argmax (class 0).
    np.testing.assert_allclose(losses.dkd_loss(t, s, 1.0, labels=[-1, 1]), [0.0588915, 0.4694808],
                               rtol=1e-5)


@pytest.mark.parametrize("temperature", [1.0, 4.0])
@pytest.mark.parametrize("alpha,beta", [(1.0, 8.0), (0.5, 2.0)])
def test_dkd_matches_numpy(temperature, alpha, beta):
    t, s = random_array((16, 10), 3.0, 1), random_array((16, 10), 3.0, 2)
    labels = np.random.default_rng(3).integers(-1, 10, size=16).astype("int32")
    target = np.where(labels >= 0, labels, t.argmax(-1))
    expected = np_dkd(t, s, target, temperature, alpha, beta)
    np.testing.assert_allclose(losses.dkd_loss(t, s, temperature, labels, alpha, beta), expected,
                               rtol=1e-4, atol=1e-6)
    loss = losses.DecoupledKD(alpha=alpha, beta=beta)
    np.testing.assert_allclose(tf.function(loss.per_example)(t, s, temperature, labels), expected,
                               rtol=1e-4, atol=1e-6)


def test_dkd_decomposes_kd():
    # Zhao et al., eq. (5): KD = TCKD + (1 - p_t[target]) * NCKD, p_t the teacher's softmax at T.
    t, s = random_array((8, 5), 2.0, 4), random_array((8, 5), 2.0, 5)
    labels = np.arange(8, dtype="int32") % 5
    tckd = losses.dkd_loss(t, s, 2.0, labels, alpha=1.0, beta=0.0).numpy()
    nckd = losses.dkd_loss(t, s, 2.0, labels, alpha=0.0, beta=1.0).numpy()
    p_target = np_softmax(t / 2.0)[np.arange(8), labels]
    np.testing.assert_allclose(tckd + (1 - p_target) * nckd, losses.kd_loss(t, s, 2.0), rtol=1e-4)


def test_dkd_sequence_logits_and_extremes():
    t, s = random_array((4, 3, 6), 1e4, 6), random_array((4, 3, 6), 1e4, 7)
    labels = np.random.default_rng(8).integers(-1, 6, size=(4, 3)).astype("int32")
    value = losses.dkd_loss(t, s, 1.0, labels)
    assert value.shape == (4, 3)
    target = np.where(labels >= 0, labels, t.argmax(-1))
    expected = np_dkd(t.reshape(12, 6), s.reshape(12, 6), target.reshape(12), 1.0, 1.0, 8.0)
    np.testing.assert_allclose(value.numpy().reshape(12), expected, rtol=1e-3)
    assert finite_gradient(lambda a, b: losses.dkd_loss(a, b, 1.0, labels), t, s)


# ---------------------------------------------------------------------- standardisation
def np_standardize(z):
    z = np.asarray(z, "float64")
    return (z - z.mean(-1, keepdims=True)) / (z.std(-1, ddof=1, keepdims=True) + 1e-7)


def test_standardize_hand_checked_and_reference():
    # [1, 2, 3]: mean 2, Bessel-corrected std 1 -> [-1, 0, 1].
    np.testing.assert_allclose(losses.standardize_logits([[1.0, 2.0, 3.0]]), [[-1.0, 0.0, 1.0]],
                               atol=1e-6)
    z = random_array((8, 4, 10), 5.0, 9)
    np.testing.assert_allclose(losses.standardize_logits(z), np_standardize(z), rtol=1e-4,
                               atol=1e-5)


def test_standardized_kd_and_dkd_match_numpy():
    t, s = random_array((16, 10), 3.0, 10), random_array((16, 10), 0.3, 11)
    ts, ss = np_standardize(t), np_standardize(s)
    p, q = np_softmax(ts / 2.0), np_softmax(ss / 2.0)
    np.testing.assert_allclose(
        losses.KnowledgeDistillation(standardize=True).per_example(t, s, 2.0),
        4.0 * np_kl(p, q), rtol=1e-4, atol=1e-6)
    # Standardisation removes the student's scale and shift: 10 * s + 3 gives the same loss.
    np.testing.assert_allclose(
        losses.KnowledgeDistillation(standardize=True).per_example(t, 10 * s + 3, 2.0),
        4.0 * np_kl(p, q), rtol=1e-3, atol=1e-5)
    labels = np.arange(16, dtype="int32") % 10
    np.testing.assert_allclose(
        losses.DecoupledKD(standardize=True).per_example(t, s, 2.0, labels),
        np_dkd(ts, ss, labels, 2.0, 1.0, 8.0), rtol=1e-4, atol=1e-6)
    assert losses.get("kd_standardized").standardize
    assert losses.get("dkd_standardized").standardize


def test_standardize_constant_and_extreme_logits_are_finite():
    zeros = np.zeros((4, 5), "float32")  # A zero-initialised student: std = 0.
    t = random_array((4, 5), 1e4, 12)
    loss = losses.KnowledgeDistillation(standardize=True)
    assert finite_gradient(lambda a, b: loss.per_example(a, b, 2.0), t, zeros)
    assert finite_gradient(lambda a, b: loss.per_example(a, b, 2.0), t, random_array((4, 5), 1e4, 13))


# ----------------------------------------------------------------------------------- DIST
def np_pearson(a, b):
    a, b = a - a.mean(-1, keepdims=True), b - b.mean(-1, keepdims=True)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1) + 1e-8)


def np_dist(t, s, tau, beta, gamma):
    """Huang et al. 2022, eqs. (7)-(11), with the official code's tau^2."""
    p, q = np_softmax(np.asarray(t) / tau), np_softmax(np.asarray(s) / tau)
    inter = 1 - np_pearson(p, q)
    intra = 1 - np_pearson(p.T, q.T).mean()
    return tau**2 * (beta * inter + gamma * intra)


def test_dist_hand_checked_case():
    # p_t = [[.5, .25, .25], [.25, .5, .25]], p_s = [[.25, .25, .5], [.25, .5, .25]], T = 1.
    # Row 0: centred [1/6, -1/12, -1/12] vs [-1/12, -1/12, 1/6]: rho = (-1/48) / (1/24) = -.5,
    # inter = 1.5; row 1 equal: inter = 0. Classes over the batch: class 0 student constant
    # (rho = 0), class 1 equal (rho = 1), class 2 constant (rho = 0): intra = 1 - 1/3.
    t = np.log([[0.5, 0.25, 0.25], [0.25, 0.5, 0.25]]).astype("float32")
    s = np.log([[0.25, 0.25, 0.5], [0.25, 0.5, 0.25]]).astype("float32")
    np.testing.assert_allclose(losses.dist_loss(t, s, 1.0), [1.5 + 2 / 3, 2 / 3], rtol=1e-5)
    assert finite_gradient(lambda a, b: losses.dist_loss(a, b, 1.0), t, s)  # Constant columns.


@pytest.mark.parametrize("tau,beta,gamma", [(1.0, 1.0, 1.0), (4.0, 2.0, 0.5)])
def test_dist_matches_numpy(tau, beta, gamma):
    t, s = random_array((32, 10), 3.0, 14), random_array((32, 10), 3.0, 15)
    expected = np_dist(t, s, tau, beta, gamma)
    np.testing.assert_allclose(losses.dist_loss(t, s, tau, beta, gamma), expected, rtol=1e-4,
                               atol=1e-6)
    loss = losses.DIST(beta=beta, gamma=gamma, temperature=tau)
    np.testing.assert_allclose(tf.function(loss.per_example)(t, s, tau), expected, rtol=1e-4,
                               atol=1e-6)
    assert float(loss(t, s)) == pytest.approx(expected.mean(), rel=1e-4)


def test_dist_extremes_and_uniform_student_are_finite():
    t = random_array((8, 6), 1e4, 16)
    assert finite_gradient(lambda a, b: losses.dist_loss(a, b, 1.0), t, random_array((8, 6), 1e4, 17))
    assert finite_gradient(lambda a, b: losses.dist_loss(a, b, 1.0), t, np.zeros((8, 6), "float32"))
    one = losses.dist_loss(t[:1], t[:1], 1.0).numpy()  # One example: no intra relation.
    np.testing.assert_allclose(one, [1.0], atol=1e-5)


# -------------------------------------------------------------------------------- FitNets
def test_hint_loss_matches_numpy():
    t, s = random_array((4, 5, 6), 1.0, 18), random_array((4, 5, 6), 1.0, 19)
    np.testing.assert_allclose(losses.hint_loss(t, s), ((t - s) ** 2).mean(axis=(1, 2)), rtol=1e-5)


@pytest.mark.parametrize("adapter,teacher_shape,student_shape,layer", [
    ("auto", (None, 8), (None, 3), keras.layers.Dense),
    ("auto", (None, 7, 8), (None, 7, 3), keras.layers.Conv1D),
    ("auto", (None, 4, 4, 8), (None, 4, 4, 3), keras.layers.Conv2D),
    ("dense", (None, 4, 4, 8), (None, 4, 4, 3), keras.layers.Dense),
    ("conv", (None, 7, 8), (None, 7, 8), keras.layers.Conv1D),
])
def test_fitnets_adapter_kinds(adapter, teacher_shape, student_shape, layer):
    term = losses.FitNetsHint("t", "s", adapter=adapter)
    term.build(teacher_shape, student_shape)
    assert type(term.adapter) is layer
    assert term.adapter.built
    batch_t = random_array((2,) + teacher_shape[1:], 1.0, 20)
    batch_s = random_array((2,) + student_shape[1:], 1.0, 21)
    projected = term.adapter(batch_s).numpy()
    np.testing.assert_allclose(term.per_example(batch_t, batch_s, 1.0),
                               ((batch_t - projected) ** 2).reshape(2, -1).mean(-1), rtol=1e-5)
    # A 1x1 convolution is a Dense on the channels: check the projection itself.
    kernel = keras.ops.convert_to_numpy(term.adapter.kernel).reshape(student_shape[-1], -1)
    bias = keras.ops.convert_to_numpy(term.adapter.bias)
    np.testing.assert_allclose(projected, batch_s @ kernel + bias, rtol=1e-4, atol=1e-5)
    kernel_before = term.adapter.kernel
    term.build(teacher_shape, student_shape)  # Building again keeps the (trained) adapter.
    assert term.adapter.kernel is kernel_before


@pytest.mark.parametrize("adapter,teacher_shape,student_shape,match", [
    ("auto", (None, 8, 8, 16), (None, 4, 4, 16), r"the axes before the last differ"),
    ("auto", (None, 8, 16), (None, 16), r"their ranks differ \(3 and 2\)"),
    ("conv", (None, 16), (None, 8), r"adapter='conv' needs feature maps"),
    (None, (None, 16), (None, 8), r"adapter=None needs equal shapes"),
])
def test_fitnets_unmappable_shapes(adapter, teacher_shape, student_shape, match):
    term = losses.FitNetsHint("t_feat", "s_feat", adapter=adapter)
    with pytest.raises(ValueError, match=match) as error:
        term.build(teacher_shape, student_shape)
    message = str(error.value)
    assert "`s_feat`" in message and "`t_feat`" in message
    assert str(teacher_shape) in message and str(student_shape) in message


def test_fitnets_without_adapter_and_with_other_loss():
    t, s = random_array((3, 4), 1.0, 22), random_array((3, 4), 1.0, 23)
    term = losses.FitNetsHint("t", "s", adapter=None, loss="mae")
    term.build((None, 4), (None, 4))
    assert term.adapter is None
    np.testing.assert_allclose(term.per_example(t, s, 1.0), np.abs(t - s).mean(-1), rtol=1e-5)
    with pytest.raises(ValueError, match=r"call `build"):
        losses.FitNetsHint("t", "s").per_example(t, s, 1.0)


# --------------------------------------------------------------------- attention transfer
def np_attention(feature, p):
    a = (np.abs(np.asarray(feature, "float64")) ** p).mean(-1).reshape(len(feature), -1)
    return a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)


def test_attention_transfer_hand_checked_case():
    # Teacher map (2 positions, mean over 2 channels of A^2): [(1+1)/2, (4+0)/2] = [1, 2] ->
    # [1, 2]/sqrt(5) = [.4472136, .8944272]. Student (1 channel): [3^2, 0] -> [1, 0].
    # Loss = ((1 - .4472136)^2 + (0 - .8944272)^2) / 2 = (.3055728 + .8) / 2 = .5527864.
    t = np.array([[[1.0, 1.0], [2.0, 0.0]]], "float32")
    s = np.array([[[3.0], [0.0]]], "float32")
    np.testing.assert_allclose(losses.attention_transfer_loss(t, s), [0.5527864], rtol=1e-5)


@pytest.mark.parametrize("p", [1, 2, 4])
@pytest.mark.parametrize("spatial", [(9,), (4, 5)])
def test_attention_transfer_matches_numpy(p, spatial):
    t, s = random_array((6,) + spatial + (8,), 1.0, 24), random_array((6,) + spatial + (3,), 1.0, 25)
    expected = ((np_attention(s, p) - np_attention(t, p)) ** 2).mean(-1)
    term = losses.AttentionTransfer("t", "s", p=p)
    term.build((None,) + spatial + (8,), (None,) + spatial + (3,))
    np.testing.assert_allclose(term.per_example(t, s, 1.0), expected, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(tf.function(term.per_example)(t, s, 1.0), expected, rtol=1e-4,
                               atol=1e-7)


def test_attention_transfer_zero_and_extreme_features_are_finite():
    t = random_array((4, 6, 3), 1e3, 26)
    assert finite_gradient(losses.attention_transfer_loss, t, np.zeros((4, 6, 2), "float32"))
    assert finite_gradient(losses.attention_transfer_loss, t, random_array((4, 6, 2), 1e3, 27))


@pytest.mark.parametrize("teacher_shape,student_shape,match", [
    ((None, 8, 8, 16), (None, 4, 4, 16), r"same spatial size.*`t_conv` has shape \(None, 8, 8, 16\)"),
    ((None, 16), (None, 16), r"needs feature maps"),
])
def test_attention_transfer_shape_errors(teacher_shape, student_shape, match):
    with pytest.raises(ValueError, match=match):
        losses.AttentionTransfer("t_conv", "s_conv").build(teacher_shape, student_shape)


# ------------------------------------------------------------------------------------ RKD
def np_rkd(t, s, w_d, w_a):
    """Park et al. 2019, eqs. (3)-(7), per vertex/anchor; means over all N^2 pairs and N^3
    triplets with the degenerate ones counted as 0 (the official code's normalisation)."""
    t, s = np.asarray(t, "float64"), np.asarray(s, "float64")
    n = len(t)

    def distances(e):
        d = np.array([[np.linalg.norm(e[i] - e[j]) for j in range(n)] for i in range(n)])
        return d / (d.sum() / (n * (n - 1)))

    def unit(e, i, j):
        v = e[i] - e[j]
        return v / np.linalg.norm(v) if i != j else np.zeros_like(v)

    def cosine(e, i, j, k):  # Angle at vertex j (psi_A in eq. 5).
        return unit(e, i, j) @ unit(e, k, j)

    distance = huber(distances(s) - distances(t)).mean(-1)
    angle = np.array([np.mean([huber(cosine(s, i, j, k) - cosine(t, i, j, k))
                               for i in range(n) for k in range(n)]) for j in range(n)])
    return w_d * distance + w_a * angle


def test_rkd_hand_checked_case():
    # t: (0,0),(1,0),(0,1); s: (0,0),(1,0),(1,1). Both have distances {1, 1, sqrt2}, mean
    # (2 + sqrt2)/3 = 1.138071; normalised 0.878680 and 1.242641. Pairs (0,2), (1,2) differ by
    # 0.363961 -> huber 0.066234. Distance per anchor: [1, 1, 2] * 0.066234 / 3, times 25:
    # [0.551951, 0.551951, 1.103902]. Angles: at anchors 0 and 1 one angle goes from 90 to 45
    # degrees (cos 0 vs 0.707107, huber 0.25, twice over 9 (j, k)): 50 * 0.5 / 9 = 2.777778;
    # anchor 2 keeps its 45 degrees. Total: [3.329729, 3.329729, 1.103902].
    t = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    s = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]
    np.testing.assert_allclose(losses.rkd_loss(t, s), [3.329729, 3.329729, 1.103902], rtol=1e-5)


@pytest.mark.parametrize("w_d,w_a", [(25.0, 50.0), (1.0, 0.0), (0.0, 1.0)])
def test_rkd_matches_numpy(w_d, w_a):
    t, s = random_array((7, 5), 2.0, 28), random_array((7, 3), 2.0, 29)
    expected = np_rkd(t, s, w_d, w_a)
    term = losses.RelationalKD(distance_weight=w_d, angle_weight=w_a)
    np.testing.assert_allclose(term.per_example(t, s, 1.0), expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(tf.function(term.per_example)(t, s, 1.0), expected, rtol=1e-4,
                               atol=1e-6)


def test_rkd_is_invariant_to_scale_and_rotation():
    t = random_array((8, 4), 1.0, 30)
    rotation = np.linalg.qr(np.random.default_rng(31).normal(size=(4, 4)))[0].astype("float32")
    np.testing.assert_allclose(losses.rkd_loss(t, 7.0 * t @ rotation + 2.0), 0.0, atol=1e-4)


def test_rkd_degenerate_and_extreme_embeddings_are_finite():
    t = random_array((6, 4), 1e3, 32)
    coincident = np.repeat(random_array((1, 4), 1.0, 33), 6, axis=0)
    assert finite_gradient(losses.rkd_loss, t, coincident)
    assert finite_gradient(losses.rkd_loss, t, random_array((6, 4), 1e3, 34))
    np.testing.assert_allclose(losses.rkd_loss(t[:1], t[:1] + 1.0), [0.0])  # No pairs.


# ----------------------------------------------------------- names, configs, validation
@pytest.mark.parametrize("name,cls", [("dkd", losses.DecoupledKD),
                                      ("decoupled_kd", losses.DecoupledKD),
                                      ("dist", losses.DIST),
                                      ("kd_standardized", losses.KnowledgeDistillation)])
def test_get_by_name(name, cls):
    assert isinstance(losses.get(name), cls)
    assert isinstance(kd.LogitsDistillation(loss=name).loss, cls)


def test_get_term_and_as_term():
    term = losses.get_term("fitnets", teacher_layer_name="a", student_layer_name="b")
    assert isinstance(term, losses.FitNetsHint) and term.student_layer_name == "b"
    assert isinstance(losses.get_term("at", teacher_layer_name="a", student_layer_name="b"),
                      losses.AttentionTransfer)
    assert isinstance(losses.get_term("rkd"), losses.RelationalKD)
    assert isinstance(terms.as_term("rkd"), losses.RelationalKD)
    assert isinstance(losses.get_term("dkd", temperature=4.0).loss, losses.DecoupledKD)
    assert isinstance(terms.as_term("dkd").loss, losses.DecoupledKD)
    with pytest.raises(ValueError, match=r"Received: 'nope'"):
        losses.get_term("nope")
    with pytest.raises(ValueError, match=r"get_term\('fitnets', teacher_layer_name=\.\.\."):
        terms.as_term("fitnets")


@pytest.mark.parametrize("obj", [
    losses.DecoupledKD(alpha=2.0, beta=4.0, temperature=2.0, standardize=True),
    losses.DIST(beta=2.0, gamma=0.5, temperature=4.0),
    losses.KnowledgeDistillation(temperature=2.0, standardize=True),
])
def test_loss_config_round_trip(obj):
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(obj))
    assert type(restored) is type(obj)
    assert restored.get_config() == obj.get_config()
    t, s = random_array((4, 5), 2.0, 35), random_array((4, 5), 2.0, 36)
    np.testing.assert_allclose(restored(t, s), obj(t, s))


@pytest.mark.parametrize("obj", [
    losses.FitNetsHint("t_hidden", "s_hidden", adapter="dense", loss="mae", name="hint"),
    losses.AttentionTransfer("t_conv", "s_conv", p=4, name="at"),
    losses.RelationalKD("t_emb", None, distance_weight=1.0, angle_weight=2.0, name="rkd"),
    kd.LogitsDistillation(loss=losses.DecoupledKD(alpha=2.0), name="dkd"),
])
def test_term_config_round_trip(obj):
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(obj))
    assert type(restored) is type(obj)
    assert restored.get_config() == obj.get_config()


@pytest.mark.parametrize("make,match", [
    (lambda: losses.DecoupledKD(alpha=-1.0), r"Invalid value for argument `alpha`. Expected a finite number >= 0. Received: alpha=-1.0"),
    (lambda: losses.DecoupledKD(beta="8"), r"argument `beta`.*Received: beta='8'"),
    (lambda: losses.DecoupledKD(standardize="yes"), r"argument `standardize`. Expected True or False"),
    (lambda: losses.DecoupledKD(temperature=0), r"argument `temperature`. Expected a positive number"),
    (lambda: losses.KnowledgeDistillation(standardize=1), r"Received: standardize=1"),
    (lambda: losses.DIST(gamma=float("nan")), r"argument `gamma`"),
    (lambda: losses.FitNetsHint("t", "s", adapter="linear"), r"argument `adapter`. Expected one of 'auto', 'dense', 'conv'. Received: adapter='linear'"),
    (lambda: losses.FitNetsHint(None, "s"), r"argument `teacher_layer_name`.*Received: teacher_layer_name=None"),
    (lambda: losses.AttentionTransfer("t", "s", p=0.5), r"argument `p`. Expected a finite number >= 1.0. Received: p=0.5"),
    (lambda: losses.RelationalKD(distance_weight=-1), r"argument `distance_weight`"),
    (lambda: losses.RelationalKD(teacher_layer_name=3), r"argument `teacher_layer_name`"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_fitnets_bad_loss_type():
    with pytest.raises(TypeError, match=r"argument `loss`"):
        losses.FitNetsHint("t", "s", loss=3)
