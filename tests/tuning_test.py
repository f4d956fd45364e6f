"""Tests of keras_distill.tuning: tuners, student-only checkpoints, one teacher pass, bad input."""

import gc
import json
import os
import socket
import subprocess
import sys
import textwrap

import keras
import keras_tuner as kt
import numpy as np
import pytest
import tensorflow as tf

from keras_distill import tuning

FEATURES, CLASSES, EXAMPLES, BATCH = 16, 3, 96, 32

# Counts the examples the teacher sees; outside the model, so not one of its weights.
TEACHER_EXAMPLES = tf.Variable(0, dtype=tf.int64, trainable=False)


class CountingLayer(keras.layers.Layer):
    """Identity that adds the batch size to `TEACHER_EXAMPLES` each time the teacher runs."""

    def call(self, x):
        TEACHER_EXAMPLES.assign_add(tf.cast(tf.shape(x)[0], tf.int64))
        return x


def big_teacher():
    """~71k parameters: far larger than the students, so a copy in a checkpoint shows."""
    return keras.Sequential([
        keras.Input((FEATURES,)), CountingLayer(),
        keras.layers.Dense(256, activation="relu"), keras.layers.Dense(256, activation="relu"),
        keras.layers.Dense(CLASSES),
    ], name="teacher")


def build_student(hp):
    units = hp.Int("units", 2, 6, step=2)
    return keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(units, "relu"),
                             keras.layers.Dense(CLASSES)])


def data(examples=EXAMPLES, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(examples, FEATURES)).astype("float32")
    y = np.argmax(x[:, :CLASSES], axis=-1)
    return x, y


def dataset(x, y):
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH)


@pytest.fixture
def teacher():
    TEACHER_EXAMPLES.assign(0)
    return big_teacher()


def weights_size(model, path):
    model.save_weights(str(path))
    return os.path.getsize(path)


def checkpoints(tuner):
    paths = [tuner._get_checkpoint_fname(t.trial_id) for t in tuner.oracle.trials.values()]
    return [p for p in paths if os.path.exists(p)]


def assert_unchanged(teacher, before):
    for a, b in zip(teacher.get_weights(), before):
        np.testing.assert_array_equal(a, b)  # Bit-identical.


def test_random_search_student_only_checkpoints_one_teacher_pass(teacher, tmp_path):
    before = teacher.get_weights()
    x, y = data()
    hm = tuning.DistillerHyperModel(teacher, build_student, temperature=(1.0, 20.0))
    tuner = tuning.RandomSearch(hm, max_trials=3, seed=1, directory=str(tmp_path))
    assert tuner.oracle.objective.name == "val_sparse_categorical_accuracy"
    tuner.search(dataset(x, y), validation_data=dataset(x, y), epochs=2, verbose=0)

    trials = tuner.oracle.trials.values()
    assert [str(t.status) for t in trials] == ["COMPLETED"] * 3
    # 3 trials x 2 epochs, yet the teacher saw every example exactly once.
    assert int(TEACHER_EXAMPLES.numpy()) == EXAMPLES
    assert hm._teacher_outputs.passes == 1

    teacher_bytes = weights_size(teacher, tmp_path / "teacher.weights.h5")
    paths = checkpoints(tuner)
    assert len(paths) == 3
    for trial, path in zip(trials, paths):
        student = build_student(trial.hyperparameters)
        student_bytes = weights_size(student, tmp_path / "student.weights.h5")
        assert os.path.getsize(path) < teacher_bytes / 10
        assert abs(os.path.getsize(path) - student_bytes) < 1024

    best = tuner.get_best_models(1)[0]
    assert isinstance(best, tuning.TrialDistiller)
    assert best.teacher is hm.teacher
    logs = best.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "student_loss", "sparse_categorical_accuracy"}
    assert int(TEACHER_EXAMPLES.numpy()) == EXAMPLES  # `get_best_models` ran no teacher.
    assert_unchanged(teacher, before)


