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
    keras-distill lm                         # a GPT-2 distilled on built-in text
    keras-distill lm --teacher my_preset/ --student small_preset/ --text corpus/

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
from keras_distill.cli.flags import ALL
from keras_distill.cli.flags import augmentation_flags
from keras_distill.cli.flags import cache_flag
from keras_distill.cli.flags import data_flags
from keras_distill.cli.flags import flag
from keras_distill.cli.flags import strategy_flags
from keras_distill.cli.flags import student_flags
from keras_distill.cli.flags import subparser
from keras_distill.cli.flags import teacher_flags
from keras_distill.cli.flags import training_flags
from keras_distill.cli.flags import trust_flag
from keras_distill.cli.lm_flags import add_lm_parser
from keras_distill.lm.models import MissingDependencyError

USER_ERRORS = (ValueError, TypeError, FileNotFoundError, NotADirectoryError, FileExistsError,
               PermissionError, MissingDependencyError)


class Terminated(BaseException):
    """SIGTERM, raised where the command is, so that what it was writing is cleaned up."""


_WHAT_IS_LEFT = ("this command's run directory was removed and earlier runs are untouched "
                 "(`export` leaves the artifacts it had finished, each complete)")


def _terminate(signum, frame):
    raise Terminated()


def build_parser():
    """The `argparse` parser of `keras-distill`."""
    parser = argparse.ArgumentParser(
        prog="keras-distill",
        description="Knowledge distillation for Keras: how much smaller and faster can the "
                    "model get, and how much accuracy is lost?")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = subparser(sub, "run", "the main job: teacher, scratch and distilled students, "
                    "report, export",
                    "Train (or reuse, or load) a teacher, train a student from scratch and a "
                    "distilled student, compare them, export the distilled student for TF "
                    "Serving and write report.json/.md/.png.")
    data_flags(run)
    training_flags(run)
    student_flags(run)
    teacher_flags(run)
    flag(run, "--no-export", "skip the export (SavedModel and .tflite files in the run's "
         "export/ directory)", dest="export", action="store_false")
    flag(run, "--publish", "also publish the run's SavedModel as the next version of this TF "
         "Serving base path, e.g. saved_models/mnist1d_student (default: not published)")
    flag(run, "--tune", "choose alpha/T with an N-trial search on a validation split held out "
         "of training, compared there with the scratch student; --alpha and --temperature are "
         "then ignored (default: no search)", type=int, metavar="N")
    flag(run, "--tune-epochs", "epochs per search trial (default: --epochs)", type=int)
    flag(run, "--tuner", "search algorithm of --tune (default: {default})",
         choices=config_lib.TUNERS)
    strategy_flags(run)

    teacher = subparser(sub, "train-teacher", "train the reference teacher",
                        "Train the reference teacher and save OUTPUT/teacher.keras.")
    data_flags(teacher)
    training_flags(teacher)
    flag(teacher, "--family", "teacher family or keras.applications model (default: the "
         "reference CNN)",
         choices=config_lib.STUDENT_FAMILIES)
    flag(teacher, "--width", "teacher width", type=int)
    flag(teacher, "--depth", "teacher depth", type=int)
    strategy_flags(teacher, backup=False)

    distill = subparser(sub, "distill", "distill a student from a saved teacher",
                        "Distill a reference student from a saved teacher and save "
                        "OUTPUT/student.keras.")
    data_flags(distill)
    training_flags(distill)
    student_flags(distill)
    flag(distill, "--teacher", "teacher .keras/.h5 file, SavedModel directory (with "
         "--trust-savedmodel), or a keras.applications name (with --teacher-weights)",
         required=True)
    flag(distill, "--teacher-weights", "trained weights (.weights.h5) of a keras.applications "
         "teacher")
    trust_flag(distill)
    strategy_flags(distill)

    tune = subparser(sub, "tune", "search alpha/T on a validation split held out of training",
                     "Search alpha and T for the reference student with keras-tuner, scored on "
                     "a validation split held out of the training split (never the test "
                     "split); print and write the results table (OUTPUT/tuning_results.txt, "
                     ".csv), retrain the best and save OUTPUT/student.keras.")
    data_flags(tune)
    training_flags(tune)
    teacher_flags(tune)
    student_flags(tune, distill=False)
    flag(tune, "--trials", "number of trials (default: {default})", type=int)
    flag(tune, "--tuner", "search algorithm (default: {default})", choices=config_lib.TUNERS)
    flag(tune, "--final-epochs", "epochs to retrain the best configuration, 0 to skip "
         "(default: --epochs)", type=int)
    flag(tune, "--alpha", "alpha: 'min,max', 'a|b|c' or a number (default: 0,1)")
    flag(tune, "--temperature", "T: 'min,max' (log-sampled), 'a|b|c' or a number "
         "(default: 1,20)")
    flag(tune, "--validation-split",
         "fraction of the training split held out (default: {default})", type=float)
    augmentation_flags(tune)
    cache_flag(tune, "run the teacher once for the whole search; only with --no-augment "
               "--mixup 0 (default: off)")

    export = subparser(sub, "export", "export a saved model as a SavedModel or .tflite files",
                       "Export a .keras model (a saved Distiller exports its student) as a "
                       "SavedModel for TF Serving (OUTPUT/saved_model/<version>) and/or .tflite "
                       "files, and print one line per artifact: path, size, batch-1 latency, "
                       "agreement with the Keras model and accuracy.")
    flag(export, "--model", ".keras file to export", required=True)
    flag(export, "--format", "artifact format; repeat for several (default: saved_model and "
         "tflite)", dest="formats", action="append", choices=config_lib.FORMATS)
    flag(export, "--quantization", ".tflite quantization; int8 needs --dataset for calibration "
         "(default: {default})", choices=config_lib.QUANTIZATIONS)
    flag(export, "--output", "directory of the artifacts", required=True)
    export.description += (" With --dataset, its test split measures agreement and accuracy "
                           "and its first training examples calibrate int8; without it, "
                           "agreement is measured on synthetic inputs.")
    data_flags(export, output=False)
    flag(export, "--min-agreement", "lowest top-1 agreement of a quantized .tflite with the "
         "Keras model (default: {default})", type=float)
    flag(export, "--version", "SavedModel version (default: the next one)", type=int)
    flag(export, "--overwrite", "replace an existing version or .tflite file",
         action="store_true")
    flag(export, "--no-verify", "skip reloading the SavedModel in a fresh process",
         dest="verify_export", action="store_false")

    evaluate = subparser(sub, "evaluate", "compare saved models and write the report",
                         "Measure a teacher and students on the test split and write "
                         "report.json/.md/.png to OUTPUT.")
    data_flags(evaluate)
    flag(evaluate, "--teacher", "teacher .keras/.h5 file, SavedModel directory (with "
         "--trust-savedmodel), or a keras.applications name (with --teacher-weights)",
         required=True)
    flag(evaluate, "--teacher-weights", "trained weights (.weights.h5) of a keras.applications "
         "teacher")
    flag(evaluate, "--student", "distilled student .keras file", required=True)
    flag(evaluate, "--scratch", "student trained from scratch, for the distillation verdict")
    trust_flag(evaluate)

    add_lm_parser(sub)

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


def _lm(config):
    report = workflow.distill_language_model(config)
    print()
    print(report.table())


COMMANDS = {"run": _run, "train-teacher": _train_teacher, "distill": _distill,
            "evaluate": _evaluate, "tune": _tune, "export": _export, "lm": _lm}


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
