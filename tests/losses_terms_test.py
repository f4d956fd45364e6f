"""The terms' keras.distillation methods (`compute_loss`, `validate_outputs`,
`validate_model_compatibility`), per-output losses and temperatures, against NumPy."""

import copy

import keras
import numpy as np
import pytest

from keras_distill import losses
from keras_distill.losses import terms
from tests import helpers

T = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]], "float32")
S = np.array([[1.0, 0.5, 0.2], [0.0, 1.0, 0.3]], "float32")


def test_compute_loss_is_the_mean_at_the_term_temperature():
    term = losses.LogitsDistillation(temperature=4.0)
    assert float(term.compute_loss(T, S)) == pytest.approx(np.mean(helpers.np_kd(T, S, 4.0)),
                                                           rel=1e-5)
    term.temperature = 2.0
    assert float(term.compute_loss(T, S)) == pytest.approx(np.mean(helpers.np_kd(T, S, 2.0)),
                                                           rel=1e-5)


def test_one_loss_per_output_skips_none_and_sums():
    term = losses.LogitsDistillation(temperature=2.0, loss={"a": "kl_divergence", "b": "logit_mse"})
    value = term.compute_loss({"a": T, "b": T}, {"a": S, "b": S})
    expected = np.mean(helpers.np_kd(T, S, 2.0)) + np.mean((T - S) ** 2)
    assert float(value) == pytest.approx(expected, rel=1e-5)
    values = losses.FeatureDistillation(loss=[None, "mae"]).per_output([T, T], [S, S], 1.0)
    assert values[0] is None
    np.testing.assert_allclose(values[1], np.mean(np.abs(T - S), axis=-1), rtol=1e-6)


def test_validate_outputs_raises_value_error_on_mismatch():
    for term in (losses.LogitsDistillation(), losses.FeatureDistillation()):
        term.validate_outputs(T, S)
        with pytest.raises(ValueError):
            term.validate_outputs(T, {"output": S})
    with pytest.raises(ValueError, match=r"Expected one loss per output.*Received: loss=\['mse'\]"):
        losses.FeatureDistillation(loss=["mse"]).validate_outputs([T, T], [S, S])
    with pytest.raises(ValueError, match="was given a single output"):
        losses.LogitsDistillation(loss=["kl_divergence", None]).per_example(T, S, 1.0)


def test_all_none_losses_are_refused():
    with pytest.raises(ValueError, match=r"at least one that is not None. Received: loss=\[None\]"):
        losses.LogitsDistillation(loss=[None])


def test_validate_model_compatibility_names_the_missing_layer():
    teacher, student = helpers.mlp(seed=1), helpers.mlp(seed=2)
    term = losses.FeatureDistillation(teacher_layer_name="nope", student_layer_name=None)
    with pytest.raises(ValueError, match="In teacher model: .*nope"):
        term.validate_model_compatibility(teacher, student)
    losses.LogitsDistillation().validate_model_compatibility(teacher, student)


def test_a_term_without_a_loss_says_what_to_implement():
    with pytest.raises(NotImplementedError, match="per_example.*or `compute_loss`"):
        terms.DistillationTerm().per_example(T, S, 1.0)


def test_configs_round_trip_with_per_output_losses_and_temperature():
    term = losses.LogitsDistillation(temperature=2.5, loss=["kl_divergence", None], name="kd")
    term.temperature = 6.0
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(term))
    assert (clone.temperature, clone.loss_identifier, clone.name) == (6.0, ["kl_divergence", None],
                                                                      "kd")


def test_a_copy_of_a_bound_term_is_unbound():
    term, variable = losses.LogitsDistillation(temperature=2.0), keras.Variable(1.0)
    term.bind_temperature(variable)
    clone = copy.deepcopy(term)
    clone.temperature = 7.0
    assert (term.temperature, float(variable.numpy()), clone.temperature) == (2.0, 2.0, 7.0)


def test_keras_distillation_losses_are_wrapped():
    keras_term = keras.distillation.FeatureDistillation(loss="mae")
    term = terms.as_term(keras_term)
    assert isinstance(term, terms.WrappedDistillationLoss) and term.name == "feature_distillation"
    assert float(term.compute_loss(T, S)) == pytest.approx(np.mean(np.abs(T - S)), rel=1e-6)
    np.testing.assert_allclose(term.per_output(T, S, 1.0)[0], [np.mean(np.abs(T - S))] * 2,
                               rtol=1e-6)
