"""Teacher outputs computed once for a whole search, shared by its trials and its processes.

In one process, `TeacherOutputs` remembers the cached dataset made for each training dataset, so
every trial (and the final retraining) reuses one teacher pass. Across processes (keras-tuner's
distributed mode, or several searches on one machine) the outputs go to a directory: the first
process to arrive takes a lock file beside it (`<dir>.lock`, created with `O_EXCL`, holding
`<host>:<pid>` of its owner), runs the teacher and writes the directory atomically (temporary
directory, then rename); every other process waits for the directory to appear and loads it. A
lock whose owner is gone (same host, no such process: a crash, SIGKILL) is broken by the next
process that waits on it. The directory is loaded only if its manifest's fingerprint says it
was written for this teacher and these data (`keras_distill.data.cache_manifest`); another
search's directory is an error, never reused silently. On several hosts the directory must be
on a file system they all see (NFS, a mounted bucket); otherwise each host computes its own.
"""

import contextlib
import os
import socket
import time

import tensorflow as tf

from keras_distill import distiller as distiller_lib
from keras_distill.data import cache as cache_lib
from keras_distill.data.cache import load_teacher_outputs


def is_cached(data):
    """Whether `data` is a dataset made by `cache_teacher_outputs` (it carries teacher outputs)."""
    if not isinstance(data, tf.data.Dataset):
        return False
    spec = data.element_spec
    inputs = spec[0] if isinstance(spec, tuple) else spec
    return isinstance(inputs, dict) and distiller_lib.TEACHER_OUTPUTS_KEY in inputs


def _first_batch_size(dataset):
    batch = next(iter(dataset.take(1)))
    return int(tf.shape(tf.nest.flatten(batch)[0])[0])


def _owner(lock):
    """The `host:pid` a lock file holds, or `None` if it is gone or unreadable."""
    try:
        with open(lock, encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return None


def owner_is_gone(owner):
    """Whether a lock owner `"host:pid"` is a process of this host that no longer runs.

    Example:

    >>> owner_is_gone(f"{socket.gethostname()}:{os.getpid()}"), owner_is_gone("elsewhere:1")
    (False, False)
    """
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # Another host's process cannot be seen from here.
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # It runs, as another user.
        return False
    return False


def _wait_for(path, lock, timeout, poll):
    """Waits until another process has written `path`; returns False if it gave up the lock
    (or the lock was broken because its owner is gone)."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if not os.path.exists(lock):
            return os.path.exists(path)
        owner = _owner(lock)
        if owner_is_gone(owner):
            # The owner crashed: break its lock (only if it is still that owner's).
            if _owner(lock) == owner:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(lock)
            return False
        if time.monotonic() > deadline:
            owner = owner or "unknown"
            raise TimeoutError(
                f"Waited {timeout:.0f}s for the teacher outputs at {path!r}, which process "
                f"{owner!r} is writing (lock file {lock!r}). If that process is gone, delete the "
                "lock file and run again."
            )
        time.sleep(poll)
    return True


def shared_teacher_outputs(teacher, dataset, path, *, shuffle=True, seed=None, timeout=600.0,
                           poll=0.2):
    """Returns `(cached_dataset, computed)`: loads `path`, or computes it if no one else is.

    A `path` written for another teacher or other data is a `ValueError` (see the module
    docstring), as is a corrupt or incomplete one.

    Args:
        teacher: The frozen teacher `keras.Model`.
        dataset: The batched training dataset.
        path: Directory for the outputs (one directory per training dataset).
        shuffle: Reshuffle the examples every epoch. Defaults to `True`.
        seed: Shuffle seed. Defaults to `None`.
        timeout: Seconds to wait for another process writing `path`. Defaults to `600.0`.
        poll: Seconds between checks while waiting. Defaults to `0.2`.

    Returns:
        The cached dataset, and whether this call ran the teacher.
    """
    path = os.path.abspath(os.fspath(path))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    lock = path + ".lock"
    while not os.path.exists(path):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            _wait_for(path, lock, timeout, poll)
            continue
        try:
            os.write(fd, f"{socket.gethostname()}:{os.getpid()}".encode())
            os.close(fd)
            if not os.path.exists(path):  # Written between our check and our lock.
                cached = cache_lib.cache_teacher_outputs(
                    teacher, dataset, path=path, shuffle=shuffle, seed=seed
                )
                return cached, True
        finally:
            os.remove(lock)
    batch_size = _first_batch_size(dataset)
    return load_teacher_outputs(path, batch_size, shuffle=shuffle, seed=seed, teacher=teacher,
                                dataset=dataset), False


class TeacherOutputs:
    """Computes the teacher's outputs once per training dataset and hands them to every trial.

    Args:
        teacher: The frozen teacher `keras.Model`.
        cache: `True` (in memory) or a directory path (shared through disk).
    """

    def __init__(self, teacher, cache):
        self.teacher = teacher
        self.cache = cache
        self.passes = 0  # Teacher passes this process ran; the tests read it.
        self._memo = {}

    def __call__(self, dataset, shuffle=True):
        key = (id(dataset), shuffle)
        if key not in self._memo:
            if self.cache is True:
                cached, computed = cache_lib.cache_teacher_outputs(
                    self.teacher, dataset, shuffle=shuffle
                ), True
            else:
                cached, computed = shared_teacher_outputs(
                    self.teacher, dataset, self.cache, shuffle=shuffle
                )
            self.passes += int(computed)
            # Keep `dataset` alive so its id is not reused by another object.
            self._memo[key] = (dataset, cached)
        return self._memo[key][1]

    def for_arrays(self, x, y, batch_size, shuffle=True):
        """Like `__call__` for NumPy `x`, `y` (the same arrays give the same cached dataset)."""
        key = ("arrays", id(x), id(y), batch_size)
        if key not in self._memo:
            source = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
            self._memo[key] = ((x, y), source)
        return self(self._memo[key][1], shuffle=shuffle)