def test_stock_bayesian_optimization(teacher, tmp_path):
    before = teacher.get_weights()
    x, y = data()
    hm = tuning.DistillerHyperModel(teacher, build_student, alpha=[0.5, 1.0])
    tuner = kt.BayesianOptimization(hm, objective=hm.objective, max_trials=3,
                                    num_initial_points=2, seed=2, directory=str(tmp_path))
    tuner.search(x, y, validation_data=(x, y), epochs=1, batch_size=BATCH, verbose=0)
    trials = list(tuner.oracle.trials.values())
    assert [str(t.status) for t in trials] == ["COMPLETED"] * 3
    assert {t.hyperparameters["alpha"] for t in trials} <= {0.5, 1.0}
    assert int(TEACHER_EXAMPLES.numpy()) == EXAMPLES  # Arrays are cached once too.
    assert len(checkpoints(tuner)) == 3
    assert isinstance(tuner.get_best_models(1)[0], tuning.TrialDistiller)
    assert_unchanged(teacher, before)


def test_hyperband_reloads_student_checkpoints(teacher, tmp_path):
    before = teacher.get_weights()
    x, y = data()
    hm = tuning.DistillerHyperModel(teacher, build_student, temperature=4.0)
    tuner = tuning.Hyperband(hm, max_epochs=3, factor=3, hyperband_iterations=1, seed=3,
                             directory=str(tmp_path))
    tuner.search(dataset(x, y), validation_data=dataset(x, y), verbose=0)
    trials = list(tuner.oracle.trials.values())
    resumed = [t for t in trials if "tuner/trial_id" in t.hyperparameters.values]
    assert resumed, "Hyperband never continued a trial from its checkpoint"
    assert all(str(t.status) == "COMPLETED" for t in trials)
    assert {t.hyperparameters["temperature"] for t in trials} == {4.0}
    assert int(TEACHER_EXAMPLES.numpy()) == EXAMPLES
    teacher_bytes = weights_size(teacher, tmp_path / "teacher.weights.h5")
    assert all(os.path.getsize(p) < teacher_bytes / 10 for p in checkpoints(tuner))
    assert isinstance(tuner.get_best_models(1)[0], tuning.TrialDistiller)
    assert_unchanged(teacher, before)


def test_online_mode_runs_the_teacher_every_epoch(teacher, tmp_path):
    x, y = data()
    hm = tuning.DistillerHyperModel(teacher, build_student, cache=False)
    tuner = tuning.RandomSearch(hm, max_trials=2, seed=1, directory=str(tmp_path))
    tuner.search(dataset(x, y), validation_data=dataset(x, y), epochs=2, verbose=0)
    assert int(TEACHER_EXAMPLES.numpy()) == 2 * 2 * EXAMPLES
    assert hm._teacher_outputs.passes == 0


class FreezeCountDuringFit(keras.callbacks.Callback):
    """Records how many objects `gc` has set aside when each trial starts training.

    keras-tuner deep-copies callbacks per trial, so the record is kept on the class.
    """

    counts = []

    def on_train_begin(self, logs=None):
        FreezeCountDuringFit.counts.append(gc.get_freeze_count())


def test_search_freezes_the_heap_only_while_it_runs(teacher, tmp_path):
    x, y = data()
    hm = tuning.DistillerHyperModel(teacher, build_student)
    tuner = tuning.RandomSearch(hm, max_trials=2, seed=1, directory=str(tmp_path))
    FreezeCountDuringFit.counts.clear()
    assert gc.get_freeze_count() == 0
    tuner.search(dataset(x, y), validation_data=dataset(x, y), epochs=1, verbose=0,
                 callbacks=[FreezeCountDuringFit()])
    assert len(FreezeCountDuringFit.counts) == 2 and min(FreezeCountDuringFit.counts) > 0
    assert gc.get_freeze_count() == 0  # Everything back with the collector.


def test_search_leaves_a_callers_own_freeze_alone(teacher, tmp_path):
    x, y = data()
    hm = tuning.DistillerHyperModel(teacher, build_student)
    tuner = tuning.RandomSearch(hm, max_trials=1, seed=1, directory=str(tmp_path))
    gc.freeze()
    try:
        tuner.search(dataset(x, y), validation_data=dataset(x, y), epochs=1, verbose=0)
        assert gc.get_freeze_count() > 0  # Not unfrozen by the search (frozen objects may die).
    finally:
        gc.unfreeze()


