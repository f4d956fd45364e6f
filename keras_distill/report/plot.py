"""`report.png`: accuracy against CPU latency for each model, and the training curves.

Drawn with matplotlib's `Agg` backend (no display needed).
"""

import math

COLORS = {"teacher": "#3b3b3b", "scratch": "#e07b39", "distilled": "#2a7ab9"}
OTHER = "#8c6bb1"
LABELS = {"teacher": "teacher", "scratch": "student from scratch",
          "distilled": "distilled student"}


def _accuracy_key(history, validation):
    prefix = "val_" if validation else ""
    for key in history:
        rest = key[len(prefix):] if key.startswith(prefix) else None
        if rest is not None and "accuracy" in rest and (validation or not key.startswith("val_")):
            return key
    return None


def _title(report):
    summary = report.summary
    distilled = report.row("distilled")
    if not summary or not distilled:
        return "keras_distill report"
    parts = []
    if "compression" in distilled:
        parts.append(f"{distilled['compression']:.0f}x smaller, "
                     f"{distilled['speedup']:.1f}x faster than the teacher")
    if "accuracy_lost" in summary:
        parts.append(f"{-100 * summary['accuracy_lost']:+.1f} pts vs teacher")
    verdict = {"helped": "distillation helped", "hurt": "distillation HURT",
               "none": "no clear effect of distillation"}[summary["effect"]]
    parts.append(f"{verdict} ({100 * summary['gain']:+.1f} pts vs scratch)")
    return "Distilled student: " + "; ".join(parts)


def _scatter(ax, report):
    models = [r for r in report.rows if r.get("latency_ms") and r.get("test_accuracy") is not None
              and r.get("role") != "artifact"]  # Artifacts are timed by other runtimes.
    max_params = max((r.get("params") or 1 for r in models), default=1)
    gap = _label_gap(models)
    label_y = _spread([100 * r["test_accuracy"] for r in models], gap)
    latencies = [r["latency_ms"] for r in models] or [1.0]
    label_x = 0.12 * max(max(latencies) - min(latencies), 0.02 * max(latencies))
    for row, y in zip(models, label_y):
        color = COLORS.get(row["role"], OTHER)
        area = 80 + 900 * math.sqrt((row.get("params") or 1) / max_params)
        ax.scatter(row["latency_ms"], 100 * row["test_accuracy"], s=area, color=color,
                   alpha=0.85, edgecolor="white", linewidth=1.5, zorder=3)
        n = row.get("test_examples")
        if n:  # One binomial standard error: how much one run's accuracy can move by chance.
            p = row["test_accuracy"]
            ax.errorbar(row["latency_ms"], 100 * p, yerr=100 * math.sqrt(p * (1 - p) / n),
                        color=color, capsize=4, lw=1.2, zorder=2)
        params = row.get("params")
        label = LABELS.get(row["role"], row["name"])
        detail = f"{100 * row['test_accuracy']:.1f}%"
        if params:
            detail += f", {params / 1000:.1f}k params" if params >= 1000 else f", {params} params"
        # Labels sit at spread-out heights (never on top of each other), with a leader line.
        ax.annotate(f"{label}\n{detail}", (row["latency_ms"], 100 * row["test_accuracy"]),
                    xytext=(row["latency_ms"] + label_x, y), textcoords="data", fontsize=9,
                    color=color, zorder=4, va="center",
                    fontweight="bold" if row["role"] == "distilled" else "normal",
                    arrowprops={"arrowstyle": "-", "color": color, "lw": 0.6, "alpha": 0.6},
                    xycoords="data", ha="left",
                    annotation_clip=False)
    scratch, distilled = report.row("scratch"), report.row("distilled")
    if scratch and distilled and scratch.get("latency_ms") and distilled.get("latency_ms"):
        ax.annotate("", xy=(distilled["latency_ms"], 100 * distilled["test_accuracy"]),
                    xytext=(scratch["latency_ms"], 100 * scratch["test_accuracy"]),
                    arrowprops={"arrowstyle": "->", "color": COLORS["distilled"], "lw": 1.5,
                                "shrinkA": 8, "shrinkB": 8}, zorder=2)
        gain = 100 * (distilled["test_accuracy"] - scratch["test_accuracy"])
        middle = ((scratch["latency_ms"] + distilled["latency_ms"]) / 2,
                  50 * (scratch["test_accuracy"] + distilled["test_accuracy"]))
        ax.annotate(f"distillation\n{gain:+.1f} pts", middle, xytext=(-12, 0),
                    textcoords="offset points", ha="right", va="center", fontsize=8.5,
                    color=COLORS["distilled"])
    if models:
        latencies = [r["latency_ms"] for r in models]
        accuracies = [100 * r["test_accuracy"] for r in models]
        low, high = min(latencies), max(latencies)
        pad = max(high - low, 0.02 * high)
        ax.set_xlim(max(0, low - 0.6 * pad), high + 1.2 * pad)  # Room for the labels.
        span = max(max(accuracies) - min(accuracies), 2.0)
        top = max(min(100, max(accuracies) + 0.25 * span), max(label_y) + gap / 2)
        ax.set_ylim(min(accuracies) - 0.25 * span, top)
    ax.set_xlabel("CPU latency at batch 1 (ms, median)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy vs. latency (area ~ parameters, bars: 1 std. error)", fontsize=11)
    ax.grid(True, alpha=0.3)


