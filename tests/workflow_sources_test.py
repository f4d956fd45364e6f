"""Your own data and models end to end through `keras-distill run`: an image folder, an `.npz`
with unlabeled inputs, a CSV; keras.applications students and teachers; a teacher of another
image size."""

import csv
import json
import os

import keras
import numpy as np
import pytest
from PIL import Image

from keras_distill import cli
from keras_distill import models
from keras_distill import workflow
from keras_distill.config import RunConfig
from keras_distill.data import datasets

TINY = ["--epochs", "1", "--teacher-epochs", "1", "--batch-size", "64", "--verbose", "0"]


def _images(root, size=12, classes=3, per_class=20, mode="L"):
    rng = np.random.default_rng(0)
    for c in range(classes):
        os.makedirs(root / f"class_{c}", exist_ok=True)
        for i in range(per_class):
            pixels = (rng.random((size, size)) * 60).astype("uint8")
            pixels[:, c * 4:(c + 1) * 4] += 150
            image = Image.fromarray(pixels)
            image.convert(mode).save(root / f"class_{c}" / f"{i}.png")
    return root


def _run(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert status == 0, err
    return out


def test_image_folder_keeps_class_names_and_serves_raw_pixels(capsys, tmp_path):
    folder = _images(tmp_path / "photos")
    out = _run(capsys, "run", "--dataset", str(folder), "--output", str(tmp_path / "out"),
               *TINY)
    assert "data: photos, 38 train, 12 test, 10 validation" in out
    report = json.load(open(tmp_path / "out" / "latest" / "report.json"))
    assert report["meta"]["dataset"]["class_names"] == ["class_0", "class_1", "class_2"]
    assert report["meta"]["dataset"]["test_split"]["held_out"] is True
    rows = {row["name"]: row for row in report["rows"]}
    assert rows["distilled (SavedModel)"]["test_accuracy"] == pytest.approx(
        rows["distilled"]["test_accuracy"], abs=0.005)


def test_npz_with_unlabeled_inputs_and_a_csv(capsys, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6)).astype("float32")
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0)
    np.savez(tmp_path / "table.npz", x=x, y=y, x_unlabeled=rng.normal(size=(50, 6)))
    out = _run(capsys, "run", "--dataset", str(tmp_path / "table.npz"), "--output",
               str(tmp_path / "a"), "--no-export", "--student", "mlp", *TINY)
    assert "data: table, 128 train, 40 test, 32 validation, 50 transfer" in out
    assert "50 unlabeled transfer examples" in out
    with open(tmp_path / "table.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["a", "b", "c", "species"])
        for row, label in zip(x, y):
            writer.writerow([*row[:3], ["cat", "dog", "eel"][label]])
    out = _run(capsys, "run", "--dataset", str(tmp_path / "table.csv"), "--label-column",
               "species", "--output", str(tmp_path / "b"), "--no-export", "--student", "mlp",
               *TINY)
    report = json.load(open(tmp_path / "b" / "latest" / "report.json"))
    assert report["meta"]["dataset"]["class_names"] == ["cat", "dog", "eel"]


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "{tmp}/missing.npz"], "missing.npz'. No such file or directory"),
    (["--dataset", "{tmp}/table.csv", "--label-column", "kind"], "kind"),
    (["--student", "mobilenet_v3_small", "--dataset", "mnist1d"], "keras.applications"),
    (["--teacher", "resnet50"], "Received: teacher_weights=None"),
    (["--image-size", "64"], "Received: image_size="),
    (["--set", "data.colour=red"], "Received: config key='data.colour'"),
])
def test_bad_sources_fail_before_anything_is_written(capsys, tmp_path, argv, message):
    (tmp_path / "table.csv").write_text("a,b,label\n1,2,0\n3,4,1\n")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    status = cli.main(["run", "--output", str(tmp_path / "out"), *argv, *TINY])
    _, err = capsys.readouterr()
    assert status == 2 and message in err and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()


def test_applications_student_and_a_teacher_of_another_size(tmp_path):
    folder = _images(tmp_path / "photos", size=16, mode="RGB")
    data = datasets.load(str(folder))
    quiet = {"log": lambda line: None}
    # A keras.applications teacher by name, its trained weights from a file, built at the
    # data's resolution.
    trained = models.application("mobilenet_v3_small", (16, 16, 3), data.num_classes, seed=0)
    weights = str(tmp_path / "teacher.weights.h5")
    trained.save_weights(weights)
    config = RunConfig.for_command(
        "run", dataset=str(folder), teacher="mobilenet_v3_small", teacher_weights=weights,
        student="mobilenet_v3_small", output=str(tmp_path / "out"), export=False, epochs=1,
        batch_size=16, verbose=0)
    x = np.random.default_rng(0).integers(0, 255, (2, 16, 16, 3)).astype("float32")
    loaded = workflow.teacher.obtain_teacher(data, config, **quiet)[0]
    np.testing.assert_allclose(loaded(x, training=False), trained(x, training=False),
                               atol=1e-5)
    report = workflow.run(config, **quiet)
    assert [row["name"] for row in report.rows] == ["teacher", "scratch", "distilled"]
    student = keras.saving.load_model(
        os.path.join(report.meta["run_directory"], "student.keras"))
    assert student.input_shape == (None, 16, 16, 3) and student.output_shape == (None, 3)
    # A `.keras` teacher trained at 24x24: every batch is resized to its input inside the step.
    big = models.build("cnn", (24, 24, 3), data.num_classes, width=4, depth=2, seed=0)
    big.save(tmp_path / "big.keras")
    bigger = config.replace(teacher=str(tmp_path / "big.keras"), teacher_weights=None)
    wrapped = workflow.teacher.obtain_teacher(data, bigger, **quiet)[0]
    assert wrapped.input_shape == (None, 16, 16, 3)
    np.testing.assert_allclose(wrapped(x, training=False),
                               big(keras.layers.Resizing(24, 24)(x), training=False), atol=1e-5)
    with pytest.raises(ValueError, match="Expected weights of this teacher"):
        workflow.run(config.replace(teacher_weights=str(_other_weights(tmp_path))), **quiet)


def _other_weights(tmp_path):
    path = tmp_path / "other.weights.h5"
    models.build("mlp", (4,), 2, width=3).save_weights(path)
    return path
