"""Comparing teacher, scratch student and distilled student: measurements, verdict, table, plot.

`compare` measures models (test accuracy, top-1 agreement with the teacher, parameters, size on
disk, CPU latency at batch 1 as a float32 `.tflite` run by LiteRT on one thread and as a Keras
call, throughput at a large batch; see `measure`). "Faster" is the teacher's LiteRT latency over
the model's when both converted, else the Keras-call ratio, and the table says which. `Report`
holds one row per model, plus rows for artifacts (an exported SavedModel, a TFLite file) added
later with `add_row`, and derives the ratios against the teacher and the verdict on
distillation: gain over scratch, share of the teacher-scratch gap recovered, and whether the
difference is larger than the noise of one run. It renders a text table, Markdown, JSON, and
`report.png`.
"""

import json
import math
import os

import numpy as np

from keras_distill import io
from keras_distill.report import litert
from keras_distill.report import measure

TEACHER, SCRATCH, DISTILLED = measure.TEACHER, "scratch", "distilled"
LITERT, KERAS_CALL = litert.DESCRIPTION, "Keras call, batch 1"
COLUMNS = (
    ("name", "model", "{}"),
    ("test_accuracy", "test acc", "{:.1%}"),
    ("agreement", "agree w/ teacher", "{:.1%}"),
    ("params", "params", "{:,}"),
    ("size_bytes", "size", None),
    ("litert_latency_ms", "LiteRT b=1", "{:.3f} ms"),
    ("latency_ms", "call b=1", "{:.3f} ms"),
    ("throughput", "throughput", "{:,.0f}/s"),
    ("compression", "smaller", "{:.1f}x"),
    ("speedup", "faster", "{:.2f}x"),
)


