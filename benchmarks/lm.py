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

Figures: held-out perplexity (exp of the mean cross-entropy over real tokens) and next-token
accuracy, mean +- sd over seeds; the gain over scratch paired by seed +- its SE; the cache's
bytes per token against a dense float32 row; tokens/s of a plain student step, the teacher's
forward pass and an online KD step. A benchmark, not a test.

    python benchmarks/lm.py [--seeds 3] [--epochs 4] [--teacher-epochs 8] [--length 64]
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
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_distill as kd  # noqa: E402
from keras_distill import lm  # noqa: E402
from keras_distill.workflow import training  # noqa: E402

TRAIN_MODULES = ("textwrap", "json.decoder", "json.encoder", "functools", "dataclasses")
HELD_OUT_MODULES = ("shlex", "pprint")
BATCH, LEARNING_RATE, TOP_K = 32, 3e-3, 32
CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def source_text(names):
    import importlib
    return "\n".join(inspect.getsource(importlib.import_module(name)) for name in names)


def gpt2(layers, width, length, seed):
    keras.utils.set_random_seed(seed)
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=lm.BYTE_VOCABULARY, num_layers=layers, num_heads=4 if width >= 64 else 2,
        hidden_dim=width, intermediate_dim=4 * width, max_sequence_length=length)
    return keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)


def dataset(x, y, seed=None):
    data = tf.data.Dataset.from_tensor_slices((x, y))
    if seed is not None:
        data = data.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    return data.batch(BATCH)


def optimizer(examples, epochs):
    return training.cosine_adam(LEARNING_RATE, training.total_steps(examples, BATCH, epochs))


def held_out(model, x, y):
    """Perplexity and next-token accuracy over the real (unpadded) tokens."""
    logits = model.predict(x, batch_size=256, verbose=0)
    real = y >= 0
    ce = keras.losses.sparse_categorical_crossentropy(np.where(real, y, 0), logits,
                                                      from_logits=True).numpy()
    accuracy = (logits.argmax(-1) == y)[real].mean()
    return math.exp(float(ce[real].mean())), float(accuracy)


def train_teacher(x, y, length, epochs):
    teacher = gpt2(2, 64, length, seed=0)
    teacher.compile(optimizer(len(y), epochs), lm_loss())
    teacher.fit(dataset(x, y, seed=0), epochs=epochs, verbose=0)
    return teacher


def lm_loss():
    """Next-token cross-entropy skipping the `-1` labels (the student alone)."""
    def loss(y_true, logits):
        y_true = tf.cast(y_true, tf.int32)
        real = tf.cast(y_true >= 0, tf.float32)
        values = keras.losses.sparse_categorical_crossentropy(
            tf.maximum(y_true, 0), logits, from_logits=True)
        return tf.reduce_sum(values * real) / tf.maximum(tf.reduce_sum(real), 1.0)
    return loss


def train_row(row, teacher, x, y, length, epochs, seed, cache):
    student = gpt2(1, 32, length, seed=seed)
    if row == "scratch":
        student.compile(optimizer(len(y), epochs), lm_loss())
        student.fit(dataset(x, y, seed=seed), epochs=epochs, verbose=0)
        return student
    distiller = lm.distiller(teacher, student, temperature=1.0, alpha=0.5)
    distiller.compile(optimizer(len(y), epochs), CE)
    data = cache if row.startswith("kd top") else dataset(x, y, seed=seed)
    distiller.fit(data, epochs=epochs, verbose=0)
    return student


def tokens_per_second(step, tokens, rounds=5):
    step()  # Tracing is not measured.
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return tokens / min(times)


def throughput(teacher, x, y, length):
    """Tokens/s of one epoch over 512 sequences: plain student, teacher forward, online KD."""
    x, y = {k: v[:512] for k, v in x.items()}, y[:512]
    tokens = int(np.sum(x["padding_mask"]))
    plain = gpt2(1, 32, length, seed=1)
    plain.compile(keras.optimizers.Adam(1e-3), lm_loss())
    distiller = lm.distiller(teacher, gpt2(1, 32, length, seed=1))
    distiller.compile(keras.optimizers.Adam(1e-3), CE)
    data = dataset(x, y)

    @tf.function
    def forward():
        total = tf.constant(0.0)
        for inputs, _ in data:
            total += tf.reduce_sum(teacher(inputs, training=False))
        return total

    return {
        "plain student": tokens_per_second(lambda: plain.fit(data, epochs=1, verbose=0), tokens),
        "teacher forward": tokens_per_second(forward, tokens),
        "online KD": tokens_per_second(lambda: distiller.fit(data, epochs=1, verbose=0), tokens),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--teacher-epochs", type=int, default=8)
    parser.add_argument("--length", type=int, default=64)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    train = lm.byte_sequences(source_text(TRAIN_MODULES), args.length + 1)
    test = lm.byte_sequences(source_text(HELD_OUT_MODULES), args.length + 1)
    x, y = lm.next_token_examples(train)
    x_test, y_test = lm.next_token_examples(test)
    teacher = train_teacher(x, y, args.length, args.teacher_epochs)
    teacher_ppl, teacher_acc = held_out(teacher, x_test, y_test)
    print(f"text: {int((y >= 0).sum()):,} training tokens, {int((y_test >= 0).sum()):,} held-out; "
          f"teacher {teacher.count_params():,} parameters: perplexity {teacher_ppl:.2f}, "
          f"next-token accuracy {100 * teacher_acc:.1f}% ({time.perf_counter() - started:.0f} s)",
          flush=True)

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
                student = train_row(row, teacher, x, y, args.length, args.epochs, seed, cache)
                results[row].append(held_out(student, x_test, y_test))
            print(f"seed {seed}: " + ", ".join(
                f"{row} ppl {values[-1][0]:.2f}" for row, values in results.items())
                + f" ({time.perf_counter() - started:.0f} s)", flush=True)

    print(f"\nstudent {gpt2(1, 32, args.length, 0).count_params():,} parameters, "
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

    speeds = throughput(teacher, x, y, args.length)
    print("\ntokens/s (one epoch of 512 sequences, fastest of 5):")
    for name, value in speeds.items():
        print(f"  {name:<16} {value:10,.0f}")
    floor = 1.0 / (1.0 / speeds["plain student"] + 1.0 / speeds["teacher forward"])
    print(f"online KD step / (teacher forward + student step): {floor / speeds['online KD']:.2f} "
          "(target <= 1.1)")
    print(f"{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
