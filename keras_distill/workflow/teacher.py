"""The teacher stage: train the reference teacher, reuse one an earlier run trained with the same
settings, or load the user's.
"""

import hashlib
import json
import os
import time

from keras_distill import distiller as distiller_lib
from keras_distill import io
from keras_distill import models as models_lib
from keras_distill.data import inversion
from keras_distill.workflow import recipe
from keras_distill.workflow import run_directory
from keras_distill.workflow import setup
from keras_distill.workflow import training

TEACHERS_DIR = "teachers"


def train_teacher(data, config, *, strategy=None):
    """Trains the teacher of `config.teacher` (the reference CNN unless `family` says otherwise),
    under the data's label-preserving augmentation (`config.distill.augment`) and keeping the
    weights of its best epoch on `data`'s validation split (if it has one), as the students do.

    Args:
        data: A `ClassificationData`.
        config: A `RunConfig`: `teacher` (epochs, family, width, depth), `train` (batch size,
            learning rate, seed) and `verbose`.
        strategy: A resolved `tf.distribute.Strategy` or `None`; the batch size is then the
            global batch. Defaults to `None`.

    Returns:
        `(model, history)`: the trained `keras.Model` (logits) and its `History.history`.
    """
    teacher, train = config.teacher, config.train
    steps = training.total_steps(data.sizes.get("train", 0), train.batch_size, teacher.epochs)
    with training.strategy_scope(strategy):
        model = build_teacher(data, config)
        augmentation = recipe.augmentation(data, config)
        trainer = (distiller_lib.AugmentedModel(model, augmentation) if augmentation
                   else model)
        trainer.compile(optimizer=training.cosine_adam(train.learning_rate, steps),
                        loss=training.classification_loss(), metrics=["accuracy"])
    keep = training.KeepBestWeights(model)
    history = trainer.fit(
        data.batches("train", train.batch_size, seed=train.seed,
                     drop_remainder=strategy is not None),
        epochs=teacher.epochs, verbose=training.fit_verbose(config.verbose), shuffle=False,
        validation_data=(data.batches("validation", 1024) if data.validation is not None
                         else None), callbacks=[keep],
    )
    history = training.history_dict(history)
    history["best_epoch"] = teacher.epochs - 1 if keep.best_epoch is None else keep.best_epoch
    return model, history


def build_teacher(data, config):
    """The untrained teacher `config.teacher` describes: the reference CNN, a keras.applications
    model or a reference family, seeded with `config.train.seed`."""
    teacher, seed = config.teacher, config.train.seed
    if teacher.family is None:
        return models_lib.reference_teacher(data.input_shape, data.num_classes,
                                            input_name=data.feature_name, seed=seed)
    if teacher.family in models_lib.APPLICATIONS:
        return models_lib.application(teacher.family, data.input_shape, data.num_classes,
                                      input_name=data.feature_name, seed=seed)
    return models_lib.build(teacher.family, data.input_shape, data.num_classes,
                            width=teacher.width, depth=teacher.depth,
                            input_name=data.feature_name, name="teacher", seed=seed)


def teacher_key(data, config, strategy=None):
    """What makes two reference teachers the same: the data and every training setting."""
    dataset = data.describe()  # Without the transfer set: the teacher never trains on it.
    dataset["sizes"] = {k: v for k, v in dataset["sizes"].items() if k != "transfer"}
    dataset["source"] = {k: v for k, v in dataset.get("source", {}).items()
                         if k != "unlabeled"}
    key = {"dataset": dataset, "epochs": config.teacher.epochs,
           "batch_size": config.train.batch_size, "seed": config.train.seed,
           "learning_rate": config.train.learning_rate,
           # The layers it trains under: none for tiny images even with `augment`.
           "augmentation": [type(layer).__name__
                            for layer in recipe.augmentation(data, config) or []]}
    if config.teacher.family is not None:
        key.update(family=config.teacher.family, width=config.teacher.width,
                   depth=config.teacher.depth)
    if strategy is not None:  # Global batches without the remainder: another training run.
        key["replicas"] = strategy.num_replicas_in_sync
    return key


