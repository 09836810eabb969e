"""Tables done right: whitening inside the model, derived training defaults, dequantization,
the classical baselines, and the bundled tables with their splits."""

import warnings

import keras
import numpy as np
import pytest
import scipy.stats
import tensorflow as tf
from conftest import randomize, randomize_rad
from scipy.special import logsumexp

import tfp_rad
from tfp_rad import baselines, dequantization, tabular_data, training, whitening
from tfp_rad.models import RADFlow, RealNVPFlow


def correlated(n=400, d=3, seed=0):
    """Points of a correlated, shifted, non-Gaussian table `[n, d]`."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(n, d))
    u[:, 0] = np.abs(u[:, 0]) ** 1.5  # skewed
    mixing = np.tril(rng.normal(size=(d, d))) + 3 * np.eye(d)
    return u @ mixing.T + rng.normal(0, 10, d)


def lower_triangular(d, seed):
    """A random lower-triangular matrix with a positive diagonal (far from the identity)."""
    rng = np.random.default_rng(seed)
    a = np.tril(rng.normal(size=(d, d)))
    np.fill_diagonal(a, np.exp(rng.normal(0, 1, d)))
    return a


def copy_flow_weights(source, target):
    for a, b in zip(source.trainable_variables, target.trainable_variables):
        b.assign(a)


# ------------------------------------------------------------------------------------------
# Whitening.


def test_whitening_fit_is_the_mean_and_cholesky_factor_of_the_covariance():
    x = correlated()
    mean, scale_tril = whitening.fit(x)
    np.testing.assert_allclose(mean, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(scale_tril @ scale_tril.T, np.cov(x.T, bias=True), rtol=1e-10)
    assert np.all(np.triu(scale_tril, 1) == 0) and np.all(np.diag(scale_tril) > 0)
    u = whitening.whiten(x, mean, scale_tril)
    np.testing.assert_allclose(np.cov(u.T, bias=True), np.eye(3), atol=1e-10)
    assert whitening.log_det(scale_tril) == pytest.approx(
        0.5 * np.linalg.slogdet(np.cov(x.T, bias=True))[1], rel=1e-10)


@pytest.mark.parametrize("kind", [RADFlow, RealNVPFlow])
def test_whitened_model_on_affine_data_shifts_log_prob_by_log_det(kind, floatx):
    """`y = A x + b` with `A` lower triangular: `L_y = A L_x`, the flow sees the same `u`,
    and `log p(y) = log p(x) - log |det A|` for any flow weights."""
    x = correlated()
    d = x.shape[1]
    model = kind(d, num_layers=2, whiten=True)
    model.adapt(x)
    randomize_rad(model, seed=2) if kind is RADFlow else randomize(model, seed=2, scale=0.3)
    log_p = model.log_prob(x).numpy().astype(np.float64)
    a, b = 4.0 * lower_triangular(d, seed=5), np.array([100.0, -3.0, 0.5])
    y = x @ a.T + b
    other = kind(d, num_layers=2, whiten=True)
    copy_flow_weights(model, other)
    other.adapt(y)
    log_det_a = np.linalg.slogdet(a)[1]
    tolerance = 1e-3 if floatx == "float32" else 1e-9
    np.testing.assert_allclose(other.log_prob(y), log_p - log_det_a, rtol=0, atol=tolerance)
    assert abs(log_det_a) > 1.0  # the term matters here
    assert np.std(log_p) > 0.5  # and the flow is not trivial


def test_whitened_real_nvp_at_initialization_is_the_gaussian_for_any_affine_map(floatx):
    """At initialization a whitened Real NVP is the maximum-likelihood Gaussian, which is
    affine-equivariant for every invertible `A` (not only triangular ones)."""
    x = correlated()
    model = RealNVPFlow(3, num_layers=2, whiten=True)
    model.adapt(x)
    np.testing.assert_allclose(
        model.log_prob(x), baselines.Gaussian(x).log_prob(x),
        rtol=1e-5 if floatx == "float32" else 1e-10)
    a = np.random.default_rng(3).normal(size=(3, 3))
    other = RealNVPFlow(3, num_layers=2, whiten=True)
    other.adapt(x @ a.T)
    np.testing.assert_allclose(
        other.log_prob(x @ a.T), model.log_prob(x).numpy() - np.linalg.slogdet(a)[1],
        rtol=1e-4 if floatx == "float32" else 1e-9)


def test_whitened_density_integrates_to_one(float64):
    keras.utils.set_random_seed(0)
    model = RADFlow(2, num_layers=2, whiten=True)
    rng = np.random.default_rng(0)
    mixing = np.array([[0.5, 0.0], [3.0, 2.0]])
    model.adapt(rng.normal(size=(5000, 2)) @ mixing.T + [3.0, -2.0])
    randomize_rad(model, seed=1)
    # The box is mean +- 12 marginal standard deviations of the whitening.
    scale_tril = model.whitening_scale_tril.numpy()
    spread = np.sqrt(np.sum(scale_tril**2, axis=1))
    axes = [np.linspace(m - 12 * s, m + 12 * s, 1201)
            for m, s in zip(model.whitening_mean.numpy(), spread)]
    xx, yy = np.meshgrid(*axes, indexing="ij")
    grid = np.stack([xx.ravel(), yy.ravel()], axis=1)
    density = np.exp(tf.function(model.log_prob)(grid).numpy()).reshape(xx.shape)
    mass = np.trapezoid(np.trapezoid(density, axes[1]), axes[0])
    assert abs(mass - 1.0) < 1e-2, mass  # without the log-Jacobian it would be |det L| = 1


def test_save_and_load_keep_the_whitening(tmp_path):
    x = correlated()
    model = RealNVPFlow(3, num_layers=2, whiten=True)
    model.adapt(x)
    randomize(model, seed=1, scale=0.3)
    assert not any(v is model.whitening_scale_tril for v in model.trainable_variables)
    tfp_rad.save_model(model, tmp_path / "model.keras")
    loaded = tfp_rad.load_model(tmp_path / "model.keras")
    assert loaded.whiten and not loaded.standardize
    np.testing.assert_array_equal(loaded.whitening_scale_tril, model.whitening_scale_tril)
    np.testing.assert_array_equal(loaded.log_prob(x), model.log_prob(x))
    np.testing.assert_array_equal(loaded.sample(5, seed=2), model.sample(5, seed=2))


def test_training_leaves_the_whitening_unchanged():
    x = correlated(200)
    model = RADFlow(3, num_layers=1, whiten=True)
    model.adapt(x)
    before = model.whitening_scale_tril.numpy().copy()
    training.fit_steps(model, x, 5, batch_size=50, jit_compile=False, verbose=0)
    np.testing.assert_array_equal(model.whitening_scale_tril, before)


def test_legacy_models_load_without_whitening():
    from test_user_data import LEGACY_MODEL

    model = tfp_rad.load_model(LEGACY_MODEL)
    assert model.whiten is False and not hasattr(model, "whitening_mean")


def test_singular_covariances_get_a_clear_error_or_the_ridge():
    x = correlated(50)
    constant = x.copy()
    constant[:, 1] = 4.0
    with pytest.raises(ValueError, match=r"Column 1 .* is constant \(every value is 4.0\)"):
        RADFlow(3, num_layers=1, whiten=True).adapt(constant)
    collinear = x.copy()
    collinear[:, 2] = 2 * x[:, 0] - x[:, 1]
    with pytest.raises(ValueError, match=r"Columns \[0, 1, 2\] .* linearly dependent"):
        RADFlow(3, num_layers=1, whiten=True).adapt(collinear)
    with pytest.raises(ValueError, match="3 rows for 3 columns"):
        RADFlow(3, num_layers=1, whiten=True).adapt(x[:3])
    # The documented fallback: C + r diag(C).
    model = RealNVPFlow(3, num_layers=1, whiten=True)
    model.adapt(collinear, ridge=1e-3)
    covariance = np.cov(collinear.T, bias=True)
    expected = np.linalg.cholesky(covariance + 1e-3 * np.diag(np.diag(covariance)))
    np.testing.assert_allclose(model.whitening_scale_tril, expected, rtol=1e-5)
    assert np.all(np.isfinite(model.log_prob(collinear)))
    with pytest.raises(ValueError, match="ridge must be a positive number"):
        whitening.fit(x, ridge=-1.0)


def test_whiten_option_is_checked():
    with pytest.raises(ValueError, match="whiten must be True or False"):
        RADFlow(2, num_layers=1, whiten=1)
    with pytest.raises(ValueError, match="alternatives"):
        RADFlow(2, num_layers=1, whiten=True, standardize=True)
    with pytest.raises(ValueError, match="ridge applies to whiten=True only"):
        RADFlow(2, num_layers=1, standardize=True).adapt(correlated(50, 2), ridge=0.1)


# ------------------------------------------------------------------------------------------
# Derived training defaults.


def test_data_defaults_of_a_tiny_table():
    n = 40
    settings = training.data_defaults(n, 5)
    assert settings.batch_size <= n
    assert settings.steps_per_pass == n // settings.batch_size
    assert settings.validate_every <= settings.steps_per_pass  # a check in every pass
    assert settings.max_steps % settings.validate_every == 0
    assert settings.restore_best_weights


def test_data_defaults_of_a_large_table_can_stop_within_the_first_pass():
    small, large = training.data_defaults(1_000, 10), training.data_defaults(100_000, 10)
    assert large.batch_size >= small.batch_size
    assert large.steps_per_pass * large.batch_size <= 100_000
    # patience + 1 checks fit in one pass: early stopping can end training in pass one.
    assert (large.patience + 1) * large.validate_every <= large.steps_per_pass
    assert large.max_steps >= small.max_steps
    assert large.max_steps % large.validate_every == 0


def test_data_defaults_take_overrides_and_derive_the_rest_from_them():
    base = training.data_defaults(5_000, 4)
    other = training.data_defaults(5_000, 4, batch_size=base.batch_size * 2)
    assert other.batch_size == 2 * base.batch_size
    assert other.steps_per_pass == 5_000 // other.batch_size
    chosen = training.data_defaults(5_000, 4, patience=3, validate_every=7, max_steps=100,
                                    learning_rate=0.01, weight_decay=1e-4)
    assert (chosen.patience, chosen.validate_every) == (3, 7)
    assert chosen.max_steps == 105  # rounded up to whole checks
    assert chosen.fit_steps_arguments()["steps_per_epoch"] == 7
    assert chosen.fit_steps_arguments()["weight_decay"] == 1e-4
    for bad, message in [
        ({"epochs": 3}, "Unknown training settings"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"batch_size": 6_000}, "larger than the 5000 training rows"),
        ({"learning_rate": -1.0}, "learning_rate must be a positive number"),
        ({"weight_decay": "x"}, "weight_decay must be a positive number"),
        ({"restore_best_weights": False}, "always True"),
    ]:
        with pytest.raises(ValueError, match=message):
            training.data_defaults(5_000, 4, **bad)
    with pytest.raises(ValueError, match="num_train must be a positive integer"):
        training.data_defaults(0, 4)
    for kind, rate in training.DATA_LEARNING_RATES.items():
        assert training.data_defaults(5_000, 4, kind).learning_rate == rate
    with pytest.raises(ValueError, match="kind must be one of"):
        training.data_defaults(5_000, 4, "maf")


def test_training_with_the_defaults_keeps_the_best_validation_weights():
    x, v = correlated(120, seed=0), correlated(60, seed=1)
    settings = training.data_defaults(len(x), 3, max_steps=60, learning_rate=0.02)
    keras.utils.set_random_seed(0)
    model = RealNVPFlow(3, num_layers=2, hidden_units=16, whiten=True)
    model.adapt(x)
    history, _ = training.fit_steps(model, x, validation_data=v, verbose=0, jit_compile=False,
                                    **settings.fit_steps_arguments())
    losses = history.history["val_loss"]
    assert len(losses) * settings.validate_every == model.optimizer.iterations.numpy()
    np.testing.assert_allclose(-training.mean_log_likelihood(model, v), min(losses), rtol=1e-5)


# ------------------------------------------------------------------------------------------
# Dequantization.


def mixed_table(n=200, seed=0):
    """Columns: continuous, integer counts, two values, a 0.1 grid with repeats, all zero."""
    rng = np.random.default_rng(seed)
    return np.stack([
        rng.normal(size=n),
        rng.poisson(4.0, size=n).astype(float),
        np.where(rng.uniform(size=n) < 0.3, -0.25, 1.5),
        np.round(rng.normal(5.0, 0.5, size=n), 1),
        np.zeros(n),
    ], axis=1)


def test_detect_finds_the_discrete_columns_and_their_steps():
    x = mixed_table()
    found = dequantization.detect(x)
    assert found.columns == (1, 2, 3, 4)
    np.testing.assert_allclose(found.steps, [1.0, 1.75, 0.1, 1.0])
    assert found.log_cell_volume == pytest.approx(np.sum(np.log(found.steps)))
    evens = np.random.default_rng(0).integers(0, 50, size=(100, 1)) * 2.0
    assert dequantization.detect(evens).steps == (2.0,)
    assert "x1 (step 1)" in found.describe()
    assert dequantization.detect(x, columns=[]).columns == ()
    assert dequantization.detect(x, columns=[3, 0]).columns == (0, 3)


def test_dequantization_noise_is_seeded_and_within_one_step():
    x = mixed_table()
    found = dequantization.detect(x)
    y = found(x, seed=4)
    np.testing.assert_array_equal(y, found(x, seed=4))
    assert not np.array_equal(y, found(x, seed=5))
    np.testing.assert_array_equal(y[:, 0], x[:, 0])  # untouched
    offsets = (y - x)[:, list(found.columns)] / np.asarray(found.steps)
    assert np.all(offsets >= 0) and np.all(offsets < 1) and offsets.std() > 0.2


def test_dequantized_likelihood_bounds_the_discrete_one():
    """`log P(v) >= E_e[log p(v + h e)] + log h` for a Gaussian fitted to dequantized counts,
    with `P(v)` the Gaussian's exact mass on the cell `[v, v + h)`."""
    rng = np.random.default_rng(0)
    counts = 2.0 * rng.binomial(6, 0.4, size=(300, 1))  # grid step 2
    found = dequantization.detect(counts)
    assert found.steps == (2.0,)
    gaussian = baselines.Gaussian(found(counts, seed=0))
    mean, sd = gaussian.mean[0], gaussian.scale_tril[0, 0]
    values = np.unique(counts)
    exact = np.log(scipy.stats.norm.cdf(values + 2, mean, sd) - scipy.stats.norm.cdf(values, mean, sd))
    draws = np.stack([gaussian.log_prob(found(values[:, None], seed=s)) for s in range(2000)])
    bound = draws.mean(axis=0) + found.log_cell_volume
    assert np.all(bound <= exact + 0.01), (bound, exact)  # 0.01: Monte Carlo error
    assert np.all(exact - bound < 1.0)  # and a tight one


