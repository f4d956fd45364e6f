"""Choosing and entering a `tf.distribute` strategy; global batches; chief-only outputs.

The rule: create the teacher, the student and the `Distiller` inside `strategy.scope()`. A
`Distiller` built outside the scope from models created inside it enters their strategy for you;
models created outside the strategy that is active raise a clear error (see
`strategy_for_models`).

Global batch semantics: under a strategy, the batch size of the dataset you give `fit` is the
*global* batch: `tf.distribute` splits each batch across the replicas (and, with several workers,
shards the dataset so that together the workers see each global batch once). Batch with
`drop_remainder=True` so every replica gets an equal share (`check_global_batch_size` checks the
size divides). With a `tf.data` pipeline of your own under `MultiWorkerMirroredStrategy`, either
give every worker the same dataset (the default `AutoShardPolicy.DATA` shards it by batch) or
shard it yourself by file (`dataset.shard(num_workers, worker_index)` with
`AutoShardPolicy.OFF`).
"""

import contextlib
import json
import os
import shutil
import tempfile

import tensorflow as tf

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")

TF_CONFIG_EXAMPLE = (
    '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
    '"task": {"type": "worker", "index": 0}}'
)


def tf_config():
    """Returns the parsed and checked `TF_CONFIG`, or `None` when it is not set.

    Raises:
        ValueError: if `TF_CONFIG` is not JSON, names no cluster, or its task is not in it.
    """
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return None
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"Invalid TF_CONFIG: not JSON ({error}). Received: TF_CONFIG={raw!r}. "
            f"Expected, for example: TF_CONFIG='{TF_CONFIG_EXAMPLE}'"
        ) from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    jobs = cluster if isinstance(cluster, dict) else {}
    valid = (
        bool(jobs)
        and all(isinstance(hosts, list) and hosts for hosts in jobs.values())
        and isinstance(task, dict)
        and task.get("type") in jobs
        and isinstance(task.get("index"), int)
        and 0 <= task["index"] < len(jobs[task["type"]])
    )
    if not valid:
        raise ValueError(
            "Invalid TF_CONFIG: expected a `cluster` mapping job names to host:port lists and a "
            f"`task` naming one of them by type and index. Received: TF_CONFIG={raw!r}. "
            f"Expected, for example: TF_CONFIG='{TF_CONFIG_EXAMPLE}'"
        )
    return config


def _cluster_size(config):
    return sum(len(hosts) for job, hosts in config["cluster"].items() if job in ("chief", "worker"))


def _tpu_strategy(tpu=None):
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def resolve_strategy_name(name="auto", *, tpu=None):
    """Returns the concrete strategy name `get_strategy(name)` would use, creating nothing.

    Example:

    >>> resolve_strategy_name("mirrored")
    'mirrored'
    """
    if name not in STRATEGIES:
        raise ValueError(
            f"Invalid value for argument `strategy`. Expected one of {list(STRATEGIES)}. "
            f"Received: strategy={name!r}"
        )
    if name != "auto":
        return name
    config = tf_config()
    if config is not None and _cluster_size(config) > 1:
        return "multi_worker"
    if tpu is not None or os.environ.get("TPU_NAME"):
        return "tpu"
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return "mirrored"
    return "one_device"


