"""The Keras surface of RADFlow and RealNVPFlow: fit, evaluate, save/load, dtypes, errors."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_rad import datasets, training
from tfp_rad.models import RADFlow, RealNVPFlow

MODELS = {"rad": RADFlow, "real_nvp": RealNVPFlow}


@pytest.fixture(scope="module")
def moons():
    return datasets.load("two_moons", num_samples=2000, seed=0)


@pytest.mark.parametrize("kind", MODELS)
def test_fit_lowers_the_nll_and_evaluate_reports_it(kind, moons):
    keras.utils.set_random_seed(0)
    model = MODELS[kind](2)
    model.compile(optimizer=keras.optimizers.Adam(5e-3))
    before = model.evaluate(moons, batch_size=500, verbose=0)
    history = model.fit(moons, batch_size=200, epochs=30, verbose=0)  # 300 steps
    after = model.evaluate(moons, batch_size=500, verbose=0)
    assert len(history.history["loss"]) == 30
    assert after < before - 0.5, (before, after)
    np.testing.assert_allclose(after, -np.mean(model.log_prob(moons)), rtol=1e-5)


@pytest.mark.parametrize("kind", MODELS)
def test_save_and_load_give_the_same_log_prob(kind, tmp_path, moons):
    model = MODELS[kind](2, num_layers=3)
    model.compile(optimizer="adam", jit_compile=False)  # saving is tested, not XLA
    model.fit(moons, batch_size=500, epochs=1, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)  # safe_mode=True by default
    assert type(loaded) is type(model) and loaded.num_layers == 3
    np.testing.assert_array_equal(loaded.log_prob(moons[:100]), model.log_prob(moons[:100]))
    np.testing.assert_array_equal(loaded.sample(5, seed=3), model.sample(5, seed=3))


def test_one_dimensional_rad_flow_stacks_free_standing_folds():
    model = RADFlow(1, num_layers=4)
    assert all(fold.conditioner is None for fold in model.folds)
    assert model.count_params() == 4 * (10 + (1 * 8 + 8) + (8 * 3 + 3))
    model.compile(optimizer="adam")
    x = np.random.default_rng(0).normal(size=(256, 1)).astype(np.float32)
    model.fit(x, batch_size=64, epochs=1, verbose=0)
    assert model.sample(10, seed=0).shape == (10, 1)


def test_parameter_counts_of_the_paper_architectures():
    # RAD layer: conditioner 1->8->10 and its tanh scale, gating 2->8->3.
    # Real NVP layer: 1->56->2 and its tanh scale.
    assert RADFlow(2).count_params() == 6 * ((1 * 8 + 8) + (8 * 10 + 10) + 1 + (2 * 8 + 8) + 27)
    assert RealNVPFlow(2).count_params() == 6 * ((1 * 56 + 56) + (56 * 2 + 2) + 1)


@pytest.mark.parametrize("kind", MODELS)
def test_float64_end_to_end(kind, float64, moons):
    model = MODELS[kind](2, num_layers=2)
    assert all(v.dtype == "float64" for v in model.weights)
    model.compile(optimizer="adam")
    model.fit(moons, batch_size=500, epochs=1, verbose=0)
    assert model.log_prob(moons[:10]).dtype == tf.float64
    assert model.sample(10, seed=1).dtype == tf.float64
    assert model.distribution.dtype == tf.float64


@pytest.mark.parametrize("kind", MODELS)
def test_distribution_is_a_tfp_distribution(kind):
    model = MODELS[kind](2, num_layers=2)
    assert isinstance(model.distribution, tfp.distributions.Distribution)
    assert model.distribution.event_shape == [2]


# ------------------------------------------------------------------------------------------
# Bad input.


@pytest.mark.parametrize("kind", MODELS)
def test_wrong_event_size_names_the_expected_size(kind):
    model = MODELS[kind](2, num_layers=2)
    with pytest.raises(ValueError, match="event size 2"):
        model.log_prob(np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match=r"event size 2.*\(10, 3\)"):
        model.fit(np.zeros((10, 3), np.float32), verbose=0)
    with pytest.raises(ValueError, match=r"2-D array \[num_points, 2\]"):
        model.fit(np.zeros(10, np.float32), verbose=0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_fit_data_is_rejected_before_any_step(bad, moons):
    model = RADFlow(2, num_layers=2)
    model.compile(optimizer="adam")
    weights = [w.numpy().copy() for w in model.weights]
    data = moons.copy()
    data[17, 1] = bad
    with pytest.raises(ValueError, match="NaN or inf.*index 17"):
        model.fit(data, verbose=0)
    assert all(np.array_equal(w, v.numpy()) for w, v in zip(weights, model.weights))


def test_empty_and_non_numeric_data_are_rejected():
    model = RADFlow(2, num_layers=2)
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="empty"):
        model.fit(np.zeros((0, 2), np.float32), verbose=0)
    with pytest.raises(ValueError, match="real numbers"):
        model.fit(np.array([["a", "b"]]), verbose=0)
    with pytest.raises(ValueError, match="real numbers"):
        model.log_prob(tf.constant([["a", "b"]]))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(event_size=0), "event_size must be a positive integer"),
        (dict(event_size=2, num_layers=0), "num_layers must be a positive integer"),
        (dict(event_size=2, hidden_units=-3), "hidden_units must be a positive integer"),
        (dict(event_size=2, num_layers=2.5), "num_layers must be a positive integer"),
    ],
)
@pytest.mark.parametrize("kind", MODELS)
def test_impossible_hyper_parameters_are_rejected(kind, kwargs, message):
    with pytest.raises(ValueError, match=message):
        MODELS[kind](**kwargs)


def test_real_nvp_needs_two_dimensions():
    with pytest.raises(ValueError, match="event_size must be >= 2"):
        RealNVPFlow(1)


def test_sample_size_must_be_positive():
    with pytest.raises(ValueError, match="n must be a positive integer"):
        RADFlow(2, num_layers=1).sample(0)


def _trained_weights(kind, x, steps_per_execution, **fit_kwargs):
    keras.utils.set_random_seed(11)
    model = (RADFlow if kind == "rad" else RealNVPFlow)(2, num_layers=2, dtype="float64")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2), jit_compile=True,
        steps_per_execution=steps_per_execution,
    )
    model.fit(x, verbose=0, shuffle=False, **fit_kwargs)
    return [np.asarray(w) for w in model.weights], int(model.optimizer.iterations.numpy())


@pytest.mark.parametrize("kind", MODELS)
def test_fused_steps_train_exactly_as_keras_own_loop(kind, moons, float64):
    """Steps fused into one XLA program (steps_per_execution > 1) = Keras's one-per-call."""
    dataset = training.shuffled_batches(moons[:2000].astype("float64"), 200, seed=3)
    own, own_steps = _trained_weights(kind, dataset, 1, epochs=2, steps_per_epoch=10)
    fused, fused_steps = _trained_weights(kind, dataset, 5, epochs=2, steps_per_epoch=10)
    assert own_steps == fused_steps == 20
    for a, b in zip(own, fused):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    assert not np.allclose(own[0], _trained_weights(kind, dataset, 5, epochs=1,
                                                    steps_per_epoch=10)[0][0])