def test_detect_warns_about_duplicated_rows_and_checks_columns():
    x = np.repeat(mixed_table(20), 2, axis=0)
    with pytest.warns(UserWarning, match="20 duplicated row"):
        dequantization.detect(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dequantization.detect(mixed_table(20))  # no duplicates, no warning
    for columns, message in [([5], "out of range"), ([1, 1], "named twice"),
                             ([-1], "non-negative integer")]:
        with pytest.raises(ValueError, match=message):
            dequantization.detect(mixed_table(), columns=columns)
    constant = np.full((10, 1), 0.5)
    with pytest.raises(ValueError, match="Column 0 is constant"):
        dequantization.detect(constant, columns=[0])


# ------------------------------------------------------------------------------------------
# Baselines.


def test_gaussian_baseline_is_scipys_maximum_likelihood_gaussian():
    x, v = correlated(300, seed=0), correlated(100, seed=1)
    expected = scipy.stats.multivariate_normal(x.mean(0), np.cov(x.T, bias=True))
    np.testing.assert_allclose(baselines.Gaussian(x).log_prob(v), expected.logpdf(v), rtol=1e-10)
    results = baselines.fit_baselines(x, v, v)
    assert [r.name for r in results] == ["gaussian", "gaussian_mixture", "kde"]
    assert results[0].validation == pytest.approx(np.mean(expected.logpdf(v)), rel=1e-10)
    assert results[0].train == pytest.approx(np.mean(expected.logpdf(x)), rel=1e-10)
    assert results[0].test == results[0].validation


def mixture_log_prob(mixture, mean, scale_tril, x):
    """A fitted sklearn mixture of whitened points, mapped to data units, evaluated directly."""
    k, d = mixture.means_.shape
    covariances = {
        "full": lambda: mixture.covariances_,
        "tied": lambda: np.repeat(mixture.covariances_[None], k, axis=0),
        "diag": lambda: np.stack([np.diag(c) for c in mixture.covariances_]),
        "spherical": lambda: np.stack([c * np.eye(d) for c in mixture.covariances_]),
    }[mixture.covariance_type]()
    parts = [
        np.log(w) + scipy.stats.multivariate_normal(
            mean + scale_tril @ mu, scale_tril @ c @ scale_tril.T).logpdf(x)
        for w, mu, c in zip(mixture.weights_, mixture.means_, covariances)
    ]
    return logsumexp(np.stack(parts), axis=0)


def test_gaussian_mixture_is_chosen_on_validation_and_evaluated_in_data_units():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [8.0, 1.0], [0.0, 9.0]])
    x = centres[rng.integers(0, 3, 900)] + rng.normal(size=(900, 2)) * [1.0, 0.3]
    x = x * [100.0, 0.01]  # units far from 1
    train, held = x[:600], x[600:]
    fitted = baselines.GaussianMixture(train, held, seed=0)
    g = fitted.whitening
    np.testing.assert_allclose(
        fitted.log_prob(held), mixture_log_prob(fitted.mixture, g.mean, g.scale_tril, held),
        rtol=1e-8)
    chosen = np.mean(fitted.log_prob(held))
    for k, kind in [(1, "full"), (2, "spherical"), (3, "diag")]:
        other = baselines.GaussianMixture(train, held, components=(k,), covariance_types=(kind,))
        assert np.mean(other.log_prob(held)) <= chosen + 1e-12
    assert fitted.settings["components"] >= 3


