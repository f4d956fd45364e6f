"""The flags the `keras-distill` subcommands share: each one's destination is a `RunConfig`
keyword of the same name, and its help shows the config's default for the command."""

import argparse

from keras_distill import config as config_lib

ALL = "all"  # `--verbose all`: Keras's one line per epoch and TensorFlow's log lines.


def flag(parser, name, help, **kwargs):
    """Adds the flag `name` whose destination is the config keyword of the same name;
    `{default}` in `help` is the config's default for the parser's command."""
    dest = kwargs.pop("dest", name.lstrip("-").replace("-", "_"))
    if "{default}" in help:
        help = help.format(default=config_lib.RunConfig.default(parser.command, dest))
    parser.add_argument(name, dest=dest, default=argparse.SUPPRESS, help=help, **kwargs)


def verbosity(text):
    """`--verbose`'s value: `"all"` or a Keras progress level."""
    return ALL if text == ALL else int(text)


def data_flags(parser, output=True):
    flag(parser, "--dataset",
         "'mnist1d' (built in, generated locally); your own data: a folder of class "
         "subfolders of images (PNG, JPEG, BMP, GIF), an .npz (x, y, optional x_test, y_test, "
         "x_unlabeled), a folder of .npy files (x.npy, y.npy, ...), a .csv (numeric features "
         "and --label-column); or a prepared tensorflow-datasets name, e.g. mnist "
         "(default: {default})")
    flag(parser, "--data-dir", "tensorflow-datasets data directory holding the prepared dataset "
         "(nothing is downloaded; default: tfds's default)")
    flag(parser, "--label-column", "label column of a CSV (default: {default})")
    flag(parser, "--features", "input and label features of a tfds dataset without supervised "
         "keys, e.g. image,label (default: its one image and one class label)")
    flag(parser, "--image-size", "resize images to HEIGHT,WIDTH, e.g. 64,64 (default: keep "
         "their size, which must be the same for all)")
    flag(parser, "--test-split", "fraction held out as the test split when the data has none "
         "(seeded, recorded in the report; default: {default})", type=float)
    if output:
        flag(parser, "--output", "output directory: each command writes a new run directory "
             "in it, and OUTPUT/latest points at the newest (default: {default})")


def training_flags(parser):
    flag(parser, "--epochs", "training epochs (default: {default})", type=int)
    flag(parser, "--batch-size", "batch size (default: {default})", type=int)
    flag(parser, "--learning-rate",
         "peak learning rate of Adam with cosine decay (default: {default})", type=float)
    flag(parser, "--seed", "seed of weights and shuffling (default: {default})", type=int)
    flag(parser, "--verbose", "Keras progress: 0 silent, 1 progress bar, 2 one line per epoch; "
         "all: 2 plus TensorFlow's own C++ log lines, hidden by default (those around .tflite "
         "conversion and the LiteRT interpreter; the ones printed while TensorFlow is imported "
         "need KERAS_DISTILL_TF_LOGS=1 in the environment) (default: a bar on a terminal, one "
         "line per epoch otherwise)", type=verbosity, choices=(0, 1, 2, ALL),
         metavar="{0,1,2,all}")


