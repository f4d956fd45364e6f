"""The comparison stage: teacher, scratch and distilled student measured on the same test data."""

import json
import os

from keras_distill import io
from keras_distill import report as report_lib
from keras_distill.report.lm_report import LanguageModelReport
from keras_distill.workflow import run_directory
from keras_distill.workflow import setup
from keras_distill.workflow import teacher as teacher_stage


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


def rerender_report(path):
    """The `keras-distill report` command: reads a report and rewrites its Markdown and picture.

    Args:
        path: A run directory, its `report.json`, or an output directory (its `latest` run).

    Returns:
        `(report, paths)`: the `Report` and `{"json": ..., "markdown": ..., "png": ...}`.

    Example:

    >>> rerender_report("/nonexistent")
    Traceback (most recent call last):
    ...
    FileNotFoundError: No report found at /nonexistent. Expected a report.json written by `keras-distill run` or `keras-distill evaluate`.
    """
    path = os.fspath(path)
    latest = os.path.join(path, run_directory.LATEST)
    if os.path.isdir(path) and not os.path.isfile(os.path.join(path, "report.json")) and (
            os.path.isdir(latest)):
        path = latest
    directory = path if os.path.isdir(path) or not path.endswith(".json") else (
        os.path.dirname(path) or ".")
    file = os.path.join(path, "report.json") if os.path.isdir(path) else path
    values = {}
    if os.path.isfile(file):
        with open(file, encoding="utf-8") as f:
            values = json.load(f)
    if LanguageModelReport.is_one(values):  # `keras-distill lm`'s report.
        report = LanguageModelReport.from_dict(values)
    else:
        report = report_lib.Report.load(path)
    return report, report.write(directory)


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
    models = {"teacher": teacher_stage.obtain_teacher(data, config, log=lambda line: None)[0]}
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
