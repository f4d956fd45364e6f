"""The `keras-distill` command: flat flags mapped onto `keras_distill.workflow` calls.

    keras-distill run                        # the whole story on built-in MNIST-1D
    keras-distill run --transfer-samples 25000
    keras-distill train-teacher --dataset mnist --data-dir ~/tensorflow_datasets
    keras-distill distill --teacher teacher.keras --student cnn --alpha 0.5 --temperature 4
    keras-distill evaluate --teacher teacher.keras --student student.keras
    keras-distill report --output keras_distill_output

User errors (bad names, paths, values) print one `error:` line and exit with status 2.
"""

import argparse
import os
import sys

USER_ERRORS = (ValueError, TypeError, FileNotFoundError, NotADirectoryError, FileExistsError,
               PermissionError)


def _data_flags(parser):
    parser.add_argument("--dataset", default="mnist1d",
                        help="'mnist1d' (built in, generated locally) or a tensorflow-datasets "
                             "image-classification name, e.g. mnist, fashion_mnist, cifar10 "
                             "(default: %(default)s)")
    parser.add_argument("--data-dir", default=None,
                        help="tensorflow-datasets data directory holding the prepared dataset "
                             "(nothing is downloaded; default: tfds's default)")
    parser.add_argument("--output", default="keras_distill_output",
                        help="output directory (default: %(default)s)")


def _training_flags(parser, epochs):
    parser.add_argument("--epochs", type=int, default=epochs,
                        help="training epochs (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=64,
                        help="batch size (default: %(default)s)")
    parser.add_argument("--learning-rate", type=float, default=3e-3,
                        help="peak learning rate of Adam with cosine decay (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of weights and shuffling (default: %(default)s)")
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=None,
                        help="Keras progress: 0 silent, 1 progress bar, 2 one line per epoch "
                             "(default: Keras's auto)")


def _student_flags(parser):
    parser.add_argument("--student", default="cnn", choices=("mlp", "cnn", "gru"),
                        help="student family (default: %(default)s)")
    parser.add_argument("--student-size", type=float, default=1.0,
                        help="width multiplier of the reference student (default: %(default)s)")
    parser.add_argument("--alpha", type=float, default=0.5,
                        help="weight of the hard-label loss, in [0, 1] (default: %(default)s)")
    parser.add_argument("--temperature", type=float, default=4.0,
                        help="softmax temperature (default: %(default)s)")
    parser.add_argument("--cache-teacher", action=argparse.BooleanOptionalAction, default=True,
                        help="run the teacher once and carry its outputs in the input pipeline "
                             "(default: on; turn off for random augmentation)")
    parser.add_argument("--transfer-samples", type=int, default=0,
                        help="unlabeled MNIST-1D examples, labeled by the teacher only, added to "
                             "the distilled student's data (default: %(default)s)")


def build_parser():
    """The `argparse` parser of `keras-distill`."""
    parser = argparse.ArgumentParser(
        prog="keras-distill",
        description="Knowledge distillation for Keras: how much smaller and faster can the "
                    "model get, and how much accuracy is lost?")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser(
        "run", help="the main job: teacher, scratch and distilled students, report, export",
        description="Train (or reuse, or load) a teacher, train a student from scratch and a "
                    "distilled student, compare them, export the distilled student for TF "
                    "Serving and write report.json/.md/.png.")
    _data_flags(run)
    _training_flags(run, epochs=30)
    _student_flags(run)
    run.add_argument("--teacher", default=None,
                     help="teacher .keras file or SavedModel directory (default: reuse the one "
                          "cached in --output, or train the reference teacher)")
    run.add_argument("--teacher-epochs", type=int, default=30,
                     help="epochs of the reference teacher (default: %(default)s)")
    run.add_argument("--retrain-teacher", action="store_true",
                     help="train the reference teacher even if one is cached")
    run.add_argument("--export-dir", default="saved_models",
                     help="parent of the SavedModel export (default: %(default)s)")
    run.add_argument("--no-export", action="store_true", help="skip the SavedModel export")

    teacher = sub.add_parser("train-teacher", help="train the reference teacher",
                             description="Train the reference teacher and save "
                                         "OUTPUT/teacher.keras.")
    _data_flags(teacher)
    _training_flags(teacher, epochs=30)
    teacher.add_argument("--family", default=None, choices=("mlp", "cnn", "gru"),
                         help="teacher family (default: the reference CNN)")
    teacher.add_argument("--width", type=int, default=None, help="teacher width")
    teacher.add_argument("--depth", type=int, default=None, help="teacher depth")

    distill = sub.add_parser("distill", help="distill a student from a saved teacher",
                             description="Distill a reference student from a saved teacher and "
                                         "save OUTPUT/student.keras.")
    _data_flags(distill)
    _training_flags(distill, epochs=30)
    _student_flags(distill)
    distill.add_argument("--teacher", required=True,
                         help="teacher .keras file or SavedModel directory")

    evaluate = sub.add_parser("evaluate", help="compare saved models and write the report",
                              description="Measure a teacher and students on the test split and "
                                          "write report.json/.md/.png to OUTPUT.")
    _data_flags(evaluate)
    evaluate.add_argument("--teacher", required=True, help="teacher .keras file or SavedModel")
    evaluate.add_argument("--student", required=True, help="distilled student .keras file")
    evaluate.add_argument("--scratch", default=None,
                          help="student trained from scratch, for the distillation verdict")

    report = sub.add_parser("report", help="print and re-render an existing report",
                            description="Print the table of OUTPUT/report.json and rewrite "
                                        "report.md and report.png from it.")
    report.add_argument("--output", default="keras_distill_output",
                        help="directory holding report.json (default: %(default)s)")
    return parser


