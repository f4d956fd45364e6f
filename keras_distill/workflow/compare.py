"""The comparison stage: teacher, scratch and distilled student measured on the same test data."""

from keras_distill import io
from keras_distill import report as report_lib
from keras_distill.workflow import run_directory
from keras_distill.workflow import setup


def evaluate(models, data, *, histories=None, meta=None, batch_size=1024, **measure_kwargs):
    """Measures `{name: model}` on `data`'s test split and returns a `keras_distill.report.Report`.

    The names `"teacher"`, `"scratch"` and `"distilled"` give the rows their roles.

    Args:
        models: `{name: keras.Model}`.
        data: A `ClassificationData`.
        histories: `{name: History.history}` for the training curves. Defaults to `None`.
        meta: Extra report metadata (`config`, ...). Defaults to `None`.
        batch_size: Batch size of the accuracy pass. Defaults to `1024`.
        **measure_kwargs: Passed to `keras_distill.report.measure_model`.
    """
    meta = {"dataset": data.describe(), **(meta or {})}
    return report_lib.compare(models, data.batches("test", batch_size), histories=histories,
                              meta=meta, **measure_kwargs)


def evaluate_saved(config=None, *, log=print, **values):
    """The `keras-distill evaluate` command: compares saved models and writes the report into
    a new run directory under `config.output`.

    Args:
        config: A `RunConfig` with `teacher.path` and `student.path` (and optionally
            `student.scratch_path`), or `None` for `evaluate`'s defaults. Defaults to `None`.
        log: Called with one line per stage. Defaults to `print`.
        **values: Keyword names applied to the config (`teacher`, `student`, `scratch`, ...).

    Returns:
        The `Report` (also written to its run directory, `report.meta["run_directory"]`).
    """
    config = setup.command_config("evaluate", config, values)
    data = setup.load_data(config, transfer=False)
    trust = {"data": data, "trust_savedmodel": config.teacher.trust_savedmodel}
    models = {"teacher": io.load_model(config.teacher.path, role="teacher", **trust)}
    if config.student.scratch_path:
        models["scratch"] = io.load_model(config.student.scratch_path, role="scratch", **trust)
    models["distilled"] = io.load_model(config.student.path, role="student", **trust)
    log("evaluating: " + ", ".join(models))
    report = evaluate(models, data, meta={"config": {
        "teacher": config.teacher.path, "student": config.student.path,
        "scratch": config.student.scratch_path}})
    with run_directory.run_directory(config) as directory:
        report.meta["run_directory"] = directory
        paths = report.write(directory)
    log(f"report: {', '.join(paths.values())}")
    return report
