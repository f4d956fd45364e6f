"""On new inputs only the teacher labels, do its soft labels teach more than its hard ones?

The recipes benchmark finds that the students lack inputs, not labels' information: a transfer
set of new MNIST-1D signals closes most of the teacher-student gap, and soft labels on the
training inputs close little of it. This separates the two on the transfer set itself. Each
student (MNIST-1D's reference CNN or MLP student) trains on the 3,200 labeled training signals
plus `--transfer` generated signals, the same epochs, batch, schedule and selection (its best
epoch on the validation split), two ways:
- `hard`: each transfer signal labelled with the teacher's top class (pseudo-labels), plain
  cross-entropy on all;
- `soft`: the default recipe's KD (alpha 0.5, T 2) on the training signals and the
  distillation term alone on the transfer signals (`Distiller`, label -1).
If `soft` is not ahead of `hard`, what the teacher adds on these pairs is the labels of new
inputs, not the dark knowledge in its probabilities. No augmentation in either row.

Figures: test accuracy mean +- sd over seeds, validation accuracy of the kept epoch, and the
paired difference soft - hard +- its standard error. A benchmark, not a test.

    python benchmarks/soft_labels.py [--families cnn,mlp] [--seeds 3] [--epochs 40]
                                     [--transfer 20000]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import recipes  # noqa: E402  (benchmarks/recipes.py: the teacher, selection and test accuracy)
import keras_distill as kd  # noqa: E402
from keras_distill import data as data_lib  # noqa: E402
from keras_distill import models as models_lib  # noqa: E402
from keras_distill.workflow import recipe as recipe_lib  # noqa: E402
from keras_distill.workflow import training  # noqa: E402


def _arrays(batches):
    """A split's batches as NumPy arrays: `x`, or `(x, y)`."""
    parts = [keras.tree.map_structure(np.asarray, batch) for batch in batches]
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate(column) for column in zip(*parts))
    return np.concatenate(parts)


def train_row(row, data, teacher, family, epochs, seed, pseudo_labelled):
    """`(test accuracy, validation accuracy, seconds)` of one student trained as `row` says."""
    started = time.perf_counter()
    student = models_lib.reference_student(family, data.input_shape, data.num_classes,
                                           input_name=data.feature_name, seed=seed)
    examples = data.sizes["train"] + data.sizes["transfer"]
    optimizer = training.cosine_adam(recipes.LEARNING_RATE,
                                     training.total_steps(examples, recipes.BATCH_SIZE, epochs))
    if row == "hard":
        x, y = pseudo_labelled
        train_data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(
            len(x), seed=seed).batch(recipes.BATCH_SIZE)
        trainer = student
        trainer.compile(optimizer, training.classification_loss(), metrics=["accuracy"])
    else:
        train_data = data.batches("train", recipes.BATCH_SIZE, seed=seed, with_transfer=True)
        trainer = kd.Distiller(student=student, teacher=teacher)
        trainer.compile(optimizer, metrics=["accuracy"],
                        student_loss_fn=training.classification_loss(),
                        alpha=recipe_lib.ALPHA, temperature=recipe_lib.TEMPERATURE)
    keep = recipes._fit(student, trainer, train_data, data, epochs)
    return recipes._accuracy(student, data), keep.best, time.perf_counter() - started


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="cnn,mlp")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--teacher-epochs", type=int, default=30)
    parser.add_argument("--transfer", type=int, default=20000)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    data = data_lib.load("mnist1d", validation_split=recipes.VALIDATION, seed=42,
                         transfer_samples=args.transfer)
    keras.utils.set_random_seed(0)
    teacher = recipes.train_teacher(data, args.teacher_epochs)
    x_train, y_train = _arrays(data.batches("train", 4096, shuffle=False))
    x_transfer = _arrays(data.batches("transfer", 4096, shuffle=False))
    pseudo_labels = np.argmax(teacher.predict(x_transfer, batch_size=4096, verbose=0), axis=-1)
    pseudo_labelled = (np.concatenate([x_train, x_transfer]),
                       np.concatenate([y_train, pseudo_labels]).astype(y_train.dtype))
    print(f"mnist1d: {data.sizes}, teacher {100 * recipes._accuracy(teacher, data):.1f}% "
          f"({time.perf_counter() - started:.0f} s)", flush=True)
    for family in args.families.split(","):
        results = {"hard": [], "soft": []}
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for row, values in results.items():
                keras.utils.set_random_seed(seed)
                values.append(train_row(row, data, teacher, family, args.epochs, seed,
                                        pseudo_labelled))
            print(f"{family} seed {seed}: " + ", ".join(
                f"{row} {100 * v[-1][0]:.1f} (validation {100 * v[-1][1]:.1f}, "
                f"{v[-1][2]:.0f} s)" for row, v in results.items()), flush=True)
        print(f"\n{family} student, {args.transfer} transfer signals, {args.epochs} epochs:")
        for row, values in results.items():
            mean, sd = recipes._mean_sd([100 * v[0] for v in values])
            print(f"  {row}: test {mean:.2f} +- {sd:.2f}, validation "
                  f"{100 * statistics.mean(v[1] for v in values):.2f}")
        gain, sd = recipes._mean_sd(
            [100 * (s[0] - h[0]) for s, h in zip(results["soft"], results["hard"])])
        se = sd / args.seeds ** 0.5 if args.seeds > 1 else float("nan")
        print(f"  soft - hard: {gain:+.2f} +- {se:.2f} (SE, paired)", flush=True)
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
