"""`keras-distill lm`: a causal language model distilled on text, compared with the same student
trained alone, exported.

1. Checked first, before anything trains: the config, the text (read, tokenized, cut into
   sequences, split into train / validation / test text), the teacher (a keras-hub preset
   directory or a `.keras` `CausalLM`) and the student, one vocabulary, the sequence length
   within both models' maximum.
2. The teacher: the user's, or a reference GPT-2 trained on the training text.
3. The scratch student (next-token cross-entropy) and the distilled student (`lm.distiller`:
   the divergence of `config.lm`, alpha and T of `config.distill`), from the same initial
   weights, on the same tokens, epochs and schedule, each kept at its best epoch on the
   validation text's cross-entropy.
4. Teacher, scratch and distilled measured on the test text: perplexity, next-token accuracy,
   size, scoring tokens/s; the verdict (`report.lm_report`).
5. Written into a new run directory: `student/` and `scratch/` (keras-hub presets, or `.keras`
   files for other models), `teacher/` (the reference teacher), `export/saved_model/1/` (a
   scoring SavedModel for TF Serving), `report.json`, `report.md`, `config.toml`.
"""

import os
import time

import keras
import tensorflow as tf

from keras_distill import io
from keras_distill import lm
from keras_distill import validation
from keras_distill.data import cache as cache_lib
from keras_distill.distiller.distiller import PADDING_MASK
from keras_distill.lm import checks as lm_checks
from keras_distill.lm import evaluation
from keras_distill.lm import models as lm_models
from keras_distill.lm import text as text_lib
from keras_distill.report.lm_report import LanguageModelReport
from keras_distill.workflow import run_directory
from keras_distill.workflow import setup
from keras_distill.workflow import training

SCORING_EXPORT = os.path.join("export", "saved_model", "1")
THROUGHPUT_SEQUENCES = 256
EXPORT_CHECK_SEQUENCES = 8
EXPORT_TOLERANCE = 1e-3  # Largest logit difference between the served and the Keras student.


def distill_language_model(config=None, *, log=print, **values):
    """The `keras-distill lm` command (see the module docstring).

    Args:
        config: A `RunConfig` (command `"lm"`), or `None` for its defaults. Defaults to `None`.
        log: Called with one line per stage. Defaults to `print`.
        **values: Keyword names applied to the config (`epochs`, `text`, `divergence`, ...).

    Returns:
        The `LanguageModelReport`; `report.meta["run_directory"]` is where it was written.
    """
    started = time.perf_counter()
    config = setup.command_config("lm", config, values)
    strategy = setup.resolve_strategy(
        config, plain_fit="train the reference teacher and the scratch student")
    setup.check_backup_directory(config)
    settings = config.lm
    tokenizer = _tokenizer(config)
    text = text_lib.read_text(settings.text)
    splits = text_lib.split_sequences(tokenizer.sequences(text, settings.sequence_length + 1),
                                      config.data.validation_split, config.data.test_split)
    examples = {name: lm.next_token_examples(part) for name, part in splits.items()}
    log(f"text: {text_lib.SAMPLE if settings.text is None else ', '.join(settings.text)}; "
        f"{tokenizer.name} tokens (vocabulary {tokenizer.vocabulary_size:,}); " + ", ".join(
            f"{int((y >= 0).sum()):,} {name}" for name, (_, y) in examples.items())
        + f" tokens in sequences of {settings.sequence_length}")
    reference_teacher = config.teacher.path is None
    with training.strategy_scope(strategy):  # The teacher's variables live where it runs.
        if not reference_teacher:
            teacher = lm_models.load_causal_lm(config.teacher.path, "teacher")
        else:
            teacher = lm_models.reference_gpt2(tokenizer.vocabulary_size, *settings.teacher_shape,
                                               settings.sequence_length, config.train.seed)
        scratch = _student(config, tokenizer)
        _check_models(tokenizer, teacher, scratch, examples["train"][0],
                      settings.top_k if config.distill.cache_teacher else None)
    best_epochs = {}
    with run_directory.run_directory(config, strategy) as directory:
        if reference_teacher:
            log(f"teacher: training the reference GPT-2 ({teacher.count_params():,} parameters), "
                f"{_epochs(config.teacher.epochs)}")
            best_epochs["teacher"] = _train_alone(teacher, examples, config,
                                                  config.teacher.epochs, strategy)
            _save(teacher, directory, "teacher")
        log(f"scratch: training the student alone, {_epochs(config.student.epochs)}")
        best_epochs["scratch"] = _train_alone(scratch, examples, config, config.student.epochs,
                                              strategy)
        log(f"distilled: {settings.divergence} to the teacher, alpha {config.distill.alpha:g}, "
            f"T {config.distill.temperature:g}, " + (
                f"a top-{settings.top_k} cache of its logits" if config.distill.cache_teacher
                else "the teacher online") + f", {_epochs(config.student.epochs)}"
            + (f", {strategy.num_replicas_in_sync} replicas" if strategy is not None else ""))
        distilled, best_epochs["distilled"] = _distill(teacher, examples, config, tokenizer,
                                                       strategy)
        paths = {name: _save(model, directory, name)
                 for name, model in (("scratch", scratch), ("student", distilled))}
        log("evaluating: perplexity and next-token accuracy on the test text, size, tokens/s")
        report = _compare({"teacher": teacher, "scratch": scratch, "distilled": distilled},
                          examples["test"], config)
        if config.export.enabled:
            export = os.path.join(directory, SCORING_EXPORT)
            lm.save_scoring_model(distilled, export, settings.sequence_length)
            report.meta["export"] = export
            log(f"export: a scoring SavedModel for TF Serving (token_ids, padding_mask -> "
                f"logits) in {export}" + _verified(export, distilled, examples["test"][0],
                                                   config, report))
        report.meta.update(_settings(config, tokenizer), saved=paths, run_directory=directory,
                           best_epochs=best_epochs,
                           wall_time_s=round(time.perf_counter() - started, 1))
        written = report.write(directory)
        log(f"report: {', '.join(written.values())}")
    log(f"lm: every output of this run is in {directory} "
        f"({os.path.join(config.output, run_directory.LATEST)} points there)"
        + ("; reuse its teacher with --teacher " + os.path.join(directory, "teacher")
           if reference_teacher else ""))
    return report


