"""Distilling a causal LM: held-out perplexity of the distilled student against the same student
trained alone, a top-k cache against full-vocabulary KD, and the cost of a distillation step.

Offline: tiny keras-hub GPT-2s built from config, byte tokens (`keras_distill.lm`), and the
source of Python's standard library as text (modules split between training and held-out text).

Rows, per seed (the student's initial weights and the data order are the seed's, the same for
every row; every row sees the same tokens for the same epochs, Adam with cosine decay):
- `scratch`: the student alone, next-token cross-entropy;
- `kd`: forward KL to the online teacher (alpha 0.5, T 1) over the full vocabulary;
- `kd top-32`: the same against a top-32 cache of the teacher's logits (float16 values, int32
  ids, the rest of the mass folded into one bucket: `keras_distill.losses.top_k`).

Fixed a priori, not tuned on the held-out text: alpha 0.5 and T 1 (`lm.distiller`'s defaults),
the students' epochs, learning rate and schedule. Only the sizes of the teacher and the student
(`--teacher-layers/--teacher-width/--student-layers/--student-width`) and the teacher's training
length (`--teacher-epochs`) were chosen, to give a real capacity gap (a clearly better teacher)
within about half an hour on two CPU cores.

Figures: held-out perplexity (exp of the mean cross-entropy over real tokens) and next-token
accuracy, mean +- sd over seeds; the gain over scratch paired by seed +- its SE; the cache's
bytes per token against a dense float32 row; tokens/s of a plain student step, the teacher's
forward pass, an online KD step and a KD step on the top-k cache, each timed batch by batch
inside multi-epoch `fit`s (the first epoch of each, with tracing, not counted), the
configurations interleaved over rounds, fastest round's median step kept. A benchmark, not a
test.

    python benchmarks/lm.py [--seeds 3] [--epochs 4] [--teacher-epochs 24] [--length 64]
        [--teacher-layers 4] [--teacher-width 128] [--student-layers 1] [--student-width 32]
        [--throughput-only]
"""

import argparse
import inspect
import math
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_distill as kd  # noqa: E402

# Each row's held-out pass traces its own function; TF warns about "retracing" after five.
tf.get_logger().setLevel("ERROR")
from keras_distill import lm  # noqa: E402
from keras_distill.lm import evaluation  # noqa: E402
from keras_distill.lm import models as lm_models  # noqa: E402
from keras_distill.workflow import training  # noqa: E402

TRAIN_MODULES = ("textwrap", "json.decoder", "json.encoder", "functools", "dataclasses")
HELD_OUT_MODULES = ("shlex", "pprint")
BATCH, LEARNING_RATE, TOP_K = 32, 3e-3, 32
CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def source_text(names):
    import importlib
    return "\n".join(inspect.getsource(importlib.import_module(name)) for name in names)


def gpt2(layers, width, length, seed):
    return lm_models.reference_gpt2(lm.BYTE_VOCABULARY, layers, width, length, seed)


def dataset(x, y, seed=None):
    data = tf.data.Dataset.from_tensor_slices((x, y))
    if seed is not None:
        data = data.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    return data.batch(BATCH)


def optimizer(examples, epochs):
    return training.cosine_adam(LEARNING_RATE, training.total_steps(examples, BATCH, epochs))


def held_out(model, x, y):
    """Perplexity and next-token accuracy over the real (unpadded) tokens."""
    result = evaluation.held_out(model, x, y, batch_size=256)
    return result.perplexity, result.accuracy


def train_teacher(x, y, length, epochs, layers, width):
    teacher = gpt2(layers, width, length, seed=0)
    teacher.compile(optimizer(len(y), epochs), evaluation.next_token_loss())
    teacher.fit(dataset(x, y, seed=0), epochs=epochs, verbose=0)
    return teacher


