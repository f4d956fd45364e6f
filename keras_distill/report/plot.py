"""`report.png`: accuracy against deployed (LiteRT) latency for each model, and training curves.

Drawn on a bare Agg canvas (no display, no pyplot state). The labels of the points are moved
apart vertically, after the layout is final, so that no two overlap however close the points
are; a thin leader line joins each label to its point.
"""

import math

COLORS = {"teacher": "#3b3b3b", "scratch": "#e07b39", "distilled": "#2a7ab9"}
OTHER = "#8c6bb1"
LABELS = {"teacher": "teacher", "scratch": "student from scratch",
          "distilled": "distilled student"}
LABEL_GID = "label"  # The texts that must not overlap (tests find them by this id).
LABEL_OFFSET = 12  # Points from a point to its label.
LABEL_PAD = 3  # Pixels between two labels.


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
    if "compression" in distilled and "speedup" in distilled:
        basis = f" ({distilled['speedup_from'].split(',')[0]})" if distilled.get(
            "speedup_from") else ""
        parts.append(f"{distilled['compression']:.0f}x smaller, "
                     f"{distilled['speedup']:.1f}x faster{basis} than the teacher")
    if "accuracy_lost" in summary:
        parts.append(f"{-100 * summary['accuracy_lost']:+.1f} pts vs teacher")
    verdict = {"helped": "distillation helped", "hurt": "distillation HURT",
               "none": "no clear effect of distillation"}[summary["effect"]]
    parts.append(f"{verdict} ({100 * summary['gain']:+.1f} pts vs scratch)")
    return "Distilled student: " + "; ".join(parts)


def _latency_axis(rows):
    """`(row key, axis label)`: LiteRT latency when every model has one, else the Keras call's."""
    if rows and all(r.get("litert_latency_ms") for r in rows):
        return "litert_latency_ms", "LiteRT latency: float32 .tflite, batch 1, 1 thread (ms)"
    missing = " (LiteRT: not every model converted)" if any(
        r.get("litert_latency_ms") for r in rows) else ""
    return "latency_ms", f"Keras call latency at batch 1 (ms, median){missing}"


def _scatter(ax, report):
    """Draws the points; returns the labels to place: `[(text, leader or None)]`."""
    candidates = [r for r in report.rows if r.get("test_accuracy") is not None
                  and r.get("role") != "artifact"]  # Artifacts take raw inputs.
    x_key, x_label = _latency_axis(candidates)
    models = [r for r in candidates if r.get(x_key)]
    max_params = max((r.get("params") or 1 for r in models), default=1)
    labels = []
    for row in models:
        color = COLORS.get(row["role"], OTHER)
        point = (row[x_key], 100 * row["test_accuracy"])
        area = 80 + 900 * math.sqrt((row.get("params") or 1) / max_params)
        ax.scatter(*point, s=area, color=color, alpha=0.85, edgecolor="white", linewidth=1.5,
                   zorder=3)
        n = row.get("test_examples")
        if n:  # One binomial standard error: how much one run's accuracy can move by chance.
            p = row["test_accuracy"]
            ax.errorbar(*point, yerr=100 * math.sqrt(p * (1 - p) / n), color=color, capsize=4,
                        lw=1.2, zorder=2)
        params = row.get("params")
        detail = f"{100 * row['test_accuracy']:.1f}%"
        if params:
            detail += f", {params / 1000:.1f}k params" if params >= 1000 else f", {params} params"
        offset = (LABEL_OFFSET + math.sqrt(area) / 2, 0)  # Clear of the marker.
        text = ax.annotate(f"{LABELS.get(row['role'], row['name'])}\n{detail}", point,
                           xytext=offset, textcoords="offset points", va="center",
                           fontsize=9, color=color, zorder=4, annotation_clip=False,
                           fontweight="bold" if row["role"] == "distilled" else "normal")
        leader = ax.annotate("", point, xytext=offset, textcoords="offset points",
                             arrowprops={"arrowstyle": "-", "color": color, "lw": 0.6,
                                         "alpha": 0.7, "shrinkA": 0, "shrinkB": 0}, zorder=2)
        labels.append((text, leader))
    by_role = {r["role"]: r for r in models}
    scratch, distilled = by_role.get("scratch"), by_role.get("distilled")
    if scratch and distilled:
        ax.annotate("", xy=(distilled[x_key], 100 * distilled["test_accuracy"]),
                    xytext=(scratch[x_key], 100 * scratch["test_accuracy"]),
                    arrowprops={"arrowstyle": "->", "color": COLORS["distilled"], "lw": 1.5,
                                "shrinkA": 8, "shrinkB": 8}, zorder=2)
        gain = 100 * (distilled["test_accuracy"] - scratch["test_accuracy"])
        middle = ((scratch[x_key] + distilled[x_key]) / 2,
                  50 * (scratch["test_accuracy"] + distilled["test_accuracy"]))
        # On the right like the others: on the left it would hit the axis at latency ~0.
        text = ax.annotate(f"distillation: {gain:+.1f} pts\nover scratch", middle,
                           xytext=(LABEL_OFFSET + 6, 0), textcoords="offset points", va="center",
                           fontsize=8.5, fontstyle="italic", color=COLORS["distilled"],
                           annotation_clip=False)
        labels.append((text, None))
    for text, _ in labels:
        text.set_gid(LABEL_GID)
    if models:
        latencies = [r[x_key] for r in models]
        accuracies = [100 * r["test_accuracy"] for r in models]
        low, high = min(latencies), max(latencies)
        pad = max(high - low, 0.02 * high)
        ax.set_xlim(max(0, low - 0.6 * pad), high + 1.2 * pad)  # Room for the labels.
        span = max(max(accuracies) - min(accuracies), 2.0)
        ax.set_ylim(min(accuracies) - 0.25 * span, min(100, max(accuracies) + 0.25 * span))
    ax.set_xlabel(x_label)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy vs. latency (area ~ parameters, bars: 1 std. error)", fontsize=11)
    ax.grid(True, alpha=0.3)
    return labels


