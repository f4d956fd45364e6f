"""Tests of `keras_distill.export.Preprocessing` and the raw-input signature it gives."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_distill.data import ClassificationData
from keras_distill.data import Normalization
from keras_distill.export import Preprocessing
from keras_distill.export import ServingSignature
from keras_distill.export import signature as signature_lib

MEAN, STD = [0.2, 0.4, 0.6], [0.1, 0.2, 0.3]


def image_classifier(shape=(8, 8, 3), classes=4):
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input(shape, name="image"), keras.layers.Flatten(),
                             keras.layers.Dense(classes)])


def pixels(n=5, shape=(8, 8, 3), seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, *shape)).astype("uint8")


def test_normalisation_matches_numpy_per_channel():
    preprocessing = Preprocessing((8, 8, 3), "uint8", Normalization(1 / 255, MEAN, STD))
    x = pixels()
    expected = (x.astype(np.float64) / 255 - np.array(MEAN)) / np.array(STD)
    np.testing.assert_allclose(preprocessing(tf.constant(x)).numpy(), expected, atol=1e-5)
    graph = tf.function(lambda t: preprocessing(t))  # Traced, as in the SavedModel.
    np.testing.assert_allclose(graph(tf.constant(x)).numpy(), expected, atol=1e-5)


def test_resize_matches_the_loaders_resize_then_normalisation():
    preprocessing = Preprocessing((None, None, 3), "uint8", {"scale": 1 / 255}, resize=(8, 8))
    x = pixels(shape=(13, 11, 3))
    # keras_distill.data's loaders: bilinear resize, rounded and clipped back to uint8.
    stored = tf.cast(tf.clip_by_value(tf.round(tf.image.resize(x, (8, 8))), 0, 255), tf.uint8)
    expected = stored.numpy().astype(np.float64) / 255
    np.testing.assert_allclose(preprocessing(tf.constant(x)).numpy(), expected, atol=1e-6)
    # Images already at the trained size pass the resize unchanged.
    np.testing.assert_allclose(preprocessing(stored).numpy(), expected, atol=1e-6)


def test_round_trip_through_a_dict():
    preprocessing = Preprocessing((None, None, 3), "uint8", Normalization(1 / 255, MEAN, STD),
                                  resize=[8, 8], class_names=["a", "b", "c", "d"])
    config = preprocessing.to_dict()
    assert config == {"input_shape": [None, None, 3], "input_dtype": "uint8",
                      "normalization": {"scale": 1 / 255, "mean": MEAN, "std": STD},
                      "resize": [8, 8], "class_names": ["a", "b", "c", "d"]}
    assert Preprocessing.from_dict(config) == preprocessing
    assert preprocessing.resize == (8, 8) and preprocessing.class_names == ("a", "b", "c", "d")


def test_from_data_reads_the_raw_spec_normalisation_and_class_names():
    x = pixels(20, shape=(6, 6, 1))
    examples = tf.data.Dataset.from_tensor_slices((x, np.arange(20) % 3))
    data = ClassificationData(
        name="tiny", train=examples, test=examples, num_classes=3, input_shape=(6, 6, 1),
        feature_name="image", normalization=Normalization.measure(x, scale=1 / 255),
        class_names=("zero", "one", "two"))
    preprocessing = Preprocessing.from_data(data)
    assert preprocessing.input_shape == (6, 6, 1) and preprocessing.input_dtype == "uint8"
    assert preprocessing.normalization == data.normalization
    assert preprocessing.class_names == ("zero", "one", "two")


@pytest.mark.parametrize("kwargs, match", [
    ({"input_dtype": "string"}, r"`input_dtype`. Expected an integer or floating-point dtype"),
    ({"input_shape": (28, 0)}, r"`input_shape`. Expected a non-empty tuple"),
    ({"normalization": {"scale": 1, "offset": 2}}, r"`normalization`. Expected a `Normalization`"),
    ({"normalization": {"std": [1.0, 0.0]}}, r"one positive `std`"),
    ({"normalization": "standardize"}, r"Received: normalization='standardize'"),
    ({"resize": (28,)}, r"`resize`. Expected `None` or \(height, width\)"),
    ({"input_shape": (784,), "resize": (28, 28)}, r"\(height, width, channels\)"),
    ({"class_names": "abc"}, r"`class_names`. Expected a non-empty list of strings"),
    ({"class_names": [1, 2]}, r"Received: class_names=\[1, 2\]"),
])
def test_invalid_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Preprocessing(**kwargs)


def test_signature_takes_raw_inputs_and_names_the_classes():
    model = image_classifier()
    names = ["cat", "dog", "emu", "fox"]
    signature = ServingSignature(model, preprocessing=Preprocessing(
        (8, 8, 3), "uint8", Normalization(1 / 255, MEAN, STD), class_names=names))
    spec = signature.input_specs[0]
    assert (spec.name, spec.dtype, spec.shape.as_list()) == ("image", tf.uint8, [None, 8, 8, 3])
    assert signature.output_names == ["logits", "probabilities", "class_ids", "classes"]
    x = pixels()
    outputs = signature.serve(tf.constant(x))
    normalised = (x.astype("float32") / 255 - np.array(MEAN)) / np.array(STD)
    np.testing.assert_allclose(outputs["logits"], model(normalised), atol=1e-4)
    assert [c.decode() for c in outputs["classes"].numpy()] == [
        names[i] for i in np.argmax(model(normalised), -1)]
    described = signature.describe()
    assert described["inputs"] == [{"name": "image", "shape": [None, 8, 8, 3], "dtype": "uint8"}]
    assert described["model_inputs"][0]["dtype"] == "float32"
    assert described["outputs"][-1] == {"name": "classes", "shape": [None], "dtype": "string"}


def test_signature_checks_the_preprocessing_against_the_model():
    model = image_classifier()
    with pytest.raises(ValueError, match=r"gives it inputs of shape \(6, 6, 3\)"):
        ServingSignature(model, preprocessing=Preprocessing((6, 6, 3), "uint8"))
    with pytest.raises(ValueError, match=r"one class name per class: 4 names"):
        ServingSignature(model, preprocessing=Preprocessing(class_names=["a", "b"]))
    regressor = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="is not served as a classifier"):
        ServingSignature(regressor, preprocessing=Preprocessing(class_names=["a"]))
    with pytest.raises(TypeError, match="Expected a `keras_distill.export.Preprocessing`"):
        ServingSignature(model, preprocessing={"scale": 1 / 255})
    a, b = keras.Input((2,), name="a"), keras.Input((2,), name="b")
    two_inputs = keras.Model([a, b], keras.layers.Dense(2)(keras.layers.Concatenate()([a, b])))
    with pytest.raises(ValueError, match="Expected a model with one input; this one has 2"):
        ServingSignature(two_inputs, preprocessing=Preprocessing(input_dtype="uint8"))


def test_without_preprocessing_nothing_changes():
    model = image_classifier()
    signature = ServingSignature(model)
    assert signature.preprocessing is None and signature.class_names is None
    assert signature.output_names == [signature_lib.LOGITS, signature_lib.PROBABILITIES,
                                      signature_lib.CLASS_IDS]
    assert signature.input_specs[0].dtype == tf.float32
