"""A search's results as a table: one row per trial (alpha, T, other hyperparameters, score)."""

import csv
import os
from io import StringIO

from keras_distill import io
from keras_distill.tuning import hypermodel as hypermodel_lib

CSV_NAME = "tuning_results.csv"
TEXT_NAME = "tuning_results.txt"


def _trial_order(trial):
    trial_id = str(trial.trial_id)
    return (0, int(trial_id), "") if trial_id.isdigit() else (1, 0, trial_id)


def results_table(tuner):
    """One dict per trial, in trial order.

    Args:
        tuner: A `keras_tuner.Tuner` after `search` (on the chief, in distributed tuning).

    Returns:
        A list of dicts with keys `trial`, `alpha`, `temperature`, the other hyperparameters
        (Hyperband's `tuner/epochs` as `epochs`), the objective's name (its value, `None` for a
        trial without one) and `status`.
    """
    objective = tuner.oracle.objective.name
    rows = []
    for trial in sorted(tuner.oracle.trials.values(), key=_trial_order):
        values = trial.hyperparameters.values
        row = {
            "trial": str(trial.trial_id),
            hypermodel_lib.ALPHA: values.get(hypermodel_lib.ALPHA),
            hypermodel_lib.TEMPERATURE: values.get(hypermodel_lib.TEMPERATURE),
        }
        for name, value in values.items():
            if name == "tuner/epochs":
                row["epochs"] = value
            elif not name.startswith("tuner/") and name not in row:
                row[name] = value
        row[objective] = trial.score
        row["status"] = str(trial.status)
        rows.append(row)
    return rows


def _cell(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_table(rows):
    """Formats `results_table` rows as an aligned text table (columns in first-seen order).

    Example:

    >>> print(format_table([{"trial": "0", "alpha": 0.25, "temperature": 4.0,
    ...                      "val_accuracy": 0.8125, "status": "COMPLETED"}]))
    trial  alpha  temperature  val_accuracy  status
    0      0.25   4            0.8125        COMPLETED
    """
    columns = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    cells = [columns] + [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
        for line in cells
    )


def write_results(tuner, report_dir):
    """Writes the results table to `report_dir` and returns it as text.

    Writes `tuning_results.txt` (the aligned table) and `tuning_results.csv`, each atomically.

    Args:
        tuner: A `keras_tuner.Tuner` after `search`.
        report_dir: Directory to write into; created if missing.

    Returns:
        The table as text (what `format_table` returns).
    """
    rows = results_table(tuner)
    text = format_table(rows)
    columns = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    buffer = StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns or ["trial"])
    writer.writeheader()
    writer.writerows(rows)
    io.write_text(os.path.join(report_dir, CSV_NAME), buffer.getvalue())
    io.write_text(os.path.join(report_dir, TEXT_NAME), text + "\n")
    return text
