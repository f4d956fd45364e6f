"""A seeded distillation run with BackupAndRestore; `--kill-after-epoch K` SIGKILLs itself.

    python -m tests.workers.resumable_run --backup-dir D --weights-out W.npz [--kill-after-epoch K]

With TF_CONFIG set it runs as one worker of a MultiWorkerMirroredStrategy cluster; `{task}` in
`--backup-dir` and `--weights-out` is replaced by the worker's index, so every worker keeps its
own backup (Keras 3's BackupAndRestore has no chief-only writing).
"""

import argparse
import os
import signal

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_distill as kd  # noqa: E402
from tests import helpers  # noqa: E402


class KillAfterEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            os.kill(os.getpid(), signal.SIGKILL)  # No cleanup, like a preempted machine.


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--backup-dir", required=True)
    parser.add_argument("--weights-out", required=True)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--kill-after-epoch", type=int, default=0)
    args = parser.parse_args()

    config = kd.distribute.tf_config()
    task = config["task"]["index"] if config else 0
    strategy = kd.distribute.get_strategy("multi_worker" if config else "one_device")
    with strategy.scope():
        teacher, student = helpers.mlp(seed=1), helpers.mlp(hidden=(8,), seed=2)
        distiller = kd.Distiller(teacher=teacher, student=student).compile(
            optimizer=keras.optimizers.Adam(0.01), student_loss_fn=helpers.SCCE, alpha=0.3,
            temperature=2.0)
    x, y = helpers.data(n=96)
    data = helpers.dataset(x, y, 16, drop_remainder=True)
    # The temperature is changed by a schedule, so a resumed run must restore it too.
    anneal = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: setattr(distiller, "temperature", distiller.temperature * 0.9))
    # Callbacks run in order: the schedule updates the temperature before the backup saves it.
    callbacks = [anneal, keras.callbacks.BackupAndRestore(args.backup_dir.format(task=task))]
    if args.kill_after_epoch:
        callbacks.append(KillAfterEpoch(args.kill_after_epoch))
    history = distiller.fit(data, epochs=args.epochs, verbose=0, callbacks=callbacks)
    np.savez(args.weights_out.format(task=task), *student.get_weights(),
             temperature=distiller.temperature,
             epochs_run=len(history.history["loss"]))


if __name__ == "__main__":
    main()