def train_row(row, teacher, x, y, length, epochs, seed, cache, size):
    student = gpt2(*size, length, seed=seed)
    if row == "scratch":
        student.compile(optimizer(len(y), epochs), evaluation.next_token_loss())
        student.fit(dataset(x, y, seed=seed), epochs=epochs, verbose=0)
        return student
    distiller = lm.distiller(teacher, student, temperature=1.0, alpha=0.5)
    distiller.compile(optimizer(len(y), epochs), CE)
    data = cache if row.startswith("kd top") else dataset(x, y, seed=seed)
    distiller.fit(data, epochs=epochs, verbose=0)
    return student


class StepTimes(keras.callbacks.Callback):
    """Wall time of every training step after the first epoch of a `fit`."""

    def __init__(self):
        super().__init__()
        self.times, self.epoch, self.start = [], 0, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch > 0:
            self.times.append(time.perf_counter() - self.start)


class TeacherForward(keras.Model):
    """A "training" step that only runs the teacher's forward pass (timed like the others)."""

    def __init__(self, teacher):
        super().__init__()
        self.teacher = teacher

    def call(self, inputs, training=False):
        return self.teacher(inputs, training=False)

    def train_step(self, data):
        x = data[0]
        return {"logits": tf.reduce_sum(self.teacher(x, training=False))}


