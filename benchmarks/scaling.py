"""Examples/s of distillation on 1 worker vs 2 workers (MultiWorkerMirroredStrategy on loopback).

Both runs use the MNIST-1D reference teacher and MLP student, the same global batch and epochs,
and measure steady-state throughput (the first epoch, which traces, is left out). On a 2-core
machine two workers share the cores, so the ratio shows the cost of the distributed path
(collective all-reduce of gradients and of the global example count every step), not a speed-up.

    python benchmarks/scaling.py [--epochs 4] [--batch-size 128]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples"))
from multi_worker import free_ports  # noqa: E402


def worker(args):
    """One worker: distill and write steady-state examples/s to `args.result`."""
    import keras
    import tensorflow as tf

    import keras_distill as kd

    strategy = kd.distribute.get_strategy(args.strategy)
    arrays = kd.data.mnist1d.generate()
    x, y = arrays["x_train"], arrays["y_train"]
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(args.batch_size, drop_remainder=True)
    with strategy.scope():
        teacher = kd.models.reference_teacher(x.shape[1:], 10, seed=0)
        student = kd.models.reference_student("mlp", x.shape[1:], 10, seed=1)
        distiller = kd.Distiller(teacher=teacher, student=student).compile(
            optimizer="adam",
            student_loss_fn=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    epoch_times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_times.append(time.perf_counter() - self.start)

    distiller.fit(data, epochs=args.epochs, verbose=0, callbacks=[Timer()])
    steps = len(x) // args.batch_size
    steady = min(epoch_times[1:])
    if kd.distribute.is_chief(strategy):
        with open(args.result, "w") as f:
            json.dump({"examples_per_s": steps * args.batch_size / steady,
                       "replicas": strategy.num_replicas_in_sync}, f)


def launch(args, workers, result):
    command = [sys.executable, __file__, "--worker", "--result", result,
               "--epochs", str(args.epochs), "--batch-size", str(args.batch_size)]
    environment = dict(os.environ, PYTHONPATH=ROOT)
    environment.pop("TF_CONFIG", None)
    if workers == 1:
        subprocess.run([*command, "--strategy", "one_device"], env=environment, check=True)
    else:
        hosts = [f"127.0.0.1:{port}" for port in free_ports(workers)]
        processes = [subprocess.Popen([*command, "--strategy", "multi_worker"], env=dict(
            environment, TF_CONFIG=json.dumps({"cluster": {"worker": hosts},
                                               "task": {"type": "worker", "index": i}})))
                     for i in range(workers)]
        if any(p.wait() for p in processes):
            raise SystemExit("a worker failed")
    with open(result) as f:
        return json.load(f)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--strategy", default="one_device", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    with tempfile.TemporaryDirectory() as directory:
        one = launch(args, 1, os.path.join(directory, "one.json"))
        two = launch(args, 2, os.path.join(directory, "two.json"))
    print(f"MNIST-1D reference teacher -> MLP student, global batch {args.batch_size}, "
          f"{args.epochs} epochs (steady state: best epoch after the first), {os.cpu_count()} CPU cores")
    print(f"  1 worker  (one device):              {one['examples_per_s']:9.0f} examples/s")
    print(f"  2 workers (MultiWorkerMirrored, loopback): {two['examples_per_s']:9.0f} examples/s")
    print(f"  ratio 2 workers / 1 worker: {two['examples_per_s'] / one['examples_per_s']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