def _spread(values, gap, low=-math.inf, high=math.inf):
    """Positions for labels anchored at `values`: in the same order, neighbours at least `gap`
    apart, each group that had to move centred on its anchors, inside `[low, high]` if it fits.

    Example:

    >>> [round(y, 2) for y in _spread([95.0, 95.1, 98.0], 1.0)]
    [94.55, 95.55, 98.0]
    >>> _spread([0.0, 0.0], 2.0, low=0.0)
    [0.0, 2.0]
    """
    def positions(group):
        anchors = [values[i] for i in group]
        start = sum(anchors) / len(anchors) - (len(group) - 1) * gap / 2
        start = max(min(start, high - (len(group) - 1) * gap), low)
        return [start + k * gap for k in range(len(group))]

    groups = []
    for i in sorted(range(len(values)), key=lambda i: values[i]):
        groups.append([i])
        while len(groups) > 1 and positions(groups[-1])[0] < positions(groups[-2])[-1] + gap:
            groups[-2:] = [groups[-2] + groups[-1]]
    result = [0.0] * len(values)
    for group in groups:
        for i, y in zip(group, positions(group)):
            result[i] = y
    return result


def _place_labels(ax, labels):
    """Moves each label vertically (its leader line follows) so that no two overlap; call it
    once the layout is final, since it works in pixels."""
    if not labels:
        return
    figure = ax.get_figure()
    renderer = figure.canvas.get_renderer()
    for text, _ in labels:  # Measure each label where it would sit with no move.
        text.xyann = (text.xyann[0], 0)
    gap = max(text.get_window_extent(renderer).height for text, _ in labels) + LABEL_PAD
    anchors = [ax.transData.transform(text.xy)[1] for text, _ in labels]
    targets = _spread(anchors, gap, ax.bbox.y0 + gap / 2, ax.bbox.y1 - gap / 2)
    for (text, leader), anchor, target in zip(labels, anchors, targets):
        offset = (text.xyann[0], (target - anchor) * 72 / figure.dpi)
        text.xyann = offset
        if leader is not None:
            leader.xyann = offset


def _curves(ax, report):
    drawn, finals, selected = False, [], False
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
        best = history.get("best_epoch")  # 0-based; the weights each model keeps.
        values = history.get(val_key) if val_key else None
        if isinstance(best, (int, float)) and values and 0 <= int(best) < len(values):
            ax.plot(int(best) + 1, 100 * values[int(best)], "o", color=color, ms=7,
                    markeredgecolor="white", zorder=4)
            finals.append(100 * values[int(best)])
            selected = True
    if not drawn:
        ax.text(0.5, 0.5, "no training curves\n(models were loaded, not trained)",
                ha="center", va="center", transform=ax.transAxes, color="#777777")
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        if selected:  # One legend entry for the dots of every model.
            ax.plot([], [], "o", color="#777777", label="selected epoch (kept weights)")
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy (%)")
        # Zoom on where the runs end; the first epochs may leave the plot.
        ax.set_ylim(max(0.0, min(finals) - 15), min(101.0, max(finals) + 3))
        ax.legend(fontsize=8, loc="lower right", frameon=False)
        ax.grid(True, alpha=0.3)
    split = report.meta.get("curves_split", "validation")
    ax.set_title(f"Training curves ({split} accuracy solid, train dotted"
                 + ("; dot: selected epoch)" if selected else ")"), fontsize=11)


def figure(report):
    """The report's figure (a `matplotlib.figure.Figure` on an Agg canvas), labels placed.

    Example:

    >>> from keras_distill.report import Report
    >>> fig = figure(Report([{"name": "teacher", "test_accuracy": 0.9, "latency_ms": 1.0}]))
    >>> [t.get_text() for t in fig.axes[0].texts if t.get_gid() == LABEL_GID]
    ['teacher\\n90.0%']
    """
    import textwrap

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 5.2), dpi=110)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    labels = _scatter(left, report)
    _curves(right, report)
    fig.suptitle("\n".join(textwrap.wrap(_title(report), 140)), fontsize=12,
                 fontweight="bold")
    text = report.summary.get("text")
    if text:
        fig.text(0.5, 0.01, "\n".join(textwrap.wrap(text, 170)), ha="center", va="bottom",
                 fontsize=8.5, color="#333333")
    fig.tight_layout(rect=(0, 0.08 if text else 0, 1, 0.95))
    _place_labels(left, labels)
    return fig


def plot(report, file):
    """Draws the report's figure into `file` (a path or a binary file object) as PNG."""
    figure(report).savefig(file, format="png")
