"""Tests of keras_distill.report: measurements, derived ratios, verdict, files."""

import json
import math
import os
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_distill import report as report_lib
from keras_distill.report import litert
from keras_distill.report import measure
from keras_distill.report import plot as report_plot


def _rows(teacher=0.94, scratch=0.61, distilled=0.71, n=1000):
    return [
        {"name": "teacher", "role": "teacher", "test_accuracy": teacher, "params": 126_000,
         "latency_ms": 0.8, "size_bytes": 1_500_000, "test_examples": n, "agreement": 1.0},
        {"name": "scratch", "role": "scratch", "test_accuracy": scratch, "params": 2_500,
         "latency_ms": 0.2, "size_bytes": 60_000, "test_examples": n, "agreement": 0.6},
        {"name": "distilled", "role": "distilled", "test_accuracy": distilled, "params": 2_500,
         "latency_ms": 0.25, "size_bytes": 60_000, "test_examples": n, "agreement": 0.7},
    ]


def test_ratios_and_gap_recovered_match_their_definitions():
    report = report_lib.Report(_rows())
    distilled = report.row("distilled")
    assert distilled["compression"] == pytest.approx(126_000 / 2_500)
    assert distilled["speedup"] == pytest.approx(0.8 / 0.25)
    assert report.row("teacher")["compression"] == 1.0
    summary = report.summary
    assert summary["gain"] == pytest.approx(0.10)
    assert summary["gap_recovered"] == pytest.approx(0.10 / 0.33)
    se = math.sqrt((0.61 * 0.39 + 0.71 * 0.29) / 1000)
    assert summary["gain_standard_error"] == pytest.approx(se)
    assert summary["effect"] == "helped"
    assert "recovers 30% of the teacher-scratch gap" in summary["text"]


def test_harm_is_reported_not_hidden():
    report = report_lib.Report(_rows(scratch=0.818, distilled=0.727))
    assert report.summary["effect"] == "hurt"
    assert report.summary["gap_recovered"] < 0
    assert "HURT" in report.summary["text"] and "HURT" in report.table()
    assert "HURT" in report_plot._title(report)


def test_small_differences_are_called_noise():
    report = report_lib.Report(_rows(scratch=0.950, distilled=0.955))
    assert report.summary["effect"] == "none"
    assert "no clear difference" in report.summary["text"]


def test_no_gap_when_scratch_matches_teacher():
    report = report_lib.Report(_rows(teacher=0.90, scratch=0.92, distilled=0.93))
    assert report.summary["gap_recovered"] is None
    assert "gains 3.0 points" in report.summary["text"]


def test_artifact_rows_can_be_added_later():
    report = report_lib.Report(_rows())
    report.add_row("student.tflite", role="artifact", size_bytes=12_345, latency_ms=0.1,
                   test_accuracy=0.70)
    row = report.row("artifact")
    # Artifacts are timed by other runtimes (LiteRT, a reloaded SavedModel): no ratio to Keras.
    assert "speedup" not in row and "compression" not in row
    table = report.table()
    assert "student.tflite" in table and "12.1 KB" in table
    report.add_row("student.tflite", role="artifact", size_bytes=1)
    assert len(report.rows) == 4  # Replaced, not duplicated.