def test_kernel_density_is_the_direct_sum_with_the_bandwidth_best_on_validation():
    x, v = correlated(150, seed=0), correlated(60, seed=1)
    fitted = baselines.KernelDensity(x, v)
    g = fitted.whitening
    u_train, u_held = g.whiten(x), g.whiten(v)
    d = x.shape[1]

    def direct(points, bandwidth):
        squared = np.sum((points[:, None, :] - u_train[None]) ** 2, axis=-1)
        log_kernel = -0.5 * squared / bandwidth**2 - 0.5 * d * np.log(2 * np.pi * bandwidth**2)
        return logsumexp(log_kernel, axis=1) - np.log(len(u_train)) - whitening.log_det(
            g.scale_tril)

    bandwidth = fitted.settings["bandwidth"]
    np.testing.assert_allclose(fitted.log_prob(v), direct(u_held, bandwidth), rtol=1e-8)
    scott = len(x) ** (-1 / (d + 4))
    scores = [np.mean(direct(u_held, f * scott)) for f in baselines.BANDWIDTH_FACTORS]
    assert bandwidth == pytest.approx(baselines.BANDWIDTH_FACTORS[int(np.argmax(scores))] * scott)


def test_baselines_refuse_mismatched_tables():
    with pytest.raises(ValueError, match="Validation rows must have event size 3"):
        baselines.fit_baselines(correlated(50), np.ones((5, 2)))
    with pytest.raises(ValueError, match="more rows than columns"):
        baselines.fit_baselines(correlated(3), correlated(5))


