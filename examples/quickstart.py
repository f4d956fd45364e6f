"""Distill a CNN teacher into a small MLP on MNIST-1D (generated locally), in both call forms.

    python examples/quickstart.py [--epochs 20]

Prints the teacher's, the scratch student's and the distilled student's test accuracy, then
exports the distilled student for TF Serving under saved_models/quickstart_student/.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import keras_distill as kd  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args(argv)

    data = kd.data.load("mnist1d")  # The paper's 4000/1000 split, generated locally.
    shape, classes = data.input_shape, data.num_classes
    train, test = data.batches("train", 64, seed=0), data.batches("test", 1000)
    scce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    teacher = kd.models.reference_teacher(shape, classes, input_name=data.feature_name, seed=0)
    teacher.compile(optimizer=keras.optimizers.Adam(3e-3), loss=scce, metrics=["accuracy"])
    teacher.fit(train, epochs=args.epochs, verbose=0)

    def student():  # The same architecture and initial weights for both students.
        return kd.models.reference_student("mlp", shape, classes, input_name=data.feature_name,
                                           seed=1)

    scratch = student()
    scratch.compile(optimizer=keras.optimizers.Adam(3e-3), loss=scce, metrics=["accuracy"])
    scratch.fit(train, epochs=args.epochs, verbose=0)

    # The keras.io example's form; `Distiller(teacher=..., student=...,
    # distillation_losses=kd.LogitsDistillation(temperature=4.0))` + `compile(loss=...)` is
    # keras.distillation's, and works the same.
    distiller = kd.Distiller(student=student(), teacher=teacher)
    distiller.compile(optimizer=keras.optimizers.Adam(3e-3), metrics=["accuracy"],
                      student_loss_fn=scce, distillation_loss_fn=kd.losses.KnowledgeDistillation(),
                      alpha=0.1, temperature=4.0)
    cached = kd.cache_teacher_outputs(teacher, train, seed=0)  # The teacher runs once.
    distiller.fit(cached, epochs=args.epochs, verbose=0)

    for name, model, size in (("teacher", teacher, teacher), ("scratch student", scratch, scratch),
                              ("distilled student", distiller, distiller.student)):
        accuracy = model.evaluate(test, verbose=0, return_dict=True)["accuracy"]  # Student only.
        print(f"{name:<18} {accuracy:.1%} test accuracy, {size.count_params():,} parameters")
    path = kd.export.export_saved_model(distiller, "saved_models/quickstart_student")
    print(f"distilled student exported for TF Serving: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
