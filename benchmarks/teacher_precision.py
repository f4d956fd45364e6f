"""Accuracy effect of a cheaper teacher on MNIST-1D: a bfloat16/float16 teacher and top-k caches.

1. The teacher (the reference CNN, trained once in float32) against its reduced-precision copy
   (`keras_distill.teacher_precision.reduced_precision`) on the held-out test split: top-1
   agreement, mean KL(fp32 || reduced) at T = 1 and T = 4, the largest logit difference.
2. The student (the reference MLP) distilled on cached teacher outputs, per seed: from the fp32
   teacher, from the bfloat16 teacher, and from top-k caches (`cache_teacher_outputs(...,
   top_k=k)`, k < 10 classes), test accuracy at the last epoch, with the paired difference
   to the fp32 teacher.
3. The size of the stored teacher outputs per example (tests/topk_cache_test.py checks
   it on a saved cache: 64 of 4000 bytes for 1000 classes and k = 10).

A benchmark, not a test: a few minutes on two CPU cores at the defaults.

    python benchmarks/teacher_precision.py [--seeds 3] [--epochs 20] [--teacher-epochs 15]
"""

import argparse
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_distill as kd  # noqa: E402
from keras_distill import data as data_lib  # noqa: E402
from keras_distill import models  # noqa: E402
from keras_distill.teacher_precision import reduced_precision  # noqa: E402

SCCE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _log_softmax(z, temperature):
    z = np.asarray(z, "float64") / temperature
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _kl(p_logits, q_logits, temperature):
    log_p, log_q = _log_softmax(p_logits, temperature), _log_softmax(q_logits, temperature)
    return float((np.exp(log_p) * (log_p - log_q)).sum(-1).mean())


def _logits(model, dataset):
    return np.concatenate([np.asarray(tf.cast(model(x, training=False), tf.float32))
                           for x, _ in dataset])


def _accuracy(model, dataset):
    model.compile(metrics=["accuracy"], loss=SCCE)
    return model.evaluate(dataset, verbose=0, return_dict=True)["accuracy"]


def _distilled_accuracy(data, teacher, seed, epochs, **cache_kwargs):
    keras.utils.set_random_seed(seed)
    student = models.build("mlp", data.input_shape, data.num_classes)
    source = data.batches("train", 1024, shuffle=False)
    cached = kd.cache_teacher_outputs(teacher, source, batch_size=64, seed=seed, **cache_kwargs)
    distiller = kd.Distiller(teacher=teacher, student=student).compile(
        optimizer=keras.optimizers.Adam(3e-3), student_loss_fn=SCCE, alpha=0.1,
        temperature=4.0)
    distiller.fit(cached, epochs=epochs, verbose=0)
    return _accuracy(student, data.batches("test", 1024))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20, help="student epochs")
    parser.add_argument("--teacher-epochs", type=int, default=15)
    parser.add_argument("--top-k", default="1,3,5")
    args = parser.parse_args(argv)
    data = data_lib.load("mnist1d")
    keras.utils.set_random_seed(0)
    teacher = models.build("cnn", data.input_shape, data.num_classes)
    teacher.compile(optimizer=keras.optimizers.Adam(3e-3), loss=SCCE, metrics=["accuracy"])
    teacher.fit(data.batches("train", 64, shuffle=True, seed=0), epochs=args.teacher_epochs,
                verbose=0)
    test = data.batches("test", 1024)
    print(f"MNIST-1D {data.sizes}; teacher: reference CNN, {teacher.count_params():,} "
          f"parameters, {args.teacher_epochs} epochs, test accuracy "
          f"{100 * _accuracy(teacher, test):.2f}%")

    full = _logits(teacher, test)
    print("\n1. teacher vs its reduced-precision copy, test split:")
    for dtype in ("bfloat16", "float16"):
        low = _logits(reduced_precision(teacher, dtype), test)
        agreement = float((full.argmax(-1) == low.argmax(-1)).mean())
        print(f"  {dtype:<9} top-1 agreement {100 * agreement:6.2f}%   "
              f"KL(fp32||{dtype}) T=1 {_kl(full, low, 1.0):.2e}  T=4 {_kl(full, low, 4.0):.2e}   "
              f"max |logit diff| {np.abs(full - low).max():.3g}")

    top_ks = [int(k) for k in args.top_k.split(",") if k]
    variants = {"fp32 teacher": {}, "bf16 teacher": {"teacher_dtype": "bfloat16"}}
    variants.update({f"top-{k} cache": {"top_k": k} for k in top_ks})
    print(f"\n2. distilled MLP student, test accuracy ({args.epochs} epochs, alpha 0.1, T 4, "
          f"cached teacher outputs), seeds 0..{args.seeds - 1}:")
    results = {name: [] for name in variants}
    for seed in range(args.seeds):
        for name, kwargs in variants.items():
            results[name].append(_distilled_accuracy(data, teacher, seed, args.epochs, **kwargs))
    base = results["fp32 teacher"]
    for name, values in results.items():
        diffs = [v - b for v, b in zip(values, base)]
        spread = statistics.stdev(diffs) if len(diffs) > 1 else 0.0
        print(f"  {name:<13} {100 * statistics.mean(values):6.2f}%   vs fp32 teacher "
              f"{100 * statistics.mean(diffs):+5.2f} points (sd of the paired difference "
              f"{100 * spread:.2f})   per seed: "
              + ", ".join(f"{100 * v:.1f}" for v in values))

    print("\n3. stored teacher outputs per example (float32: 4 bytes per class; top-k: k "
          "float16 logits, k int32 classes, 2 float16 for the rest):")
    for classes, k in [(data.num_classes, k) for k in top_ks] + [(1000, 10)]:
        print(f"  {classes:4d} classes: float32 {4 * classes:5d} bytes, top-{k} {6 * k + 4:3d} "
              f"bytes ({100 * (6 * k + 4) / (4 * classes):.1f}%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
