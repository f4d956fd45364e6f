"""Distilling causal LMs: tiny keras-hub GPT-2s built from config, byte tokens, Python's own
source as text (no download)."""

import inspect
import json
import os

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from keras_distill import lm
from keras_distill.losses import logits as logit_losses

LENGTH = 24
CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def gpt2(layers, width, seed, vocabulary=lm.BYTE_VOCABULARY, length=LENGTH, dropout=0.1):
    keras.utils.set_random_seed(seed)
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=vocabulary, num_layers=layers, num_heads=2, hidden_dim=width,
        intermediate_dim=2 * width, max_sequence_length=length, dropout=dropout)
    return keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)


@pytest.fixture(scope="module")
def text():
    return inspect.getsource(json)  # Text that ships with Python.


@pytest.fixture(scope="module")
def teacher(text):
    model = gpt2(2, 32, seed=0)
    x, y = lm.next_token_examples(lm.byte_sequences(text[:6000], LENGTH + 1))
    model.compile(keras.optimizers.Adam(3e-3), CE)
    model.fit(x, np.where(y < 0, 0, y), sample_weight=(y >= 0).astype("float32"), epochs=4,
              batch_size=32, verbose=0)
    return model


def padded_batch(text):
    inputs = lm.byte_sequences(text[:400], LENGTH + 1)
    inputs["padding_mask"][::2, -7:] = False  # Every other sequence ends in padding.
    inputs["token_ids"][~inputs["padding_mask"]] = 0
    return inputs


def test_padded_positions_count_in_no_term(teacher, text):
    student = gpt2(1, 8, seed=1)
    model = lm.distiller(teacher, student, temperature=2.0, alpha=0.3)
    model.compile(keras.optimizers.SGD(0.0), CE)
    inputs = padded_batch(text)
    x, y = lm.examples(inputs, teacher, student)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)

    t, s = teacher.predict(x, verbose=0), student.predict(x, verbose=0)
    real = x["padding_mask"]
    kd = logit_losses.kd_loss(t, s, 2.0).numpy()
    ce = keras.losses.sparse_categorical_crossentropy(np.where(y < 0, 0, y), s,
                                                      from_logits=True).numpy()
    assert logs["distillation_loss"] == pytest.approx(kd[real].mean(), rel=1e-4)
    assert logs["loss"] == pytest.approx(ce[y >= 0].mean(), rel=1e-4)

    noisy = {k: v.copy() for k, v in inputs.items()}  # Other tokens under the padding.
    noisy["token_ids"][~noisy["padding_mask"]] = 77
    again = model.evaluate(*lm.examples(noisy, teacher, student), verbose=0, return_dict=True)
    assert again["distillation_loss"] == pytest.approx(logs["distillation_loss"], rel=1e-5)
    assert again["loss"] == pytest.approx(logs["loss"], rel=1e-5)


@pytest.mark.parametrize("divergence", lm.DIVERGENCES)
def test_a_trained_teacher_is_distilled_into_a_smaller_student(teacher, text, divergence):
    student = gpt2(1, 16, seed=2)
    x, y = lm.examples(lm.byte_sequences(text[:6000], LENGTH + 1), teacher, student)
    held_x, held_y = lm.examples(lm.byte_sequences(text[6000:8000], LENGTH + 1), teacher,
                                 student)
    model = lm.distiller(teacher, student, divergence=divergence, alpha=0.2)
    model.compile(keras.optimizers.Adam(3e-3), CE, metrics=["accuracy"])
    before = model.evaluate(held_x, held_y, verbose=0, return_dict=True)["accuracy"]
    history = model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    after = model.evaluate(held_x, held_y, verbose=0, return_dict=True)["accuracy"]
    assert history.history["distillation_loss"][-1] < history.history["distillation_loss"][0]
    assert after > before + 0.1  # From chance (1/257) to the frequent bytes and beyond.
    teacher_accuracy = teacher.predict(held_x, verbose=0).argmax(-1)
    assert 0.0 < after <= 1.0 and teacher_accuracy.shape == held_y.shape