def teacher_cache_dir(output, key):
    """`<output>/teachers/<digest of key>`: one directory per set of teacher settings."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return os.path.join(output, TEACHERS_DIR, digest)


def cached_teacher(data, config, *, strategy=None, log=print):
    """Returns `(teacher, history, path)`: the reference teacher reused from
    `<output>/teachers/<digest>/teacher.keras` when an earlier run trained it on the same data
    with the same settings, else trained now and saved there (atomically, beside its
    `teacher.json`); teachers of other settings are kept in their own directories."""
    key = teacher_key(data, config, strategy)
    directory = teacher_cache_dir(config.output, key)
    path = os.path.join(directory, setup.TEACHER_FILE)
    meta_path = os.path.join(directory, setup.TEACHER_META_FILE)
    if not config.teacher.retrain and os.path.isfile(path) and os.path.isfile(meta_path):
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
        if meta.get("key") == key:
            log(f"teacher: reused from {path} (trained by an earlier run with the same settings)")
            return io.load_model(path, role="teacher"), meta.get("history", {}), path
    log(f"teacher: training the reference teacher, {config.teacher.epochs} epochs")
    start = time.perf_counter()
    teacher, history = train_teacher(data, config, strategy=strategy)
    with io.atomic_directory(directory, overwrite=True) as staging:
        io.save_model(teacher, os.path.join(staging, setup.TEACHER_FILE))
        io.write_json(os.path.join(staging, setup.TEACHER_META_FILE),
                      {"key": key, "history": history})
    log(f"teacher: trained in {time.perf_counter() - start:.0f} s, saved to {path}")
    return teacher, history, path


def obtain_teacher(data, config, *, strategy=None, log=print):
    """`(teacher, history, path)`: the user's `config.teacher.path` (checked against `data`; no
    history), or the reference teacher from `cached_teacher`."""
    teacher = config.teacher
    if teacher.path is None:
        if config.distill.synthetic_samples:  # Before it trains: can inputs be synthesized?
            inversion.check_teacher(build_teacher(data, config))
        return cached_teacher(data, config, strategy=strategy, log=log)
    with training.strategy_scope(strategy):
        if teacher.is_application:
            model = models_lib.application(teacher.path, data.input_shape, data.num_classes,
                                           input_name=data.feature_name)
            _load_weights(model, teacher.weights)
            source = f"{teacher.path} with weights {teacher.weights}"
        else:
            model = io.load_model(teacher.path, role="teacher",
                                  trust_savedmodel=teacher.trust_savedmodel)
            source = teacher.path
        model = _at_data_resolution(model, data)
    io.check_fits(model, data, role="teacher", path=teacher.path)
    if config.distill.synthetic_samples:
        inversion.check_teacher(model)
    log(f"teacher: loaded from {source}")
    return model, {}, teacher.path


def _load_weights(model, path):
    try:
        model.load_weights(path)
    except Exception as error:  # Keras raises many kinds for weights that do not fit.
        raise ValueError(
            f"Invalid value for argument `teacher_weights`. Expected weights of this teacher "
            f"({model.name}, {model.count_params():,} parameters, for the data's shape and "
            f"classes). Received: teacher_weights={path!r} ({type(error).__name__}: "
            f"{str(error).splitlines()[0][:200]})") from None


def _at_data_resolution(model, data):
    """A teacher of another image size gets each batch resized to its own input."""
    own = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else ()
    shape = tuple(data.input_shape)
    if len(own) == 3 == len(shape) and own != shape and own[-1] == shape[-1]:
        return models_lib.resize_to(model, shape, input_name=data.feature_name)
    return model


def train_and_save(config=None, *, log=print, **values):
    """The `keras-distill train-teacher` command: trains the teacher and saves `teacher.keras`
    in a new run directory under `config.output`.

    Args:
        config: A `RunConfig`, or `None` for `train-teacher`'s defaults. Defaults to `None`.
        log: Called with one line per stage. Defaults to `print`.
        **values: Keyword names applied to the config (`epochs` is the teacher's here).

    Returns:
        `(model, history, path)`.
    """
    config = setup.command_config("train-teacher", config, values)
    strategy = setup.resolve_strategy(config, plain_fit="train the teacher")
    data = setup.load_data(config, validation_split=True, transfer=False)
    log(f"teacher: training on {data.name}, {config.teacher.epochs} epochs")
    with run_directory.run_directory(config, strategy) as directory:
        model, history = train_teacher(data, config, strategy=strategy)
        path = io.save_model(model, os.path.join(directory, setup.TEACHER_FILE))
    best = history["best_epoch"]
    accuracy = history["val_accuracy"][best] if history.get("val_accuracy") else float("nan")
    log(f"teacher: validation accuracy {accuracy:.1%} (epoch {best + 1}), saved to {path}")
    return model, history, path