# ------------------------------------------------------------------------------------------
# Bundled tables and splits.


@pytest.mark.parametrize("name", tabular_data.TABLES)
def test_bundled_tables_are_scikit_learns_features(name):
    from sklearn import datasets

    x, names = tabular_data.load(name)
    loader = getattr(datasets, f"load_{name}")
    bunch = loader(scaled=False) if name == "diabetes" else loader()
    np.testing.assert_array_equal(x, bunch.data)
    assert x.dtype == np.float64 and len(names) == x.shape[1]


def test_diabetes_two_valued_sex_column_is_dequantized():
    x, names = tabular_data.load("diabetes")
    found = dequantization.detect(x)
    assert names.index("sex") in found.columns
    assert len(np.unique(x[:, names.index("sex")])) == 2


def test_split_partitions_the_rows_by_seed():
    x = np.arange(200.0).reshape(100, 2)
    train, held, test = tabular_data.split(x, seed=3, validation_fraction=0.15, test_fraction=0.2)
    assert (len(train), len(held), len(test)) == (65, 15, 20)
    together = np.concatenate([train, held, test])[:, 0]
    np.testing.assert_array_equal(np.sort(together), x[:, 0])
    again = tabular_data.split(x, seed=3, validation_fraction=0.15, test_fraction=0.2)
    np.testing.assert_array_equal(again[2], test)
    assert not np.array_equal(tabular_data.split(x, seed=4)[2], test)
    assert tabular_data.split(x, test_fraction=0)[2] is None


