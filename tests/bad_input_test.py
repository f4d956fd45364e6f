"""Every bad input of the reliability issue (#14), through the library and the CLI: each is a
clear error of the stated type, naming the value, before anything trains or is written.

Models and data are tiny (4 features, 3 classes, tens of examples) so the module stays fast.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_distill as kd
from keras_distill import cli
from keras_distill import io
from keras_distill import teacher as teacher_lib
from keras_distill.data import cache as cache_lib
from keras_distill.data import cache_manifest
from keras_distill.data import checks
from keras_distill.data import written_checked
from keras_distill.distiller import guards
from keras_distill.tuning import teacher_cache

SCCE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
FEATURES, CLASSES = 4, 3


def model(classes=CLASSES, hidden=0, seed=0, name=None):
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((FEATURES,), name="x")]
    layers += [keras.layers.Dense(hidden, activation="relu")] if hidden else []
    return keras.Sequential([*layers, keras.layers.Dense(classes)], name=name)


def data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, FEATURES)).astype("float32"),
            rng.integers(0, CLASSES, n).astype("int32"))


def dataset(*parts, batch=8):
    return tf.data.Dataset.from_tensor_slices(parts if len(parts) > 1 else parts[0]).batch(batch)


def distiller(student=None, teacher=None, alpha=0.5):
    return kd.Distiller(student=student or model(seed=2), teacher=teacher or model(seed=1)
                        ).compile("sgd", student_loss_fn=SCCE, alpha=alpha)


def weights(m):
    return [w.copy() for w in m.get_weights()]


def unchanged(before, m):
    return all(np.array_equal(a, b, equal_nan=True) for a, b in zip(before, m.get_weights()))


def listing(directory):
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*shuffle=True.*")
        yield


# --------------------------------------------------------------- labels (Distiller.fit)
def with_labels(labels):
    x, _ = data(len(labels))
    return x, np.asarray(labels)


@pytest.mark.parametrize("labels, shown", [
    ([0, 1, 12, 2], r"holding 12 at index 2 of batch 1"),
    ([0, 1, 2, 3], r"holding 3 at index 3"),
    ([2.5, 1.0, 0.0, 1.0], r"holding 2\.5 at index 0"),
    ([0.0, np.nan, 1.0, 1.0], r"holding nan at index 1"),
    (["cat", "dog", "cat", "dog"], r"dtype <U3 holding np\.str_\('cat'\)|holding 'cat'"),
])
def test_bad_labels_in_arrays_fail_before_training(labels, shown):
    x, y = with_labels(labels)
    d = distiller()
    before = weights(d.student)
    with pytest.raises(ValueError, match=r"Invalid value for argument `y`.*" + shown):
        d.fit(x, y, epochs=1, verbose=0)
    assert unchanged(before, d.student)


def test_label_out_of_range_names_value_and_range_for_ten_classes():
    x, _ = data(8)
    d = distiller(model(classes=10, seed=2), model(classes=10, seed=1))
    with pytest.raises(ValueError, match=r"labels in \[0, 10\).*holding 12"):
        d.fit(x, np.array([0, 1, 2, 12, 4, 5, 6, 7]), epochs=1, verbose=0)


def test_bad_label_in_a_later_batch_of_a_stream_names_the_batch():
    x, y = data(24)
    y[20] = 7  # Batch 3 of 8: found in the tf.data graph as the batch is read.
    with pytest.raises(ValueError, match=r"`y`.*\[0, 3\).*holding 7 in batch 3"):
        distiller().fit(dataset(x, y), epochs=1, verbose=0)


def test_bad_label_in_the_first_batch_of_a_stream_fails_before_training():
    x, y = data(24)
    y[1] = 5
    d = distiller()
    before = weights(d.student)
    with pytest.raises(ValueError, match=r"holding 5 at index 1 of batch 1"):
        d.fit(dataset(x, y), epochs=1, verbose=0)
    assert unchanged(before, d.student)


def test_float_labels_in_a_stream():
    x, y = data(16)
    with pytest.raises(ValueError, match=rf"holding {y[0] + 0.5} at index 0 of batch 1"):
        distiller().fit(dataset(x, y + 0.5), epochs=1, verbose=0)


def test_string_labels_in_a_stream():
    x, _ = data(8)
    with pytest.raises(ValueError, match=r"`y`.*dtype object holding b'a'.*integer id"):
        distiller().fit(dataset(x, np.array(["a", "b"] * 4)), epochs=1, verbose=0)


def test_bad_label_in_validation_data():
    x, y = data(16)
    bad = y.copy()
    bad[3] = 9
    with pytest.raises(ValueError, match=r"holding 9"):
        distiller().fit(dataset(x, y), validation_data=dataset(x, bad), epochs=1, verbose=0)


def test_unlabeled_minus_one_is_accepted():
    x, y = data(16)
    y[::2] = -1
    history = distiller().fit(x, y, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0])


def test_one_hot_labels_are_accepted_but_must_be_finite():
    x, y = data(16)
    one_hot = np.eye(CLASSES, dtype="float32")[y]
    d = kd.Distiller(student=model(seed=2), teacher=model(seed=1)).compile(
        "sgd", student_loss_fn=keras.losses.CategoricalCrossentropy(from_logits=True))
    d.fit(x, one_hot, epochs=1, verbose=0)
    one_hot[4, 1] = np.inf
    with pytest.raises(ValueError, match=r"finite label rows.*holding inf at index \(4, 1\)"):
        d.fit(x, one_hot, epochs=1, verbose=0)


# --------------------------------------------------------------------------- all unlabeled
def test_all_unlabeled_with_alpha_warns():
    x, _ = data(16)
    with pytest.warns(UserWarning, match=r"no labeled example.*alpha=0\.5"):
        distiller(alpha=0.5).fit(x, np.full(16, -1), epochs=1, verbose=0)


def test_stream_without_labels_with_alpha_warns():
    x, _ = data(16)
    with pytest.warns(UserWarning, match=r"first batch has no labeled example.*alpha=0\.3"):
        distiller(alpha=0.3).fit(dataset(x), epochs=1, verbose=0)


def test_unlabeled_with_alpha_zero_does_not_warn():
    x, _ = data(16)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.filterwarnings("ignore", message=".*shuffle=True.*")
        distiller(alpha=0.0).fit(x, np.full(16, -1), epochs=1, verbose=0)


# ---------------------------------------------------------------------------------- inputs
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_input_arrays_name_value_and_batch(value):
    x, y = data(24)
    x[17, 2] = value
    d = distiller()
    before = weights(d.student)
    with pytest.raises(ValueError, match=rf"finite inputs.*holding {value} at index \(17, 2\) "
                                         r"of batch 3.*non_finite_inputs"):
        d.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert unchanged(before, d.student)


def test_non_finite_input_in_a_stream_names_the_batch():
    x, y = data(24)
    x[19, 0] = np.nan
    d = distiller()
    with pytest.raises(ValueError, match=r"`x`.*holding \[?nan\]? in batch 3"):
        d.fit(dataset(x, y), epochs=1, verbose=0)
    assert all(np.isfinite(w).all() for w in d.student.get_weights())


def test_non_finite_input_in_a_dict_input_names_the_feature():
    x, y = data(8)
    x[0, 0] = np.inf
    inputs = keras.Input((FEATURES,), name="signal")
    student = keras.Model({"signal": inputs}, keras.layers.Dense(CLASSES)(inputs))
    teacher = keras.Model({"signal": inputs}, keras.layers.Dense(CLASSES)(inputs))
    with pytest.raises(ValueError, match=r"x\['signal'\] holding inf at index \(0, 0\)"):
        distiller(student, teacher).fit({"signal": x}, y, epochs=1, verbose=0)


def test_skip_non_finite_batches_of_a_stream_and_count_them():
    x, y = data(24)
    x[9, 1] = np.nan  # Batch 2 of 3.
    d = distiller()
    with pytest.warns(UserWarning, match=r"Skipped 2 batches whose inputs hold NaN"):
        history = d.fit(dataset(x, y), epochs=2, verbose=0, non_finite_inputs="skip")
    assert history.history["skipped_batches"] == [1, 1]
    assert all(np.isfinite(w).all() for w in d.student.get_weights())


def test_skip_non_finite_examples_of_arrays_and_count_them():
    x, y = data(24)
    x[[3, 5], 0] = np.inf
    with pytest.warns(UserWarning, match=r"Skipped 2 examples"):
        history = distiller().fit(x, y, epochs=1, verbose=0, non_finite_inputs="skip")
    assert history.history["skipped_examples"] == [2]


def test_unknown_non_finite_option_names_it():
    x, y = data(8)
    with pytest.raises(ValueError, match=r"`non_finite_inputs`.*Received: "
                                         r"non_finite_inputs='ignore'"):
        distiller().fit(x, y, epochs=1, verbose=0, non_finite_inputs="ignore")


# --------------------------------------------------------------------------- sample weights
@pytest.mark.parametrize("value", [-1.0, np.nan, np.inf])
def test_bad_sample_weights_in_arrays(value):
    x, y = data(16)
    w = np.ones(16, "float32")
    w[6] = value
    d = distiller()
    before = weights(d.student)
    with pytest.raises(ValueError, match=rf"`sample_weight`.*>= 0.*holding {value} at index 6"):
        d.fit(x, y, sample_weight=w, epochs=1, verbose=0)
    assert unchanged(before, d.student)


def test_negative_sample_weight_in_a_stream():
    x, y = data(24)
    w = np.ones(24, "float32")
    w[20] = -2.0
    with pytest.raises(ValueError, match=r"`sample_weight`.*holding -2 in batch 3"):
        distiller().fit(dataset(x, y, w), epochs=1, verbose=0)


# ---------------------------------------------------------------------------------- epochs
@pytest.mark.parametrize("epochs", [0, -1, 1.5])
def test_epochs_below_one_are_an_error(epochs):
    x, y = data(8)
    d = distiller()
    before = weights(d.student)
    with pytest.raises(ValueError, match=rf"`epochs`.*Received: epochs={epochs}"):
        d.fit(x, y, epochs=epochs, verbose=0)
    assert unchanged(before, d.student)


# -------------------------------------------------------------------------------- teachers
def test_unbuilt_sequential_teacher_fails_before_training():
    unbuilt = keras.Sequential([keras.layers.Dense(CLASSES)], name="never_built")
    d = distiller(teacher=unbuilt)  # Allowed, as keras.distillation allows it: nothing runs yet.
    before = weights(d.student)
    with pytest.raises(ValueError, match=r"`teacher`.*built model.*never_built, built=False"):
        d.fit(*data(8), epochs=1, verbose=0)
    assert unchanged(before, d.student) and not unbuilt.built


def test_unbuilt_member_of_an_ensemble():
    d = distiller(teacher=[model(), keras.Sequential([keras.layers.Dense(3)], name="member")])
    with pytest.raises(ValueError, match=r"name=member, built=False"):
        d.fit(*data(8), epochs=1, verbose=0)


def two_outputs(second=CLASSES):
    inputs = keras.Input((FEATURES,), name="x")
    return keras.Model(inputs, [keras.layers.Dense(CLASSES, name="classes")(inputs),
                                keras.layers.Dense(second, name="aux")(inputs)])


def test_two_output_teacher_for_a_one_output_student():
    with pytest.raises(ValueError, match=r"teacher's outputs \[\(None, 3\), \(None, 3\)\].*"
                                         r"student's outputs \[\(None, 3\)\]"):
        kd.Distiller(student=model(), teacher=two_outputs())


def test_a_named_output_of_a_two_output_teacher_distills():
    teacher = teacher_lib.select_output(two_outputs(), "classes")
    x, y = data(16)
    assert np.isfinite(distiller(teacher=teacher).fit(x, y, epochs=1, verbose=0)
                       .history["loss"][0])
    with pytest.raises(ValueError, match=r"\['classes', 'aux'\]. Received: output='logits'"):
        teacher_lib.select_output(two_outputs(), "logits")


def test_teacher_and_student_class_counts_differ():
    with pytest.raises(ValueError, match=r"teacher outputs 5 classes but the student outputs 3"):
        kd.Distiller(student=model(), teacher=model(classes=5))


# --------------------------------------------------------------- non-finite gradients/weights
@tf.custom_gradient
def _nan_gradient(x):
    return tf.identity(x), lambda dy: dy * float("nan")


class NanGradient(keras.layers.Layer):
    """Identity forward (the loss stays finite), NaN backward."""

    def call(self, x):
        return _nan_gradient(x)


def test_non_finite_gradients_stop_training_naming_the_step():
    inputs = keras.Input((FEATURES,))
    student = keras.Model(inputs, NanGradient()(keras.layers.Dense(CLASSES)(inputs)))
    before = weights(student)
    x, y = data(16)
    with pytest.raises(FloatingPointError, match=r"gradients were non-finite \(the loss was "
                                                 r"still [0-9.]+\) at training step 1"):
        distiller(student).fit(x, y, epochs=1, verbose=0)
    assert unchanged(before, student)


def test_non_finite_weights_stop_training_even_when_the_loss_stays_finite():
    student = model(hidden=8, seed=2)
    kernel = student.layers[0].kernel.numpy()
    kernel[:, 0] = np.nan  # oneDNN may zero the NaN activations: the loss can stay finite.
    student.layers[0].kernel.assign(kernel)
    x, y = data(16)
    with pytest.raises(FloatingPointError, match=r"(weights were non-finite|loss was nan).*"
                                                 r"training step 1"):
        distiller(student).fit(x, y, epochs=1, verbose=0)


# ------------------------------------------------------------------- cache_teacher_outputs
def test_unbatched_dataset_to_cache(tmp_path):
    x, y = data(8)
    with pytest.raises(ValueError, match=r"`dataset`.*batched.*single examples of shape \(4,\)"
                                         r".*\(None, 4\).*dataset.batch"):
        kd.cache_teacher_outputs(model(), tf.data.Dataset.from_tensor_slices((x, y)),
                                 path=str(tmp_path / "c"))
    assert listing(tmp_path) == []


def test_two_output_teacher_to_cache(tmp_path):
    x, y = data(8)
    with pytest.raises(ValueError, match=r"`teacher`.*one output.*2 outputs \['classes', 'aux'\]"
                                         r".*select_output"):
        kd.cache_teacher_outputs(two_outputs(), dataset(x, y), path=str(tmp_path / "c"))
    assert listing(tmp_path) == []


def test_unbuilt_teacher_to_cache(tmp_path):
    x, y = data(8)
    with pytest.raises(ValueError, match=r"built=False"):
        kd.cache_teacher_outputs(keras.Sequential([keras.layers.Dense(3)]), dataset(x, y),
                                 path=str(tmp_path / "c"))
    assert listing(tmp_path) == []


def test_non_finite_input_while_caching_writes_nothing(tmp_path):
    x, y = data(24)
    x[12, 3] = np.nan  # Batch 2.
    with pytest.raises(ValueError, match=r"`x`.*holding \[?nan\]? in batch 2"):
        kd.cache_teacher_outputs(model(), dataset(x, y), path=str(tmp_path / "c"))
    assert listing(tmp_path) == []  # No cache, no staging directory left.


def test_string_labels_while_caching(tmp_path):
    x, _ = data(8)
    with pytest.raises(ValueError, match=r"`y`.*labels of dtype string \(TensorSpec"):
        kd.cache_teacher_outputs(model(), dataset(x, np.array(["a", "b"] * 4)),
                                 path=str(tmp_path / "c"))
    assert listing(tmp_path) == []


def test_negative_sample_weight_while_caching(tmp_path):
    x, y = data(8)
    with pytest.raises(ValueError, match=r"`sample_weight`.*holding -1"):
        kd.cache_teacher_outputs(model(), dataset(x, y, -np.ones(8, "float32")),
                                 path=str(tmp_path / "c"))
    assert listing(tmp_path) == []


def test_label_out_of_range_in_cached_data_fails_in_fit():
    x, y = data(16)
    y[2] = 30
    cached = kd.cache_teacher_outputs(model(seed=1), dataset(x, y), shuffle=False)
    with pytest.raises(ValueError, match=r"holding 30"):
        distiller().fit(cached, epochs=1, verbose=0)


def test_label_out_of_range_in_a_later_batch_of_cached_data_fails_in_fit():
    x, y = data(24)
    y[20] = 30  # Batch 3: the one check of a cache's labels reads every batch, not the first.
    cached = kd.cache_teacher_outputs(model(seed=1), dataset(x, y), shuffle=False)
    student = model(seed=2)
    before = weights(student)
    with pytest.raises(ValueError, match=r"`y`.*holding 30 at index 4 of batch 3"):
        distiller(student).fit(cached, epochs=1, verbose=0)
    assert unchanged(before, student)


def test_non_finite_teacher_outputs_while_caching_write_nothing(tmp_path):
    teacher = model(seed=1)
    teacher.layers[-1].kernel.assign(np.full((FEATURES, CLASSES), 1e5, "float32"))
    x, y = data(24)
    x[:8] = 0.0  # Batch 1's logits fit in float16 (the bias alone); batch 2's do not.
    with pytest.raises(ValueError, match=r"`teacher`.*finite.*teacher outputs\['logits'\] "
                                         r"holding -?inf at index \(0, 0\) of batch 2.*float32"):
        kd.cache_teacher_outputs(teacher, dataset(np.abs(x), y), dtype="float16",
                                 path=str(tmp_path / "c"))
    assert listing(tmp_path) == []


def test_only_the_returned_cache_skips_the_checks_per_batch():
    x, y = data(24)
    cached = kd.cache_teacher_outputs(model(seed=1), dataset(x, y), shuffle=False)
    spec = checks.label_spec(model())
    assert guards._checked_data(cached, spec, 0.5) is cached  # Checked when written.

    def poison(index, element):  # Batch 2's teacher outputs become NaN: built by hand.
        inputs, labels = element
        outputs = inputs["keras_distill_teacher_outputs"]
        logits = tf.where(index == 1, np.float32("nan"), outputs["logits"])
        return {**inputs, "keras_distill_teacher_outputs": {"logits": logits}}, labels

    derived = cached.enumerate().map(poison)
    assert guards._checked_data(derived, spec, 0.5) is not derived
    with pytest.raises(ValueError, match=r"`x`.*holding \[?nan\]? in batch 2"):
        distiller().fit(derived, epochs=1, verbose=0)


# --------------------------------------------------------------------- load_teacher_outputs
@pytest.fixture
def written(tmp_path):
    """`(path, teacher, source)`: a cache of 24 examples written to disk."""
    teacher, (x, y) = model(seed=1), data(24)
    source = dataset(x, y)
    path = str(tmp_path / "cache")
    kd.cache_teacher_outputs(teacher, source, path=path, shuffle=False)
    return path, teacher, source


def test_missing_cache_path(tmp_path):
    missing = str(tmp_path / "nowhere")
    with pytest.raises(ValueError, match=rf"`path`.*Received: path='{missing}' \(no such "
                                         r"directory\)"):
        cache_lib.load_teacher_outputs(missing, 8)
    assert listing(tmp_path) == []


def test_cache_path_that_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"path=.*file' \(not a directory\)"):
        cache_lib.load_teacher_outputs(str(tmp_path / "file"), 8)


def test_cache_without_manifest(tmp_path):
    path = str(tmp_path / "plain")
    tf.data.Dataset.range(4).save(path)
    with pytest.raises(ValueError, match=r"plain' \(it has no manifest\.json"):
        cache_lib.load_teacher_outputs(path, 2)


@pytest.mark.parametrize("content, message", [
    ("{not json", r"manifest\.json is not valid JSON"),
    (json.dumps({"format": "other"}), r"is not a teacher-output cache manifest"),
    (json.dumps({"format": cache_manifest.FORMAT, "version": 99}), r"format version 99"),
])
def test_corrupt_manifest(written, content, message):
    path, _, _ = written
    with open(os.path.join(path, cache_manifest.MANIFEST), "w") as f:
        f.write(content)
    with pytest.raises(ValueError, match=message):
        cache_lib.load_teacher_outputs(path, 8)


def _largest_file(path):
    files = [os.path.join(r, n) for r, _, ns in os.walk(path) for n in ns
             if n != cache_manifest.MANIFEST]
    return max(files, key=os.path.getsize)


def test_truncated_shard(written):
    path, _, _ = written
    shard = _largest_file(path)
    size = os.path.getsize(shard)
    with open(shard, "r+b") as f:
        f.truncate(size // 2)
    name = os.path.relpath(shard, path)
    with pytest.raises(ValueError, match=rf"'{name}' has {size // 2} bytes, {size} were "
                                         r"written: it was cut short"):
        cache_lib.load_teacher_outputs(path, 8)


def test_corrupt_shard_of_the_same_size(written):
    path, _, _ = written
    shard = _largest_file(path)
    with open(shard, "r+b") as f:
        f.seek(os.path.getsize(shard) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ValueError, match=r"does not match its checksum: it is corrupt"):
        cache_lib.load_teacher_outputs(path, 8)


def test_corrupt_dataset_spec(written):
    path, _, _ = written
    with open(os.path.join(path, "dataset_spec.pb"), "wb") as f:
        f.write(b"\x00garbage")  # A protobuf DecodeError in tf.data, without the manifest.
    with pytest.raises(ValueError, match=r"'dataset_spec\.pb' has 8 bytes"):
        cache_lib.load_teacher_outputs(path, 8)


def test_missing_shard(written):
    path, _, _ = written
    shard = _largest_file(path)
    os.remove(shard)
    with pytest.raises(ValueError, match=rf"'{os.path.relpath(shard, path)}' is missing"):
        cache_lib.load_teacher_outputs(path, 8)


def test_foreign_file_in_cache(written):
    path, _, _ = written
    (open(os.path.join(path, "notes.txt"), "w")).write("x")
    with pytest.raises(ValueError, match=r"holds files the cache did not write: \['notes.txt'\]"):
        cache_lib.load_teacher_outputs(path, 8)


def test_manifest_edited_by_hand(written):
    path, _, _ = written
    manifest_path = os.path.join(path, cache_manifest.MANIFEST)
    manifest = json.load(open(manifest_path))
    manifest["files"][next(iter(manifest["files"]))]["bytes"] += 1
    json.dump(manifest, open(manifest_path, "w"))
    with pytest.raises(ValueError, match=r"does not match its own checksum"):
        cache_lib.load_teacher_outputs(path, 8)


def test_cache_for_another_teacher(written):
    path, _, source = written
    with pytest.raises(ValueError, match=r"written for another teacher"):
        cache_lib.load_teacher_outputs(path, 8, teacher=model(seed=7), dataset=source)


def test_cache_for_other_data(written):
    path, teacher, _ = written
    x, y = data(24, seed=5)
    with pytest.raises(ValueError, match=r"written for other data"):
        cache_lib.load_teacher_outputs(path, 8, teacher=teacher, dataset=dataset(x, y))


def test_verified_cache_loads_every_example(written):
    path, teacher, source = written
    manifest = json.load(open(os.path.join(path, cache_manifest.MANIFEST)))
    assert manifest["examples"] == 24 and len(manifest["arrays"]) == 3
    loaded = cache_lib.load_teacher_outputs(path, 8, shuffle=False, teacher=teacher,
                                            dataset=source)
    assert sum(int(tf.shape(b[1])[0]) for b in loaded) == 24


def test_only_a_cache_written_checked_loads_without_the_checks_per_batch(written):
    path, _, _ = written
    spec = checks.label_spec(model())
    loaded = cache_lib.load_teacher_outputs(path, 8, shuffle=False)
    assert written_checked.is_marked(loaded) and guards._checked_data(loaded, spec, 0.5) is loaded
    manifest_path = os.path.join(path, cache_manifest.MANIFEST)
    manifest = json.load(open(manifest_path))
    del manifest["checked"]  # As an older keras_distill wrote it.
    json.dump(manifest, open(manifest_path, "w"))
    older = cache_lib.load_teacher_outputs(path, 8, shuffle=False)
    assert not written_checked.is_marked(older)
    assert guards._checked_data(older, spec, 0.5) is not older


# ------------------------------------------------------------------- tuner's shared cache
def test_tuner_cache_written_for_another_teacher_is_not_reused(written):
    path, _, source = written
    before = open(os.path.join(path, cache_manifest.MANIFEST)).read()
    with pytest.raises(ValueError, match=r"written for another teacher.*another directory"):
        teacher_cache.shared_teacher_outputs(model(seed=9), source, path)
    assert open(os.path.join(path, cache_manifest.MANIFEST)).read() == before


def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_stale_lock_of_a_dead_owner_is_broken(tmp_path):
    path = str(tmp_path / "outputs")
    with open(path + ".lock", "w") as f:
        f.write(f"{socket.gethostname()}:{_dead_pid()}")
    start = time.monotonic()
    x, y = data(16)
    _, computed = teacher_cache.shared_teacher_outputs(model(seed=1), dataset(x, y), path,
                                                       timeout=30, poll=0.05)
    assert computed and time.monotonic() - start < 15
    assert listing(tmp_path) == ["outputs"]


def test_lock_of_a_live_owner_is_waited_for_and_named(tmp_path):
    path = str(tmp_path / "outputs")
    owner = f"{socket.gethostname()}:{os.getpid()}"
    with open(path + ".lock", "w") as f:
        f.write(owner)
    with pytest.raises(TimeoutError, match=rf"{owner}"):
        teacher_cache.shared_teacher_outputs(model(seed=1), dataset(*data(8)), path,
                                             timeout=0.2, poll=0.05)
    assert listing(tmp_path) == ["outputs.lock"]


# ------------------------------------------------------------------- staging and rewrites
def test_next_write_removes_staging_left_by_a_killed_writer(tmp_path):
    host, dead = socket.gethostname(), _dead_pid()
    stale = tmp_path / f".cache.tmp-{dead}@{host}-abcd1234"
    stale_export = tmp_path / f".7.tmp-{dead}@{host}-abcd1234"
    live = tmp_path / f".cache.tmp-{os.getpid()}@{host}-abcd1234"
    remote = tmp_path / f".cache.tmp-{dead}@elsewhere-abcd1234"
    for directory in (stale, stale_export, live, remote):
        directory.mkdir()
    x, y = data(8)
    kd.cache_teacher_outputs(model(), dataset(x, y), path=str(tmp_path / "cache"))
    assert listing(tmp_path) == sorted(["cache", live.name, remote.name])


def test_set_aside_old_cache_is_restored_when_its_replacement_never_arrived(tmp_path):
    old = tmp_path / f".cache.old-{_dead_pid()}@{socket.gethostname()}-abcd1234"
    old.mkdir()
    (old / "data").write_text("old")
    assert io.remove_stale_staging(str(tmp_path)) == [old.name]
    assert (tmp_path / "cache" / "data").read_text() == "old"


def test_failed_rewrite_keeps_the_old_cache(written):
    path, teacher, source = written
    x, y = data(24)
    x[20, 0] = np.inf
    with pytest.raises(ValueError, match=r"holding \[?inf\]? in batch 3"):
        kd.cache_teacher_outputs(teacher, dataset(x, y), path=path)
    loaded = cache_lib.load_teacher_outputs(path, 8, teacher=teacher, dataset=source)
    assert sum(int(tf.shape(b[1])[0]) for b in loaded) == 24
    assert listing(os.path.dirname(path)) == ["cache"]


# ----------------------------------------------------------------------- SavedModel teacher
@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("sm") / "teacher")
    model(seed=1).export(path, verbose=False)
    return path


def test_savedmodel_teacher_needs_trust(saved_model):
    with pytest.raises(ValueError, match=rf"Received: teacher='{saved_model}'.*A SavedModel is "
                                         r"code.*trust_savedmodel=True"):
        io.load_model(saved_model, role="teacher")
    assert isinstance(io.load_model(saved_model, role="teacher", trust_savedmodel=True),
                      keras.Model)


# ------------------------------------------------------------------------------------ CLI
@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Small `.npz` datasets and `.keras` teachers for the CLI."""
    d = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 8)).astype("float32"), rng.integers(0, 3, 40)
    np.savez(d / "good.npz", x=x, y=y)
    for name, value in (("nan", np.nan), ("inf", np.inf)):
        bad = x.copy()
        bad[5, 2] = value
        np.savez(d / f"{name}.npz", x=bad, y=y)
    np.savez(d / "strings.npz", x=x, y=np.array(["a", "b"] * 20))
    np.savez(d / "floats.npz", x=x, y=np.where(np.arange(40) == 3, 2.5, y))
    x_test = x[:10].copy()
    x_test[1, 1] = np.nan
    np.savez(d / "nan_test.npz", x=x, y=y, x_test=x_test, y_test=y[:10])
    inputs = keras.Input((8,), name="x")
    keras.Model(inputs, [keras.layers.Dense(3, name="classes")(inputs),
                         keras.layers.Dense(3, name="aux")(inputs)]).save(d / "two.keras")
    keras.Sequential([keras.Input((8,), name="x"), keras.layers.Dense(3)]).save(d / "t.keras")
    keras.Sequential([keras.Input((8,), name="x"), keras.layers.Dense(3)]).export(
        str(d / "sm"), verbose=False)
    return d


