"""Comparing a teacher language model, the student trained alone and the distilled student.

One row per model: held-out perplexity and next-token accuracy (real tokens only), parameters,
weight size, and scoring throughput in tokens per second on this machine. The verdict compares
the distilled student with the scratch one on the same held-out tokens: the cross-entropy it
saves per token, one standard error of that from the sequences' spread (the noise of the test
text, not of training: another seed moves both students more; `benchmarks/lm.py` measures
that), and the share of the teacher-scratch gap it recovers, in cross-entropy.

Example:

>>> rows = [dict(name="teacher", perplexity=6.0, accuracy=0.5, params=1000, size_bytes=4000,
...              tokens_per_second=1e4),
...         dict(name="scratch", perplexity=9.0, accuracy=0.4, params=100, size_bytes=400,
...              tokens_per_second=1e5),
...         dict(name="distilled", perplexity=8.0, accuracy=0.42, params=100, size_bytes=400,
...              tokens_per_second=1e5)]
>>> report = LanguageModelReport(rows, gain=(0.118, 0.01))
>>> report.summary["effect"], round(report.summary["gap_recovered"], 2)
('helped', 0.29)
"""

import json
import math
import os

from keras_distill import io
from keras_distill.report.report import human_bytes

COLUMNS = (
    ("name", "model", "{}"),
    ("perplexity", "perplexity", "{:.2f}"),
    ("accuracy", "next-token acc", "{:.1%}"),
    ("params", "params", "{:,}"),
    ("size_bytes", "weights", None),
    ("tokens_per_second", "tokens/s", "{:,.0f}"),
    ("compression", "smaller", "{:.1f}x"),
    ("speedup", "faster", "{:.2f}x"),
)
FILES = {"json": "report.json", "markdown": "report.md"}
KIND = "lm"  # `report.json`'s "kind": which report class reads it back.


class LanguageModelReport:
    """Rows of teacher / scratch / distilled figures, the verdict, and their renderings.

    Args:
        rows: Dicts with `name` and the `COLUMNS` keys (`perplexity`, `accuracy`, `params`,
            `size_bytes`, `tokens_per_second`).
        gain: `(nats per token, standard error)` the distilled student saves over the scratch
            one (`keras_distill.lm.evaluation.paired_gain`). Defaults to `None`.
        meta: Context for the header (text, tokenizer, settings). Defaults to `None`.
    """

    def __init__(self, rows, gain=None, meta=None):
        self.rows, self.gain, self.meta = [dict(r) for r in rows], gain, dict(meta or {})
        self._derive()

    def row(self, name):
        """The row named `name`, or `None`."""
        return next((r for r in self.rows if r["name"] == name), None)

    def _derive(self):
        teacher = self.row("teacher")
        for row in self.rows:
            if teacher and row is not teacher:
                row["compression"] = teacher["params"] / row["params"]
                row["speedup"] = row["tokens_per_second"] / teacher["tokens_per_second"]
        self.summary = self._verdict()

    def _verdict(self):
        teacher, scratch, distilled = (self.row(n) for n in ("teacher", "scratch", "distilled"))
        if not (scratch and distilled and self.gain):
            return {}
        gain, se = self.gain
        effect = ("none" if not abs(gain) > 2 * se else "helped" if gain > 0 else "hurt")
        summary = {"effect": effect, "gain_nats_per_token": gain, "gain_standard_error": se}
        if teacher:
            gap = math.log(scratch["perplexity"]) - math.log(teacher["perplexity"])
            summary["gap_recovered"] = gain / gap if gap > 0 else None
        summary["text"] = self._verdict_text(summary, scratch, distilled)
        return summary

    @staticmethod
    def _verdict_text(summary, scratch, distilled):
        change = (f"perplexity {distilled['perplexity']:.2f} against {scratch['perplexity']:.2f} "
                  f"for the same student trained alone ({summary['gain_nats_per_token']:+.4f} "
                  f"nats per token, one standard error of the test text "
                  f"{summary['gain_standard_error']:.4f})")
        text = {"helped": f"Distillation helped: {change}.",
                "hurt": f"Distillation HURT this student: {change}. Try another divergence, "
                        "alpha or temperature, or ship the scratch student.",
                "none": f"Distillation made no clear difference: {change}, within twice the "
                        "noise."}[summary["effect"]]
        recovered = summary.get("gap_recovered")
        if recovered is not None:
            text += f" It recovers {recovered:.0%} of the teacher-scratch gap."
        return text

    def _cells(self, row):
        cells = []
        for key, _, fmt in COLUMNS:
            value = row.get(key)
            cells.append("-" if value is None else human_bytes(value) if fmt is None
                         else fmt.format(value))
        return cells

    def table(self):
        """The comparison as an aligned text table, then the verdict."""
        header = [title for _, title, _ in COLUMNS]
        body = [self._cells(row) for row in self.rows]
        widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

        def line(cells):
            return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(cells, widths)))

        lines = [line(header), "  ".join("-" * w for w in widths), *map(line, body)]
        if self.summary.get("text"):
            lines += ["", self.summary["text"]]
        return "\n".join(lines)

    def to_markdown(self):
        """The report as Markdown: context, table, verdict."""
        header = [title for _, title, _ in COLUMNS]
        lines = ["# keras_distill language-model report", ""]
        lines += [f"- {key}: " + (", ".join(f"{k} {v}" for k, v in value.items())
                                  if isinstance(value, dict) else str(value))
                  for key, value in self.meta.items()]
        lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(self._cells(row)) + " |" for row in self.rows]
        if self.summary.get("text"):
            lines += ["", self.summary["text"]]
        return "\n".join(lines) + "\n"

    def to_dict(self):
        """Everything, as plain JSON values."""
        return {"kind": KIND, "rows": self.rows,
                "gain": list(self.gain) if self.gain else None, "summary": self.summary,
                "meta": self.meta}

    @classmethod
    def from_dict(cls, values):
        """Rebuilds a report from `to_dict()`'s output (a loaded `report.json`)."""
        return cls(values["rows"], values.get("gain"), values.get("meta"))

    @staticmethod
    def is_one(values):
        """Whether the loaded `report.json` `values` is a language-model report."""
        return values.get("kind") == KIND

    def write(self, directory):
        """Writes `report.json` and `report.md` into `directory` (each atomically).

        Returns:
            `{"json": path, "markdown": path}`.
        """
        paths = {kind: os.path.join(directory, name) for kind, name in FILES.items()}
        io.write_text(paths["json"], json.dumps(self.to_dict(), indent=2, default=str))
        io.write_text(paths["markdown"], self.to_markdown())
        return paths