def test_bad_input_is_named_before_training(teacher, text):
    student = gpt2(1, 8, seed=3, vocabulary=300)
    with pytest.raises(ValueError, match="vocabulary of 300 tokens, a teacher with 257"):
        lm.distiller(teacher, student)
    student = gpt2(1, 8, seed=3)
    inputs = lm.byte_sequences(text[:400], LENGTH + 1)
    with pytest.raises(ValueError, match="'padding_mask' beside 'token_ids'.*Received: "
                                         r"inputs=\['token_ids'\]"):
        lm.examples({"token_ids": inputs["token_ids"]}, teacher, student)
    too_long = lm.byte_sequences(text[:400], LENGTH + 2)
    with pytest.raises(ValueError, match=f"at most {LENGTH} tokens, the teacher's maximum. "
                                         f"Received: sequences of {LENGTH + 1} tokens"):
        lm.examples(too_long, teacher, student)
    with pytest.raises(ValueError, match="divergence"):
        lm.distiller(teacher, student, divergence="kl")
    with pytest.raises(ValueError, match="beta"):
        lm.distiller(teacher, student, divergence="generalized_jsd", beta=1.0)


def test_a_dataset_of_sequences_is_checked_and_mapped(teacher, text):
    import tensorflow as tf

    student = gpt2(1, 8, seed=4)
    inputs = lm.byte_sequences(text[:2000], LENGTH + 1)
    ds = tf.data.Dataset.from_tensor_slices(inputs).batch(16)
    x, y = next(iter(lm.examples(ds, teacher, student)))
    assert x["token_ids"].shape[1] == LENGTH and y.shape[1] == LENGTH
    long = tf.data.Dataset.from_tensor_slices(lm.byte_sequences(text[:2000], LENGTH + 3))
    with pytest.raises(ValueError, match="the teacher's maximum"):
        lm.examples(long.batch(16), teacher, student)


def test_top_k_cached_teacher_logits_per_token(teacher, text, tmp_path):
    import tensorflow as tf

    import keras_distill as kd

    student = gpt2(1, 8, seed=5)
    x, y = lm.examples(padded_batch(text), teacher, student)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    model = lm.distiller(teacher, student, temperature=2.0, alpha=0.0)
    model.compile(keras.optimizers.SGD(0.0), CE)
    online = model.evaluate(data, verbose=0, return_dict=True)["distillation_loss"]
    losses = {}
    for k in (8, lm.BYTE_VOCABULARY - 1):
        path = str(tmp_path / f"top{k}")
        cached = kd.cache_teacher_outputs(teacher, data, top_k=k, shuffle=False, path=path)
        losses[k] = model.evaluate(cached, verbose=0, return_dict=True)["distillation_loss"]
        if k == 8:  # float16 values and int32 ids for each of the k, two numbers for the rest.
            tokens = int(np.sum(np.ones_like(y)))
            stored = sum(os.path.getsize(os.path.join(root, name))
                         for root, _, names in os.walk(path) for name in names)
            assert stored < tokens * (k * 6 + 4) * 1.3 + 20000
    # With every class but one kept, the folded distribution is the teacher's own.
    assert losses[lm.BYTE_VOCABULARY - 1] == pytest.approx(online, rel=1e-2)
    assert 0.0 < losses[8] and np.isfinite(losses[8])


def test_the_student_is_saved_as_a_keras_hub_preset(teacher, text, tmp_path):
    student = gpt2(1, 8, seed=6)
    x, _ = lm.examples(lm.byte_sequences(text[:400], LENGTH + 1), teacher, student)
    path = str(tmp_path / "student_preset")
    assert lm.save_preset(student, path) == path
    loaded = keras_hub.models.CausalLM.from_preset(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), student.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)
    before = sorted(os.listdir(path))
    with pytest.raises(FileExistsError):
        lm.save_preset(gpt2(1, 8, seed=7), path)
    assert sorted(os.listdir(path)) == before and sorted(os.listdir(tmp_path)) == [
        "student_preset"]
    with pytest.raises(TypeError, match="Expected a keras-hub model"):
        lm.save_preset(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]),
                       str(tmp_path / "other"))