def test_search_retrains_best_and_writes_table(teacher, tmp_path):
    x, y = data()
    hm = tuning.DistillerHyperModel(teacher, build_student, metrics=["accuracy"])
    result = tuning.search(hm, dataset(x, y), validation_data=dataset(x, y), max_trials=2,
                           epochs=1, final_epochs=2, seed=0, report_dir=str(tmp_path))
    assert isinstance(result.student, keras.Model)
    assert result.student is result.distiller.student
    assert "accuracy" in result.student.evaluate(x, y, verbose=0, return_dict=True)
    assert len(result.history.history["loss"]) == 2
    assert set(result.best_hyperparameters.values) == {"alpha", "temperature", "units"}
    header = result.table.splitlines()[0].split()
    assert header == ["trial", "alpha", "temperature", "units", "val_accuracy", "status"]
    assert len(result.table.splitlines()) == 3
    with open(tmp_path / "tuning_results.csv", encoding="utf-8") as f:
        assert f.readline().strip() == "trial,alpha,temperature,units,val_accuracy,status"
    assert (tmp_path / "tuning_results.txt").read_text().strip() == result.table
    assert int(TEACHER_EXAMPLES.numpy()) == EXAMPLES  # The retraining reused the cache too.


def test_tune_and_compare_reports_scratch_when_it_wins(tmp_path):
    # An untrained teacher and alpha fixed at 0: distillation teaches noise, scratch must win.
    x, y = data(240)
    teacher = keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(CLASSES)])
    student = keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(CLASSES)])
    hm = tuning.DistillerHyperModel(teacher, student, alpha=0.0,
                                    optimizer=keras.optimizers.Adam(0.05))
    result = tuning.tune_and_compare(hm, x, y, validation_split=0.25, max_trials=1, epochs=5,
                                     seed=0, report_dir=str(tmp_path))
    assert result.winner == "scratch"
    assert result.scratch_score > result.distilled_score
    assert result.student is result.scratch_student
    assert "winner: scratch" in result.summary
    assert (tmp_path / "tune_compare.txt").read_text().strip() == result.summary


def test_trial_distiller_config_round_trip():
    teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(CLASSES)])
    student = keras.Sequential([keras.Input((4,)), keras.layers.Dense(CLASSES)])
    distiller = tuning.TrialDistiller(teacher=teacher, student=student, student_loss_weight=0.3,
                                      temperature=5.0)
    clone = tuning.TrialDistiller.from_config(distiller.get_config())
    assert isinstance(clone, tuning.TrialDistiller)
    assert (clone.alpha, clone.temperature) == pytest.approx((0.3, 5.0))


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("name, value", [
    ("alpha", (0.0, 1.5)), ("alpha", -0.1), ("alpha", [0.5, 2.0]), ("alpha", (0.8, 0.2)),
    ("temperature", 0.0), ("temperature", (0.0, 10.0)), ("temperature", (-1.0, 4.0)),
    ("temperature", "4"),
])
def test_out_of_domain_ranges_name_the_hyperparameter(name, value):
    teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(CLASSES)])
    with pytest.raises(ValueError, match=f"Invalid value for argument `{name}`.*Received: "
                                         f"{name}="):
        tuning.DistillerHyperModel(teacher, build_student, **{name: value})


def test_build_student_returning_no_model(tmp_path):
    teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(CLASSES)])
    hm = tuning.DistillerHyperModel(teacher, lambda hp: "not a model")
    with pytest.raises(TypeError, match="`build_student`.*returned 'not a model'"):
        tuning.RandomSearch(hm, max_trials=1, directory=str(tmp_path))


def test_build_student_with_wrong_class_count(tmp_path):
    teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(CLASSES)])

    def wrong(hp):
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(hp.Int("classes", 5, 5))])

    hm = tuning.DistillerHyperModel(teacher, wrong)
    with pytest.raises(ValueError, match=r"`build_student`.*3 output classes.*5 classes.*"
                                         r"'classes': 5"):
        kt.RandomSearch(hm, objective=hm.objective, max_trials=1, directory=str(tmp_path))


