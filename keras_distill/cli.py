"""The `keras-distill` command: flat flags -> one `keras_distill.RunConfig` -> one workflow call.

    keras-distill run                        # the whole story on built-in MNIST-1D
    keras-distill run --transfer-samples 25000
    keras-distill train-teacher --dataset mnist --data-dir ~/tensorflow_datasets
    keras-distill distill --teacher teacher.keras --student cnn --alpha 0.5 --temperature 4
    keras-distill evaluate --teacher teacher.keras --student student.keras
    keras-distill report                     # re-render keras_distill_output/latest
    keras-distill tune --trials 8 --alpha 0,1 --temperature 1,20
    keras-distill run --tune 8                 # alpha/T chosen on a validation split
    keras-distill export --model student.keras --format tflite --quantization int8 \
        --dataset mnist1d --output exported
    keras-distill distill --teacher teacher.keras --strategy mirrored --backup-dir backup

Every flag's destination is a keyword name of `RunConfig.resolve` and its default is the
config's: defaults, choices and checks live in `keras_distill.config`, not here. `--config FILE`
reads a TOML config first and `--set section.key=value` overrides any key last. User errors
(bad names, paths, values) print one `error:` line and exit with status 2.
"""

import argparse
import signal
import sys

from keras_distill import config as config_lib
from keras_distill import tensorflow_logs
from keras_distill import workflow

ALL = "all"  # `--verbose all`: Keras's one line per epoch and TensorFlow's log lines.
USER_ERRORS = (ValueError, TypeError, FileNotFoundError, NotADirectoryError, FileExistsError,
               PermissionError)


class Terminated(BaseException):
    """SIGTERM, raised where the command is, so that what it was writing is cleaned up."""


_WHAT_IS_LEFT = ("this command's run directory was removed and earlier runs are untouched "
                 "(`export` leaves the artifacts it had finished, each complete)")


def _terminate(signum, frame):
    raise Terminated()


def _flag(parser, flag, help, **kwargs):
    """Adds `flag` whose destination is the config keyword of the same name; `{default}` in
    `help` is the config's default for the parser's command."""
    dest = kwargs.pop("dest", flag.lstrip("-").replace("-", "_"))
    if "{default}" in help:
        help = help.format(default=config_lib.RunConfig.default(parser.command, dest))
    parser.add_argument(flag, dest=dest, default=argparse.SUPPRESS, help=help, **kwargs)


def verbosity(text):
    """`--verbose`'s value: `"all"` or a Keras progress level."""
    return ALL if text == ALL else int(text)


def _data_flags(parser, output=True):
    _flag(parser, "--dataset",
          "'mnist1d' (built in, generated locally); your own data: a folder of class "
          "subfolders of images (PNG, JPEG, BMP, GIF), an .npz (x, y, optional x_test, y_test, "
          "x_unlabeled), a folder of .npy files (x.npy, y.npy, ...), a .csv (numeric features "
          "and --label-column); or a prepared tensorflow-datasets name, e.g. mnist "
          "(default: {default})")
    _flag(parser, "--data-dir", "tensorflow-datasets data directory holding the prepared dataset "
          "(nothing is downloaded; default: tfds's default)")
    _flag(parser, "--label-column", "label column of a CSV (default: {default})")
    _flag(parser, "--features", "input and label features of a tfds dataset without supervised "
          "keys, e.g. image,label (default: its one image and one class label)")
    _flag(parser, "--image-size", "resize images to HEIGHT,WIDTH, e.g. 64,64 (default: keep "
          "their size, which must be the same for all)")
    _flag(parser, "--test-split", "fraction held out as the test split when the data has none "
          "(seeded, recorded in the report; default: {default})", type=float)
    if output:
        _flag(parser, "--output", "output directory: each command writes a new run directory "
              "in it, and OUTPUT/latest points at the newest (default: {default})")


def _training_flags(parser):
    _flag(parser, "--epochs", "training epochs (default: {default})", type=int)
    _flag(parser, "--batch-size", "batch size (default: {default})", type=int)
    _flag(parser, "--learning-rate",
          "peak learning rate of Adam with cosine decay (default: {default})", type=float)
    _flag(parser, "--seed", "seed of weights and shuffling (default: {default})", type=int)
    _flag(parser, "--verbose", "Keras progress: 0 silent, 1 progress bar, 2 one line per epoch; "
          "all: 2 plus TensorFlow's own C++ log lines, hidden by default (those around .tflite "
          "conversion and the LiteRT interpreter; the ones printed while TensorFlow is imported "
          "need KERAS_DISTILL_TF_LOGS=1 in the environment) (default: a bar on a terminal, one "
          "line per epoch otherwise)", type=verbosity, choices=(0, 1, 2, ALL),
          metavar="{0,1,2,all}")


