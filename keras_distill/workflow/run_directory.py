"""Every command writes into a directory of its own under the output, so no run ever replaces
another run's files.

`<output>/<command>-<YYYYmmdd-HHMMSS>[-N]/` is created new; while the command runs it holds a
`.incomplete` marker (with the process id); when the command succeeds the resolved config is
written as `config.toml` (`keras-distill <command> --config <it>` repeats the run), the marker is
removed and `<output>/latest` is pointed at it. A command that fails or is interrupted removes its
directory, leaving the earlier runs and `latest` as they were; a directory left by a killed
process is removed by the next command that finds it.
"""

import contextlib
import os
import shutil
import socket
import time

from keras_distill import distribute
from keras_distill import io

LATEST = "latest"
INCOMPLETE = ".incomplete"
CONFIG_FILE = "config.toml"


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # Someone else's process: alive.
        return True
    return True


def _owner():
    return f"{os.getpid()} {socket.gethostname()}"


def remove_abandoned(output):
    """Removes run directories whose `.incomplete` marker names a process of this host that is
    gone (a directory another host is writing, on a shared disk, is left alone)."""
    if not os.path.isdir(output):
        return
    for name in os.listdir(output):
        marker = os.path.join(output, name, INCOMPLETE)
        try:
            with open(marker, encoding="utf-8") as f:
                pid, host = f.read().split(maxsplit=1)
            pid = int(pid)
        except (OSError, ValueError):
            continue
        if host.strip() == socket.gethostname() and not _alive(pid):
            shutil.rmtree(os.path.join(output, name), ignore_errors=True)


def _create(output, command):
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for attempt in range(1, 1000):
        name = f"{command}-{stamp}" + (f"-{attempt}" if attempt > 1 else "")
        path = os.path.join(output, name)
        try:
            os.makedirs(path)
        except FileExistsError:
            continue
        io.write_text(os.path.join(path, INCOMPLETE), _owner())
        return path
    raise FileExistsError(f"Cannot create a new run directory in {output}")


def point_latest(output, path):
    """Points `<output>/latest` at `path` (a relative symbolic link, replaced atomically)."""
    link = os.path.join(output, LATEST)
    staging = os.path.join(output, f".{LATEST}.tmp-{os.getpid()}")
    if os.path.lexists(staging):
        os.remove(staging)
    os.symlink(os.path.relpath(path, output), staging)
    os.replace(staging, link)


@contextlib.contextmanager
def run_directory(config, strategy=None):
    """Yields a new directory for this command under `config.output` (see the module docstring).

    Under a multi-worker strategy only the chief keeps its directory; the other workers write
    into a temporary one that is removed afterwards.

    Example:

    >>> import os, tempfile
    >>> from keras_distill.config import RunConfig
    >>> config = RunConfig(output=tempfile.mkdtemp())
    >>> with run_directory(config) as path:
    ...     os.path.basename(path).startswith("run-")
    True
    >>> sorted(os.listdir(path)), os.path.realpath(os.path.join(config.output, "latest")) == path
    (['config.toml'], True)
    """
    if not distribute.is_chief(strategy):
        with distribute.chief_output_dir(config.output, strategy) as scratch:
            yield scratch
        return
    os.makedirs(config.output, exist_ok=True)
    remove_abandoned(config.output)
    path = _create(config.output, config.command)
    try:
        yield path
        io.write_text(os.path.join(path, CONFIG_FILE), config.to_toml())
        os.remove(os.path.join(path, INCOMPLETE))
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    point_latest(config.output, path)