def _label_gap(models):
    """The vertical room of one two-line label, in accuracy points."""
    accuracies = [100 * r["test_accuracy"] for r in models] or [0.0]
    return 0.16 * max(max(accuracies) - min(accuracies), 2.0)


def _spread(values, gap):
    """Label heights: `values`, each pushed up until it is at least `gap` above the one below,
    in the same order.

    Example:

    >>> _spread([95.1, 95.0, 98.0], 1.0)
    [96.0, 95.0, 98.0]
    """
    order = sorted(range(len(values)), key=lambda i: values[i])
    result, below = list(values), None
    for i in order:
        if below is not None:
            result[i] = max(result[i], below + gap)
        below = result[i]
    return [round(v, 6) for v in result]


def _curves(ax, report):
    drawn, finals = False, []
    for name, history in report.histories.items():
        role = next((r["role"] for r in report.rows if r["name"] == name), name)
        color = COLORS.get(role, OTHER)
        val_key, train_key = _accuracy_key(history, True), _accuracy_key(history, False)
        for key, style, suffix in ((val_key, "-", ""), (train_key, ":", " (train)")):
            if key and history.get(key):
                values = [100 * v for v in history[key]]
                ax.plot(range(1, len(values) + 1), values, style, color=color, lw=1.8,
                        label=LABELS.get(role, name) + suffix)
                drawn = True
                finals.append(values[-1])
    if not drawn:
        ax.text(0.5, 0.5, "no training curves\n(models were loaded, not trained)",
                ha="center", va="center", transform=ax.transAxes, color="#777777")
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy (%)")
        # Zoom on where the runs end; the first epochs may leave the plot.
        ax.set_ylim(max(0.0, min(finals) - 15), min(101.0, max(finals) + 3))
        ax.legend(fontsize=8, loc="lower right", frameon=False)
        ax.grid(True, alpha=0.3)
    split = report.meta.get("curves_split", "validation")
    ax.set_title(f"Training curves ({split} accuracy solid, train dotted)", fontsize=11)


def plot(report, file):
    """Draws the report's figure into `file` (a path or a binary file object) as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.2), dpi=110)
    try:
        _scatter(left, report)
        _curves(right, report)
        fig.suptitle(_title(report), fontsize=12, fontweight="bold")
        text = report.summary.get("text")
        if text:
            import textwrap

            fig.text(0.5, 0.01, "\n".join(textwrap.wrap(text, 170)), ha="center", va="bottom",
                     fontsize=8.5, color="#333333")
        fig.tight_layout(rect=(0, 0.08 if text else 0, 1, 0.95))
        fig.savefig(file, format="png")
    finally:
        plt.close(fig)
