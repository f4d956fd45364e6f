"""TensorFlow without its C++ log lines on stderr, unless asked for.

TF 2.21 prints lines such as `I0000 ... oneDNN custom operations are on`, on a machine without a
GPU `E0000 ... failed call to cuInit`, and, around a TFLite conversion, a dozen `W0000`/`I0000`
lines about reading SavedModels; neither `TF_CPP_MIN_LOG_LEVEL` nor absl's flags silence them.
They are information, not errors, but they are what a user of `keras-distill` would read first.
`silenced_stderr()` sends file descriptor 2 to /dev/null around those calls only and restores
it: Python's own errors and warnings, raised after it, print as usual. Set
`KERAS_DISTILL_TF_LOGS=1` to see TensorFlow's lines.

Importing `keras_distill` imports TensorFlow this way and lists the physical devices (which does
not initialise the runtime, so logical devices can still be configured afterwards).
"""

import contextlib
import os
import sys

SHOW_LOGS = "KERAS_DISTILL_TF_LOGS"


@contextlib.contextmanager
def silenced_stderr():
    """Sends file descriptor 2 to /dev/null inside the block (unless `KERAS_DISTILL_TF_LOGS=1`).

    Example:

    >>> with silenced_stderr():
    ...     os.write(2, b"not shown\\n") > 0
    True
    """
    if os.environ.get(SHOW_LOGS) == "1":
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def show_logs():
    """Lets TensorFlow's C++ log lines through from now on (what `--verbose all` does).

    It affects the blocks silenced per call (TFLite conversion, the LiteRT interpreter) in this
    process and the processes it starts; the lines printed while TensorFlow was imported are
    gone by then: set `KERAS_DISTILL_TF_LOGS=1` in the environment to see those too.

    Example:

    >>> show_logs(); os.environ[SHOW_LOGS]
    '1'
    >>> del os.environ[SHOW_LOGS]
    """
    os.environ[SHOW_LOGS] = "1"


def import_tensorflow_quietly():
    """Imports TensorFlow and lists its devices inside `silenced_stderr()`; returns it.

    Example:

    >>> import_tensorflow_quietly().__name__
    'tensorflow'
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    with silenced_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices()
    return tf


import_tensorflow_quietly()