def _student_flags(parser, distill=True):
    _flag(parser, "--student", "student: a reference family (mlp, cnn, gru) or a "
          "keras.applications model built untrained at the data's resolution "
          "(default: {default})", choices=config_lib.STUDENT_FAMILIES)
    _flag(parser, "--student-size",
          "width multiplier of the reference student (default: {default})", type=float)
    if not distill:
        return
    _flag(parser, "--alpha", "weight of the hard-label loss, in [0, 1] (default: {default})",
          type=float)
    _flag(parser, "--temperature", "softmax temperature (default: {default})", type=float)
    _augmentation_flags(parser)
    _cache_flag(parser, "run the teacher once and carry its outputs in the input pipeline; "
                "only with --no-augment --mixup 0 (default: off: the teacher runs online, on "
                "the student's augmented view)")
    _flag(parser, "--transfer-samples", "unlabeled MNIST-1D examples, labeled by the teacher "
          "only, added to the distilled student's data (default: {default})", type=int)
    _flag(parser, "--unlabeled", "your unlabeled inputs, labeled by the teacher only, added to "
          "the distilled student's data: a folder of images, an .npz with x, an .npy, or a CSV "
          "without the label column (default: none)")


def _augmentation_flags(parser):
    _flag(parser, "--augment", "train the reference teacher and both students under the data's "
          "augmentation: images translated, signals shifted and scaled, CSV features noised; "
          "the teacher sees the distilled student's view (default: on)",
          action=argparse.BooleanOptionalAction)
    _flag(parser, "--mixup", "MixUp between training inputs for the distilled student, the "
          "mixed inputs labelled by the teacher: the Beta parameter, 0 for none "
          "(default: {default})", type=float)


def _cache_flag(parser, help):
    """The flags of how the teacher runs: once (cached) or every step, and in which dtype."""
    _flag(parser, "--cache-teacher", help, action=argparse.BooleanOptionalAction)
    _flag(parser, "--teacher-dtype", "run the frozen teacher as a bfloat16 or float16 copy; the "
          "student and the losses stay float32 (default: as given, float32). Pays on GPUs/TPUs "
          "and CPUs with AMX; measure with benchmarks/throughput.py",
          choices=config_lib.TEACHER_DTYPES)


def _teacher_flags(parser):
    _flag(parser, "--teacher", "teacher .keras/.h5 file, SavedModel directory (with "
          "--trust-savedmodel), or a keras.applications name such as resnet50 (with "
          "--teacher-weights) (default: reuse the reference teacher cached in --output, or "
          "train it)")
    _flag(parser, "--teacher-weights", "trained weights (.weights.h5) of a keras.applications "
          "teacher")
    _flag(parser, "--teacher-epochs", "epochs of the reference teacher (default: {default})",
          type=int)
    _flag(parser, "--retrain-teacher", "train the reference teacher even if one is cached",
          action="store_true")
    _trust_flag(parser)


def _trust_flag(parser):
    _flag(parser, "--trust-savedmodel", "allow a SavedModel directory as a model: it is code "
          "that runs with the model (it can, for example, write files), so load only one you "
          "trust (default: refused; .keras and .h5 files load in Keras's safe mode)",
          action="store_true")


def _strategy_flags(parser, backup=True):
    _flag(parser, "--strategy", "tf.distribute strategy; --batch-size is then the global batch, "
          "divisible by the replicas (default: none, Keras's default device placement)",
          choices=config_lib.STRATEGIES)
    if backup:
        _flag(parser, "--backup-dir", "keras.callbacks.BackupAndRestore directory for the "
              "distillation: rerun the same command after a crash to resume from the last "
              "finished epoch (default: none)")


def _subparser(sub, command, help, description):
    parser = sub.add_parser(command, help=help, description=description)
    parser.command = command
    parser.add_argument("--config", default=None, metavar="FILE.toml",
                        help="read settings from a TOML file (keys: the sections of "
                             "keras_distill.RunConfig; every run writes its own as config.toml); "
                             "flags given here override it")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one config key, e.g. --set distill.alpha=0.7 (repeat "
                             "for several; applied last)")
    return parser


