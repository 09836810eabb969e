"""The defensive mixture `(1 - eps) p_flow + eps N(0, I)`: a density, its bound, its samples."""

import keras
import numpy as np
import pytest
import scipy.stats
import tensorflow as tf
from conftest import randomize, randomize_rad, total_variation
from scipy.special import logsumexp

import tfp_rad
from tfp_rad import catalog, training
from tfp_rad.models import RADFlow, RealNVPFlow, make_flow


def fitted_gaussian_log_prob(model, x):
    """`log N(x; mean, L L^T)` of the model's whitening (scipy)."""
    scale_tril = np.asarray(model.whitening_scale_tril, np.float64)
    return scipy.stats.multivariate_normal(
        np.asarray(model.whitening_mean, np.float64), scale_tril @ scale_tril.T
    ).logpdf(x)


def whitened_pair(eps, d=2, seed=0, **sizes):
    """A whitened, randomized RAD with the defensive mixture, and the same flow without."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(500, d)) @ np.tril(rng.normal(size=(d, d)) + 2 * np.eye(d)).T + 5
    models = []
    for weight in (eps, None):
        keras.utils.set_random_seed(seed)
        model = RADFlow(d, whiten=True, defensive_weight=weight, **sizes)
        model.adapt(x)
        randomize_rad(model, seed=seed + 1, tanh_scale=4.0)
        models.append(model)
    return models


def test_defensive_density_integrates_to_one(floatx):
    model, _ = whitened_pair(0.2, num_layers=2, hidden_units=8)
    scale_tril = model.whitening_scale_tril.numpy().astype(np.float64)
    spread = np.sqrt(np.sum(scale_tril**2, axis=1))
    axes = [np.linspace(m - 12 * s, m + 12 * s, 801)
            for m, s in zip(model.whitening_mean.numpy(), spread)]
    xx, yy = np.meshgrid(*axes, indexing="ij")
    grid = np.stack([xx.ravel(), yy.ravel()], axis=1)
    log_prob = tf.function(model.log_prob)(grid.astype(floatx)).numpy().astype(np.float64)
    density = np.exp(log_prob).reshape(xx.shape)
    mass = np.trapezoid(np.trapezoid(density, axes[1]), axes[0])
    assert abs(mass - 1.0) < 1e-2, mass


@pytest.mark.parametrize("eps", [0.05, 0.5])
def test_log_prob_is_the_mixture_and_bounded_below_on_far_rows(eps, floatx):
    model, flow_alone = whitened_pair(eps, d=3, num_layers=4, hidden_units=16)
    rng = np.random.default_rng(3)
    directions = rng.normal(size=(40, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    radii = np.repeat([1.0, 10.0, 100.0, 1000.0], 10)[:, None]
    scale_tril = model.whitening_scale_tril.numpy().astype(np.float64)
    rows = model.whitening_mean.numpy() + (radii * directions) @ scale_tril.T
    log_prob = model.log_prob(rows.astype(floatx)).numpy().astype(np.float64)
    gaussian = fitted_gaussian_log_prob(model, rows)
    flow = flow_alone.log_prob(rows.astype(floatx)).numpy().astype(np.float64)
    assert np.all(np.isfinite(log_prob))
    tolerance = 1e-4 * np.abs(gaussian) + (1e-3 if floatx == "float32" else 1e-9)
    assert np.all(log_prob >= np.log(eps) + gaussian - tolerance)
    expected = logsumexp([np.log1p(-eps) + flow, np.log(eps) + gaussian], axis=0)
    np.testing.assert_allclose(log_prob, expected, rtol=1e-4 if floatx == "float32" else 1e-9)
    # The flow alone falls far below the bound on some far row; the mixture never does.
    assert np.min(flow - gaussian) < np.log(eps) - 10


def test_samples_follow_the_defensive_density(float64):
    models = []
    for weight in (0.4, None):
        keras.utils.set_random_seed(0)
        model = RADFlow(1, num_layers=2, whiten=True, defensive_weight=weight)
        model.adapt(np.random.default_rng(0).gamma(2.0, 1.0, size=(2000, 1)))
        randomize_rad(model, seed=4, gating_scale=0.3)
        models.append(model)
    model, flow_alone = models
    samples = model.sample(40_000, seed=5).numpy()[:, 0]
    mean, scale = float(model.whitening_mean[0]), float(model.whitening_scale_tril[0, 0])
    edges = np.linspace(mean - 6 * scale, mean + 6 * scale, 41)
    assert total_variation(samples, model.log_prob, edges, refine=200) < 0.02
    assert total_variation(samples, flow_alone.log_prob, edges, refine=200) > 0.05
    np.testing.assert_array_equal(model.sample(10, seed=5), model.sample(10, seed=5))


@pytest.mark.parametrize("kind", ["rad", "real_nvp"])
def test_save_and_load_keep_the_defensive_mixture(kind, tmp_path):
    x = np.random.default_rng(0).normal(size=(300, 3)) * [1.0, 2.0, 3.0]
    model = make_flow(kind, 3, 2, 8, whiten=True, defensive_weight=0.1)
    model.adapt(x)
    randomize(model, seed=1, scale=0.3)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(x, batch_size=100, epochs=1, verbose=0)
    tfp_rad.save_model(model, tmp_path / "model.keras")
    loaded = tfp_rad.load_model(tmp_path / "model.keras")
    assert loaded.defensive_weight == 0.1
    np.testing.assert_array_equal(loaded.log_prob(x), model.log_prob(x))
    np.testing.assert_array_equal(loaded.sample(5, seed=2), model.sample(5, seed=2))


@pytest.mark.parametrize("weight", [0, 0.0, 1, 1.5, -0.1, True, float("nan"), "0.1", [0.1]])
def test_bad_defensive_weights_are_refused(weight):
    with pytest.raises(ValueError, match="defensive_weight"):
        RADFlow(2, defensive_weight=weight)
    with pytest.raises(ValueError, match="defensive_weight"):
        RealNVPFlow(2, defensive_weight=weight)


def test_off_by_default_and_on_for_tables():
    assert RADFlow(2).defensive_weight is None
    assert RealNVPFlow(2).distribution.name != "DefensiveMixture"
    assert make_flow("rad", 2, 2).get_config()["defensive_weight"] is None
    for kind in catalog.MODEL_KINDS:
        sizes = training.data_architecture(kind, 5)
        assert sizes["defensive_weight"] == catalog.DATA_DEFENSIVE_WEIGHT
        assert make_flow(kind, 5, **sizes).defensive_weight == 0.05
