"""The `keras-distill` command: flat flags mapped onto `keras_distill.workflow` calls.

    keras-distill run                        # the whole story on built-in MNIST-1D
    keras-distill run --transfer-samples 25000
    keras-distill train-teacher --dataset mnist --data-dir ~/tensorflow_datasets
    keras-distill distill --teacher teacher.keras --student cnn --alpha 0.5 --temperature 4
    keras-distill evaluate --teacher teacher.keras --student student.keras
    keras-distill report --output keras_distill_output
    keras-distill tune --trials 8 --alpha 0,1 --temperature 1,20
    keras-distill run --tune 8                 # alpha/T chosen on a validation split
    keras-distill export --model student.keras --format tflite --quantization int8 \
        --dataset mnist1d --output exported
    keras-distill distill --teacher teacher.keras --strategy mirrored --backup-dir backup

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


def _strategy_flag(parser, backup=True):
    parser.add_argument("--strategy", default=None,
                        choices=("auto", "one_device", "mirrored", "multi_worker", "tpu"),
                        help="tf.distribute strategy; --batch-size is then the global batch, "
                             "divisible by the replicas (default: none, Keras's default "
                             "device placement)")
    if backup:
        parser.add_argument("--backup-dir", default=None,
                            help="keras.callbacks.BackupAndRestore directory for the "
                                 "distillation: rerun the same command after a crash to resume "
                                 "from the last finished epoch (default: none)")


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
    run.add_argument("--tune", type=int, default=0, metavar="N",
                     help="choose alpha/T with an N-trial search on a validation split held "
                          "out of training, compared there with the scratch student; --alpha "
                          "and --temperature are then ignored (default: no search)")
    run.add_argument("--tune-epochs", type=int, default=None,
                     help="epochs per search trial (default: --epochs)")
    run.add_argument("--tuner", default="random", choices=("random", "bayesian", "hyperband"),
                     help="search algorithm of --tune (default: %(default)s)")
    _strategy_flag(run)

    teacher = sub.add_parser("train-teacher", help="train the reference teacher",
                             description="Train the reference teacher and save "
                                         "OUTPUT/teacher.keras.")
    _data_flags(teacher)
    _training_flags(teacher, epochs=30)
    teacher.add_argument("--family", default=None, choices=("mlp", "cnn", "gru"),
                         help="teacher family (default: the reference CNN)")
    teacher.add_argument("--width", type=int, default=None, help="teacher width")
    teacher.add_argument("--depth", type=int, default=None, help="teacher depth")
    _strategy_flag(teacher, backup=False)

    distill = sub.add_parser("distill", help="distill a student from a saved teacher",
                             description="Distill a reference student from a saved teacher and "
                                         "save OUTPUT/student.keras.")
    _data_flags(distill)
    _training_flags(distill, epochs=30)
    _student_flags(distill)
    distill.add_argument("--teacher", required=True,
                         help="teacher .keras file or SavedModel directory")
    _strategy_flag(distill)

    tune = sub.add_parser(
        "tune", help="search alpha/T on a validation split held out of training",
        description="Search alpha and T for the reference student with keras-tuner, scored on "
                    "a validation split held out of the training split (never the test split); "
                    "print and write the results table (OUTPUT/tuning_results.txt, .csv), "
                    "retrain the best and save OUTPUT/student.keras.")
    _data_flags(tune)
    _training_flags(tune, epochs=5)
    tune.add_argument("--teacher", default=None,
                      help="teacher .keras file or SavedModel directory (default: reuse the "
                           "reference teacher cached in --output, or train it like `run`)")
    tune.add_argument("--teacher-epochs", type=int, default=30,
                      help="epochs of the reference teacher (default: %(default)s)")
    tune.add_argument("--retrain-teacher", action="store_true",
                      help="train the reference teacher even if one is cached")
    tune.add_argument("--student", default="cnn", choices=("mlp", "cnn", "gru"),
                      help="student family (default: %(default)s)")
    tune.add_argument("--student-size", type=float, default=1.0,
                      help="width multiplier of the reference student (default: %(default)s)")
    tune.add_argument("--trials", type=int, default=8,
                      help="number of trials (default: %(default)s)")
    tune.add_argument("--tuner", default="random", choices=("random", "bayesian", "hyperband"),
                      help="search algorithm (default: %(default)s)")
    tune.add_argument("--final-epochs", type=int, default=None,
                      help="epochs to retrain the best configuration, 0 to skip "
                           "(default: --epochs)")
    tune.add_argument("--alpha", default="0,1",
                      help="alpha: 'min,max', 'a|b|c' or a number (default: %(default)s)")
    tune.add_argument("--temperature", default="1,20",
                      help="T: 'min,max' (log-sampled), 'a|b|c' or a number "
                           "(default: %(default)s)")
    tune.add_argument("--validation-split", type=float, default=0.2,
                      help="fraction of the training split held out (default: %(default)s)")
    tune.add_argument("--cache-teacher", action=argparse.BooleanOptionalAction, default=True,
                      help="run the teacher once for the whole search (default: on; turn off "
                           "for random augmentation)")

    export = sub.add_parser(
        "export", help="export a saved model as a SavedModel or .tflite files",
        description="Export a .keras model (a saved Distiller exports its student) as a "
                    "SavedModel for TF Serving (OUTPUT/saved_model/<version>) and/or .tflite "
                    "files, and print one line per artifact: path, size, batch-1 latency, "
                    "agreement with the Keras model and accuracy.")
    export.add_argument("--model", required=True, help=".keras file to export")
    export.add_argument("--format", action="append", choices=("saved_model", "tflite"),
                        default=None, help="artifact format; repeat for several "
                                           "(default: saved_model and tflite)")
    export.add_argument("--quantization", default="none",
                        choices=("none", "float16", "dynamic", "int8"),
                        help=".tflite quantization; int8 needs --dataset for calibration "
                             "(default: %(default)s)")
    export.add_argument("--output", required=True, help="directory of the artifacts")
    export.add_argument("--dataset", default=None,
                        help="dataset whose test split measures agreement and accuracy and whose "
                             "first 500 training examples calibrate int8 (default: none, "
                             "agreement on synthetic inputs)")
    export.add_argument("--data-dir", default=None, help="tensorflow-datasets data directory")
    export.add_argument("--min-agreement", type=float, default=0.98,
                        help="lowest top-1 agreement of a quantized .tflite with the Keras model "
                             "(default: %(default)s)")
    export.add_argument("--version", type=int, default=None,
                        help="SavedModel version (default: the next one)")
    export.add_argument("--overwrite", action="store_true",
                        help="replace an existing version or .tflite file")
    export.add_argument("--no-verify", action="store_true",
                        help="skip reloading the SavedModel in a fresh process")

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
        export_dir=None if args.no_export else args.export_dir, verbose=_verbose(args),
        tune=args.tune, tune_epochs=args.tune_epochs, tuner=args.tuner, strategy=args.strategy,
        backup_dir=args.backup_dir)
    print()
    print(report.table())


def _train_teacher(args):
    from keras_distill import artifacts
    from keras_distill import workflow

    workflow.check_counts(epochs=args.epochs, batch_size=args.batch_size)
    workflow.resolve_strategy(args.strategy, args.batch_size)
    workflow.check_output_dir(args.output)
    data = workflow.load_data(args.dataset, data_dir=args.data_dir)
    print(f"teacher: training on {data.name}, {args.epochs} epochs")
    model, history = workflow.train_teacher(
        data, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
        learning_rate=args.learning_rate, family=args.family, width=args.width,
        depth=args.depth, verbose=_verbose(args), strategy=args.strategy)
    path = artifacts.save_model(model, os.path.join(args.output, workflow.TEACHER_FILE))
    print(f"teacher: test accuracy {history['val_accuracy'][-1]:.1%}, saved to {path}")


def _distill(args):
    from keras_distill import workflow

    _, history, path = workflow.distill(
        args.teacher, args.dataset, data_dir=args.data_dir, output=args.output,
        transfer_samples=args.transfer_samples, strategy=args.strategy, family=args.student,
        size=args.student_size, epochs=args.epochs, batch_size=args.batch_size,
        alpha=args.alpha, temperature=args.temperature, seed=args.seed,
        learning_rate=args.learning_rate, cache_teacher=args.cache_teacher,
        backup_dir=args.backup_dir, verbose=_verbose(args))
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


def _tune(args):
    from keras_distill import tuning
    from keras_distill import workflow_tune

    result = workflow_tune.tune(
        args.dataset, data_dir=args.data_dir, output=args.output, teacher=args.teacher,
        teacher_epochs=args.teacher_epochs, retrain_teacher=args.retrain_teacher,
        student=args.student, student_size=args.student_size, trials=args.trials,
        tuner=args.tuner, epochs=args.epochs, final_epochs=args.final_epochs,
        alpha=tuning.parse_range(args.alpha, "alpha"),
        temperature=tuning.parse_range(args.temperature, "temperature"),
        batch_size=args.batch_size, learning_rate=args.learning_rate,
        cache_teacher=args.cache_teacher, seed=args.seed,
        validation_split=args.validation_split, verbose=_verbose(args))
    print()
    print(result.table)
    best = result.best_hyperparameters.values
    print("\nbest: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                  for k, v in best.items()))
    print(f"results: {os.path.join(args.output, tuning.results.TEXT_NAME)}, "
          f"{os.path.join(args.output, tuning.results.CSV_NAME)}")


def _export(args):
    from keras_distill import workflow_export

    records = workflow_export.export_model(
        args.model, args.output, formats=args.format or ("saved_model", "tflite"),
        quantization=args.quantization, dataset=args.dataset, data_dir=args.data_dir,
        min_agreement=args.min_agreement, version=args.version, overwrite=args.overwrite,
        verify=not args.no_verify)
    for name, record in records.items():
        print(f"{name}: {workflow_export.describe_artifact(record)}")


def _report(args):
    from keras_distill import report as report_lib

    report = report_lib.Report.load(args.output)
    paths = report.write(args.output)
    print(report.table())
    print(f"\nreport: {', '.join(paths.values())}")


COMMANDS = {"run": _run, "train-teacher": _train_teacher, "distill": _distill,
            "evaluate": _evaluate, "report": _report, "tune": _tune, "export": _export}


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
