"""Cached augmented views (`keras_distill.data.views`): what is stored, what each epoch replays,
and what is refused."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_distill as kd
from keras_distill import augment
from keras_distill.data import teacher_outputs as cached_format
from keras_distill.data import views as views_lib
from tests import helpers
from tests.helpers import SCCE

EXAMPLES, DIM, VIEWS = 12, 6, 3


def indexed_source(batch=4):
    """Example i is `i` in every feature, labelled `i`: a view's example can be read back."""
    x = np.repeat(np.arange(EXAMPLES, dtype="float32")[:, None], DIM, axis=1)
    return tf.data.Dataset.from_tensor_slices((x, np.arange(EXAMPLES))).batch(batch)


def noise(seed=0):
    return keras.layers.GaussianNoise(0.01, seed=seed)


def epochs_of(dataset, count):
    """Per epoch, `{label: (x row, logits row)}` as the dataset yields them."""
    seen = []
    for _ in range(count):
        rows = {}
        for inputs, y in dataset:
            x, outputs = cached_format.split_cached(inputs)
            for i, label in enumerate(y.numpy()):
                rows[int(label)] = (x[i].numpy(), outputs[cached_format.LOGITS][i].numpy())
        seen.append(rows)
    return seen


def test_each_view_carries_the_teachers_outputs_for_that_view_and_its_own_label():
    teacher = helpers.mlp(in_dim=DIM, classes=EXAMPLES)
    dataset = views_lib.cache_teacher_views(teacher, indexed_source(), noise(), views=VIEWS,
                                            batch_size=5, seed=1)
    for rows in epochs_of(dataset, 4):
        assert sorted(rows) == list(range(EXAMPLES))  # Every example once per epoch.
        for label, (x, logits) in rows.items():
            np.testing.assert_allclose(x, label, atol=0.1)  # Its own example, augmented.
            assert np.abs(x - label).max() > 0  # ... and not the raw input.
            np.testing.assert_allclose(logits, teacher(x[None])[0], rtol=1e-5, atol=1e-5)


def test_each_example_replays_at_most_views_distinct_views_and_more_than_one():
    teacher = helpers.mlp(in_dim=DIM, classes=EXAMPLES)
    dataset = views_lib.cache_teacher_views(teacher, indexed_source(), noise(), views=VIEWS,
                                            seed=2)
    distinct = {label: set() for label in range(EXAMPLES)}
    for rows in epochs_of(dataset, 12):
        for label, (x, _) in rows.items():
            distinct[label].add(x.tobytes())
    counts = [len(v) for v in distinct.values()]
    assert max(counts) == VIEWS and min(counts) >= 2, counts


def test_same_seeds_give_the_same_views_and_order():
    teacher = helpers.mlp(in_dim=DIM, classes=EXAMPLES)

    def first_epoch():
        dataset = views_lib.cache_teacher_views(teacher, indexed_source(), noise(seed=3),
                                                views=VIEWS, seed=4)
        return [tf.nest.flatten(batch)[0].numpy() for batch in dataset]

    for a, b in zip(first_epoch(), first_epoch()):
        np.testing.assert_array_equal(a, b)


def test_a_distiller_trains_on_views_without_its_own_augmentation_and_refuses_one():
    x, y = helpers.data(n=32, in_dim=DIM)
    source = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    teacher = helpers.mlp(in_dim=DIM, seed=1)
    views = views_lib.cache_teacher_views(teacher, source, noise(), views=2, seed=0)
    distiller = kd.Distiller(student=helpers.mlp(in_dim=DIM, hidden=(), seed=2), teacher=teacher)
    distiller.compile(optimizer="adam", student_loss_fn=SCCE, alpha=0.5, temperature=2.0)
    history = distiller.fit(views, epochs=2, verbose=0).history
    assert np.isfinite(history["loss"]).all()
    both = kd.Distiller(student=helpers.mlp(in_dim=DIM, hidden=(), seed=2), teacher=teacher,
                        augmentation=noise())
    both.compile(optimizer="adam", student_loss_fn=SCCE)
    with pytest.raises(ValueError, match="augmentation` with cached teacher outputs"):
        both.fit(views, epochs=1, verbose=0)


@pytest.mark.parametrize("augmentation,views,error,message", [
    (noise(), 0, ValueError, r"`views`.*Received: views=0"),
    (None, 2, ValueError, r"an augmentation to cache views of"),
    (augment.MixUp(1.0, seed=0), 2, ValueError, r"mixing augmentation.*Distill online"),
    ("shift", 2, TypeError, r"Expected a Keras layer"),
    (keras.layers.Lambda(lambda x: x[:, :3]), 2, ValueError, r"turns inputs of shape"),
    (keras.layers.Lambda(lambda x: x / 0.0), 2, ValueError, r"augmented x.*finite inputs"),
])
def test_bad_arguments_fail_before_anything_is_cached(augmentation, views, error, message):
    teacher = helpers.mlp(in_dim=DIM, classes=EXAMPLES)
    with pytest.raises(error, match=message):
        views_lib.cache_teacher_views(teacher, indexed_source(), augmentation, views=views)


def test_an_empty_dataset_is_refused_with_its_spec():
    teacher = helpers.mlp(in_dim=DIM, classes=EXAMPLES)
    with pytest.raises(ValueError, match=r"empty dataset \(\(TensorSpec"):
        views_lib.cache_teacher_views(teacher, indexed_source().take(0), noise(), views=2)
