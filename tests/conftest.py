"""Test set-up: quiet TensorFlow, two logical CPU devices for MirroredStrategy tests, seeds."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Must run before TensorFlow initialises its devices: split the CPU in two for the
# one-device-vs-MirroredStrategy equivalence tests.
_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)


@pytest.fixture(autouse=True)
def _seed_and_policy():
    keras.utils.set_random_seed(1234)
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.fixture(scope="session")
def mirrored():
    """One 2-replica MirroredStrategy for the whole session: several instances in one process
    reuse collective instance keys and abort each other's all-reduces."""
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


@pytest.fixture
def two_replicas(monkeypatch, mirrored):
    """`--strategy mirrored` gets the session's 2-replica strategy (one instance per process)."""
    from keras_distill import distribute

    monkeypatch.setattr(distribute, "get_strategy", lambda name="auto", **kwargs: mirrored)
    return mirrored
