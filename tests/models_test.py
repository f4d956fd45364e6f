"""Tests of keras_distill.models: the reference MLP, CNN and GRU families."""

import keras
import numpy as np
import pytest

from keras_distill import models
from keras_distill import teacher as teacher_lib


@pytest.mark.parametrize("family", models.FAMILIES)
@pytest.mark.parametrize("input_shape", [(40,), (12, 12, 1)])
def test_families_output_logits_with_named_input(family, input_shape):
    model = models.build(family, input_shape, 7, width=4, depth=2, input_name="image")
    assert model.inputs[0].name == "image" or model.layers[0].name == "image"
    assert model.output.shape == (None, 7)
    assert teacher_lib.softmax_layer(model) is None  # Logits, not probabilities.
    out = model(np.random.rand(3, *input_shape).astype("float32"))
    assert not np.allclose(np.asarray(out).sum(-1), 1.0)


def test_width_and_depth_change_size():
    small = models.mlp((40,), 10, width=10, depth=1)
    assert small.count_params() == 40 * 10 + 10 + 10 * 10 + 10
    assert models.mlp((40,), 10, width=10, depth=3).count_params() > small.count_params()
    narrow = models.cnn((40,), 10, width=4).count_params()
    assert models.cnn((40,), 10, width=8).count_params() > 3 * narrow
    assert len([l for l in models.cnn((40,), 10, depth=4).layers if "conv" in l.name]) == 4


def test_cnn_is_1d_for_sequences_and_2d_for_images():
    conv = lambda m: {type(l).__name__ for l in m.layers if "conv" in l.name}  # noqa: E731
    assert conv(models.cnn((40,), 10)) == {"Conv1D"}
    assert conv(models.cnn((40, 3), 10)) == {"Conv1D"}
    assert conv(models.cnn((28, 28, 1), 10)) == {"Conv2D"}


def test_reference_sizes():
    teacher = models.reference_teacher((40,), 10)
    student = models.reference_student("cnn", (40,), 10)
    assert 100_000 < teacher.count_params() < 150_000
    assert teacher.count_params() / student.count_params() > 20
    assert models.reference_student("mlp", (40,), 10).count_params() == 15_210  # The paper's.
    bigger = models.reference_student("cnn", (40,), 10, size=2.5).count_params()
    assert 8 < teacher.count_params() / bigger < 12  # The benchmark's "1/10 of the teacher".


def test_same_seed_same_weights():
    a = models.build("cnn", (40,), 10, width=4, seed=3)
    b = models.build("cnn", (40,), 10, width=4, seed=3)
    c = models.build("cnn", (40,), 10, width=4, seed=4)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])


@pytest.mark.parametrize("call, match", [
    (lambda: models.build("resnet", (40,), 10), "Received: family='resnet'"),
    (lambda: models.mlp((40,), 10, width=0), "Received: width=0"),
    (lambda: models.cnn((40,), 10, depth=0), "Received: depth=0"),
    (lambda: models.gru((40,), 0), "Received: num_classes=0"),
    (lambda: models.cnn((1, 2, 3, 4), 10), "input_shape"),
    (lambda: models.reference_student("cnn", (40,), 10, size=0), "Received: size=0"),
])
def test_invalid_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_models_save_and_reload(tmp_path):
    model = models.build("gru", (40,), 10, width=4)
    path = str(tmp_path / "m.keras")
    model.save(path)
    x = np.random.rand(2, 40).astype("float32")
    np.testing.assert_allclose(keras.saving.load_model(path)(x), model(x), atol=1e-6)


@pytest.mark.slow
def test_reference_teacher_reaches_paper_cnn_accuracy_on_mnist1d():
    from keras_distill import data
    from keras_distill import workflow
    from keras_distill.config import RunConfig
    from keras_distill.workflow import training

    loaded = data.load("mnist1d", validation_split=0.1)
    config = RunConfig.for_command("train-teacher", epochs=15, seed=0, verbose=0)
    teacher, _ = workflow.train_teacher(loaded, config)
    # The MNIST-1D paper's CNN reaches about 94%; the reference teacher must too.
    teacher.compile(metrics=["accuracy"], loss=training.classification_loss())
    assert teacher.evaluate(loaded.batches("test", 1024), verbose=0)[1] >= 0.94
