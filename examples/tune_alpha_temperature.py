"""Choose alpha and temperature (and the student's width) with keras-tuner, on MNIST-1D.

The teacher is trained once, frozen, and shared by every trial; its outputs on the training set
are computed once for the whole search (pass --online if your pipeline augments at random). The
search runs on a validation split held out from training, and the best distilled student is
compared with the same student trained from labels alone on that split.

    python examples/tune_alpha_temperature.py --trials 8 --epochs 5 --report-dir reports/tune

For distributed tuning, run this same command in every process with KERASTUNER_TUNER_ID,
KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT set, a shared --report-dir and --cache-dir
(see docs/tuning.md).
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from keras_distill import models  # noqa: E402
from keras_distill import tuning  # noqa: E402
from keras_distill.data import mnist1d  # noqa: E402


def build_student(hp):
    """A small CNN whose width the search tunes next to alpha and T."""
    return models.cnn((40,), mnist1d.NUM_CLASSES, width=hp.Int("width", 4, 16, step=4), depth=2,
                      name="student")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=5, help="epochs per trial")
    parser.add_argument("--final-epochs", type=int, default=None,
                        help="epochs of the best configuration and of scratch (default: --epochs)")
    parser.add_argument("--teacher-epochs", type=int, default=15)
    parser.add_argument("--tuner", default="random", choices=["random", "bayesian", "hyperband"])
    parser.add_argument("--online", action="store_true",
                        help="run the teacher in every step (for random augmentation)")
    parser.add_argument("--cache-dir", default=None,
                        help="share the teacher outputs through this directory (several processes)")
    parser.add_argument("--report-dir", default="reports/tune_alpha_temperature")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    arrays = mnist1d.generate()
    teacher = models.reference_teacher((40,), mnist1d.NUM_CLASSES, seed=args.seed)
    teacher.compile(optimizer="adam",
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=["sparse_categorical_accuracy"])
    teacher.fit(arrays["x_train"], arrays["y_train"], epochs=args.teacher_epochs, batch_size=64,
                verbose=0)

    hypermodel = tuning.DistillerHyperModel(
        teacher, build_student,
        alpha=(0.0, 1.0),          # Reaching 1: label-only training is one of the candidates.
        temperature=(1.0, 20.0),   # Log-sampled.
        metrics=["sparse_categorical_accuracy"],
        cache=False if args.online else (args.cache_dir or True),
    )
    result = tuning.tune_and_compare(
        hypermodel, arrays["x_train"], arrays["y_train"], validation_split=0.2,
        tuner=args.tuner, max_trials=args.trials, epochs=args.epochs,
        final_epochs=args.final_epochs, batch_size=64, report_dir=args.report_dir,
        seed=args.seed,
    )
    if result is None:  # A distributed-tuning worker: the chief reports.
        return
    print(result.search.table)
    print()
    print(result.summary)
    test = result.student.evaluate(arrays["x_test"], arrays["y_test"], verbose=0,
                                   return_dict=True)
    teacher_test = teacher.evaluate(arrays["x_test"], arrays["y_test"], verbose=0,
                                    return_dict=True)
    print(f"test accuracy: teacher {teacher_test['sparse_categorical_accuracy']:.3f}, "
          f"chosen student ({result.winner}) {test['sparse_categorical_accuracy']:.3f}")
    print(f"report written to {args.report_dir}")


if __name__ == "__main__":
    main()