def _verified(export, model, x, config, report):
    """Reloads the scoring SavedModel at `export` and compares its logits with `model`'s on a
    few test sequences; raises `ValueError` (the run is then removed) beyond `EXPORT_TOLERANCE`.
    """
    if not config.export.verify:
        return ""
    difference = lm.scoring_difference(export, model, {
        key: value[:EXPORT_CHECK_SEQUENCES] for key, value in x.items()})
    report.meta["export_max_logit_difference"] = difference
    if not difference <= EXPORT_TOLERANCE:  # NaN fails too.
        raise ValueError(
            f"The exported scoring SavedModel does not serve the trained student: its logits "
            f"differ from the Keras model's by up to {difference} (allowed: "
            f"{EXPORT_TOLERANCE}). Rerun with --no-export to keep the students without it.")
    return f"; reloaded, its logits differ from Keras's by at most {difference:.2g}"


def _settings(config, tokenizer):
    """What shaped the comparison, for the report's header."""
    settings = config.lm
    return dict(
        text=text_lib.SAMPLE if settings.text is None else list(settings.text),
        tokenizer=tokenizer.name, sequence_length=settings.sequence_length,
        teacher=config.teacher.path or "reference GPT-2 {}x{} (teacher/)".format(
            *settings.teacher_shape),
        student=settings.student or "reference GPT-2 {}x{}".format(*settings.student_shape),
        divergence=settings.divergence, alpha=config.distill.alpha,
        temperature=config.distill.temperature, cache_teacher=config.distill.cache_teacher,
        epochs=config.student.epochs, seed=config.train.seed)


def _epochs(count):
    return f"{count} epoch" + ("" if count == 1 else "s")


def _tokenizer(config):
    """The tokenizer of `config.lm.tokenizer` (`"auto"`: the teacher preset's, else bytes)."""
    name, teacher = config.lm.tokenizer, config.teacher.path
    if name == "auto":
        has_own = teacher is not None and os.path.isfile(os.path.join(teacher, "tokenizer.json"))
        name = teacher if has_own else "bytes"
    return text_lib.byte_tokenizer() if name == "bytes" else text_lib.preset_tokenizer(name)


def _student(config, tokenizer):
    """A fresh student: the user's (loaded again) or the reference GPT-2 of the run's seed."""
    settings = config.lm
    if settings.student is not None:
        return lm_models.load_causal_lm(settings.student, "student")
    return lm_models.reference_gpt2(tokenizer.vocabulary_size, *settings.student_shape,
                                    settings.sequence_length, config.train.seed + 1)


