"""Tests of keras_distill.data: MNIST-1D generation, tfds loading (offline), input pipelines."""

import os
import random

import numpy as np
import pytest
import tensorflow as tf

from keras_distill import data
from keras_distill.data import mnist1d
from keras_distill.data import pipeline
from keras_distill.data import tfds_loader


@pytest.fixture(scope="module")
def paper_split():
    return mnist1d.generate(cache_dir=False)


def test_mnist1d_default_is_the_paper_split(paper_split):
    assert paper_split["x_train"].shape == (4000, 40)
    assert paper_split["x_test"].shape == (1000, 40)
    assert paper_split["x_train"].dtype == np.float32
    assert paper_split["y_train"].dtype == np.int64
    assert set(np.unique(paper_split["y_train"])) == set(range(10))


def test_mnist1d_classes_are_balanced(paper_split):
    # The generator makes 500 signals per class, then shuffles before the 80/20 split.
    train = np.bincount(paper_split["y_train"], minlength=10)
    test = np.bincount(paper_split["y_test"], minlength=10)
    np.testing.assert_array_equal(train + test, np.full(10, 500))
    assert train.min() >= 0.9 * 400 and train.max() <= 1.1 * 400
    assert test.min() >= 0.8 * 100 and test.max() <= 1.2 * 100


def test_mnist1d_generation_is_deterministic_and_leaves_global_rng_alone(paper_split):
    np.random.seed(7)
    random.seed(7)
    expected_np, expected_py = np.random.rand(), random.random()
    np.random.seed(7)
    random.seed(7)
    again = mnist1d.generate(cache_dir=False)
    assert np.random.rand() == expected_np and random.random() == expected_py
    for key, value in paper_split.items():
        np.testing.assert_array_equal(again[key], value)


def test_mnist1d_cache_is_read_back(tmp_path, monkeypatch):
    first = mnist1d.generate(100, 50, cache_dir=str(tmp_path))
    assert len(os.listdir(tmp_path)) == 1

    def fail(*args):
        raise AssertionError("regenerated instead of reading the cache")

    monkeypatch.setattr(mnist1d, "_make", fail)
    second = mnist1d.generate(100, 50, cache_dir=str(tmp_path))
    np.testing.assert_array_equal(first["x_train"], second["x_train"])


def test_transfer_set_is_new_unlabeled_signals(paper_split):
    transfer = mnist1d.generate_transfer_set(205, cache_dir=False)
    assert transfer.shape == (205, 40) and transfer.dtype == np.float32
    np.testing.assert_array_equal(transfer, mnist1d.generate_transfer_set(205, cache_dir=False))
    # No transfer signal repeats a training or test signal.
    known = np.concatenate([paper_split["x_train"], paper_split["x_test"]])
    distances = np.abs(transfer[:, None, :] - known[None, :, :]).max(-1)
    assert distances.min() > 1e-3


def test_load_validation_and_transfer_splits():
    loaded = data.load("mnist1d", validation_split=0.1, transfer_samples=30)
    assert loaded.sizes == {"train": 3600, "test": 1000, "validation": 400, "transfer": 30}
    train_x = np.stack([x for x, _ in loaded.train.as_numpy_iterator()])
    val_x = np.stack([x for x, _ in loaded.validation.as_numpy_iterator()])
    assert not (train_x[:, None, :] == val_x[None, :, :]).all(-1).any()
    labels = np.concatenate([y for _, y in loaded.batches("train", 512, with_transfer=True)])
    assert (labels == -1).sum() == 30 and len(labels) == 3630


@pytest.mark.parametrize("kwargs, match", [
    ({"num_train": 0}, "num_train"),
    ({"num_train": 4001}, "divisible by 10"),
    ({"length": -1}, "length"),
])
def test_mnist1d_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mnist1d.generate(cache_dir=False, **kwargs)