def test_table_markdown_and_json_round_trip(tmp_path):
    report = report_lib.Report(_rows(), histories={"distilled": {"accuracy": [0.5, 0.6],
                                                                 "val_accuracy": [0.4, 0.7]}},
                               meta={"dataset": {"name": "mnist1d", "sizes": {"train": 4000}}})
    table = report.table().splitlines()
    assert table[0].split()[:3] == ["model", "test", "acc"]
    assert any(line.startswith("distilled") and "71.0%" in line for line in table)
    markdown = report.to_markdown()
    assert "| distilled | 71.0% |" in markdown and "![report](report.png)" in markdown
    paths = report.write(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["report.json", "report.md", "report.png"]
    with open(paths["png"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    loaded = report_lib.Report.load(str(tmp_path))
    assert loaded.rows == report.rows and loaded.summary == report.summary
    assert json.load(open(paths["json"]))["rows"][2]["test_accuracy"] == 0.71


def test_failed_write_leaves_the_old_report_whole(tmp_path, monkeypatch):
    report_lib.Report(_rows()).write(str(tmp_path))
    before = open(tmp_path / "report.png", "rb").read()

    def broken_plot(report, file):
        file.write(b"half a png")
        raise RuntimeError("disk full")

    monkeypatch.setattr(report_plot, "plot", broken_plot)
    with pytest.raises(RuntimeError):
        report_lib.Report(_rows(distilled=0.5)).write(str(tmp_path))
    assert open(tmp_path / "report.png", "rb").read() == before
    assert sorted(os.listdir(tmp_path)) == ["report.json", "report.md", "report.png"]


def test_load_missing_report(tmp_path):
    with pytest.raises(FileNotFoundError, match="No report found"):
        report_lib.Report.load(str(tmp_path))


def test_compare_measures_accuracy_and_agreement_against_numpy(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5)).astype("float32")
    y = rng.integers(0, 3, 64)
    teacher = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
    student = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    start = time.perf_counter()
    report = report_lib.compare({"distilled": student, "teacher": teacher}, ds,
                                latency_runs=5, throughput_runs=2, throughput_batch=32)
    elapsed = time.perf_counter() - start
    t_pred = np.asarray(teacher(x)).argmax(-1)
    s_pred = np.asarray(student(x)).argmax(-1)
    assert [r["name"] for r in report.rows] == ["teacher", "distilled"]
    row = report.row("distilled")
    assert row["test_accuracy"] == pytest.approx(np.mean(s_pred == y))
    assert row["agreement"] == pytest.approx(np.mean(s_pred == t_pred))
    assert row["params"] == 18
    student.save(tmp_path / "student.keras")
    assert row["size_bytes"] == pytest.approx(os.path.getsize(tmp_path / "student.keras"),
                                              rel=0.02)
    # Each timed call is part of the run: 5 calls at batch 1 and 2 calls on a batch of 32.
    assert math.isfinite(row["latency_ms"]) and 5 * row["latency_ms"] / 1000 < elapsed
    assert math.isfinite(row["throughput"]) and 2 * 32 / row["throughput"] < elapsed
    assert row["speedup"] == pytest.approx(report.row("teacher")["litert_latency_ms"]
                                           / row["litert_latency_ms"])
    assert "predictions" not in row


def _sleeper(seconds):
    """A model-like callable whose every call sleeps `seconds`: a known latency."""
    def sleep(x):
        time.sleep(seconds)
        return x

    def call(x, training=False):
        return tf.py_function(sleep, [x], tf.float32)

    return call


def test_time_models_measures_a_known_latency():
    fast, slow = report_lib.time_models([_sleeper(0.001), _sleeper(0.05)], (4,), runs=6,
                                        rounds=3, warmup=1)
    assert 0.001 <= fast < slow
    assert 0.05 <= slow < 1.0


def test_timings_are_in_milliseconds_and_examples_per_second():
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((8, 4), "float32"), np.zeros(8))).batch(4)
    fast, slow = measure.add_timings([{}, {}], [_sleeper(0.001), _sleeper(0.1)], ds,
                                     latency_runs=4, throughput_batch=8, throughput_runs=2)
    assert 1 <= fast["latency_ms"] < slow["latency_ms"]
    assert 100 <= slow["latency_ms"] < 2000
    assert slow["throughput"] <= 8 / 0.1 < fast["throughput"] <= 8 / 0.001


def test_the_verdict_uses_the_paired_noise_of_the_same_test_examples():
    # 1,000 examples: 94.7% vs 96.4%. Unpaired, +1.7 points is within twice the noise; paired,
    # with 25 examples only the distilled student gets right and 8 only the scratch one, it is
    # clear (McNemar: sqrt(b + c - (b - c)^2 / n) / n = 0.57 points).
    rows = [{"name": "scratch", "test_accuracy": 0.947, "test_examples": 1000},
            {"name": "distilled", "test_accuracy": 0.964, "test_examples": 1000}]
    assert report_lib.Report(rows).summary["effect"] == "none"
    rows[1]["discordant"] = [8, 25]
    summary = report_lib.Report(rows).summary
    assert summary["effect"] == "helped"
    assert summary["gain_standard_error"] == pytest.approx((33 - 17 ** 2 / 1000) ** 0.5 / 1000)
    assert "paired, one standard error: 0.6 points" in summary["text"]


def _litert_rows(**accuracies):
    rows = _rows(**accuracies)
    for row, litert_ms in zip(rows, (0.6, 0.04, 0.04)):
        row["litert_latency_ms"] = litert_ms
    return rows


def test_speedup_is_measured_with_litert_and_says_so():
    report = report_lib.Report(_litert_rows())
    distilled = report.row("distilled")
    assert distilled["speedup"] == pytest.approx(0.6 / 0.04)
    assert distilled["speedup_from"] == "LiteRT, batch 1, 1 thread"
    assert "15.00x faster (LiteRT, batch 1, 1 thread)" in report.summary["text"]
    table = report.table()
    assert "LiteRT b=1" in table.splitlines()[0] and "call b=1" in table.splitlines()[0]
    assert "(LiteRT, batch 1, 1 thread)" in report.to_markdown()
    assert "15.0x faster (LiteRT)" in report_plot._title(report)


