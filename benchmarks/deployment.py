"""Deployment benchmark on MNIST-1D: the reference teacher CNN vs its distilled student.

Trains both (the `keras-distill run` recipe: `keras_distill.workflow`), exports each as a
SavedModel and as `.tflite` (float32, plus the student in int8), and prints, measured in this run:
size ratio student/teacher, LiteRT batch-1 CPU latency ratio (one thread), and the accuracy of
every artifact on the MNIST-1D test set. Not a test: nothing is asserted.

    python benchmarks/deployment.py [--teacher-epochs 30] [--epochs 30] [--transfer-samples 8000]
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras_distill as kd  # noqa: E402
from keras_distill import workflow  # noqa: E402
from keras_distill.export import export_student  # noqa: E402


def _row(name, record):
    accuracy = record["accuracy"]
    return (f"{name:<28} {record['size_bytes'] / 1024:>10.1f} {record['latency_ms_batch1']:>12.4f}"
            f" {100 * accuracy:>9.2f}% {100 * record['keras_accuracy']:>9.2f}%")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher-epochs", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--student", default="cnn", choices=("mlp", "cnn", "gru"))
    parser.add_argument("--student-size", type=float, default=1.0)
    parser.add_argument("--transfer-samples", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    start = time.time()
    config = kd.RunConfig.for_command(
        "run", transfer_samples=args.transfer_samples, teacher_epochs=args.teacher_epochs,
        student=args.student, student_size=args.student_size, epochs=args.epochs,
        seed=args.seed, verbose=0)
    data = workflow.load_data(config)
    teacher, _ = workflow.train_teacher(data, config, validation=None)
    student, _ = workflow.train_student(data, config, teacher=teacher, validation=None)
    train_s = time.time() - start
    test = data.batches("test", 1024)
    calibration = data.batches("train", 100).take(3)
    with tempfile.TemporaryDirectory() as out:
        teacher_records = export_student(teacher, os.path.join(out, "teacher"), eval_data=test,
                                         name="teacher", verbose=False)
        student_records = export_student(student, os.path.join(out, "student"),
                                         quantization=[None, "int8"],
                                         representative_data=calibration, eval_data=test,
                                         min_agreement=0.0, name="student", verbose=False)
    t_lite, s_lite = teacher_records["tflite"], student_records["tflite"]
    params = teacher.count_params(), student.count_params()
    print(f"MNIST-1D ({data.sizes['train']} train / {data.sizes['test']} test); teacher "
          f"{args.teacher_epochs} epochs, {args.student} student {args.epochs} epochs "
          f"(distilled, alpha=0.1, T=4); training took {train_s:.0f} s")
    print(f"parameters: teacher {params[0]:,}, student {params[1]:,} "
          f"({params[1] / params[0]:.3f}x)")
    print(f"\n{'artifact':<28} {'size (KiB)':>10} {'batch-1 ms':>12} {'accuracy':>10} "
          f"{'Keras':>10}")
    for who, records in (("teacher", teacher_records), ("student", student_records)):
        for key, record in records.items():
            print(_row(f"{who} {key}", record))
    size_ratio = s_lite["size_bytes"] / t_lite["size_bytes"]
    latency_ratio = s_lite["latency_ms_batch1"] / t_lite["latency_ms_batch1"]
    gap = 100 * (t_lite["accuracy"] - s_lite["accuracy"])
    int8 = student_records["tflite_int8"]
    print(f"\nsize ratio student/teacher (.tflite float32):      {size_ratio:.3f}x")
    print(f"LiteRT batch-1 latency ratio student/teacher:      {latency_ratio:.3f}x "
          f"(target <= 0.1x: {'met' if latency_ratio <= 0.1 else 'NOT met'})")
    print(f"accuracy teacher - student (.tflite float32):      {gap:+.2f} points "
          f"(target <= 2: {'met' if gap <= 2 else 'NOT met'})")
    print(f"student int8 vs float32: top-1 agreement {100 * int8['agreement']:.1f}%, accuracy "
          f"change {100 * int8['accuracy_change']:+.2f} points, latency ratio vs teacher "
          f"{int8['latency_ms_batch1'] / t_lite['latency_ms_batch1']:.3f}x")


if __name__ == "__main__":
    main()