def test_split_refuses_a_table_too_small_and_bad_fractions():
    with pytest.raises(ValueError, match="too small to split"):
        tabular_data.split(np.ones((3, 2)), validation_fraction=0.1, test_fraction=0.1)
    with pytest.raises(ValueError, match="leaves no training rows"):
        tabular_data.split(np.ones((30, 2)), validation_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ValueError, match=r"test_fraction must be a number in \[0, 1\)"):
        tabular_data.split(np.ones((30, 2)), test_fraction=1.5)
    with pytest.raises(ValueError, match="Unknown table 'titanic'"):
        tabular_data.load("titanic")


# ------------------------------------------------------------------------------------------
# RAD started near the identity.


@pytest.mark.parametrize("d", [1, 3])
def test_whitened_rad_started_near_the_identity_is_the_gaussian(d, floatx):
    from tfp_rad.models.initialization import start_near_identity

    x = correlated(300, d)
    model = RADFlow(d, num_layers=3, hidden_units=8, gating_hidden_units=0, whiten=True)
    model.adapt(x)
    gaussian = baselines.Gaussian(x).log_prob(x)
    uniform_gap = np.max(np.abs(model.log_prob(x).numpy() - gaussian))
    start_near_identity(model, beta=5.0)
    gap = np.max(np.abs(model.log_prob(x).numpy() - gaussian))
    assert gap < 0.05 < uniform_gap, (gap, uniform_gap)
    start_near_identity(model, beta=3.0)  # a smaller margin: further from the Gaussian
    assert np.max(np.abs(model.log_prob(x).numpy() - gaussian)) > gap
    with pytest.raises(ValueError, match="beta must be in"):
        start_near_identity(model, beta=7.0)
    with pytest.raises(ValueError, match="no RAD folds"):
        start_near_identity(RealNVPFlow(2, num_layers=1))


