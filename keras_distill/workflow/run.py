"""The main job: teacher, scratch student, distilled student, comparison, export, report."""

import os
import time

from keras_distill import io
from keras_distill.workflow import compare
from keras_distill.workflow import export as export_stage
from keras_distill.workflow import publish
from keras_distill.workflow import recipe
from keras_distill.workflow import run_directory
from keras_distill.workflow import setup
from keras_distill.workflow import students
from keras_distill.workflow import teacher as teacher_stage
from keras_distill.workflow import tune as tune_stage

EXPORT_DIR = "export"
LABELED_ONLY = "distilled, labeled only"  # The row beside unlabeled data: without it.


def run(config=None, *, log=print, measure_kwargs=None, **values):
    """The `keras-distill run` command: the whole story on one dataset.

    1. Everything is checked first: the config, the strategy, the directories, the data and the
       user's teacher, before any model trains.
    2. The teacher: the user's, or the reference teacher (reused from `<output>/teachers/` when
       an earlier run trained it with the same settings).
    3. With `config.tune.trials`, alpha/T are chosen by a search on a validation split held out
       of training, where the tuned student is also compared with the scratch student.
    4. The scratch and the distilled student, trained the same way. With unlabeled data (a
       transfer set, or inputs synthesized from the teacher), a second distilled student
       trained without it shows what it adds.
    5. Teacher, scratch and distilled measured on the test split; the distilled student exported
       (SavedModel, `.tflite` float32 and int8), each artifact measured; the report written.

    Everything lands in a new run directory, `<output>/run-<time>/` (`<output>/latest` points
    at it): `teacher.keras` (the reference teacher), `scratch.keras`, `student.keras`,
    `report.{json,md,png}`, `export/` and `config.toml`. With `config.export.publish`, the
    SavedModel is also published as the next version of that TF Serving base path.

    Args:
        config: A `RunConfig`, or `None` for `run`'s defaults. Defaults to `None`.
        log: Called with one line per stage. Defaults to `print`.
        measure_kwargs: Passed to `keras_distill.report.measure_model`. Defaults to `None`.
        **values: Keyword names applied to the config (`epochs`, `alpha`, `teacher`, ...).

    Returns:
        The `keras_distill.report.Report`; `report.meta["run_directory"]` is where it was written.
    """
    started = time.perf_counter()
    config = setup.command_config("run", config, values)
    strategy = setup.resolve_strategy(
        config, plain_fit="run the whole job (the teacher and the scratch student)")
    setup.check_backup_directory(config)
    data = setup.load_data(config, validation_split=True)
    tune_data = (setup.load_data(config, validation_split=True, transfer=False)
                 if config.tune.trials else None)
    log(setup.describe_data(data))
    students.check_student(data, config)
    teacher, teacher_history, teacher_path = teacher_stage.obtain_teacher(
        data, config, strategy=strategy, log=log)
    data = recipe.with_synthetic_inputs(data, teacher, config, log=log)
    with run_directory.run_directory(config, strategy) as directory:
        tuning = None
        if config.tune.trials:
            tuning = tune_stage.choose_alpha_temperature(tune_data, teacher, config, directory,
                                                         log=log)
            config = config.replace(alpha=tuning["alpha"], temperature=tuning["temperature"])
        log(f"scratch: training the {config.student.family} student from scratch, "
            f"{config.student.epochs} epochs")
        scratch, scratch_history = students.train_student(data, config, strategy=strategy)
        models = {"teacher": teacher, "scratch": scratch}
        histories = {"teacher": teacher_history, "scratch": scratch_history}
        if data.transfer is not None:  # What the unlabeled data adds, on the same screen.
            labeled = data.without_transfer()
            log(students.describe_distillation(labeled, config, stage=LABELED_ONLY))
            models[LABELED_ONLY], histories[LABELED_ONLY] = students.train_student(
                labeled, config, teacher=teacher, strategy=strategy)
        log(students.describe_distillation(data, config))
        distilled, distilled_history = students.train_student(data, config, teacher=teacher,
                                                              strategy=strategy)
        if config.teacher.path is None:  # The reference teacher, beside its students.
            io.save_model(teacher, os.path.join(directory, setup.TEACHER_FILE))
        io.save_model(scratch, os.path.join(directory, setup.SCRATCH_FILE))
        io.save_model(distilled, os.path.join(directory, setup.STUDENT_FILE))
        log("evaluating: accuracy, agreement, size, LiteRT and Keras-call latency (batch 1), "
        "throughput")
        models["distilled"], histories["distilled"] = distilled, distilled_history
        meta = {"config": _report_config(config, strategy, teacher_path),
                "curves_split": "validation", "run_directory": directory}
        report = compare.evaluate(models, data,
                                  histories={k: v for k, v in histories.items() if v},
                                  meta=meta, **(measure_kwargs or {}))
        if tuning is not None:
            report.meta["tuning"] = tuning
            report.row("distilled")["note"] = tuning["text"]
        records = {}
        if config.export.enabled:
            records = export_stage.export_artifacts(
                distilled, data, os.path.join(directory, EXPORT_DIR), report, config, log=log)
        publishing = config.export.publish is not None and "saved_model" in records
        if publishing:
            version = publish.next_version(config.export.publish)
            report.meta["published"] = {
                "version": version, "path": os.path.join(config.export.publish, str(version))}
        report.meta["wall_time_s"] = round(time.perf_counter() - started, 1)
        paths = report.write(directory)
        log(f"report: {', '.join(paths.values())}")
        if publishing:  # Last, so that an interrupted run publishes nothing.
            path = publish.publish_saved_model(records["saved_model"]["path"],
                                               config.export.publish, version)
            log(f"publish: SavedModel published as version {version} of "
                f"{config.export.publish} ({path}); TF Serving serves the highest version")
    log(f"run: every output of this run is in {directory} "
        f"({os.path.join(config.output, run_directory.LATEST)} points there)")
    return report


def _report_config(config, strategy, teacher_path):
    """The settings that shaped the comparison, one level deep, for the report's header."""
    settings = {"teacher": teacher_path,
                "student": config.student.family, "student_size": config.student.size,
                "epochs": config.student.epochs, "teacher_epochs": config.teacher.epochs,
                "batch_size": config.train.batch_size, "alpha": config.distill.alpha,
                "temperature": config.distill.temperature, "seed": config.train.seed,
                "learning_rate": config.train.learning_rate,
                "cache_teacher": config.distill.cache_teacher, "views": config.distill.views,
                "boundary_step": config.distill.boundary_step,
                "synthetic_samples": config.distill.synthetic_samples,
                "transfer_samples": config.data.transfer_samples}
    if config.tune.trials:
        settings.update(tune=config.tune.trials, tuner=config.tune.tuner,
                        validation_split=config.data.validation_split)
    if strategy is not None:
        settings.update(strategy=type(strategy).__name__,
                        replicas=strategy.num_replicas_in_sync)
    return settings