def test_fused_steps_handle_an_epochs_short_last_batch(moons, float64):
    """Numpy input of 1050 points in batches of 500: runs of 500, 500, then 50."""
    x = moons[:1050].astype("float64")
    own, own_steps = _trained_weights("rad", x, 1, epochs=3, batch_size=500)
    fused, fused_steps = _trained_weights("rad", x, 4, epochs=3, batch_size=500)
    assert own_steps == fused_steps == 9
    for a, b in zip(own, fused):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_shuffled_batches_are_epoch_permutations():
    x = np.arange(1050, dtype="float32")[:, None] * np.ones((1, 2), "float32")
    batches = [b.numpy()[:, 0] for b in training.shuffled_batches(x, 100, seed=5).take(20)]
    first, second = np.concatenate(batches[:10]), np.concatenate(batches[10:])
    # Each epoch: 10 whole batches of distinct points; the 50 left over differ by epoch.
    assert len(np.unique(first)) == len(np.unique(second)) == 1000
    assert not np.array_equal(np.sort(first), np.sort(second))
    assert not np.array_equal(first, np.sort(first))  # shuffled
    again = [b.numpy()[:, 0] for b in training.shuffled_batches(x, 100, seed=5).take(20)]
    np.testing.assert_array_equal(np.concatenate(batches), np.concatenate(again))


# ------------------------------------------------------------------------------------------
# RADFlow keeps its layers' networks stacked; files saved with them per layer still load.

PER_LAYER_FILES = os.path.join(os.path.dirname(__file__), "data", "unstacked")


def test_radflow_trains_nine_stacked_variables():
    model = RADFlow(6, num_layers=4, hidden_units=5, gating_hidden_units=3)
    assert [tuple(v.shape) for v in model.trainable_variables] == [
        (4, 3, 5), (4, 5), (4, 5, 30), (4, 30), (4,),  # conditioners: [L, d/2, h] ... scale
        (4, 6, 3), (4, 3), (4, 3, 9), (4, 9)]  # gatings: [L, d, h_g] ...
    assert model.count_params() == 4 * (3 * 5 + 5 + 5 * 30 + 30 + 1 + 6 * 3 + 3 + 3 * 9 + 9)


@pytest.mark.parametrize("name", ["rad3_standardized", "rad2_conditional_whitened", "rad1",
                                  "rad4_ungated"])
def test_files_saved_with_per_layer_weights_load_with_their_log_prob(name, tmp_path):
    """Written by the code of commit 674fcd7 (weights per layer), with their log p."""
    import json
    import warnings

    import tfp_rad

    with open(os.path.join(PER_LAYER_FILES, "log_prob.json")) as f:
        record = json.load(f)[name]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = tfp_rad.load_model(os.path.join(PER_LAYER_FILES, f"{name}.keras"))
    assert any("optimizer's state is not" in str(w.message) for w in caught)
    assert model.optimizer is not None  # saved compiled, it comes back compiled
    x = np.array(record["x"], np.float32)
    context = None if record["context"] is None else np.array(record["context"], np.float32)
    np.testing.assert_allclose(model.log_prob(x, context=context), record["log_prob"],
                               rtol=1e-6, atol=1e-6)
    # Saved again, it is in the stacked layout and loads as it is.
    tfp_rad.save_model(model, tmp_path / "again.keras")
    again = tfp_rad.load_model(tmp_path / "again.keras")
    np.testing.assert_array_equal(again.log_prob(x, context=context),
                                  model.log_prob(x, context=context))
