"""Accuracy benchmark on MNIST-1D: teacher, scratch student, distilled student, over seeds.

For two student families (the MNIST-1D paper's MLP, and a small CNN with about 1/10 of the
teacher's parameters) this script

1. holds out 10% of the training split as a validation split;
2. picks alpha/T from a small grid by *validation* accuracy (seed 0; the test set is never used
   for a choice);
3. over `--seeds` seeds, trains a teacher, the student from scratch, the distilled student with
   the chosen alpha/T, and the distilled student with an unlabeled transfer set that only the
   teacher labels (`--transfer-samples`, alpha=0: the teacher's soft labels only);
4. prints mean +- sd of final-epoch test accuracy, the paired gain over scratch with its
   standard error, and the share of the teacher-scratch gap each variant recovers.

A benchmark, not a test: it takes tens of minutes on two CPU cores at the defaults
(`--seeds 2 --epochs 20 --transfer-samples 20000` is a quicker look).

    python benchmarks/accuracy.py [--seeds 5] [--epochs 40] [--transfer-samples 50000]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras_distill as kd  # noqa: E402
from keras_distill import data as data_lib  # noqa: E402
from keras_distill import workflow  # noqa: E402

FAMILIES = {"mlp": 1.0, "cnn": 2.5}  # Width multipliers: 15k-parameter MLP, ~13k-parameter CNN.
GRID = [(0.1, 4.0), (0.5, 4.0), (0.0, 8.0), (0.5, 2.0)]


def _config(**values):
    """The `keras-distill run` config with `values`, silent."""
    return kd.RunConfig.for_command("run", verbose=0, **values)


def _final(history, key="val_accuracy"):
    return history[key][-1]


def _mean_sd(values):
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.mean(values), sd


def _fmt(values):
    mean, sd = _mean_sd(values)
    return f"{100 * mean:5.1f}% +- {100 * sd:3.1f}"


def _gain(distilled, scratch):
    diffs = [d - s for d, s in zip(distilled, scratch)]
    mean, sd = _mean_sd(diffs)
    se = sd / len(diffs) ** 0.5 if len(diffs) > 1 else float("nan")
    return mean, se


def _gap(teacher, scratch, distilled):
    gap = statistics.mean(teacher) - statistics.mean(scratch)
    return (statistics.mean(distilled) - statistics.mean(scratch)) / gap if gap > 0 else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=40, help="student epochs")
    parser.add_argument("--teacher-epochs", type=int, default=30)
    parser.add_argument("--transfer-samples", type=int, default=50_000)
    parser.add_argument("--transfer-temperature", type=float, default=4.0)
    parser.add_argument("--families", default="mlp,cnn")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    data = data_lib.load("mnist1d", validation_split=0.1)
    with_transfer = data_lib.load("mnist1d", validation_split=0.1,
                                  transfer_samples=args.transfer_samples)
    print(f"MNIST-1D: {data.sizes}; {args.seeds} seeds; students {args.epochs} epochs, "
          f"teacher {args.teacher_epochs} epochs; Adam 3e-3 with cosine decay, batch 64",
          flush=True)
    teachers = {}

    def teacher(seed):
        if seed not in teachers:
            teachers[seed] = workflow.train_teacher(
                data, _config(teacher_epochs=args.teacher_epochs, seed=seed))
        return teachers[seed]

    results = {}
    for family in args.families.split(","):
        size = FAMILIES[family]
        common = dict(student=family, student_size=size, epochs=args.epochs)
        model, _ = teacher(0)
        scores = {}
        for alpha, temperature in GRID:  # Chosen on validation, seed 0, no transfer set.
            _, history = workflow.train_student(
                data, _config(alpha=alpha, temperature=temperature, seed=0, **common),
                teacher=model, validation="validation")
            scores[(alpha, temperature)] = _final(history)
        _, history = workflow.train_student(data, _config(seed=0, **common),
                                            validation="validation")
        best = max(scores, key=scores.get)
        print(f"{family}: validation accuracy scratch {_final(history):.1%}; grid " + ", ".join(
            f"a={a},T={t}: {v:.1%}" for (a, t), v in scores.items()) + f" -> best a={best[0]}, "
            f"T={best[1]}", flush=True)
        rows = {"teacher": [], "scratch": [], "distilled": [], "transfer": []}
        for seed in range(args.seeds):
            model, history = teacher(seed)
            rows["teacher"].append(_final(history))
            rows["scratch"].append(_final(workflow.train_student(
                data, _config(seed=seed, **common))[1]))
            rows["distilled"].append(_final(workflow.train_student(
                data, _config(alpha=best[0], temperature=best[1], seed=seed, **common),
                teacher=model)[1]))
            if args.transfer_samples:
                rows["transfer"].append(_final(workflow.train_student(
                    with_transfer, _config(alpha=0.0, temperature=args.transfer_temperature, seed=seed,
                                  transfer_samples=args.transfer_samples, **common),
                    teacher=model)[1]))
            print(f"  seed {seed}: " + ", ".join(f"{k} {v[-1]:.1%}" for k, v in rows.items()
                                                 if v), flush=True)
        params = kd.models.reference_student(family, data.input_shape, 10,
                                                       size=size).count_params()
        results[family] = (params, best, rows)

    teacher_params = kd.models.reference_teacher(data.input_shape, 10).count_params()
    print(f"\nFinal-epoch test accuracy, mean +- sd over {args.seeds} seeds "
          f"(teacher: {teacher_params:,}-parameter CNN). Gain: paired distilled - scratch, "
          "+- its standard error; gap: share of the teacher-scratch gap recovered.\n")
    header = ("| student | teacher | scratch | KD (alpha/T chosen on validation) | gain | "
              "beats scratch by 2 SE? | gap | KD + transfer set, alpha=0 | gain | gap |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for family, (params, best, rows) in results.items():
        gain, se = _gain(rows["distilled"], rows["scratch"])
        gap = _gap(rows["teacher"], rows["scratch"], rows["distilled"])
        cells = [f"{params / 1000:.1f}k-parameter {family.upper()}", _fmt(rows["teacher"]),
                 _fmt(rows["scratch"]), f"{_fmt(rows['distilled'])} (a={best[0]}, T={best[1]})",
                 f"{100 * gain:+.1f} +- {100 * se:.1f}", "yes" if gain > 2 * se else "no",
                 "-" if gap is None else f"{gap:.0%}"]
        if rows["transfer"]:
            t_gain, t_se = _gain(rows["transfer"], rows["scratch"])
            t_gap = _gap(rows["teacher"], rows["scratch"], rows["transfer"])
            cells += [_fmt(rows["transfer"]), f"{100 * t_gain:+.1f} +- {100 * t_se:.1f}",
                      "-" if t_gap is None else f"{t_gap:.0%}"]
        else:
            cells += ["-", "-", "-"]
        print("| " + " | ".join(cells) + " |")
    print(f"\ntransfer set: {args.transfer_samples:,} generated unlabeled signals, "
          f"T={args.transfer_temperature}, cached teacher outputs; "
          f"total time {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