def throughput(teacher, x, y, cache, length, size, rounds=3, epochs=3, batches=16):
    """Tokens/s of a step: plain student, teacher forward, online KD, KD on the top-k cache.

    Every configuration runs `rounds` fits of `epochs` epochs of `batches` full batches (after
    a first fit that traces); within a fit the first epoch is not timed; the median step of each
    fit is kept and the fastest fit's wins. The configurations take turns within each round.
    """
    n = batches * BATCH
    x, y = {k: v[:n] for k, v in x.items()}, y[:n]
    tokens = float(np.sum(x["padding_mask"])) / batches
    data = dataset(x, y)
    cached = cache.take(batches)
    plain = gpt2(*size, length, seed=1)
    plain.compile(keras.optimizers.Adam(1e-3), evaluation.next_token_loss())
    forward = TeacherForward(teacher)
    forward.compile(keras.optimizers.Adam(1e-3))
    online = lm.distiller(teacher, gpt2(*size, length, seed=1))
    online.compile(keras.optimizers.Adam(1e-3), CE)
    offline = lm.distiller(teacher, gpt2(*size, length, seed=1))
    offline.compile(keras.optimizers.Adam(1e-3), CE)
    runs = {"plain student": (plain, data), "teacher forward": (forward, data),
            "online KD": (online, data), f"top-{TOP_K} cached KD": (offline, cached)}
    for model, source in runs.values():
        model.fit(source, epochs=1, verbose=0)  # Tracing.
    best = {name: math.inf for name in runs}
    for _ in range(rounds):
        for name, (model, source) in runs.items():
            times = StepTimes()
            model.fit(source, epochs=epochs, verbose=0, callbacks=[times])
            best[name] = min(best[name], statistics.median(times.times))
    return {name: tokens / step for name, step in best.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--teacher-epochs", type=int, default=24)
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--teacher-layers", type=int, default=4)
    parser.add_argument("--teacher-width", type=int, default=128)
    parser.add_argument("--student-layers", type=int, default=1)
    parser.add_argument("--student-width", type=int, default=32)
    parser.add_argument("--throughput-only", action="store_true",
                        help="only the step costs, on an untrained teacher of the same size "
                             "(a step costs the same; minutes instead of half an hour)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    train = lm.byte_sequences(source_text(TRAIN_MODULES), args.length + 1)
    test = lm.byte_sequences(source_text(HELD_OUT_MODULES), args.length + 1)
    x, y = lm.next_token_examples(train)
    x_test, y_test = lm.next_token_examples(test)
    size = (args.student_layers, args.student_width)
    if args.throughput_only:
        teacher = gpt2(args.teacher_layers, args.teacher_width, args.length, seed=0)
        with tempfile.TemporaryDirectory() as directory:
            cache = kd.cache_teacher_outputs(teacher, dataset(x, y), top_k=TOP_K, shuffle=True,
                                             seed=0, path=os.path.join(directory, "top_k"))
            print_speeds(throughput(teacher, x, y, cache, args.length, size))
        return
    teacher = train_teacher(x, y, args.length, args.teacher_epochs, args.teacher_layers,
                            args.teacher_width)
    teacher_ppl, teacher_acc = held_out(teacher, x_test, y_test)
    print(f"text: {int((y >= 0).sum()):,} training tokens, {int((y_test >= 0).sum()):,} held-out; "
          f"teacher {args.teacher_layers} layers x {args.teacher_width}, "
          f"{teacher.count_params():,} parameters, {args.teacher_epochs} epochs: "
          f"perplexity {teacher_ppl:.2f}, next-token accuracy {100 * teacher_acc:.1f}% "
          f"({time.perf_counter() - started:.0f} s)", flush=True)

    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "top_k")
        cache = kd.cache_teacher_outputs(teacher, dataset(x, y), top_k=TOP_K, shuffle=True,
                                         seed=0, path=path)
        stored = sum(os.path.getsize(os.path.join(root, name))
                     for root, _, names in os.walk(path) for name in names)
        positions = y.size
        print(f"top-{TOP_K} cache: {stored / positions:.0f} bytes per position (inputs, labels "
              f"and manifest included) vs {4 * lm.BYTE_VOCABULARY} for a dense float32 row; for a "
              f"256k vocabulary: {TOP_K * 6 + 4} bytes (k float16 values + k int32 ids + the "
              f"rest) vs {4 * 256_000:,}", flush=True)
        rows = ("scratch", "kd", f"kd top-{TOP_K}")
        results = {row: [] for row in rows}
        for seed in range(1, args.seeds + 1):
            for row in rows:
                student = train_row(row, teacher, x, y, args.length, args.epochs, seed, cache,
                                    size)
                results[row].append(held_out(student, x_test, y_test))
            print(f"seed {seed}: " + ", ".join(
                f"{row} ppl {values[-1][0]:.2f}" for row, values in results.items())
                + f" ({time.perf_counter() - started:.0f} s)", flush=True)
        speeds = throughput(teacher, x, y, cache, args.length, size)

    student_params = gpt2(*size, args.length, 0).count_params()
    print(f"\nstudent {size[0]} layers x {size[1]}, {student_params:,} parameters, "
          f"{args.epochs} epochs, {args.seeds} seeds")
    print("| row | held-out perplexity | gain over scratch (paired) | next-token accuracy |")
    print("|---|---|---|---|")
    scratch = [ppl for ppl, _ in results["scratch"]]
    for row, values in results.items():
        ppl = [v[0] for v in values]
        acc = [v[1] for v in values]
        sd = statistics.stdev(ppl) if len(ppl) > 1 else 0.0
        gain = "-"
        if row != "scratch":
            diffs = [s - p for s, p in zip(scratch, ppl)]
            se = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else float("nan")
            gain = f"{statistics.mean(diffs):+.2f} +- {se:.2f}"
        print(f"| {row} | {statistics.mean(ppl):.2f} +- {sd:.2f} | {gain} | "
              f"{100 * statistics.mean(acc):.1f}% |")
    full = statistics.mean(v[0] for v in results["kd"])
    top = statistics.mean(v[0] for v in results[f"kd top-{TOP_K}"])
    print(f"top-{TOP_K} / full-vocabulary perplexity: {top / full:.3f} (target <= 1.01)")

    print_speeds(speeds)
    print(f"{time.perf_counter() - started:.0f} s in all")


def print_speeds(speeds):
    print(f"\ntokens/s of a training step (batches of {BATCH}, median step of epochs 2-3 of "
          "a fit, fastest of 3 interleaved rounds):")
    for name, value in speeds.items():
        print(f"  {name:<20} {value:10,.0f}")
    floor = 1.0 / (1.0 / speeds["plain student"] + 1.0 / speeds["teacher forward"])
    print(f"online KD step / (teacher forward + student step): {floor / speeds['online KD']:.2f} "
          "(target <= 1.1)")
    print(f"top-{TOP_K} cached KD step / plain student step: "
          f"{speeds['plain student'] / speeds[f'top-{TOP_K} cached KD']:.2f}")


if __name__ == "__main__":
    main()