@pytest.mark.parametrize("dataset_name, teacher_name, message", [
    ("nan.npz", "t.keras", r"finite inputs in 'x' \(no NaN or inf\).*'x' holds nan at index "
                           r"\(5, 2\)"),
    ("inf.npz", "t.keras", r"'x' holds inf at index \(5, 2\)"),
    ("nan_test.npz", "t.keras", r"'x_test' holds nan at index \(1, 1\)"),
    ("strings.npz", "t.keras", r"integer class labels in 'y'.*dtype <U1"),
    ("floats.npz", "t.keras", r"'y' holds 2\.5 at index 3"),
    ("good.npz", "two.keras", r"2 outputs \['classes', 'aux'\].*select_output"),
    ("good.npz", "sm", r"A SavedModel is code.*--trust-savedmodel"),
])
def test_cli_bad_data_and_teachers_exit_2_and_write_nothing(capsys, tmp_path, files,
                                                              dataset_name, teacher_name,
                                                              message):
    output = tmp_path / "out"
    status = cli.main(["distill", "--dataset", str(files / dataset_name), "--teacher",
                       str(files / teacher_name), "--output", str(output), "--epochs", "1",
                       "--verbose", "0"])
    _, err = capsys.readouterr()
    assert status == 2 and "Traceback" not in err
    assert re.search(message, err), err
    assert listing(output) == []