def test_a_model_that_does_not_convert_falls_back_to_keras_latency():
    rows = _litert_rows()
    rows[0].update(litert_latency_ms=None, litert_note="no LiteRT latency: did not convert")
    report = report_lib.Report(rows)
    assert report.row("distilled")["speedup"] == pytest.approx(0.8 / 0.25)
    assert "(Keras call, batch 1)" in report.summary["text"]
    assert "teacher: no LiteRT latency: did not convert" in report.table()
    assert report_plot._latency_axis(report.rows)[0] == "latency_ms"


def test_an_old_report_without_litert_still_loads_and_renders(tmp_path):
    old = {"rows": _rows(), "summary": {}, "histories": {"scratch": {"val_accuracy": [0.5]}},
           "meta": {}}
    (tmp_path / "report.json").write_text(json.dumps(old))
    report = report_lib.Report.load(str(tmp_path))
    assert report.row("distilled")["speedup"] == pytest.approx(0.8 / 0.25)
    assert "-" in report.table().splitlines()[2]  # No LiteRT latency: a dash.
    report.write(str(tmp_path))
    assert (tmp_path / "report.png").stat().st_size > 0


def test_compare_times_each_model_with_litert():
    x = np.random.default_rng(0).normal(size=(16, 5)).astype("float32")
    teacher = keras.Sequential([keras.Input((5,)), keras.layers.Dense(64, "relu"),
                                keras.layers.Dense(3)])
    student = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
    ds = tf.data.Dataset.from_tensor_slices((x, np.zeros(16, "int64"))).batch(8)
    report = report_lib.compare({"teacher": teacher, "distilled": student}, ds,
                                latency_runs=4, throughput_runs=1, throughput_batch=8)
    for row in report.rows:
        assert math.isfinite(row["litert_latency_ms"]) and "litert_note" not in row
    assert report.row("distilled")["speedup_from"] == "LiteRT, batch 1, 1 thread"


def test_a_model_litert_cannot_run_gets_a_note_not_an_error():
    class Opaque(keras.Model):  # Subclassed and never built: its inputs cannot be read.
        def call(self, x):
            return x

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    (fine, none), (missing, note) = litert.litert_latencies([model, Opaque()], runs=2,
                                                            warmup=1, rounds=1)
    assert math.isfinite(fine) and none is None
    assert missing is None and note.startswith("no LiteRT latency: the model did not convert")


def _label_boxes(fig):
    renderer = fig.canvas.get_renderer()
    return [t.get_window_extent(renderer) for t in fig.axes[0].texts
            if t.get_gid() == report_plot.LABEL_GID]


@pytest.mark.parametrize("litert_ms, scratch, distilled", [
    (None, 0.947, 0.947), (None, 0.947, 0.951), (0.04, 0.71, 0.71), (0.04, 0.60, 0.93)])
def test_labels_never_overlap_when_points_coincide(litert_ms, scratch, distilled):
    rows = _rows(teacher=0.984, scratch=scratch, distilled=distilled)
    rows[1]["latency_ms"] = rows[2]["latency_ms"]  # The two students at the same point.
    if litert_ms:
        for row, ms in zip(rows, (0.05, litert_ms, litert_ms)):  # The teacher nearby, too.
            row["litert_latency_ms"] = ms
    fig = report_plot.figure(report_lib.Report(rows))
    boxes = _label_boxes(fig)
    assert len(boxes) == 4  # Three models and the distillation arrow's label.
    for i, first in enumerate(boxes):
        for second in boxes[i + 1:]:
            assert not first.overlaps(second), (first, second)
    x_label = fig.axes[0].get_xlabel()
    assert ("LiteRT" in x_label) == bool(litert_ms)


def test_spread_keeps_order_gap_and_bounds():
    values = [5.0, 5.0, 5.0, 20.0, 21.0]
    placed = report_plot._spread(values, 2.0, low=0.0, high=30.0)
    ordered = sorted(placed)
    assert all(b - a >= 2.0 - 1e-9 for a, b in zip(ordered, ordered[1:]))
    assert placed[:3] == pytest.approx([3.0, 5.0, 7.0])  # Centred on their common anchor.
    assert placed[3] < placed[4] and min(placed) >= 0.0
    assert report_plot._spread([0.0, 0.0], 2.0, low=0.0) == [0.0, 2.0]


def test_curves_mark_the_selected_epoch():
    histories = {"distilled": {"accuracy": [0.5, 0.6, 0.7], "val_accuracy": [0.4, 0.72, 0.7],
                               "best_epoch": 1}}
    report = report_lib.Report(_rows(), histories=histories,
                               meta={"curves_split": "validation"})
    curves = report_plot.figure(report).axes[1]
    dots = [line for line in curves.lines if line.get_marker() == "o" and len(line.get_xdata())]
    assert len(dots) == 1
    assert (dots[0].get_xdata()[0], dots[0].get_ydata()[0]) == (2, pytest.approx(72.0))
    assert "selected epoch" in curves.get_title()
    assert "validation accuracy" in curves.get_title()
    assert any("selected epoch" in t.get_text() for t in curves.get_legend().get_texts())