def human_bytes(n):
    """`n` bytes as text: `"512 B"`, `"1.5 KB"`, `"2.0 MB"`."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def _difference_noise(p1, p2, n, discordant=None):
    """One standard error of the difference of two accuracies measured on the same `n` examples.

    With `discordant = (b, c)`, the examples only the first model / only the second got right,
    it is the paired (McNemar) standard error `sqrt(b + c - (b - c)^2 / n) / n`: the examples both
    models get right or wrong do not make the difference noisy. Without it, the unpaired one.

    Example:

    >>> round(_difference_noise(0.9, 0.92, 1000, discordant=(10, 30)), 4)
    0.0063
    """
    if discordant is not None:
        b, c = discordant
        return math.sqrt(max(b + c - (b - c) ** 2 / max(n, 1), 1e-12)) / max(n, 1)
    return math.sqrt(max(p1 * (1 - p1) + p2 * (1 - p2), 1e-12) / max(n, 1))


class Report:
    """Rows of measurements (models and artifacts) with the derived ratios and verdict.

    Args:
        rows: Row dicts as returned by `measure_model` (NumPy `predictions` are dropped).
            Defaults to `None` (empty).
        histories: `{name: keras History.history dict}` of the training curves. Defaults to
            `None`.
        meta: JSON-ready context: dataset, configuration, timings. Defaults to `None`.

    Example:

    >>> report = Report([
    ...     {"name": "teacher", "role": "teacher", "test_accuracy": 0.9, "params": 1000,
    ...      "latency_ms": 2.0, "test_examples": 1000},
    ...     {"name": "scratch", "role": "scratch", "test_accuracy": 0.6, "params": 100,
    ...      "latency_ms": 1.0, "test_examples": 1000},
    ...     {"name": "distilled", "role": "distilled", "test_accuracy": 0.75, "params": 100,
    ...      "latency_ms": 1.0, "test_examples": 1000}])
    >>> report.summary["gap_recovered"]
    0.5
    >>> report.rows[2]["compression"], report.rows[2]["speedup"]
    (10.0, 2.0)
    """

    def __init__(self, rows=None, histories=None, meta=None):
        self.rows = []
        self.histories = {k: {m: [float(v) for v in vs] if isinstance(vs, (list, tuple)) else vs
                              for m, vs in h.items()}
                          for k, h in (histories or {}).items()}
        self.meta = dict(meta or {})
        for row in rows or ():
            self.add_row(**row)

    def add_row(self, name, **values):
        """Adds (or replaces) the row `name`, e.g. an exported artifact's size and latency."""
        values.pop("predictions", None)
        values.pop("correct", None)
        row = {"name": name, "role": values.pop("role", name), **values}
        self.rows = [r for r in self.rows if r["name"] != name] + [row]
        self._derive()
        return row

    def row(self, role):
        """The first row with `role`, or `None`."""
        return next((r for r in self.rows if r.get("role") == role), None)

    def _derive(self):
        teacher = self.row(TEACHER)
        for row in self.rows:
            if row.get("role") == "artifact":  # Measured on raw inputs, with preprocessing.
                continue
            if teacher and teacher.get("params") and row.get("params"):
                row["compression"] = teacher["params"] / row["params"]
            # Deployed (LiteRT) latency when both converted; reports before it had Keras only.
            key = "litert_latency_ms" if (teacher and teacher.get("litert_latency_ms")
                                          and row.get("litert_latency_ms")) else "latency_ms"
            if teacher and teacher.get(key) and row.get(key):
                row["speedup"] = teacher[key] / row[key]
                row["speedup_from"] = LITERT if key == "litert_latency_ms" else KERAS_CALL
        self.summary = self._verdict()

    def _verdict(self):
        teacher, scratch, distilled = (self.row(r) for r in (TEACHER, SCRATCH, DISTILLED))
        summary = {}
        if not (scratch and distilled):
            return summary
        acc_s, acc_d = scratch["test_accuracy"], distilled["test_accuracy"]
        n = distilled.get("test_examples") or 0
        gain = acc_d - acc_s
        noise = _difference_noise(acc_s, acc_d, n, distilled.get("discordant")) if n else None
        summary.update(gain=gain, gain_standard_error=noise)
        if noise is not None and abs(gain) < 2 * noise:
            summary["effect"] = "none"
        else:
            summary["effect"] = "helped" if gain > 0 else "hurt"
        if teacher:
            gap = teacher["test_accuracy"] - acc_s
            summary["teacher_scratch_gap"] = gap
            summary["gap_recovered"] = gain / gap if gap > 0 else None
            summary["accuracy_lost"] = teacher["test_accuracy"] - acc_d
        summary["text"] = self._verdict_text(summary, teacher, distilled)
        return summary

    @staticmethod
    def _verdict_text(summary, teacher, distilled):
        lines = []
        if teacher:
            lines.append(
                f"The distilled student is {distilled.get('compression', float('nan')):.1f}x "
                f"smaller (parameters) and {distilled.get('speedup', float('nan')):.2f}x faster "
                f"({distilled.get('speedup_from', 'latency not measured')}) than the teacher, "
                "and "
                + ("loses" if summary["accuracy_lost"] >= 0 else "gains")
                + f" {100 * abs(summary['accuracy_lost']):.1f} points of test accuracy "
                f"({distilled['test_accuracy']:.1%} vs {teacher['test_accuracy']:.1%})."
            )
        gain, noise = 100 * summary["gain"], summary.get("gain_standard_error")
        paired = "paired, " if distilled.get("discordant") else ""
        noise_text = (f" ({paired}one standard error: {100 * noise:.1f} points)" if noise
                      else "")
        if summary["effect"] == "hurt":
            lines.append(
                f"Distillation HURT this student: {gain:+.1f} points against the same student "
                f"trained from scratch{noise_text}. Try a larger alpha, another temperature, "
                "more epochs or a transfer set (--transfer-samples), or ship the scratch student."
            )
        elif summary["effect"] == "none":
            lines.append(
                f"Distillation made no clear difference: {gain:+.1f} points against the same "
                f"student trained from scratch, within twice the noise of one run{noise_text}."
            )
        else:
            lines.append(f"Distillation helped: {gain:+.1f} points over the same student trained "
                         f"from scratch{noise_text}.")
        recovered = summary.get("gap_recovered")
        if recovered is not None:
            lines.append(f"It recovers {recovered:.0%} of the teacher-scratch gap "
                         f"({100 * summary['teacher_scratch_gap']:.1f} points).")
        elif "teacher_scratch_gap" in summary:
            lines.append("The scratch student already matches the teacher: there is no gap "
                         "to recover.")
        return " ".join(lines)

    # ------------------------------------------------------------ rendering
    def _cells(self, row):
        cells = []
        for key, _, fmt in COLUMNS:
            value = row.get(key)
            if value is None:
                cells.append("-")
            elif key == "size_bytes":
                cells.append(human_bytes(value))
            else:
                cells.append(fmt.format(value))
        return cells

    def table(self):
        """The comparison as an aligned text table."""
        header = [title for _, title, _ in COLUMNS]
        body = [self._cells(row) for row in self.rows]
        widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
        fmt = lambda cells: "  ".join(  # noqa: E731
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        )
        lines = [fmt(header), "  ".join("-" * w for w in widths), *map(fmt, body)]
        if self.summary.get("text"):
            lines += ["", self.summary["text"]]
        lines += self._notes()
        return "\n".join(lines)

    def _notes(self):
        notes = [f"{row['name']}: {row[key]}" for row in self.rows
                 for key in ("note", "litert_note") if row.get(key)]
        if any(row.get("litert_latency_ms") for row in self.rows):
            notes.append(f"LiteRT b=1: the model as a float32 .tflite ({LITERT}); call b=1, "
                         "secondary: a Keras call (the SavedModel artifact: the reloaded one).")
        return ["", *notes] if notes else []

    def to_markdown(self):
        """The report as Markdown: context, table, verdict, artifacts, plot."""
        header = [title for _, title, _ in COLUMNS]
        lines = ["# keras_distill report", ""]
        dataset = self.meta.get("dataset", {})
        if dataset:
            sizes = ", ".join(f"{v:,} {k}" for k, v in dataset.get("sizes", {}).items())
            lines += [f"Dataset: **{dataset.get('name')}** ({sizes}).", ""]
        config = self.meta.get("config")
        if config:
            lines += ["Configuration: " + ", ".join(f"`{k}={v}`" for k, v in config.items()), ""]
        lines += ["| " + " | ".join(header) + " |",
                  "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
        lines += ["| " + " | ".join(self._cells(row)) + " |" for row in self.rows]
        if self.summary.get("text"):
            lines += ["", self.summary["text"]]
        lines += [f"- {line}" if line else line for line in self._notes()]
        lines += ["", "Latency: median of many calls at batch 1 on the CPU. `LiteRT b=1`: where "
                  f"the model is deployed, as a float32 `.tflite` run by LiteRT ({LITERT}; "
                  "`faster` is the teacher's over the model's when both converted; exported "
                  "`.tflite` files are timed the same way). `call b=1`: secondary, a Keras "
                  "call (the reloaded SavedModel for a SavedModel). Throughput: examples per "
                  "second at a large batch. Sizes: the model saved as `.keras`, or the artifact "
                  "on disk.", "",
                  "![report](report.png)", ""]
        return "\n".join(lines)

    def to_dict(self):
        """A JSON-ready dict: `rows`, `summary`, `histories`, `meta`."""
        return {"rows": self.rows, "summary": self.summary, "histories": self.histories,
                "meta": self.meta}

    @classmethod
    def from_dict(cls, config):
        """Rebuilds a report from `to_dict()`'s output (e.g. a loaded `report.json`)."""
        return cls(config.get("rows"), config.get("histories"), config.get("meta"))

    @classmethod
    def load(cls, path):
        """Reads `report.json` (or the directory holding it)."""
        if os.path.isdir(path):
            path = os.path.join(path, "report.json")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No report found at {path}. Expected a report.json written "
                                    "by `keras-distill run` or `keras-distill evaluate`.")
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    def write(self, output_dir, *, plot=True):
        """Writes `report.json`, `report.md` and `report.png` into `output_dir`, atomically.

        Returns:
            A dict `{"json": path, "markdown": path, "png": path}`.
        """
        from keras_distill.report import plot as report_plot

        paths = {"json": os.path.join(output_dir, "report.json"),
                 "markdown": os.path.join(output_dir, "report.md")}
        io.write_text(paths["json"], json.dumps(self.to_dict(), indent=2, default=_json_default))
        io.write_text(paths["markdown"], self.to_markdown())
        if plot:
            paths["png"] = os.path.join(output_dir, "report.png")
            with io.atomic_file(paths["png"]) as f:
                report_plot.plot(self, f)
        return paths


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Cannot write {type(value).__name__} to JSON")


