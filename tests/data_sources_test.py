"""Tests of the local and tfds data sources behind `data.load`: image folders, npz/npy, CSV,
tfds datasets without supervised keys, unlabeled transfer sets, held-out test splits. Every
dataset is generated here, in a temporary directory; nothing touches the network."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_distill import data
from keras_distill.data import assemble
from keras_distill.data import datasets

H, W = 4, 5


def _image(rng, mode):
    shape = (H, W) if mode == "L" else (H, W, 3)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def _folder(root, classes, per_class, mode="RGB", formats=("png",), seed=0):
    """Writes `root/<class>/<i>.<format>` and returns `{path: pixels}`."""
    rng = np.random.default_rng(seed)
    written = {}
    for name in classes:
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            ext = formats[i % len(formats)]
            pixels = _image(rng, mode)
            path = os.path.join(root, name, f"{i}.{ext}")
            Image.fromarray(pixels, mode).save(path)
            written[path] = pixels
    return written


def _all(split):
    xs, ys = zip(*split.as_numpy_iterator())
    return np.stack(xs), np.array(ys)


def _listing(root):
    return sorted(os.path.join(d, f) for d, _, files in os.walk(root) for f in files)


# Image folders.


def test_rgb_image_folder_of_every_format(tmp_path):
    _folder(tmp_path, ["cat", "dog", "emu"], 4, formats=("png", "jpg", "bmp", "gif"))
    _folder(tmp_path, [".ipynb_checkpoints"], 1)  # Hidden folders are not classes.
    before = _listing(tmp_path)
    loaded = data.load(str(tmp_path), test_split=0.25, seed=3)
    assert _listing(tmp_path) == before  # Reading only.
    assert loaded.class_names == ("cat", "dog", "emu") and loaded.num_classes == 3
    assert loaded.input_shape == (H, W, 3) and loaded.feature_name == "image"
    assert loaded.train.element_spec[0].dtype == tf.uint8  # Raw pixels, not normalised.
    assert loaded.sizes == {"train": 9, "test": 3}
    assert loaded.normalization.scale == pytest.approx(1 / 255)
    assert len(loaded.normalization.mean) == 3  # Per channel.
    x, y = _all(loaded.train)
    assert x.dtype == np.uint8 and sorted(np.bincount(y, minlength=3)) != [0, 0, 0]
    batch, _ = next(iter(loaded.batches("train", 4, seed=0)))
    assert batch.dtype == tf.float32 and abs(float(tf.reduce_mean(batch))) < 1.0


def test_png_and_bmp_pixels_are_read_exactly_with_their_class(tmp_path):
    written = _folder(tmp_path, ["a", "b"], 2, formats=("png", "bmp"))
    loaded = data.load(tmp_path, test_split=0.25, seed=0)
    x = np.concatenate([_all(loaded.train)[0], _all(loaded.test)[0]])
    y = np.concatenate([_all(loaded.train)[1], _all(loaded.test)[1]])
    for path, pixels in written.items():
        label = loaded.class_names.index(os.path.basename(os.path.dirname(path)))
        matches = [i for i in range(len(x)) if np.array_equal(x[i], pixels)]
        assert len(matches) == 1 and y[matches[0]] == label


def test_grayscale_folder_has_one_channel(tmp_path):
    written = _folder(tmp_path, ["0", "1"], 4, mode="L", formats=("png", "jpg", "bmp"))
    loaded = data.load(tmp_path, test_split=0.25)
    assert loaded.input_shape == (H, W, 1)
    assert loaded.source.options["color_mode"] == "grayscale"
    x = np.concatenate([_all(loaded.train)[0], _all(loaded.test)[0]])
    exact = [p for p in written if not p.endswith(".jpg")]  # JPEG is lossy.
    for path in exact:
        assert any(np.array_equal(image[..., 0], written[path]) for image in x)


def test_grayscale_and_rgb_together_are_read_as_rgb(tmp_path):
    _folder(tmp_path, ["a"], 2, mode="L")
    _folder(tmp_path, ["b"], 2, mode="RGB")
    assert data.load(tmp_path).input_shape == (H, W, 3)


def test_mixed_sizes_need_image_size(tmp_path):
    _folder(tmp_path, ["a", "b"], 2)
    odd = tmp_path / "b" / "big.png"
    Image.new("RGB", (9, 7)).save(odd)
    with pytest.raises(ValueError, match=r"image_size.*different sizes.*7x9.*big\.png"):
        data.load(tmp_path)
    loaded = data.load(tmp_path, image_size=(6, 8))
    assert loaded.input_shape == (6, 8, 3) and loaded.input_dtype == "uint8"
    assert loaded.describe()["source"]["image_size"] == [6, 8]


def test_unreadable_image_is_named(tmp_path):
    _folder(tmp_path, ["a", "b"], 2)
    (tmp_path / "a" / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(ValueError, match=r"Invalid value for argument `dataset`.*broken\.png"):
        data.load(tmp_path)


def test_truncated_image_that_only_fails_to_decode_is_named(tmp_path):
    _folder(tmp_path, ["a", "b"], 1)
    rng = np.random.default_rng(0)
    Image.fromarray(_image(rng, "RGB")).save(tmp_path / "b" / "cut.jpg", quality=90)
    whole = (tmp_path / "b" / "cut.jpg").read_bytes()
    (tmp_path / "b" / "cut.jpg").write_bytes(whole[:len(whole) // 2])  # The header survives.
    with pytest.raises(ValueError, match=r"Received: dataset='[^']*cut\.jpg'"):
        data.load(tmp_path)


def test_one_class_folder_is_an_error(tmp_path):
    _folder(tmp_path, ["only"], 3)
    with pytest.raises(ValueError, match=r"at least two class subfolders.*\['only'\]"):
        data.load(tmp_path)


def test_train_and_test_folders_give_the_test_split(tmp_path):
    _folder(tmp_path / "train", ["a", "b"], 3)
    _folder(tmp_path / "test", ["a", "b"], 1, seed=1)
    loaded = data.load(tmp_path, validation_split=0.2)
    assert loaded.sizes == {"train": 5, "test": 2, "validation": 1}
    assert loaded.held_out_test is None
    assert loaded.describe()["test_split"] == {"held_out": False}
    _folder(tmp_path / "test", ["c"], 1)
    with pytest.raises(ValueError, match=r"training class subfolders \['a', 'b'\]"):
        data.load(tmp_path)


# Arrays.


def _npz(path, n=20, **extra):
    rng = np.random.default_rng(0)
    arrays = {"x": rng.normal(size=(n, 3)), "y": np.arange(n) % 4, **extra}
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return arrays


def test_npz_with_held_out_test_split_is_seeded_and_recorded(tmp_path):
    arrays = _npz(tmp_path / "toy.npz")
    loaded = data.load(str(tmp_path / "toy.npz"), test_split=0.25, validation_split=0.2, seed=5)
    assert loaded.name == "toy" and loaded.num_classes == 4
    assert loaded.sizes == {"train": 12, "test": 5, "validation": 3}
    assert loaded.input_dtype == "float32"  # float64 arrays become float32.
    assert loaded.describe()["test_split"] == {"held_out": True, "fraction": 0.25, "seed": 5}
    test_x = _all(loaded.test)[0]
    again = _all(data.load(str(tmp_path / "toy.npz"), test_split=0.25, seed=5).test)[0]
    other = _all(data.load(str(tmp_path / "toy.npz"), test_split=0.25, seed=6).test)[0]
    np.testing.assert_array_equal(test_x, again)
    assert not np.array_equal(test_x, other)
    # Train, validation and test partition the examples.
    parts = [_all(loaded.split(s))[0] for s in ("train", "validation", "test")]
    joined = np.concatenate(parts)
    assert sorted(map(tuple, joined.tolist())) == sorted(
        map(tuple, arrays["x"].astype(np.float32).tolist()))


def test_npz_keeps_uint8_and_its_own_test_and_unlabeled_splits(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (10, 4, 4, 1), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=np.arange(10) % 2, x_test=x[:3],
             y_test=np.array([0, 1, 1]), x_unlabeled=x[:5], class_names=np.array(["no", "yes"]))
    loaded = data.load(tmp_path / "d.npz")
    assert loaded.input_dtype == "uint8" and loaded.input_shape == (4, 4, 1)
    assert loaded.sizes == {"train": 10, "test": 3, "transfer": 5}
    assert loaded.class_names == ("no", "yes") and loaded.held_out_test is None
    assert loaded.normalization.scale == pytest.approx(1 / 255)
    assert next(iter(loaded.transfer)).dtype == tf.uint8


@pytest.mark.parametrize("arrays, match", [
    ({"x": np.zeros((4, 2))}, r"'y'.*unlabeled=.*keys: \['x'\]"),
    ({"x": np.zeros((4, 2)), "y": np.array([0, 1, -1, 0])}, r"holds -1 at index 2"),
    ({"x": np.zeros((4, 2)), "y": np.array([0, 1, 1.5, 0])}, r"holds 1\.5 at index 2"),
    ({"x": np.zeros((4, 2)), "y": np.array([0, 1, 1])}, r"4 examples.*shape \(3,\)"),
    ({"x": np.zeros((4, 2)), "y": np.zeros(4)}, r"at least 2 classes"),
    ({"x": np.zeros((4, 2)), "y": np.array([0, 1, 2, 0]), "class_names": np.array(["a", "b"])},
     r"labels in \[0, 2\).*label 2"),
    ({"x": np.zeros((4, 2)), "y": np.arange(4), "x_test": np.zeros((2, 2))},
     r"'x_test' and 'y_test' together"),
    ({"x": np.zeros((4, 2)), "y": np.arange(4), "x_test": np.zeros((2, 3)),
      "y_test": np.arange(2)}, r"'x_test' has shape \(3,\)"),
    ({"x": np.zeros((4, 2)), "y": np.arange(4), "z": np.zeros(4)}, r"unknown keys \['z'\]"),
    ({"x": np.array(["a", "b"]), "y": np.arange(2)}, r"numeric inputs"),
])
def test_bad_npz_is_a_clear_error(tmp_path, arrays, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"Invalid value for argument `dataset`.*" + match):
        data.load(str(path))


def test_npy_files_by_folder_or_by_x_npy(tmp_path):
    np.save(tmp_path / "x.npy", np.arange(30, dtype=np.float32).reshape(10, 3))
    np.save(tmp_path / "y.npy", np.arange(10) % 2)
    by_folder = data.load(tmp_path, test_split=0.3)
    by_file = data.load(str(tmp_path / "x.npy"), test_split=0.3)
    assert by_folder.source.kind == by_file.source.kind == "npy"
    assert by_folder.describe() == by_file.describe()
    assert by_folder.sizes == {"train": 7, "test": 3}
    np.save(tmp_path / "inputs.npy", np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"x\.npy.*inputs\.npy"):
        data.load(str(tmp_path / "inputs.npy"))
    os.remove(tmp_path / "y.npy")
    with pytest.raises(ValueError, match=r"no 'y'"):
        data.load(tmp_path)


# CSV.


def _csv(path, header, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(header) + "\n")
        f.writelines(",".join(str(v) for v in row) + "\n" for row in rows)


def test_csv_with_integer_labels(tmp_path):
    rows = [(i, i * 10.0, i % 3) for i in range(15)]
    _csv(tmp_path / "t.csv", ["a", "b", "label"], rows)
    loaded = data.load(str(tmp_path / "t.csv"), test_split=0.2, validation_split=0.25)
    assert loaded.input_shape == (2,) and loaded.input_dtype == "float32"
    assert loaded.num_classes == 3 and loaded.class_names is None
    assert loaded.sizes == {"train": 9, "test": 3, "validation": 3}
    assert loaded.normalization.mean == pytest.approx(  # One scale per column.
        [float(np.mean(c)) for c in np.array(_all(loaded.train)[0]).T])
    assert loaded.describe()["source"]["feature_columns"] == ["a", "b"]


def test_csv_string_labels_are_sorted_class_names(tmp_path):
    rows = [(i, "zebra" if i % 2 else "ant") for i in range(10)]
    _csv(tmp_path / "t.csv", ["f", "kind"], rows)
    loaded = data.load(str(tmp_path / "t.csv"), label_column="kind")
    assert loaded.class_names == ("ant", "zebra")
    x, y = _all(loaded.train)
    np.testing.assert_array_equal(y, x[:, 0].astype(int) % 2)


@pytest.mark.parametrize("header, rows, kwargs, match", [
    (["a", "label"], [(1, 0), ("red", 1)], {}, r"column 'a' holds 'red' in data row 2"),
    (["a", "label"], [(1, 0), (2, 1)], {"label_column": "y"},
     r"argument `label_column`.*Received: label_column='y' \(its columns: \['a', 'label'\]\)"),
    (["a", "label"], [(1, 0), (2, 0.5)], {}, r"holds 0\.5 at index 1"),
    (["a", "label"], [(1, 0), (2, -1)], {}, r"holds -1"),
    (["a", "label"], [], {}, r"at least one row"),
    (["label"], [(0,), (1,)], {}, r"at least one feature column"),
])
def test_bad_csv_is_a_clear_error(tmp_path, header, rows, kwargs, match):
    _csv(tmp_path / "bad.csv", header, rows)
    with pytest.raises(ValueError, match=match):
        data.load(str(tmp_path / "bad.csv"), **kwargs)


# Unlabeled transfer sets.


def test_unlabeled_image_folder_becomes_the_transfer_set(tmp_path):
    _folder(tmp_path / "labeled", ["a", "b"], 3)
    _folder(tmp_path / "more", ["x", "y/deeper"], 2, seed=2)  # Any layout.
    loaded = data.load(tmp_path / "labeled", unlabeled=str(tmp_path / "more"))
    assert loaded.sizes["transfer"] == 4
    assert loaded.describe()["source"]["unlabeled"] == str(tmp_path / "more")
    labels = np.concatenate([y for _, y in loaded.batches("train", 8, with_transfer=True)])
    assert (labels == -1).sum() == 4


def test_grayscale_unlabeled_images_join_rgb_training_images(tmp_path):
    _folder(tmp_path / "labeled", ["a", "b"], 2)
    _folder(tmp_path / "more", ["."], 2, mode="L")
    loaded = data.load(tmp_path / "labeled", unlabeled=tmp_path / "more")
    assert next(iter(loaded.transfer)).shape == (H, W, 3)


def test_unlabeled_images_of_another_size_are_an_error(tmp_path):
    _folder(tmp_path / "labeled", ["a", "b"], 2)
    os.makedirs(tmp_path / "more")
    Image.new("RGB", (8, 8)).save(tmp_path / "more" / "a.png")
    with pytest.raises(ValueError, match=r"argument `unlabeled`.*shape \(4, 5, 3\), dtype uint8"
                                         r".*Received.*shape \(8, 8, 3\)"):
        data.load(tmp_path / "labeled", unlabeled=tmp_path / "more")
    resized = data.load(tmp_path / "labeled", unlabeled=tmp_path / "more", image_size=(4, 5))
    assert resized.sizes["transfer"] == 1


def test_unlabeled_npz_and_npy(tmp_path):
    _npz(tmp_path / "d.npz")
    np.savez(tmp_path / "u.npz", x=np.ones((6, 3)))
    np.save(tmp_path / "u.npy", np.ones((2, 3), np.float32))
    assert data.load(tmp_path / "d.npz", unlabeled=tmp_path / "u.npz").sizes["transfer"] == 6
    assert data.load(tmp_path / "d.npz", unlabeled=tmp_path / "u.npy").sizes["transfer"] == 2
    np.save(tmp_path / "wrong.npy", np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"wrong\.npy.*shape \(4,\)"):
        data.load(tmp_path / "d.npz", unlabeled=tmp_path / "wrong.npy")
    np.save(tmp_path / "ints.npy", np.ones((2, 3), np.int32))
    with pytest.raises(ValueError, match=r"dtype float32.*dtype int32"):
        data.load(tmp_path / "d.npz", unlabeled=tmp_path / "ints.npy")
    np.savez(tmp_path / "both.npz", x=np.ones((4, 3)), y=np.arange(4) % 2,
             x_unlabeled=np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"already has unlabeled"):
        data.load(tmp_path / "both.npz", unlabeled=tmp_path / "u.npz")


def test_unlabeled_csv_matches_the_feature_columns(tmp_path):
    _csv(tmp_path / "t.csv", ["a", "b", "label"], [(i, -i, i % 2) for i in range(10)])
    _csv(tmp_path / "u.csv", ["b", "a"], [(-1, 1), (-2, 2), (-3, 3)])
    loaded = data.load(tmp_path / "t.csv", unlabeled=tmp_path / "u.csv")
    np.testing.assert_array_equal(np.stack(list(loaded.transfer.as_numpy_iterator())),
                                  [[1, -1], [2, -2], [3, -3]])
    _csv(tmp_path / "v.csv", ["a", "c"], [(1, 1)])
    with pytest.raises(ValueError, match=r"missing \['b'\], unexpected \['c'\]"):
        data.load(tmp_path / "t.csv", unlabeled=tmp_path / "v.csv")


def test_unlabeled_for_mnist1d(tmp_path):
    np.save(tmp_path / "u.npy", np.zeros((5, 40), np.float32))
    loaded = data.load("mnist1d", unlabeled=tmp_path / "u.npy")
    assert loaded.sizes["transfer"] == 5 and loaded.held_out_test is None


# tfds datasets without supervised keys.


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    import tensorflow_datasets as tfds

    root = str(tmp_path_factory.mktemp("tfds"))
    rng = np.random.default_rng(0)

    def examples(n):
        return [(i, {"picture": rng.integers(0, 256, (6, 6, 1), dtype=np.uint8),
                     "kind": i % 3, "note": f"example {i}"}) for i in range(n)]

    features = tfds.features.FeaturesDict({
        "picture": tfds.features.Image(shape=(6, 6, 1)),
        "kind": tfds.features.ClassLabel(names=["x", "y", "z"]),
        "note": tfds.features.Text()})
    tfds.dataset_builders.store_as_tfds_dataset(
        name="kd_unsupervised", version="1.0.0", features=features,
        split_datasets={"train": examples(30)}, data_dir=root)
    two_labels = tfds.features.FeaturesDict({
        "picture": tfds.features.Image(shape=(6, 6, 1)),
        "kind": tfds.features.ClassLabel(num_classes=3),
        "other": tfds.features.ClassLabel(num_classes=2)})
    tfds.dataset_builders.store_as_tfds_dataset(
        name="kd_two_labels", version="1.0.0", features=two_labels,
        split_datasets={"train": [(i, {"picture": np.zeros((6, 6, 1), np.uint8), "kind": 0,
                                       "other": 1}) for i in range(4)],
                        "test": [(0, {"picture": np.zeros((6, 6, 1), np.uint8), "kind": 0,
                                      "other": 1})]},
        data_dir=root)
    return root


def test_tfds_without_supervised_keys_picks_the_image_and_class_label(tfds_dir):
    loaded = data.load("kd_unsupervised", data_dir=tfds_dir, test_split=0.2,
                       validation_split=0.25, seed=1)
    assert loaded.feature_name == "picture" and loaded.input_shape == (6, 6, 1)
    assert loaded.class_names == ("x", "y", "z") and loaded.input_dtype == "uint8"
    assert loaded.sizes == {"train": 18, "test": 6, "validation": 6}
    assert [len(list(loaded.split(s))) for s in ("train", "test", "validation")] == [18, 6, 6]
    described = loaded.describe()
    assert described["source"]["kind"] == "tfds"
    assert described["source"]["features"] == ["picture", "kind"]
    assert described["test_split"] == {"held_out": True, "fraction": 0.2, "seed": 1}
    # The held-out test examples never appear in training.
    train = {x.tobytes() for x, _ in loaded.train.as_numpy_iterator()}
    assert not train & {x.tobytes() for x, _ in loaded.test.as_numpy_iterator()}
    json.dumps(described)


def test_tfds_features_by_name_and_resized(tfds_dir):
    loaded = data.load("kd_two_labels", data_dir=tfds_dir, features=("picture", "other"),
                       image_size=(3, 4))
    assert loaded.num_classes == 2 and loaded.input_shape == (3, 4, 1)
    assert loaded.held_out_test is None and loaded.sizes == {"train": 4, "test": 1}
    x, y = next(iter(loaded.train))
    assert x.shape == (3, 4, 1) and x.dtype == tf.uint8 and y.dtype == tf.int64


@pytest.mark.parametrize("features, match", [
    (None, r"no \(input, class label\) supervised keys.*'other': 'ClassLabel'"),
    (("picture", "missing"), r"two feature names"),
    (("kind", "picture"), r"label is a ClassLabel; 'picture'.*is a Image"),
])
def test_tfds_ambiguous_or_wrong_features(tfds_dir, features, match):
    with pytest.raises(ValueError, match=r"argument `features`.*" + match):
        data.load("kd_two_labels", data_dir=tfds_dir, features=features)


def test_tfds_with_unlabeled_images(tfds_dir, tmp_path):
    os.makedirs(tmp_path / "more")
    for i in range(3):
        Image.new("L", (6, 6), color=i).save(tmp_path / "more" / f"{i}.png")
    loaded = data.load("kd_unsupervised", data_dir=tfds_dir, unlabeled=tmp_path / "more")
    assert loaded.sizes["transfer"] == 3


# Dispatch and arguments.


def test_kinds_are_recognised(tmp_path):
    _npz(tmp_path / "a.npz")
    _csv(tmp_path / "a.csv", ["f", "label"], [(1, 0), (2, 1)])
    _folder(tmp_path / "images", ["a", "b"], 1)
    assert datasets.kind_of(str(tmp_path / "a.npz")) == "npz"
    assert datasets.kind_of(tmp_path / "a.csv") == "csv"
    assert datasets.kind_of(tmp_path / "images") == "image_folder"
    assert datasets.kind_of("mnist-1d") == "mnist1d"
    assert datasets.kind_of("fashion_mnist") == "tfds"


@pytest.mark.parametrize("source, match", [
    ("missing.npz", r"Received: dataset='missing\.npz'\. No such file"),
    ("./nowhere", r"an existing path.*Received: dataset='\./nowhere'"),
    ("no_such_tfds_name", r"\.npz.*\.csv.*Received: dataset='no_such_tfds_name'"),
    ("", r"Received: dataset=''"),
])
def test_unknown_source_lists_what_is_accepted(source, match):
    with pytest.raises(ValueError, match=r"Expected 'mnist1d'.*" + match):
        data.load(source)


def test_unsupported_files_and_folders(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"notes\.txt"):
        data.load(tmp_path / "notes.txt")
    os.makedirs(tmp_path / "empty")
    with pytest.raises(ValueError, match=r"neither x\.npy nor images"):
        data.load(tmp_path / "empty")


@pytest.mark.parametrize("kwargs, match", [
    ({"features": ("a", "b")}, r"argument `features`.*'npz'"),
    ({"image_size": (4, 4)}, r"argument `image_size`.*'npz'"),
    ({"image_size": (0, 4)}, r"argument `image_size`.*Received: image_size=\(0, 4\)"),
    ({"transfer_samples": 5}, r"argument `transfer_samples`"),
    ({"test_split": 0.0}, r"argument `test_split`.*no test split"),
    ({"test_split": 1.0}, r"argument `test_split`"),
    ({"test_split": 0.5, "validation_split": 0.99}, r"leave training examples"),
    ({"seed": -1}, r"argument `seed`"),
    ({"label_column": ""}, r"argument `label_column`"),
    ({"unlabeled": "/nonexistent/u.npz"}, r"argument `unlabeled`.*no such file"),
])
def test_arguments_that_do_not_apply_or_are_invalid(tmp_path, kwargs, match):
    _npz(tmp_path / "d.npz", n=8)
    with pytest.raises(ValueError, match=match):
        data.load(tmp_path / "d.npz", **kwargs)


def test_describe_has_what_a_model_card_needs(tmp_path):
    _folder(tmp_path, ["a", "b"], 3, mode="L")
    described = data.load(tmp_path, seed=7).describe()
    assert set(described) == {"name", "source", "sizes", "input_shape", "input_dtype",
                              "feature_name", "num_classes", "class_names", "normalization",
                              "test_split"}
    assert described["source"]["kind"] == "image_folder"
    assert described["source"]["location"] == str(tmp_path)
    assert described["input_dtype"] == "uint8" and described["class_names"] == ["a", "b"]
    assert described["test_split"] == {"held_out": True, "fraction": 0.2, "seed": 7}
    assert described["normalization"]["scale"] == pytest.approx(1 / 255)
    json.dumps(described)
    mnist = data.load("mnist1d").describe()
    assert mnist["source"]["kind"] == "mnist1d" and mnist["test_split"] == {"held_out": False}


def test_assign_splits_counts_and_partition():
    roles = assemble.assign_splits(100, 0.2, 0.1, seed=0)
    assert [(roles == r).sum() for r in (assemble.TRAIN, assemble.TEST, assemble.VALIDATION)] \
        == [72, 20, 8]
    np.testing.assert_array_equal(roles, assemble.assign_splits(100, 0.2, 0.1, seed=0))
