"""The keras.io "Knowledge Distillation" example (Kenneth Borup), on keras_distill's `Distiller`.

The example defines its own `Distiller(keras.Model)`; here that class is replaced by
`keras_distill.Distiller` and everything else is the example's code: the same teacher and student
conv nets, the same `compile(...)` call, `fit`, then `evaluate`. Both published versions run:

* `keras3`: the current Keras 3 version (`import keras`, `layers.LeakyReLU(negative_slope=0.2)`).
  Its own `Distiller.evaluate` returns `[loss, sparse_categorical_accuracy]`; so does ours, so
  `loss, acc = distiller.evaluate(x_test, y_test)` works (our `loss` is the student's hard-label
  loss: `evaluate` judges the student without running the teacher).
* `tf_keras`: the older version written against `tf.keras` (`from tensorflow import keras`,
  `layers.LeakyReLU(alpha=0.2)`). Its `Distiller` overrode `train_step`/`test_step` and its
  `evaluate` returned `[sparse_categorical_accuracy, student_loss]`; ours returns the same values
  in `metrics_names` order, `[loss, sparse_categorical_accuracy]` (`loss` being the student
  loss), so read them by name (`return_dict=True`) when porting code that indexed them.

MNIST is replaced by generated 28x28x1 images (nothing is downloaded): noise with a faintly
brighter 7x5 patch whose position is the label, learnable in a few epochs.

    python examples/keras_io_knowledge_distillation.py [--version keras3|tf_keras|both]
        [--examples 4096] [--epochs 3] [--teacher-epochs 5]
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

import keras_distill as kd  # noqa: E402


def generated_mnist(examples, seed=0):
    """`(x_train, y_train), (x_test, y_test)`: 28x28x1 float32 images in [0, 1], 10 classes."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.3, 0.25, size=(examples, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, size=examples).astype("int64")
    for image, label in zip(x, y):
        row, col = divmod(int(label), 5)  # 2 x 5 patch positions.
        image[3 + 14 * row: 10 + 14 * row, 1 + 5 * col: 6 + 5 * col] += 0.12
    x = np.clip(x, 0.0, 1.0)
    split = examples * 4 // 5
    return (x[:split], y[:split]), (x[split:], y[split:])


def keras3_version(data, epochs, teacher_epochs, verbose):
    """The Keras 3 version of the example, with `kd.Distiller` for its `Distiller` class."""
    import keras
    from keras import layers

    teacher = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(256, (3, 3), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.MaxPooling2D(pool_size=(2, 2), strides=(1, 1), padding="same"),
            layers.Conv2D(512, (3, 3), strides=(2, 2), padding="same"),
            layers.Flatten(),
            layers.Dense(10),
        ],
        name="teacher",
    )
    student = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(16, (3, 3), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.MaxPooling2D(pool_size=(2, 2), strides=(1, 1), padding="same"),
            layers.Conv2D(32, (3, 3), strides=(2, 2), padding="same"),
            layers.Flatten(),
            layers.Dense(10),
        ],
        name="student",
    )
    student_scratch = keras.models.clone_model(student)
    (x_train, y_train), (x_test, y_test) = data

    teacher.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    teacher.fit(x_train, y_train, epochs=teacher_epochs, verbose=verbose)
    teacher.evaluate(x_test, y_test, verbose=verbose)

    distiller = kd.Distiller(student=student, teacher=teacher)  # Was: Distiller(...).
    distiller.compile(
        optimizer=keras.optimizers.Adam(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
        student_loss_fn=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        distillation_loss_fn=keras.losses.KLDivergence(),
        alpha=0.1,
        temperature=10,
    )
    distiller.fit(x_train, y_train, epochs=epochs, verbose=verbose)
    loss, acc = distiller.evaluate(x_test, y_test, verbose=verbose)
    print(f"keras3 distilled student: loss {loss:.4f}, sparse_categorical_accuracy {acc:.4f} "
          f"({distiller.metrics_names})")

    student_scratch.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    student_scratch.fit(x_train, y_train, epochs=epochs, verbose=verbose)
    scratch_loss, scratch_acc = student_scratch.evaluate(x_test, y_test, verbose=verbose)
    print(f"keras3 student from scratch: loss {scratch_loss:.4f}, "
          f"sparse_categorical_accuracy {scratch_acc:.4f}")
    return loss, acc


def tf_keras_version(data, epochs, teacher_epochs, verbose):
    """The older tf.keras version of the example, with `kd.Distiller` for its `Distiller`."""
    from tensorflow import keras
    from tensorflow.keras import layers

    teacher = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(256, (3, 3), strides=(2, 2), padding="same"),
            layers.LeakyReLU(alpha=0.2),
            layers.MaxPooling2D(pool_size=(2, 2), strides=(1, 1), padding="same"),
            layers.Conv2D(512, (3, 3), strides=(2, 2), padding="same"),
            layers.Flatten(),
            layers.Dense(10),
        ],
        name="teacher",
    )
    student = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(16, (3, 3), strides=(2, 2), padding="same"),
            layers.LeakyReLU(alpha=0.2),
            layers.MaxPooling2D(pool_size=(2, 2), strides=(1, 1), padding="same"),
            layers.Conv2D(32, (3, 3), strides=(2, 2), padding="same"),
            layers.Flatten(),
            layers.Dense(10),
        ],
        name="student",
    )
    (x_train, y_train), (x_test, y_test) = data

    teacher.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    teacher.fit(x_train, y_train, epochs=teacher_epochs, verbose=verbose)
    teacher.evaluate(x_test, y_test, verbose=verbose)

    distiller = kd.Distiller(student=student, teacher=teacher)
    distiller.compile(
        optimizer=keras.optimizers.Adam(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
        student_loss_fn=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        distillation_loss_fn=keras.losses.KLDivergence(),
        alpha=0.1,
        temperature=10,
    )
    distiller.fit(x_train, y_train, epochs=epochs, verbose=verbose)
    # The original printed `distiller.evaluate(x_test, y_test)`: [accuracy, student_loss] there.
    results = distiller.evaluate(x_test, y_test, verbose=verbose, return_dict=True)
    print(f"tf_keras distilled student: sparse_categorical_accuracy "
          f"{results['sparse_categorical_accuracy']:.4f}, student loss {results['loss']:.4f}")
    return results["loss"], results["sparse_categorical_accuracy"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", choices=["keras3", "tf_keras", "both"], default="both")
    parser.add_argument("--examples", type=int, default=4096, help="generated images in all")
    parser.add_argument("--epochs", type=int, default=3, help="distillation epochs (the example's)")
    parser.add_argument("--teacher-epochs", type=int, default=5, help="the example's 5")
    parser.add_argument("--verbose", type=int, default=0)
    args = parser.parse_args(argv)

    data = generated_mnist(args.examples)
    if args.version in ("keras3", "both"):
        keras3_version(data, args.epochs, args.teacher_epochs, args.verbose)
    if args.version in ("tf_keras", "both"):
        tf_keras_version(data, args.epochs, args.teacher_epochs, args.verbose)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