def _verbose(args):
    return "auto" if args.verbose is None else args.verbose


def _run(args):
    from keras_distill import workflow

    report = workflow.run(
        args.dataset, data_dir=args.data_dir, output=args.output, teacher=args.teacher,
        retrain_teacher=args.retrain_teacher, student=args.student,
        student_size=args.student_size, epochs=args.epochs, teacher_epochs=args.teacher_epochs,
        batch_size=args.batch_size, alpha=args.alpha, temperature=args.temperature,
        seed=args.seed, learning_rate=args.learning_rate, cache_teacher=args.cache_teacher,
        transfer_samples=args.transfer_samples,
        export_dir=None if args.no_export else args.export_dir, verbose=_verbose(args))
    print()
    print(report.table())


def _train_teacher(args):
    from keras_distill import artifacts
    from keras_distill import workflow

    workflow.check_counts(epochs=args.epochs, batch_size=args.batch_size)
    workflow.check_output_dir(args.output)
    data = workflow.load_data(args.dataset, data_dir=args.data_dir)
    print(f"teacher: training on {data.name}, {args.epochs} epochs")
    model, history = workflow.train_teacher(
        data, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
        learning_rate=args.learning_rate, family=args.family, width=args.width,
        depth=args.depth, verbose=_verbose(args))
    path = artifacts.save_model(model, os.path.join(args.output, workflow.TEACHER_FILE))
    print(f"teacher: test accuracy {history['val_accuracy'][-1]:.1%}, saved to {path}")


def _distill(args):
    from keras_distill import artifacts
    from keras_distill import workflow

    workflow.check_counts(epochs=args.epochs, batch_size=args.batch_size)
    workflow.check_output_dir(args.output)
    data = workflow.load_data(args.dataset, data_dir=args.data_dir,
                              transfer_samples=args.transfer_samples)
    teacher = artifacts.load_teacher(args.teacher, data)
    print(f"teacher: loaded from {args.teacher}")
    print(f"distilling: {args.epochs} epochs, alpha={args.alpha}, T={args.temperature}")
    student, history = workflow.train_student(
        data, teacher=teacher, family=args.student, size=args.student_size, epochs=args.epochs,
        batch_size=args.batch_size, alpha=args.alpha, temperature=args.temperature,
        seed=args.seed, learning_rate=args.learning_rate, cache_teacher=args.cache_teacher,
        verbose=_verbose(args))
    path = artifacts.save_model(student, os.path.join(args.output, workflow.STUDENT_FILE))
    print(f"distilled student: test accuracy {history['val_accuracy'][-1]:.1%}, saved to {path}")


def _evaluate(args):
    from keras_distill import artifacts
    from keras_distill import workflow

    workflow.check_output_dir(args.output)
    data = workflow.load_data(args.dataset, data_dir=args.data_dir)
    models = {"teacher": artifacts.load_teacher(args.teacher, data)}
    if args.scratch:
        models["scratch"] = artifacts.load_teacher(args.scratch, data, role="scratch")
    models["distilled"] = artifacts.load_teacher(args.student, data, role="student")
    print("evaluating: " + ", ".join(models))
    report = workflow.evaluate(models, data, meta={"config": {
        "teacher": args.teacher, "student": args.student, "scratch": args.scratch}})
    paths = report.write(args.output)
    print(f"report: {', '.join(paths.values())}\n")
    print(report.table())


def _report(args):
    from keras_distill import report as report_lib

    report = report_lib.Report.load(args.output)
    paths = report.write(args.output)
    print(report.table())
    print(f"\nreport: {', '.join(paths.values())}")


COMMANDS = {"run": _run, "train-teacher": _train_teacher, "distill": _distill,
            "evaluate": _evaluate, "report": _report}


def main(argv=None):
    """Runs `keras-distill` with `argv` (default: `sys.argv[1:]`); returns the exit status.

    Example:

    >>> main(["report", "--output", "/nonexistent"])
    2
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help (0) or a usage error (2), already printed.
        return int(exit_.code or 0)
    try:
        COMMANDS[args.command](args)
    except USER_ERRORS as error:
        print(f"keras-distill {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"keras-distill {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0