def build_parser():
    """The `argparse` parser of `keras-distill`."""
    parser = argparse.ArgumentParser(
        prog="keras-distill",
        description="Knowledge distillation for Keras: how much smaller and faster can the "
                    "model get, and how much accuracy is lost?")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = _subparser(sub, "run", "the main job: teacher, scratch and distilled students, "
                     "report, export",
                     "Train (or reuse, or load) a teacher, train a student from scratch and a "
                     "distilled student, compare them, export the distilled student for TF "
                     "Serving and write report.json/.md/.png.")
    _data_flags(run)
    _training_flags(run)
    _student_flags(run)
    _teacher_flags(run)
    _flag(run, "--no-export", "skip the export (SavedModel and .tflite files in the run's "
          "export/ directory)", dest="export", action="store_false")
    _flag(run, "--publish", "also publish the run's SavedModel as the next version of this TF "
          "Serving base path, e.g. saved_models/mnist1d_student (default: not published)")
    _flag(run, "--tune", "choose alpha/T with an N-trial search on a validation split held out "
          "of training, compared there with the scratch student; --alpha and --temperature are "
          "then ignored (default: no search)", type=int, metavar="N")
    _flag(run, "--tune-epochs", "epochs per search trial (default: --epochs)", type=int)
    _flag(run, "--tuner", "search algorithm of --tune (default: {default})",
          choices=config_lib.TUNERS)
    _strategy_flags(run)

    teacher = _subparser(sub, "train-teacher", "train the reference teacher",
                         "Train the reference teacher and save OUTPUT/teacher.keras.")
    _data_flags(teacher)
    _training_flags(teacher)
    _flag(teacher, "--family", "teacher family or keras.applications model (default: the "
          "reference CNN)",
          choices=config_lib.STUDENT_FAMILIES)
    _flag(teacher, "--width", "teacher width", type=int)
    _flag(teacher, "--depth", "teacher depth", type=int)
    _strategy_flags(teacher, backup=False)

    distill = _subparser(sub, "distill", "distill a student from a saved teacher",
                         "Distill a reference student from a saved teacher and save "
                         "OUTPUT/student.keras.")
    _data_flags(distill)
    _training_flags(distill)
    _student_flags(distill)
    _flag(distill, "--teacher", "teacher .keras/.h5 file, SavedModel directory (with "
          "--trust-savedmodel), or a keras.applications name (with --teacher-weights)",
          required=True)
    _flag(distill, "--teacher-weights", "trained weights (.weights.h5) of a keras.applications "
          "teacher")
    _trust_flag(distill)
    _strategy_flags(distill)

    tune = _subparser(sub, "tune", "search alpha/T on a validation split held out of training",
                      "Search alpha and T for the reference student with keras-tuner, scored on "
                      "a validation split held out of the training split (never the test "
                      "split); print and write the results table (OUTPUT/tuning_results.txt, "
                      ".csv), retrain the best and save OUTPUT/student.keras.")
    _data_flags(tune)
    _training_flags(tune)
    _teacher_flags(tune)
    _student_flags(tune, distill=False)
    _flag(tune, "--trials", "number of trials (default: {default})", type=int)
    _flag(tune, "--tuner", "search algorithm (default: {default})", choices=config_lib.TUNERS)
    _flag(tune, "--final-epochs", "epochs to retrain the best configuration, 0 to skip "
          "(default: --epochs)", type=int)
    _flag(tune, "--alpha", "alpha: 'min,max', 'a|b|c' or a number (default: 0,1)")
    _flag(tune, "--temperature", "T: 'min,max' (log-sampled), 'a|b|c' or a number "
          "(default: 1,20)")
    _flag(tune, "--validation-split",
          "fraction of the training split held out (default: {default})", type=float)
    _augmentation_flags(tune)
    _cache_flag(tune, "run the teacher once for the whole search; only with --no-augment "
                "--mixup 0 (default: off)")

    export = _subparser(sub, "export", "export a saved model as a SavedModel or .tflite files",
                        "Export a .keras model (a saved Distiller exports its student) as a "
                        "SavedModel for TF Serving (OUTPUT/saved_model/<version>) and/or .tflite "
                        "files, and print one line per artifact: path, size, batch-1 latency, "
                        "agreement with the Keras model and accuracy.")
    _flag(export, "--model", ".keras file to export", required=True)
    _flag(export, "--format", "artifact format; repeat for several (default: saved_model and "
          "tflite)", dest="formats", action="append", choices=config_lib.FORMATS)
    _flag(export, "--quantization", ".tflite quantization; int8 needs --dataset for calibration "
          "(default: {default})", choices=config_lib.QUANTIZATIONS)
    _flag(export, "--output", "directory of the artifacts", required=True)
    export.description += (" With --dataset, its test split measures agreement and accuracy "
                           "and its first training examples calibrate int8; without it, "
                           "agreement is measured on synthetic inputs.")
    _data_flags(export, output=False)
    _flag(export, "--min-agreement", "lowest top-1 agreement of a quantized .tflite with the "
          "Keras model (default: {default})", type=float)
    _flag(export, "--version", "SavedModel version (default: the next one)", type=int)
    _flag(export, "--overwrite", "replace an existing version or .tflite file",
          action="store_true")
    _flag(export, "--no-verify", "skip reloading the SavedModel in a fresh process",
          dest="verify_export", action="store_false")

    evaluate = _subparser(sub, "evaluate", "compare saved models and write the report",
                          "Measure a teacher and students on the test split and write "
                          "report.json/.md/.png to OUTPUT.")
    _data_flags(evaluate)
    _flag(evaluate, "--teacher", "teacher .keras/.h5 file, SavedModel directory (with "
          "--trust-savedmodel), or a keras.applications name (with --teacher-weights)",
          required=True)
    _flag(evaluate, "--teacher-weights", "trained weights (.weights.h5) of a keras.applications "
          "teacher")
    _flag(evaluate, "--student", "distilled student .keras file", required=True)
    _flag(evaluate, "--scratch", "student trained from scratch, for the distillation verdict")
    _trust_flag(evaluate)

    report = sub.add_parser("report", help="print and re-render an existing report",
                            description="Print the table of OUTPUT/report.json and rewrite "
                                        "report.md and report.png from it.")
    report.add_argument("--output", default=config_lib.DEFAULT_OUTPUT,
                        help="a run directory holding report.json, or an output directory "
                             "(its latest run) (default: %(default)s)")
    return parser