def test_data_architecture_grows_with_the_columns_and_builds_models():
    widths = [training.data_architecture("real_nvp", d)["hidden_units"] for d in (2, 30, 64, 500)]
    assert widths == sorted(widths) and widths[0] < widths[-1]
    assert training.data_architecture("rad", 4)["gating_hidden_units"] == 0
    assert RADFlow(4, **training.data_architecture("rad", 4)).gatings[0] is None
    with pytest.raises(ValueError, match="kind must be"):
        training.data_architecture("maf", 4)


def test_comparison_says_plainly_when_the_flow_is_below_the_best_baseline():
    results = [baselines.BaselineResult("gaussian", -3.0, -3.5, None, {}),
               baselines.BaselineResult("kde", -2.0, -3.1, None, {})]
    below = baselines.comparison(-3.3, results)
    assert below["flow_below_best_baseline"] and below["best_baseline"] == "kde"
    assert below["flow_minus_best_baseline"] == pytest.approx(-0.2)
    assert below["message"].startswith("The flow is below the best baseline")
    above = baselines.comparison(-3.0, results)
    assert not above["flow_below_best_baseline"] and "above" in above["message"]


def test_large_tables_choose_baseline_settings_on_seeded_subsets(monkeypatch):
    monkeypatch.setattr(baselines, "MAX_SELECTION_TRAIN", 60)
    monkeypatch.setattr(baselines, "MAX_SELECTION_VALIDATION", 40)
    x, v = correlated(200, seed=0), correlated(100, seed=1)
    kde = baselines.KernelDensity(x, v, seed=3)
    assert np.asarray(kde.kde.tree_.data).shape == (60, 3)
    again = baselines.KernelDensity(x, v, seed=3)
    np.testing.assert_array_equal(kde.log_prob(v), again.log_prob(v))
    mixture = baselines.GaussianMixture(x, v, components=(2,), covariance_types=("full",))
    refitted = mixture.mixture.means_
    u = mixture.whitening.whiten(x)
    from sklearn.mixture import GaussianMixture as Reference

    np.testing.assert_allclose(
        refitted, Reference(2, covariance_type="full", random_state=0).fit(u).means_)