def greedy(model):
    model.compile(sampler="greedy")  # keras-hub's sampler for `generate`.
    return model


def test_sequence_level_kd_learns_the_teachers_continuations(teacher, text):
    student = gpt2(1, 16, seed=8)
    train = lm.byte_sequences(text[:6000], LENGTH)
    held = lm.byte_sequences(text[6000:7000], LENGTH)
    written = lm.teacher_generations(greedy(teacher), train, prompt_length=8)
    np.testing.assert_array_equal(written["token_ids"][:, :8], train["token_ids"][:, :8])
    assert written["padding_mask"].all()
    # Greedy: the first written token is the teacher's argmax after the prompt.
    prompt = lm.prompts(train, 8)
    first = teacher.predict(prompt, verbose=0)[:, 7].argmax(-1)
    np.testing.assert_array_equal(written["token_ids"][:, 8], first)

    def agreement():  # Of the student's next token with the teacher's, on held-out text.
        x, _ = lm.next_token_examples(held)
        same = (student.predict(x, verbose=0).argmax(-1) == teacher.predict(x, verbose=0)
                .argmax(-1))
        return same[x["padding_mask"]].mean()

    before = agreement()
    model = lm.distiller(teacher, student, alpha=1.0)  # The teacher's text, as labels.
    model.compile(keras.optimizers.Adam(3e-3), CE)
    model.fit(*lm.examples(written, teacher, student), epochs=4, batch_size=32, verbose=0)
    assert agreement() > before + 0.1


def test_on_policy_rounds_train_on_the_students_own_samples(teacher, text):
    student = gpt2(1, 8, seed=9)
    inputs = lm.byte_sequences(text[:1500], LENGTH)
    model = lm.distiller(teacher, student, divergence="reverse_kl", alpha=0.0)
    model.compile(keras.optimizers.Adam(3e-3), CE)
    history = lm.fit_on_policy(model, inputs, prompt_length=6, rounds=2, batch_size=16,
                               verbose=0)
    assert len(history["distillation_loss"]) == 2
    assert np.isfinite(history["distillation_loss"]).all()
    assert "student_loss" not in history or history["student_loss"] == [0.0, 0.0]
    with pytest.raises(ValueError, match="alpha.*Expected 0 for on-policy"):
        lm.fit_on_policy(lm.distiller(teacher, student, alpha=0.5).compile(
            keras.optimizers.Adam(), CE), inputs, 6, 1)
    with pytest.raises(ValueError, match="Received: student_fraction=0"):
        lm.fit_on_policy(model, inputs, 6, 1, student_fraction=0)
    with pytest.raises(ValueError, match="prompt_length"):
        lm.prompts(inputs, LENGTH)


def test_gkd_mixes_the_students_samples_with_the_text(teacher, text, monkeypatch):
    """With `student_fraction` (GKD's lambda) 0.25, a quarter of the sequences are the student's
    continuations (unlabelled), the rest the text with its labels; alpha may then be non-zero."""
    student = gpt2(1, 8, seed=10)
    inputs = lm.byte_sequences(text[:1500], LENGTH)
    model = lm.distiller(teacher, student, alpha=0.5)
    model.compile(keras.optimizers.Adam(3e-3), CE)
    seen, fit = [], model.fit

    def recording_fit(x, y, **kwargs):
        seen.append((x, y))
        return fit(x, y, **kwargs)

    monkeypatch.setattr(model, "fit", recording_fit)
    data_x, data_y = lm.next_token_examples({k: v.copy() for k, v in inputs.items()})
    history = lm.fit_on_policy(model, inputs, prompt_length=6, rounds=2, student_fraction=0.25,
                               seed=0, batch_size=16, verbose=0)
    np.testing.assert_array_equal(lm.next_token_examples(inputs)[1], data_y)  # Not written to.
    rows = len(data_y)
    for x, y in seen:
        sampled = (y == -1).all(axis=1) & data_x["padding_mask"].any(axis=1)
        assert sampled.sum() == round(0.25 * rows)
        np.testing.assert_array_equal(y[~sampled], data_y[~sampled])  # The text, labelled.
        np.testing.assert_array_equal(x["token_ids"][sampled][:, :6],  # Prompts kept.
                                      data_x["token_ids"][sampled][:, :6])
    assert not np.array_equal(seen[0][1] == -1, seen[1][1] == -1)  # Resampled each round.
    assert np.isfinite(history["student_loss"]).all() and len(history["loss"]) == 2