def test_unknown_objective_is_rejected_before_the_first_trial(teacher, tmp_path):
    hm = tuning.DistillerHyperModel(teacher, build_student)
    with pytest.raises(ValueError, match="`objective`.*Received: objective='val_auc'"):
        tuning.RandomSearch(hm, objective="val_auc", max_trials=1, directory=str(tmp_path))
    # The stock tuner: the first trial stops before it trains or runs the teacher.
    x, y = data()
    stock = kt.RandomSearch(hm, objective=kt.Objective("val_auc", "max"), max_trials=2,
                            directory=str(tmp_path / "stock"))
    with pytest.raises(ValueError, match="Received: objective='val_auc'"):
        stock.search(dataset(x, y), validation_data=dataset(x, y), epochs=1, verbose=0)
    assert int(TEACHER_EXAMPLES.numpy()) == 0
    assert not checkpoints(stock)
    with pytest.raises(ValueError, match="Pass `validation_data`"):
        tuning.search(hm, dataset(x, y), max_trials=1, directory=str(tmp_path / "s"))


def test_parse_range_names_the_flag():
    assert tuning.parse_range("0.2,1", "alpha") == (0.2, 1.0)
    with pytest.raises(ValueError, match="`temperature`.*Received: temperature='hot'"):
        tuning.parse_range("hot", "temperature")


def test_unknown_tuner_and_bad_split():
    with pytest.raises(ValueError, match="`tuner`.*Received: tuner='grid'"):
        tuning.tuners.get("grid")
    with pytest.raises(ValueError, match="`validation_split`.*Received: validation_split=1.5"):
        tuning.split_validation(np.zeros(4), np.zeros(4), 1.5)


# ------------------------------------------------------------------ shared teacher outputs
def test_shared_teacher_outputs_computed_once_then_loaded(teacher, tmp_path):
    x, y = data()
    path = str(tmp_path / "outputs")
    first, computed = tuning.shared_teacher_outputs(teacher, dataset(x, y), path, shuffle=False)
    second, again = tuning.shared_teacher_outputs(teacher, dataset(x, y), path, shuffle=False)
    assert (computed, again) == (True, False)
    # One pass; `cache_teacher_outputs(path=...)` also runs its first batch to learn the spec.
    assert EXAMPLES <= int(TEACHER_EXAMPLES.numpy()) <= EXAMPLES + BATCH
    assert not os.path.exists(path + ".lock")
    for a, b in zip(first, second):
        tf.nest.map_structure(np.testing.assert_array_equal, a, b)


def test_shared_teacher_outputs_times_out_on_a_stale_lock(teacher, tmp_path):
    path = str(tmp_path / "outputs")
    with open(path + ".lock", "w", encoding="utf-8") as f:
        f.write("otherhost:123")
    with pytest.raises(TimeoutError, match="otherhost:123.*delete the lock file"):
        tuning.shared_teacher_outputs(teacher, dataset(*data()), path, timeout=0.3, poll=0.05)


