"""Epoch time of distillation vs its floor, measured in one run with interleaved rounds.

Configurations (same data, same models; a ~1M-parameter CNN teacher, a ~50k-parameter student,
28x28x1 inputs, batch 128):
  plain      - the student trained alone (`student.fit`)
  teacher    - one teacher forward pass over the data (a compiled loop, nothing else)
  online     - keras_distill.Distiller, teacher called every step
  cached     - keras_distill.Distiller on `cache_teacher_outputs` (cache built once, not timed)
  keras      - keras.distillation.Distiller (Keras >= 3.12)

Each round runs one epoch of every configuration, in turn; the figure per configuration is its
minimum over the rounds, so a noisy neighbour on a shared machine slows a round, not a ratio.

    python benchmarks/throughput.py [--rounds 8] [--examples 4096]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_distill as kd  # noqa: E402

SCCE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def teacher_cnn():
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.Conv2D(64, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(108, activation="relu"),
        keras.layers.Dense(10),
    ], name="teacher")


def student_cnn():
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(120, activation="relu"),
        keras.layers.Dense(10),
    ], name="student")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--examples", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(args.examples, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, size=args.examples).astype("int32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(args.batch_size).cache().prefetch(2)
    teacher = teacher_cnn()
    print(f"teacher: {teacher.count_params():,} parameters; "
          f"student: {student_cnn().count_params():,} parameters; "
          f"{args.examples} examples, batch {args.batch_size}, {args.rounds} rounds")

    plain = student_cnn()
    plain.compile(optimizer="adam", loss=SCCE, metrics=["sparse_categorical_accuracy"])
    online = kd.Distiller(teacher=teacher, student=student_cnn()).compile(
        optimizer="adam", student_loss_fn=SCCE, metrics=["sparse_categorical_accuracy"],
        alpha=0.1, temperature=4.0)
    cached_distiller = kd.Distiller(teacher=teacher, student=student_cnn()).compile(
        optimizer="adam", student_loss_fn=SCCE, metrics=["sparse_categorical_accuracy"],
        alpha=0.1, temperature=4.0)
    cached_data = kd.cache_teacher_outputs(teacher, data, shuffle=False)
    keras_distiller = keras.distillation.Distiller(
        teacher=teacher, student=student_cnn(),
        distillation_losses=keras.distillation.LogitsDistillation(temperature=4.0),
        student_loss_weight=0.1)
    keras_distiller.compile(optimizer="adam", loss=SCCE, metrics=["sparse_categorical_accuracy"])

    @tf.function
    def teacher_pass():
        # A compiled loop with nothing but the forward pass (`predict` adds output copying);
        # the sum keeps the outputs from being pruned.
        total = tf.constant(0.0)
        for x_batch, _ in data:
            total += tf.reduce_sum(teacher(x_batch, training=False))
        return total

    runs = {
        "plain": lambda: plain.fit(data, epochs=1, verbose=0),
        "teacher": teacher_pass,
        "online": lambda: online.fit(data, epochs=1, verbose=0),
        "cached": lambda: cached_distiller.fit(cached_data, epochs=1, verbose=0),
        "keras": lambda: keras_distiller.fit(data, epochs=1, verbose=0),
    }
    for run in runs.values():  # Warm-up: tracing and first-epoch caches are not measured.
        run()
    times = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    best = {name: min(values) for name, values in times.items()}

    print("\nsteady-state epoch time (min over rounds):")
    for name, value in best.items():
        print(f"  {name:<8} {value * 1000:8.1f} ms   (rounds: "
              + ", ".join(f"{v * 1000:.0f}" for v in times[name]) + ")")
    floor = best["teacher"] + best["plain"]
    ratios = [
        ("online / (teacher forward + plain student)", best["online"] / floor, 1.05),
        ("cached / plain student", best["cached"] / best["plain"], 1.15),
        ("online / keras.distillation", best["online"] / best["keras"], 1.0),
    ]
    print("\nratios (target):")
    for label, value, target in ratios:
        verdict = "meets" if value <= target else "MISSES"
        print(f"  {label:<45} {value:5.2f}  (<= {target:.2f}: {verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