class _Crash(keras.callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch, self.epochs = at_epoch, []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)
        if epoch == self.at_epoch:
            raise RuntimeError("killed")


def test_an_interrupted_lm_distillation_resumes_where_it_stopped(teacher, text, tmp_path):
    """`BackupAndRestore` on a distiller of causal LMs: killed in epoch 2, rerun, it resumes at
    epoch 2 and ends with the weights of an uninterrupted run (no dropout: same arithmetic)."""
    x, y = lm.examples(padded_batch(text), teacher, gpt2(1, 8, seed=0))

    def distil(callbacks):
        student = gpt2(1, 8, seed=11, dropout=0.0)
        model = lm.distiller(teacher, student, divergence="generalized_jsd")
        model.compile(keras.optimizers.Adam(3e-3), CE)
        model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0, callbacks=callbacks)
        return student

    whole = distil([])
    backup = str(tmp_path / "backup")
    with pytest.raises(RuntimeError, match="killed"):
        distil([keras.callbacks.BackupAndRestore(backup), _Crash(at_epoch=1)])
    rerun = _Crash(at_epoch=None)
    resumed = distil([keras.callbacks.BackupAndRestore(backup), rerun])
    assert rerun.epochs == [1, 2]
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_lm_distillation_under_mirrored_strategy_matches_one_device(teacher, text, mirrored):
    """One step on a global batch over 2 replicas gives the single-device update (invariant 2),
    padding mask included."""
    x, y = lm.examples(padded_batch(text), teacher, gpt2(1, 8, seed=0))
    x, y = {k: v[:8] for k, v in x.items()}, y[:8]

    def one_step(strategy):
        with strategy.scope():
            student = gpt2(1, 8, seed=12, dropout=0.0)
            copy = gpt2(2, 32, seed=0)
            copy.set_weights(teacher.get_weights())
            model = lm.distiller(copy, student, temperature=2.0)
            model.compile(keras.optimizers.SGD(0.5), CE)
        data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
        model.fit(data, epochs=1, verbose=0)
        return student.get_weights()

    for a, b in zip(one_step(tf.distribute.get_strategy()), one_step(mirrored)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_token_sequences_reject_what_is_not_token_ids():
    for tokens in ([], [1.5, 2.0], np.zeros((0, 3), "int32")):
        with pytest.raises(ValueError, match="Expected a non-empty array of integer token ids"):
            lm.token_sequences(tokens, 4)
    with pytest.raises(ValueError, match="Expected a non-empty text"):
        lm.byte_sequences("", 4)
    with pytest.raises(ValueError, match="Received: padding_id=-1"):
        lm.token_sequences([1, 2], 4, padding_id=-1)


def test_the_student_as_a_scoring_saved_model(teacher, text, tmp_path):
    import tensorflow as tf

    student = gpt2(1, 8, seed=10)
    x, _ = lm.examples(padded_batch(text), teacher, student)
    path = lm.save_scoring_model(student, str(tmp_path / "scoring"), LENGTH)
    served = tf.saved_model.load(path).signatures["serving_default"]
    logits = served(token_ids=tf.constant(x["token_ids"]),
                    padding_mask=tf.constant(x["padding_mask"]))["logits"]
    np.testing.assert_allclose(logits.numpy(), student.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-5)
    with pytest.raises(FileExistsError):
        lm.save_scoring_model(student, path, LENGTH)