def compare(models, test_batches, *, histories=None, meta=None, **measure_kwargs):
    """Measures models on the same test data and returns a `Report`.

    Args:
        models: `{name: keras.Model}`; names `"teacher"`, `"scratch"`, `"distilled"` get those
            roles (others are plain rows). The teacher, if present, is measured first and its
            predictions give every row's agreement.
        test_batches: Batched, normalised `(x, y)` test data.
        histories: As in `Report`. Defaults to `None`.
        meta: As in `Report`. Defaults to `None`.
        **measure_kwargs: Timing settings, as in `measure_model`.

    Returns:
        A `Report`.

    Example:

    >>> import keras, numpy as np, tensorflow as tf
    >>> teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> ds = tf.data.Dataset.from_tensor_slices((np.ones((8, 4)), np.zeros(8))).batch(4)
    >>> report = compare({"teacher": teacher}, ds, latency_runs=3, throughput_runs=1,
    ...                  throughput_batch=8)
    >>> report.rows[0]["agreement"]
    1.0
    """
    order = sorted(models, key=lambda name: name != TEACHER)
    rows, teacher_predictions = [], None
    for name in order:
        row = measure.accuracy_row(models[name], test_batches, name, name, teacher_predictions)
        if name == TEACHER:
            teacher_predictions = row["predictions"]
        rows.append(row)
    by_role = {row["role"]: row for row in rows}
    if SCRATCH in by_role and DISTILLED in by_role:  # For the paired noise of the gain.
        scratch, distilled = by_role[SCRATCH]["correct"], by_role[DISTILLED]["correct"]
        by_role[DISTILLED]["discordant"] = [int((scratch & ~distilled).sum()),
                                            int((~scratch & distilled).sum())]
    measure.add_timings(rows, [models[name] for name in order], test_batches, **measure_kwargs)
    return Report(rows, histories=histories, meta=meta)