def _run(config):
    report = workflow.run(config)
    print()
    print(report.table())


def _train_teacher(config):
    workflow.train_and_save_teacher(config)


def _distill(config):
    workflow.distill(config)


def _evaluate(config):
    report = workflow.evaluate_saved(config)
    print()
    print(report.table())


def _tune(config):
    result = workflow.tune(config)
    print()
    print(result.table)
    best = result.best_hyperparameters.values
    print("\nbest: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                  for k, v in best.items()))


def _export(config):
    for name, record in workflow.export_model(config).items():
        print(f"{name}: {workflow.describe_artifact(record)}")


COMMANDS = {"run": _run, "train-teacher": _train_teacher, "distill": _distill,
            "evaluate": _evaluate, "tune": _tune, "export": _export}


def _report(output):
    report, paths = workflow.rerender_report(output)
    print(report.table())
    print(f"\nreport: {', '.join(paths.values())}")


def main(argv=None):
    """Runs `keras-distill` with `argv` (default: `sys.argv[1:]`); returns the exit status.

    Example:

    >>> main(["report", "--output", "/nonexistent"])
    2
    """
    parser = build_parser()
    try:
        values = vars(parser.parse_args(argv))
    except SystemExit as exit_:  # --help (0) or a usage error (2), already printed.
        return int(exit_.code or 0)
    command = values.pop("command")
    try:  # Only the main thread may set a handler; elsewhere SIGTERM keeps its own.
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:
        previous = None
    try:
        if command == "report":
            _report(values["output"])
        else:
            file, overrides = values.pop("config"), values.pop("set")
            if values.get("verbose") == ALL:
                tensorflow_logs.show_logs()
                values["verbose"] = 2
            COMMANDS[command](config_lib.RunConfig.resolve(command, file=file,
                                                           overrides=overrides, **values))
    except USER_ERRORS as error:
        print(f"keras-distill {command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"keras-distill {command}: interrupted; {_WHAT_IS_LEFT}", file=sys.stderr)
        return 130
    except Terminated:
        print(f"keras-distill {command}: terminated (SIGTERM); {_WHAT_IS_LEFT}", file=sys.stderr)
        return 143
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0
