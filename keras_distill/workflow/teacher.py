"""The teacher stage: train the reference teacher, reuse one an earlier run trained with the same
settings, or load the user's.
"""

import json
import os
import time

from keras_distill import io
from keras_distill import models as models_lib
from keras_distill.workflow import setup
from keras_distill.workflow import training


def train_teacher(data, config, *, strategy=None, validation="test"):
    """Trains the teacher of `config.teacher` (the reference CNN unless `family` says otherwise).

    Args:
        data: A `ClassificationData`.
        config: A `RunConfig`: `teacher` (epochs, family, width, depth), `train` (batch size,
            learning rate, seed) and `verbose`.
        strategy: A resolved `tf.distribute.Strategy` or `None`; the batch size is then the
            global batch. Defaults to `None`.
        validation: Split whose accuracy is recorded per epoch (only recorded: nothing is
            chosen on it), or `None`. Defaults to `"test"`.

    Returns:
        `(model, history)`: the trained `keras.Model` (logits) and its `History.history`.
    """
    teacher, train = config.teacher, config.train
    steps = training.total_steps(data.sizes.get("train", 0), train.batch_size, teacher.epochs)
    with training.strategy_scope(strategy):
        if teacher.family is None:
            model = models_lib.reference_teacher(data.input_shape, data.num_classes,
                                                 input_name=data.feature_name, seed=train.seed)
        else:
            model = models_lib.build(teacher.family, data.input_shape, data.num_classes,
                                     width=teacher.width, depth=teacher.depth,
                                     input_name=data.feature_name, name="teacher",
                                     seed=train.seed)
        model.compile(optimizer=training.cosine_adam(train.learning_rate, steps),
                      loss=training.classification_loss(), metrics=["accuracy"])
    history = model.fit(
        data.batches("train", train.batch_size, seed=train.seed,
                     drop_remainder=strategy is not None),
        epochs=teacher.epochs, verbose=config.verbose, shuffle=False,
        validation_data=data.batches(validation, 1024) if validation else None,
    )
    return model, training.history_dict(history)


def teacher_key(data, config, strategy=None):
    """What makes two reference teachers the same: the data and every training setting."""
    dataset = data.describe()
    dataset["sizes"] = {k: v for k, v in dataset["sizes"].items() if k != "transfer"}
    key = {"dataset": dataset, "epochs": config.teacher.epochs,
           "batch_size": config.train.batch_size, "seed": config.train.seed,
           "learning_rate": config.train.learning_rate}
    if config.teacher.family is not None:
        key.update(family=config.teacher.family, width=config.teacher.width,
                   depth=config.teacher.depth)
    if strategy is not None:  # Global batches without the remainder: another training run.
        key["replicas"] = strategy.num_replicas_in_sync
    return key


def cached_teacher(data, config, *, strategy=None, log=print):
    """Returns `(teacher, history)`: reused from `output/teacher.keras` when an earlier run
    trained it on the same data with the same settings, else trained now and saved there."""
    path = os.path.join(config.output, setup.TEACHER_FILE)
    meta_path = os.path.join(config.output, setup.TEACHER_META_FILE)
    key = teacher_key(data, config, strategy)
    if not config.teacher.retrain and os.path.isfile(path) and os.path.isfile(meta_path):
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
        if meta.get("key") == key:
            log(f"teacher: reused from {path} (trained by an earlier run with the same settings)")
            return io.load_model(path, role="teacher"), meta.get("history", {})
    log(f"teacher: training the reference teacher, {config.teacher.epochs} epochs")
    start = time.perf_counter()
    teacher, history = train_teacher(data, config, strategy=strategy)
    io.save_model(teacher, path)
    io.write_json(meta_path, {"key": key, "history": history})
    log(f"teacher: trained in {time.perf_counter() - start:.0f} s, saved to {path}")
    return teacher, history


def obtain_teacher(data, config, *, strategy=None, log=print):
    """`(teacher, history)`: the user's `config.teacher.path` (checked against `data`; no
    history), or the reference teacher from `cached_teacher`."""
    if config.teacher.path is None:
        return cached_teacher(data, config, strategy=strategy, log=log)
    with training.strategy_scope(strategy):
        model = io.load_model(config.teacher.path, role="teacher", data=data)
    log(f"teacher: loaded from {config.teacher.path}")
    return model, {}


def train_and_save(config=None, *, log=print, **values):
    """The `keras-distill train-teacher` command: trains the teacher, saves `teacher.keras`.

    Args:
        config: A `RunConfig`, or `None` for `train-teacher`'s defaults. Defaults to `None`.
        log: Called with one line per stage. Defaults to `print`.
        **values: Keyword names applied to the config (`epochs` is the teacher's here).

    Returns:
        `(model, history, path)`.
    """
    config = setup.command_config("train-teacher", config, values)
    strategy = setup.resolve_strategy(config, plain_fit="train the teacher")
    setup.prepare_directories(config)
    data = setup.load_data(config, transfer=False)
    log(f"teacher: training on {data.name}, {config.teacher.epochs} epochs")
    model, history = train_teacher(data, config, strategy=strategy)
    path = io.save_model(model, os.path.join(config.output, setup.TEACHER_FILE))
    log(f"teacher: test accuracy {history['val_accuracy'][-1]:.1%}, saved to {path}")
    return model, history, path