def test_pipeline_is_batched_seeded_and_normalised():
    examples = tf.data.Dataset.from_tensor_slices((np.arange(100.0), np.arange(100)))
    norm = pipeline.Normalization(scale=0.5, mean=10.0, std=2.0)
    first = [y.numpy() for _, y in pipeline.batches(examples, 32, shuffle=True, seed=3)]
    second = [y.numpy() for _, y in pipeline.batches(examples, 32, shuffle=True, seed=3)]
    assert [len(b) for b in first] == [32, 32, 32, 4]
    np.testing.assert_array_equal(np.concatenate(first), np.concatenate(second))
    assert not np.array_equal(np.concatenate(first), np.arange(100))
    x, y = next(iter(pipeline.batches(examples, 4, normalization=norm)))
    np.testing.assert_allclose(x.numpy(), (np.arange(4) * 0.5 - 10.0) / 2.0)
    assert isinstance(pipeline.batches(examples, 4), tf.data.Dataset)
    with pytest.raises(ValueError, match="batch_size"):
        pipeline.batches(examples, 0)


def test_normalization_measure_per_channel():
    x = np.stack([np.zeros((4, 4)), np.full((4, 4), 2.0)], axis=-1)[None].repeat(3, 0)
    norm = pipeline.Normalization.measure(x, per_channel=True)
    assert norm.mean == [0.0, 2.0] and norm.std == [1.0, 1.0]  # Zero std becomes 1.


def test_normalization_invert_undoes_it_per_channel():
    x = np.random.default_rng(0).uniform(0, 255, (5, 3, 3, 2))
    norm = pipeline.Normalization.measure(x, scale=1 / 255, per_channel=True)
    np.testing.assert_allclose(norm.invert(norm(x).numpy()), x, rtol=1e-4, atol=1e-3)


def test_with_transfer_adds_raw_inputs_in_the_training_dtype():
    x = np.array([[0, 100], [200, 255]], "uint8")
    images = pipeline.ClassificationData(
        "tiny", tf.data.Dataset.from_tensor_slices((x, np.array([0, 1]))),
        tf.data.Dataset.from_tensor_slices((x, np.array([0, 1]))), 2, (2,), "x",
        sizes={"train": 2, "test": 2})
    added = images.with_transfer(np.array([[-3.0, 99.6], [300.0, 7.2]]))
    assert added.sizes == {"train": 2, "test": 2, "transfer": 2} and images.transfer is None
    np.testing.assert_array_equal(list(added.transfer.as_numpy_iterator()),
                                  [[0, 100], [255, 7]])  # Rounded, clipped to uint8.
    again = added.with_transfer(np.zeros((1, 2)))
    assert again.sizes["transfer"] == 3 and len(list(again.transfer)) == 3
    labels = [int(y) for _, y in again.batches("train", 8, with_transfer=True).unbatch()]
    assert sorted(labels) == [-1, -1, -1, 0, 1]
    with pytest.raises(ValueError, match=r"Expected examples of shape \(2,\).*Received: "
                                         r"inputs of shape \(3, 4\)"):
        images.with_transfer(np.zeros((3, 4)))


def test_missing_split_is_a_clear_error():
    loaded = data.load("mnist1d")
    with pytest.raises(ValueError, match="validation_split"):
        loaded.batches("validation", 32)


def test_tfds_dataset_through_mock_data(tmp_path):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=24):
        loaded = data.load("mnist", data_dir=str(tmp_path), download=True)
        assert loaded.feature_name == "image" and loaded.input_shape == (28, 28, 1)
        assert loaded.num_classes == 10
        assert loaded.normalization.scale == pytest.approx(1 / 255)
        x, y = next(iter(loaded.batches("train", 8, seed=0)))
    assert x.shape == (8, 28, 28, 1) and x.dtype == tf.float32 and y.dtype == tf.int64
    assert abs(float(tf.reduce_mean(x))) < 1.0  # Standardised, not raw pixels.


def test_tfds_missing_data_fails_without_touching_the_network(tmp_path, monkeypatch):
    import socket

    import tensorflow_datasets as tfds

    attempts = []

    def no_network(self, address, *args, **kwargs):
        attempts.append(address)
        raise OSError("network access in a test")

    def no_download(self, *args, **kwargs):
        attempts.append("download_and_prepare")
        raise OSError("download in a test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", no_network)
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", no_download)
    with pytest.raises(ValueError, match=r"not prepared.*tfds build mnist"):
        data.load("mnist", data_dir=str(tmp_path))
    assert attempts == []
    assert "tfds build" in tfds_loader.not_prepared_message("cifar10", None)


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="Received: dataset='no_such_dataset'"):
        data.load("no_such_dataset")


def test_transfer_samples_only_for_mnist1d():
    with pytest.raises(ValueError, match="transfer_samples"):
        data.load("mnist", transfer_samples=10)