# ------------------------------------------------------------------- distributed tuning
_DISTRIBUTED_SCRIPT = """
import json, os, sys
import keras, numpy as np, tensorflow as tf
from keras_distill import tuning

seen = tf.Variable(0, dtype=tf.int64, trainable=False)

class Counting(keras.layers.Layer):
    def call(self, x):
        seen.assign_add(tf.cast(tf.shape(x)[0], tf.int64))
        return x

workdir = sys.argv[1]
keras.utils.set_random_seed(0)
teacher = keras.Sequential([keras.Input((8,)), Counting(), keras.layers.Dense(16, "relu"),
                            keras.layers.Dense(3)])
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 8)).astype("float32")
y = np.argmax(x[:, :3], axis=-1)
train = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
student = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)])
hm = tuning.DistillerHyperModel(teacher, student, cache=os.path.join(workdir, "teacher_outputs"))
result = tuning.search(hm, train, validation_data=train, max_trials=3, epochs=1, final_epochs=1,
                       seed=0, directory=os.path.join(workdir, "tuning"),
                       report_dir=os.path.join(workdir, "report"))
out = {"seen": int(seen.numpy()), "passes": hm._teacher_outputs.passes}
if result.best_hyperparameters is not None:
    out["trials"] = [str(t.status) for t in result.tuner.oracle.trials.values()]
    out["trained"] = result.student is not None
print("RESULT " + json.dumps(out), flush=True)
"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_distributed_chief_and_worker_share_one_teacher_pass(tmp_path):
    script = tmp_path / "tune.py"
    script.write_text(textwrap.dedent(_DISTRIBUTED_SCRIPT))
    port = str(_free_port())
    processes = {}
    for tuner_id in ("chief", "tuner0"):
        env = dict(os.environ, KERASTUNER_TUNER_ID=tuner_id, KERASTUNER_ORACLE_IP="127.0.0.1",
                   KERASTUNER_ORACLE_PORT=port, TF_CPP_MIN_LOG_LEVEL="3",
                   CUDA_VISIBLE_DEVICES="", KERAS_BACKEND="tensorflow")
        processes[tuner_id] = subprocess.Popen(
            [sys.executable, str(script), str(tmp_path)], env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
    results = {}
    try:
        for tuner_id in ("tuner0", "chief"):
            output, _ = processes[tuner_id].communicate(timeout=150)
            assert processes[tuner_id].returncode == 0, output[-3000:]
            lines = [l for l in output.splitlines() if l.startswith("RESULT ")]
            assert lines, output[-3000:]
            results[tuner_id] = json.loads(lines[-1][len("RESULT "):])
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
    chief, worker = results["chief"], results["tuner0"]
    assert chief["trials"] == ["COMPLETED"] * 3  # Every trial the worker ran reached the chief.
    assert chief["trained"]
    assert "trials" not in worker
    # One teacher pass over the 64 examples for the whole distributed search (plus the batch
    # `cache_teacher_outputs(path=...)` runs first to learn the element spec).
    assert 64 <= chief["seen"] + worker["seen"] <= 64 + 16
    assert chief["passes"] + worker["passes"] == 1
    assert os.path.isdir(tmp_path / "teacher_outputs")
    assert (tmp_path / "report" / "tuning_results.txt").exists()


def fixed_student():
    return keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(4, "relu"),
                             keras.layers.Dense(CLASSES)])


def fixed_hp(alpha, temperature):
    hp = kt.HyperParameters()
    hp.values.update(alpha=alpha, temperature=temperature)
    return hp


def test_trials_share_one_traced_distiller_and_train_as_their_own_model(teacher):
    x, y = data()
    fit = dict(epochs=2, batch_size=BATCH, shuffle=False, verbose=0)
    hm = tuning.DistillerHyperModel(teacher, fixed_student(), cache=False,
                                    optimizer=keras.optimizers.Adam(1e-2))
    earlier = fixed_hp(0.9, 8.0)  # A trial before: its optimizer steps and alpha/T are undone.
    hm.fit(earlier, hm.build(earlier), x, y, **fit)
    (runner,) = [r.distiller for r in hm._runner.runners.values()]
    train_function = runner.train_function

    hp = fixed_hp(0.3, 2.0)
    trial, twin = hm.build(hp), hm.build(hp)
    twin.student.set_weights(trial.student.get_weights())
    history = hm.fit(hp, trial, x, y, **fit)
    twin_history = twin.fit(x, y, **fit)  # The same trial on its own fresh model.

    assert len(hm._runner.runners) == 1 and runner.train_function is train_function
    assert (float(runner.alpha), float(runner.temperature)) == (0.3, 2.0)
    for ours, alone in zip(trial.student.get_weights(), twin.student.get_weights()):
        np.testing.assert_allclose(ours, alone, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(history.history["loss"], twin_history.history["loss"], rtol=1e-5)


def test_trials_of_other_structures_get_their_own_runner_or_none(teacher, tmp_path):
    from keras_distill import augment
    from keras_distill.tuning import trial_runner

    x, y = data()
    hm = tuning.DistillerHyperModel(teacher, build_student, cache=False)
    for units in (2, 4, 2):
        hp = kt.HyperParameters()
        hp.values.update(alpha=0.5, temperature=2.0, units=units)
        hm.fit(hp, hm.build(hp), x, y, epochs=1, batch_size=BATCH, verbose=0)
    assert len(hm._runner.runners) == 2  # One per student width.

    augmented = tuning.DistillerHyperModel(teacher, fixed_student(), cache=False,
                                           augmentation=augment.RandomScale(0.1, seed=0))
    hp = fixed_hp(0.5, 2.0)
    model = augmented.build(hp)
    assert trial_runner.structure(model) is None
    augmented.fit(hp, model, x, y, epochs=1, batch_size=BATCH, verbose=0)
    assert augmented._runner.runners == {} and model.optimizer.iterations.numpy() > 0
