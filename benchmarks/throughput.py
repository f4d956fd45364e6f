"""Epoch time of distillation vs its floor, measured in one run with interleaved rounds.

Configurations (same data, same models; a ~1M-parameter CNN teacher, a ~50k-parameter student,
28x28x1 inputs, batch 128):
  plain        - the student trained alone (`student.fit`)
  teacher      - one teacher forward pass over the data (a compiled loop, nothing else)
  teacher-bf16 - the same pass on the teacher's bfloat16 copy (`teacher_precision`)
  online       - keras_distill.Distiller, teacher called every step
  online-bf16  - the same with `teacher_dtype="bfloat16"`
  cached       - keras_distill.Distiller on `cache_teacher_outputs` (cache built once, not timed)
  cached-top3  - the same on a top-3 cache (`cache_teacher_outputs(..., top_k=3)`)
  cached-map   - the same cache behind an identity `map`: a dataset the cache did not return,
                 so `fit` checks it batch by batch (what the cache's own checks save)
  keras        - keras.distillation.Distiller (Keras >= 3.12)

The tuning ratio of the issue (8 trials x 3 epochs, cached / online) is `benchmarks/tuning.py`'s:
a search is minutes, not an epoch, so it does not fit in these rounds.

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
    top_k_distiller = kd.Distiller(teacher=teacher, student=student_cnn()).compile(
        optimizer="adam", student_loss_fn=SCCE, metrics=["sparse_categorical_accuracy"],
        alpha=0.1, temperature=4.0)
    top_k_data = kd.cache_teacher_outputs(teacher, data, shuffle=False, top_k=3)
    mapped_distiller = kd.Distiller(teacher=teacher, student=student_cnn()).compile(
        optimizer="adam", student_loss_fn=SCCE, metrics=["sparse_categorical_accuracy"],
        alpha=0.1, temperature=4.0)
    mapped_data = cached_data.map(lambda inputs, labels: (inputs, labels))
    online_bf16 = kd.Distiller(teacher=teacher, student=student_cnn(),
                               teacher_dtype="bfloat16").compile(
        optimizer="adam", student_loss_fn=SCCE, metrics=["sparse_categorical_accuracy"],
        alpha=0.1, temperature=4.0)
    keras_distiller = keras.distillation.Distiller(
        teacher=teacher, student=student_cnn(),
        distillation_losses=keras.distillation.LogitsDistillation(temperature=4.0),
        student_loss_weight=0.1)
    keras_distiller.compile(optimizer="adam", loss=SCCE, metrics=["sparse_categorical_accuracy"])

    def teacher_pass(model):
        @tf.function
        def run():
            # A compiled loop with nothing but the forward pass (`predict` adds output
            # copying); the sum keeps the outputs from being pruned.
            total = tf.constant(0.0)
            for x_batch, _ in data:
                total += tf.reduce_sum(tf.cast(model(x_batch, training=False), tf.float32))
            return total
        return run

    runs = {
        "plain": lambda: plain.fit(data, epochs=1, verbose=0),
        "teacher": teacher_pass(teacher),
        "teacher-bf16": teacher_pass(online_bf16.teacher),
        "online": lambda: online.fit(data, epochs=1, verbose=0),
        "online-bf16": lambda: online_bf16.fit(data, epochs=1, verbose=0),
        "cached": lambda: cached_distiller.fit(cached_data, epochs=1, verbose=0),
        "cached-top3": lambda: top_k_distiller.fit(top_k_data, epochs=1, verbose=0),
        "cached-map": lambda: mapped_distiller.fit(mapped_data, epochs=1, verbose=0),
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
        print(f"  {name:<12} {value * 1000:8.1f} ms   (rounds: "
              + ", ".join(f"{v * 1000:.0f}" for v in times[name]) + ")")
    floor = best["teacher"] + best["plain"]
    ratios = [  # The targets; None: reported, no target.
        ("online / (fp32 teacher forward + plain)", best["online"] / floor, 1.05),
        ("online, bf16 teacher / fp32 floor", best["online-bf16"] / floor, 0.65),
        ("teacher forward, bf16 / fp32", best["teacher-bf16"] / best["teacher"], None),
        ("cached / plain student", best["cached"] / best["plain"], 1.05),
        ("cached top-3 / plain student", best["cached-top3"] / best["plain"], 1.05),
        ("cached, checked per batch / plain student", best["cached-map"] / best["plain"], None),
        ("online / keras.distillation", best["online"] / best["keras"], 0.95),
        ("online, bf16 teacher / keras.distillation", best["online-bf16"] / best["keras"], None),
        # What a step with no overhead at all would give: how far below keras 0.95 can be.
        ("fp32 floor / keras.distillation", floor / best["keras"], None),
    ]
    print("\nratios (target):")
    for label, value, target in ratios:
        verdict = "" if target is None else (
            f"(<= {target:.2f}: {'meets' if value <= target else 'MISSES'})")
        print(f"  {label:<45} {value:5.2f}  {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
