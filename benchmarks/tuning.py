"""Benchmark: an 8-trial alpha/T search on MNIST-1D, online teacher vs cached teacher outputs.

Both searches run in this one process on the same data, teacher, student family and trial
budget; only `DistillerHyperModel(cache=...)` differs. The teacher has ~20x the student's
forward FLOPs. Prints the wall time of each search and the cached / online ratio (target <= 0.3),
and the floor of a cached search on this machine: one teacher pass plus the student's own
training (every trial's epochs as a plain `student.fit`), against which the cached search's
remaining per-trial overhead shows. Trials of one structure train on one traced distiller
(`keras_distill.tuning.trial_runner`), so no trial after the first retraces.

    python benchmarks/tuning.py [--trials 8] [--epochs 3] [--samples 20000] [--batch-size 256]

MNIST-1D comes from `keras_distill.data.mnist1d` (the `mnist1d` package's own generator, no
download). The models are local CNNs sized for the FLOP ratio.
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_distill as kd  # noqa: E402
from keras_distill import tuning  # noqa: E402


def cnn(width, depth, name):
    """`depth` same-padded Conv1D layers of `width` filters over the 40 steps, then logits."""
    layers = [keras.Input((40,)), keras.layers.Reshape((40, 1))]
    for _ in range(depth):
        layers.append(keras.layers.Conv1D(width, 5, padding="same", activation="relu"))
    layers += [keras.layers.Flatten(), keras.layers.Dense(10)]
    return keras.Sequential(layers, name=name)


def teacher_model():
    return cnn(128, 6, "teacher")


def student_model(hp=None):
    return cnn(64, 2, "student")


def forward_flops(model):
    """Multiply-adds x 2 of the Conv1D and Dense layers for one example."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv1D, keras.layers.Dense)):
            kernel = layer.kernel.shape
            positions = int(np.prod(layer.output.shape[1:-1])) if len(layer.output.shape) > 2 else 1
            total += 2 * int(np.prod(kernel)) * positions
    return total


def plain_epoch_seconds(train, val, rounds=3):
    """The fastest of `rounds` epochs (validation included) of the student alone."""
    student = student_model()
    student.compile(keras.optimizers.Adam(3e-3),
                    keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=["sparse_categorical_accuracy"])
    student.fit(train, validation_data=val, epochs=1, verbose=0)  # Tracing is not measured.
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        student.fit(train, validation_data=val, epochs=1, verbose=0)
        times.append(time.perf_counter() - start)
    return min(times)


def run_search(teacher, cache, train, val, trials, epochs, seed):
    hm = tuning.DistillerHyperModel(
        teacher, student_model, cache=cache,
        optimizer=keras.optimizers.Adam(3e-3),
    )
    start = time.perf_counter()
    tuner = tuning.RandomSearch(hm, max_trials=trials, seed=seed,
                                directory=tempfile.mkdtemp(prefix="bench-tuning-"))
    tuner.search(train, validation_data=val, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    best = tuner.oracle.get_best_trials(1)[0]
    return seconds, best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    train_examples = args.samples * 4 // 5  # mnist1d's own 80/20 split.
    arrays = kd.data.mnist1d.generate(num_train=train_examples,
                                      num_test=args.samples - train_examples, seed=args.seed)
    x, y, x_test, y_test = (arrays[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    train = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=args.seed)
    train = train.batch(args.batch_size).prefetch(tf.data.AUTOTUNE)
    val = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(512)

    teacher = teacher_model()
    teacher.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=["sparse_categorical_accuracy"])
    teacher.fit(train, epochs=2, verbose=0)
    teacher_acc = teacher.evaluate(val, verbose=0, return_dict=True)["sparse_categorical_accuracy"]
    student = student_model()
    ratio_flops = forward_flops(teacher) / forward_flops(student)
    print(f"MNIST-1D: {len(x)} train / {len(x_test)} validation examples; "
          f"{args.trials} trials x {args.epochs} epochs, batch {args.batch_size}")
    print(f"teacher: {teacher.count_params()} params, {forward_flops(teacher)} FLOPs/example, "
          f"val acc {teacher_acc:.3f}; student: {student.count_params()} params, "
          f"{forward_flops(student)} FLOPs/example; teacher/student FLOPs "
          f"{ratio_flops:.1f}x")

    results = {}
    for mode, cache in (("online", False), ("cached", True)):
        seconds, best = run_search(teacher, cache, train, val, args.trials, args.epochs,
                                   args.seed)
        values = best.hyperparameters.values
        results[mode] = seconds
        print(f"{mode:>6}: {seconds:7.1f} s   best val acc {best.score:.3f} "
              f"(alpha={values['alpha']:.3f}, T={values['temperature']:.2f})")
    print(f"cached / online wall time: {results['cached'] / results['online']:.2f} "
          "(target <= 0.3)")
    # What no search can go below: one teacher pass and the student's own training, every
    # trial's epochs (with their validation) as plain `student.fit`.
    start = time.perf_counter()
    kd.cache_teacher_outputs(teacher, train)
    teacher_pass = time.perf_counter() - start
    epoch = plain_epoch_seconds(train, val)
    floor = teacher_pass + args.trials * args.epochs * epoch
    print(f"floor: one teacher pass {teacher_pass:.1f} s + {args.trials * args.epochs} plain "
          f"student epochs x {epoch:.2f} s = {floor:.1f} s; cached search / floor "
          f"{results['cached'] / floor:.2f}; floor / online {floor / results['online']:.2f}")


if __name__ == "__main__":
    main()