# ------------------------------------------------------------------------------------------
# The study's table.


def test_tabular_study_table_pairs_rad_with_the_baselines_by_seed(tmp_path):
    import json

    from tfp_rad.experiments import tabular

    (tmp_path / "runs").mkdir()
    tests = {"gaussian": [-3.0, -2.0], "gaussian_mixture": [-2.5, -1.0], "kde": [-2.8, -1.5],
             "rad": [-2.9, -1.2], "real_nvp": [-3.1, -2.2]}
    validations = {"gaussian_mixture": [-2.6, -1.7], "kde": [-2.4, -1.8]}
    for model, values in tests.items():
        for seed, value in enumerate(values):
            record = {"model": model, "seed": seed, "test": value, "rows": [6, 2, 2],
                      "columns": 3, "validation": validations.get(model, [0, 0])[seed]}
            path = tabular.run_path(str(tmp_path), "wine", seed, model)
            (tmp_path / "runs" / path.split("/")[-1]).write_text(json.dumps(record))
    text = open(tabular.write_table(str(tmp_path), ["wine"], [0, 1])).read()
    row = next(line for line in text.splitlines() if line.startswith("| wine"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "10 × 3"
    gaps = [-2.9 - -3.0, -1.2 - -2.0]  # RAD - Gaussian
    assert cells[7] == f"{np.mean(gaps):.3f} ± {np.std(gaps, ddof=1):.3f} (n=2), ahead 2/2"
    best = [-2.9 - -2.8, -1.2 - -1.0]  # seed 0: the KDE (validation), seed 1: the mixture
    assert cells[8] == f"{np.mean(best):.3f} ± {np.std(best, ddof=1):.3f} (n=2), ahead 0/2"