def _check_models(tokenizer, teacher, student, x, top_k):
    """One vocabulary for the tokenizer and both models; sequences within both maxima; a
    top-k cache smaller than the vocabulary."""
    lm_checks.check_vocabularies(teacher, student)
    for role, model in (("teacher", teacher), ("student", student)):
        size = lm_checks.vocabulary_size(model)
        if size is not None and size != tokenizer.vocabulary_size:
            raise validation.invalid(
                "tokenizer", f"the {role}'s vocabulary of {size:,} tokens",
                f"{tokenizer.name} ({tokenizer.vocabulary_size:,} tokens)",
                "Pass the tokenizer the models were trained with (a preset directory).")
    lm_checks.check_batch(x, teacher, student)
    if top_k is not None and top_k >= tokenizer.vocabulary_size:
        raise validation.invalid("top_k", f"fewer than the vocabulary's "
                                 f"{tokenizer.vocabulary_size:,} tokens", top_k)


def _batches(examples, config, seed=None, strategy=None):
    """Batches of `(x, y)`, the padding mask as int32: keras-hub's own dtype for it, which
    `tf.distribute` can average (Keras does, to build a model under a strategy)."""
    x, y = examples
    x = {**x, PADDING_MASK: x[PADDING_MASK].astype("int32")}
    data = tf.data.Dataset.from_tensor_slices((x, y))
    if seed is not None:
        data = data.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    return data.batch(config.train.batch_size, drop_remainder=strategy is not None).prefetch(
        tf.data.AUTOTUNE)


def _optimizer(examples, config, epochs):
    return training.cosine_adam(config.train.learning_rate, training.total_steps(
        len(examples["train"][1]), config.train.batch_size, epochs))


def _fit(trainer, kept, monitor, examples, config, epochs, strategy, data=None, callbacks=()):
    keep = training.KeepBestWeights(kept, monitor=monitor, mode="min")
    trainer.fit(data or _batches(examples["train"], config, config.train.seed, strategy),
                validation_data=_batches(examples["validation"], config, strategy=strategy),
                epochs=epochs, shuffle=False, verbose=training.fit_verbose(config.verbose),
                callbacks=[keep, *callbacks])
    return keep.best_epoch


def _train_alone(model, examples, config, epochs, strategy):
    """Trains `model` on the next tokens alone, kept at its best validation epoch (returned)."""
    with training.strategy_scope(strategy):
        model.compile(optimizer=_optimizer(examples, config, epochs),
                      loss=evaluation.next_token_loss())
    return _fit(model, model, "val_loss", examples, config, epochs, strategy)


def _distill(teacher, examples, config, tokenizer, strategy):
    settings, distill = config.lm, config.distill
    with training.strategy_scope(strategy):
        student = _student(config, tokenizer)
        distiller = lm.distiller(teacher, student, divergence=settings.divergence,
                                 temperature=distill.temperature, alpha=distill.alpha,
                                 beta=settings.beta, teacher_dtype=distill.teacher_dtype)
        distiller.compile(optimizer=_optimizer(examples, config, config.student.epochs),
                          loss=evaluation.next_token_loss())
    data = None
    if distill.cache_teacher:
        data = cache_lib.cache_teacher_outputs(
            teacher, _batches(examples["train"], config, strategy=strategy),
            top_k=settings.top_k, seed=config.train.seed, teacher_dtype=distill.teacher_dtype)
    callbacks = ([] if distill.backup_dir is None
                 else [keras.callbacks.BackupAndRestore(distill.backup_dir)])
    best_epoch = _fit(distiller, student, "val_student_loss", examples, config,
                      config.student.epochs, strategy, data=data, callbacks=callbacks)
    return student, best_epoch


def _save(model, directory, name):
    """`model` as a keras-hub preset `<directory>/<name>/`, or `<name>.keras` for other models."""
    if callable(getattr(model, "save_to_preset", None)):
        return lm.save_preset(model, os.path.join(directory, name))
    path = os.path.join(directory, f"{name}.keras")
    io.save_model(model, path)
    return path


def _compare(models, test, config):
    x, y = test
    speeds = evaluation.tokens_per_second(
        models, {key: value[:THROUGHPUT_SEQUENCES] for key, value in x.items()},
        config.train.batch_size)
    results, rows = {}, []
    for name, model in models.items():
        results[name] = evaluation.held_out(model, x, y)
        rows.append(dict(name=name, perplexity=results[name].perplexity,
                         accuracy=results[name].accuracy, params=model.count_params(),
                         size_bytes=lm_models.weight_bytes(model),
                         tokens_per_second=speeds[name]))
    gain = evaluation.paired_gain(results["scratch"], results["distilled"])
    return LanguageModelReport(rows, gain=gain,
                               meta={"test_tokens": results["distilled"].tokens})