def get_strategy(name="auto", *, tpu=None):
    """Returns the `tf.distribute` strategy called `name`.

    Args:
        name: One of `"auto"`, `"one_device"`, `"mirrored"`, `"multi_worker"`, `"tpu"`.
            `"auto"` picks `multi_worker` when `TF_CONFIG` names a cluster of several workers,
            `tpu` when `tpu` is given or `TPU_NAME` is set (a resolver is only contacted then),
            `mirrored` when there are several GPUs, else `one_device`. Defaults to `"auto"`.
        tpu: TPU name or address for `TPUClusterResolver`. Defaults to `None` (`TPU_NAME`, or
            the local TPU VM).

    Returns:
        A `tf.distribute.Strategy`.

    Raises:
        ValueError: for an unknown name, or `"multi_worker"` without a valid `TF_CONFIG`.

    Example:

    >>> get_strategy("one_device").num_replicas_in_sync
    1
    """
    name = resolve_strategy_name(name, tpu=tpu)
    if name == "one_device":
        device = "/gpu:0" if tf.config.list_physical_devices("GPU") else "/cpu:0"
        return tf.distribute.OneDeviceStrategy(device)
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if tf_config() is None:
            raise ValueError(
                "The `multi_worker` strategy needs TF_CONFIG to describe the cluster and this "
                f"process's place in it. Set, for example: TF_CONFIG='{TF_CONFIG_EXAMPLE}'"
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    return _tpu_strategy(tpu)


def check_global_batch_size(batch_size, strategy=None):
    """Returns `batch_size` if it splits evenly over the strategy's replicas, else raises.

    Example:

    >>> check_global_batch_size(64, get_strategy("one_device"))
    64
    """
    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    if not isinstance(batch_size, int) or batch_size <= 0 or batch_size % replicas:
        raise ValueError(
            "Invalid value for argument `batch_size`. Expected a positive global batch size "
            f"divisible by the {replicas} replicas in sync. Received: batch_size={batch_size!r}"
        )
    return batch_size


def variable_strategy(variable):
    """The `tf.distribute.Strategy` a variable was created under, or `None` (no strategy).

    Example:

    >>> import keras
    >>> variable_strategy(keras.Variable(1.0)) is None
    True
    """
    return getattr(getattr(variable, "value", variable), "_distribute_strategy", None)


def strategy_for_models(*models):
    """Returns the strategy the models' variables were created under, checking they agree.

    Returns `None` when they were created without a strategy (and none is active now).

    Raises:
        ValueError: if a model was created outside the strategy that is active now, or the
            models were created under different strategies.
    """
    found = {}
    for model in models:
        for variable in model.variables:
            strategy = variable_strategy(variable)
            found.setdefault(id(strategy), (strategy, model.name))
    if tf.distribute.has_strategy():
        active = tf.distribute.get_strategy()
        strangers = [name for strategy, name in found.values() if strategy is not active]
        if strangers:
            raise ValueError(
                f"Model(s) {sorted(set(strangers))} were created outside the active "
                f"`{type(active).__name__}` scope, so their variables live on one device. Create "
                "the teacher, the student and the Distiller inside the same scope:\n"
                "    with strategy.scope():\n"
                "        teacher = ...; student = ...\n"
                "        distiller = keras_distill.Distiller(teacher=teacher, student=student)"
            )
        return active
    strategies = {id(s): s for s, _ in found.values() if s is not None}
    if len(strategies) > 1 or (strategies and None in {s for s, _ in found.values()}):
        raise ValueError(
            "The teacher and the student were created under different tf.distribute strategies "
            "(or one without any). Create both inside the same `with strategy.scope():`."
        )
    return next(iter(strategies.values()), None)


def is_chief(strategy=None):
    """Whether this process writes outputs: the chief, or worker 0 of a cluster without one."""
    strategy = strategy or tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    config = tf_config() or {"cluster": {}}
    if "chief" in config["cluster"]:
        return resolver.task_type == "chief"
    return resolver.task_type == "worker" and resolver.task_id == 0


@contextlib.contextmanager
def chief_output_dir(path, strategy=None):
    """Yields `path` on the chief and a temporary directory, removed afterwards, elsewhere.

    Every worker must take part in saving under `MultiWorkerMirroredStrategy`, but only the
    chief's files should land; the others write beside nothing and their files are deleted.

    Example:

    >>> import tempfile
    >>> with chief_output_dir(tempfile.gettempdir()) as directory:
    ...     directory == tempfile.gettempdir()
    True
    """
    if is_chief(strategy):
        yield path
        return
    scratch = tempfile.mkdtemp(prefix="keras-distill-worker-")
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def check_writable_directory(path, name="backup_dir"):
    """Creates `path` if needed and raises `ValueError` unless this process can write in it."""
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            pass
    except OSError as error:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a directory this process can write "
            f"to. Received: {name}={path!r} ({error.strerror})"
        ) from None
    return path
