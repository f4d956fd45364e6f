"""Distill on several workers with `MultiWorkerMirroredStrategy`, resuming after a kill.

Two workers on this machine (each process gets its own TF_CONFIG on a free local port):

    python examples/multi_worker.py --local-workers 2 --output multi_worker_output

N hosts: run the same command on every host without `--local-workers`, with TF_CONFIG naming
all hosts and this host's index (the same `cluster` everywhere, a different `index` each):

    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]},
                "task": {"type": "worker", "index": 0}}' \\
        python examples/multi_worker.py --output /shared/run1 --backup-dir /local/backup

Each worker builds the same teacher and student inside the strategy's scope and feeds the same
dataset; `tf.distribute` splits every global batch (`--batch-size`) across all replicas. Only the
chief (worker 0) writes the student and the history; the others write to temporary directories
that are removed. With `--backup-dir`, `keras.callbacks.BackupAndRestore` saves the whole
training state (student, optimizer, alpha, temperature, loss trackers) every epoch; rerun the
same command on every worker after a crash and training continues from the last finished epoch.
Each worker needs its own backup directory (a local path, or `{task}` in the path, which is
replaced by the worker's index): Keras 3's BackupAndRestore writes from every worker.
"""

import argparse
import json
import os
import socket
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="directory for the chief's outputs")
    parser.add_argument("--strategy", default="auto",
                        help="auto, one_device, mirrored, multi_worker or tpu (default: auto)")
    parser.add_argument("--local-workers", type=int, default=0,
                        help="launch this many worker processes on 127.0.0.1 and wait for them")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64, help="global batch size")
    parser.add_argument("--train-examples", type=int, default=4000)
    parser.add_argument("--teacher-epochs", type=int, default=5,
                        help="epochs to train the teacher first (0: an untrained teacher)")
    parser.add_argument("--backup-dir", default=None, help="BackupAndRestore directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dump-weights", default=None,
                        help="every worker writes its student weights here ({task} is replaced "
                             "by the worker index): a diagnostic for comparing workers")
    return parser.parse_args(argv)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def launch_local_workers(argv, count):
    """Starts `count` copies of this script as the workers of one local cluster."""
    hosts = [f"127.0.0.1:{port}" for port in free_ports(count)]
    child_argv = [a for a in argv if not a.startswith("--local-workers")]
    if "--local-workers" in argv:  # Also drop the value of "--local-workers N".
        index = argv.index("--local-workers")
        child_argv = argv[:index] + argv[index + 2:]
    processes = []
    for index in range(count):
        env = dict(os.environ, TF_CONFIG=json.dumps(
            {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}))
        processes.append(subprocess.Popen([sys.executable, __file__, *child_argv], env=env))
    return max(process.wait() for process in processes)


def train(args, extra_callbacks=()):
    import keras
    import numpy as np
    import tensorflow as tf

    import keras_distill as kd

    strategy = kd.distribute.get_strategy(args.strategy)
    batch_size = kd.distribute.check_global_batch_size(args.batch_size, strategy)
    arrays = kd.data.mnist1d.generate(num_train=args.train_examples, num_test=1000)
    x, y = arrays["x_train"], arrays["y_train"]
    shape, classes = x.shape[1:], int(y.max()) + 1
    train_data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(
        len(x), seed=args.seed).batch(batch_size, drop_remainder=True)
    test_data = tf.data.Dataset.from_tensor_slices(
        (arrays["x_test"], arrays["y_test"])).batch(batch_size, drop_remainder=True)
    scce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    # The teacher is trained on each worker alone (same seed and data, so the same weights) and
    # copied into a teacher created in the strategy's scope, like every model the distiller uses.
    trained = kd.models.reference_teacher(shape, classes, seed=args.seed)
    if args.teacher_epochs:
        trained.compile(optimizer="adam", loss=scce)
        trained.fit(x, y, batch_size=batch_size, epochs=args.teacher_epochs, verbose=0)
    with strategy.scope():
        teacher = kd.models.reference_teacher(shape, classes, seed=args.seed)
        teacher.set_weights(trained.get_weights())
        student = kd.models.reference_student("mlp", shape, classes, seed=args.seed + 1)
        distiller = kd.Distiller(teacher=teacher, student=student).compile(
            optimizer=keras.optimizers.Adam(1e-3), student_loss_fn=scce,
            metrics=["sparse_categorical_accuracy"], alpha=0.1, temperature=4.0)

    callbacks = list(extra_callbacks)
    if args.backup_dir:
        task = getattr(strategy.cluster_resolver, "task_id", 0) or 0
        backup_dir = kd.distribute.check_writable_directory(args.backup_dir.format(task=task))
        callbacks.insert(0, keras.callbacks.BackupAndRestore(backup_dir))
    print(f"distilling: {args.epochs} epochs on {strategy.num_replicas_in_sync} replica(s), "
          f"global batch {batch_size}", flush=True)
    history = distiller.fit(train_data, epochs=args.epochs, validation_data=test_data,
                            callbacks=callbacks, verbose=2)

    task = 0 if kd.distribute.is_chief(strategy) else getattr(
        strategy.cluster_resolver, "task_id", 1)
    if args.dump_weights:
        np.savez(args.dump_weights.format(task=task), *student.get_weights())
    with kd.distribute.chief_output_dir(args.output, strategy) as output:
        os.makedirs(output, exist_ok=True)
        student.save(os.path.join(output, "student.keras"))
        with open(os.path.join(output, "history.json"), "w") as f:
            json.dump(history.history, f, indent=2)
    return history


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.local_workers:
        return launch_local_workers(argv, args.local_workers)
    train(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