@pytest.mark.parametrize("flags, message", [
    (["--alpha", "2"], "Received: alpha=2.0"),
    (["--temperature", "0"], "Received: temperature=0.0"),
    (["--epochs", "0"], "Received: epochs=0"),
])
def test_cli_bad_values_exit_2_before_the_teacher_loads(capsys, tmp_path, files, flags,
                                                        message):
    output = tmp_path / "out"
    status = cli.main(["distill", "--dataset", str(files / "good.npz"), "--teacher",
                       str(files / "two.keras"), "--output", str(output), *flags])
    _, err = capsys.readouterr()
    assert status == 2 and message in err and "outputs" not in err
    assert listing(output) == []


# ----------------------------------------------------------------------------- the checks
def test_check_batch_names_the_label_and_range_directly():
    with pytest.raises(ValueError, match=r"\[0, 10\).*holding 12 at index 1 of batch 4"):
        checks.check_batch((np.zeros((2, 3)), np.array([0, 12])), checks.LabelSpec(10), index=3)


@pytest.mark.parametrize("element,bad_value,message", [
    (0, np.nan, r"`validation_data\[0\]`. Expected finite inputs.*holding nan"),
    (1, 11, r"`validation_data\[1\]`. Expected integer class labels.*holding 11"),
])
def test_bad_validation_arrays_fail_before_training(element, bad_value, message):
    x, y = data(16)
    arrays = [x.copy(), y.copy()]
    arrays[element][3] = bad_value
    model = distiller()
    with pytest.raises(ValueError, match=message):
        model.fit(x, y, validation_data=tuple(arrays), epochs=1, verbose=0)
    assert int(model.optimizer.iterations) == 0