def student_flags(parser, distill=True):
    flag(parser, "--student", "student: a reference family (mlp, cnn, gru) or a "
         "keras.applications model built untrained at the data's resolution "
         "(default: {default})", choices=config_lib.STUDENT_FAMILIES)
    flag(parser, "--student-size",
         "width multiplier of the reference student (default: {default})", type=float)
    if not distill:
        return
    flag(parser, "--alpha", "weight of the hard-label loss, in [0, 1] (default: {default})",
         type=float)
    flag(parser, "--temperature", "softmax temperature (default: {default})", type=float)
    augmentation_flags(parser)
    cache_flag(parser, "run the teacher once and carry its outputs in the input pipeline; "
               "only with --no-augment --mixup 0 (default: off: the teacher runs online, on "
               "the student's augmented view)")
    flag(parser, "--views", "cache this many augmented views of each example with the "
         "teacher's outputs, one replayed per epoch, so that consistent teaching costs what "
         "plain training does; 0 runs the teacher on every step's view. Not with --mixup or "
         "without augmentation: the teacher then runs online; no more views than epochs, or "
         "than fit in 2 GiB (default: {default})", type=int)
    flag(parser, "--boundary-step", "also train on each input moved this many standard "
         "deviations toward where the student most disagrees with the teacher, labelled by "
         "the teacher only (0.3 helped the MLP student in the benchmark; the teacher then runs "
         "online); 0 for none (default: {default})", type=float)
    flag(parser, "--synthetic-samples", "inputs synthesized from the teacher's classes and "
         "BatchNorm statistics (DeepInversion), labelled by the teacher only, added to the "
         "distilled student's data; needs a teacher with BatchNormalization (default: "
         "{default})", type=int)
    flag(parser, "--transfer-samples", "unlabeled MNIST-1D examples, labeled by the teacher "
         "only, added to the distilled student's data (default: {default})", type=int)
    flag(parser, "--unlabeled", "your unlabeled inputs, labeled by the teacher only, added to "
         "the distilled student's data: a folder of images, an .npz with x, an .npy, or a CSV "
         "without the label column (default: none)")


def augmentation_flags(parser):
    flag(parser, "--augment", "train the reference teacher and both students under the data's "
         "augmentation: images translated, signals shifted and scaled, CSV features noised; "
         "the teacher sees the distilled student's view (default: on)",
         action=argparse.BooleanOptionalAction)
    flag(parser, "--mixup", "MixUp between training inputs for the distilled student, the "
         "mixed inputs labelled by the teacher: the Beta parameter, 0 for none "
         "(default: {default})", type=float)


def cache_flag(parser, help):
    """The flags of how the teacher runs: once (cached) or every step, and in which dtype."""
    flag(parser, "--cache-teacher", help, action=argparse.BooleanOptionalAction)
    flag(parser, "--teacher-dtype", "run the frozen teacher as a bfloat16 or float16 copy; the "
         "student and the losses stay float32 (default: as given, float32). Pays on GPUs/TPUs "
         "and some CPUs (AMX, some AVX-512 BF16); measure with benchmarks/throughput.py",
         choices=config_lib.TEACHER_DTYPES)


def teacher_flags(parser):
    flag(parser, "--teacher", "teacher .keras/.h5 file, SavedModel directory (with "
         "--trust-savedmodel), or a keras.applications name such as resnet50 (with "
         "--teacher-weights) (default: reuse the reference teacher cached in --output, or "
         "train it)")
    flag(parser, "--teacher-weights", "trained weights (.weights.h5) of a keras.applications "
         "teacher")
    flag(parser, "--teacher-epochs", "epochs of the reference teacher (default: {default})",
         type=int)
    flag(parser, "--retrain-teacher", "train the reference teacher even if one is cached",
         action="store_true")
    trust_flag(parser)


def trust_flag(parser):
    flag(parser, "--trust-savedmodel", "allow a SavedModel directory as a model: it is code "
         "that runs with the model (it can, for example, write files), so load only one you "
         "trust (default: refused; .keras and .h5 files load in Keras's safe mode)",
         action="store_true")


def strategy_flags(parser, backup=True):
    flag(parser, "--strategy", "tf.distribute strategy; --batch-size is then the global batch, "
         "divisible by the replicas (default: none, Keras's default device placement)",
         choices=config_lib.STRATEGIES)
    if backup:
        flag(parser, "--backup-dir", "keras.callbacks.BackupAndRestore directory for the "
             "distillation: rerun the same command after a crash to resume from the last "
             "finished epoch (default: none)")


def subparser(sub, command, help, description):
    """Adds the subcommand `command` to `sub`, with `--config` and `--set`."""
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
