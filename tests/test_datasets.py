"""Tests for `tfp_rad.datasets`: exact densities, matching samplers, loading, errors."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_rad import datasets

tfd = tfp.distributions

# Every problem's mass lies well inside this square (the largest extent is the spiral's
# outer end at radius 2.51, 7 stds from the edge of [-3.2, 3.2]).
LIMIT = 3.2
NUM_BINS = 24
SUB_CELLS = 8  # midpoint-rule sub-cells per bin axis: step 0.033 < 0.05, the smallest std
NUM_SAMPLES = 400_000
# At 400k samples and 24 x 24 bins, the expected total variation of a correct sampler is
# 0.003-0.008 (computed in `test_samples_match_density`), well under this threshold.
TV_THRESHOLD = 0.02


def _log_prob(distribution, points, chunk=20_000):
    """float64 log_prob of `[n, 2]` points, in chunks to bound the `n * K` memory."""
    return np.concatenate(
        [distribution.log_prob(points[i:i + chunk]).numpy() for i in range(0, len(points), chunk)]
    )


def _midpoints(limit, num_cells):
    step = 2.0 * limit / num_cells
    axis = -limit + step * (np.arange(num_cells) + 0.5)
    u, v = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([u.ravel(), v.ravel()], axis=-1), step


def _bin_probabilities(distribution):
    """Density integrated over each of the `NUM_BINS^2` bins, by the midpoint rule."""
    cells = NUM_BINS * SUB_CELLS
    points, step = _midpoints(LIMIT, cells)
    mass = np.exp(_log_prob(distribution, points)) * step**2
    return mass.reshape(NUM_BINS, SUB_CELLS, NUM_BINS, SUB_CELLS).sum(axis=(1, 3))


def _total_variation(samples, probabilities):
    """TV between the empirical bin frequencies and `probabilities`, plus the outside mass."""
    counts, _, _ = np.histogram2d(
        samples[:, 0], samples[:, 1], bins=NUM_BINS, range=[[-LIMIT, LIMIT]] * 2
    )
    frequencies = counts / len(samples)
    outside = abs(frequencies.sum() - probabilities.sum())
    return 0.5 * (np.abs(frequencies - probabilities).sum() + outside)


@pytest.fixture(scope="module", params=datasets.NAMES)
def problem(request):
    """A problem's name, float64 distribution, samples and bin probabilities."""
    name = request.param
    distribution = datasets.get(name, tf.float64)
    samples = distribution.sample(NUM_SAMPLES, seed=(5, 7)).numpy()
    return name, distribution, samples, _bin_probabilities(distribution)


def test_names():
    assert datasets.NAMES == (
        "grid", "ring", "two_moons", "two_circles", "spiral", "many_moons"
    )


@pytest.mark.parametrize("name", datasets.NAMES)
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_get_is_mixture_of_requested_dtype(name, dtype):
    distribution = datasets.get(name, dtype)
    assert isinstance(distribution, tfd.MixtureSameFamily)
    assert isinstance(distribution.components_distribution, tfd.MultivariateNormalDiag)
    assert distribution.batch_shape == []
    assert distribution.event_shape == [2]
    assert distribution.dtype == dtype
    assert distribution.components_distribution.loc.dtype == dtype
    samples = distribution.sample(5, seed=(1, 2))
    assert samples.shape == [5, 2] and samples.dtype == dtype
    log_prob = distribution.log_prob(samples)
    assert log_prob.dtype == dtype
    exact = datasets.get(name, tf.float64).log_prob(tf.cast(samples, tf.float64))
    np.testing.assert_allclose(log_prob.numpy(), exact.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", datasets.NAMES)
def test_log_prob_integrates_to_one(name):
    # Midpoint sum with step h: by Poisson summation a Gaussian of std s is integrated with
    # relative error about 2 exp(-2 pi^2 s^2 / h^2) per axis, < 1e-13 for h = 0.04 and
    # s >= 0.05; the mass outside [-4, 4]^2 is beyond 14 stds. So 1e-3 is very loose.
    points, step = _midpoints(4.0, 200)
    integral = np.exp(_log_prob(datasets.get(name, tf.float64), points)).sum() * step**2
    assert abs(integral - 1.0) < 1e-3


def test_samples_match_density(problem):
    name, _, samples, probabilities = problem
    # E|frequency - p| of a bin is about sqrt(2 p (1 - p) / (pi n)).
    spread = probabilities * (1.0 - probabilities)
    noise = 0.5 * np.sum(np.sqrt(2.0 * spread / (np.pi * NUM_SAMPLES)))
    assert noise < TV_THRESHOLD / 2, f"{name}: the test cannot tell noise from error"
    assert _total_variation(samples, probabilities) < TV_THRESHOLD


def test_shifted_samples_fail(problem):
    # Moving every sample by one band/mode std is caught many times over.
    name, _, samples, probabilities = problem
    assert _total_variation(samples + [0.1, 0.0], probabilities) > 5 * TV_THRESHOLD, name


def test_wider_density_fails(problem):
    # A density whose stds are 25 % too large is caught too.
    name, distribution, samples, _ = problem
    components = distribution.components_distribution
    wider = tfd.MixtureSameFamily(
        distribution.mixture_distribution,
        tfd.MultivariateNormalDiag(components.loc, 1.25 * components.stddev()),
    )
    assert _total_variation(samples, _bin_probabilities(wider)) > 2 * TV_THRESHOLD, name


@pytest.mark.parametrize("name", datasets.NAMES)
def test_load_deterministic_and_seeded(name):
    first = datasets.load(name, 1000, seed=3)
    assert first.shape == (1000, 2)
    assert first.dtype == np.float32
    np.testing.assert_array_equal(first, datasets.load(name, 1000, seed=3))
    assert not np.allclose(first, datasets.load(name, 1000, seed=4))
    as_float64 = datasets.load(name, 1000, seed=3, dtype=np.float64)
    assert as_float64.dtype == np.float64
    np.testing.assert_array_equal(as_float64.astype(np.float32), first)


@pytest.mark.parametrize("name", datasets.NAMES)
def test_data_roughly_unit_scale(name):
    data = datasets.load(name, 10000, seed=1)
    assert np.all(np.abs(data) < 4.0)
    assert np.all((data.std(axis=0) > 0.5) & (data.std(axis=0) < 2.0))
    assert np.all(np.abs(data.mean(axis=0)) < 0.5)


@pytest.mark.parametrize("name", datasets.NAMES)
def test_oracle_is_mean_log_prob(name):
    # 10,000 points span two of the oracle's evaluation chunks.
    data = datasets.load(name, 10000, seed=1)
    expected = np.mean(datasets.get(name, tf.float64).log_prob(data.astype(np.float64)))
    oracle = datasets.oracle_log_likelihood(name, data)
    assert isinstance(oracle, float)
    np.testing.assert_allclose(oracle, expected, rtol=1e-12)


@pytest.mark.parametrize(
    "name, num_modes, std", [("grid", 16, 0.1), ("ring", 8, 0.05)]
)
def test_oracle_of_separated_modes(name, num_modes, std):
    # Well-separated equal modes: E[log p] = -log K - log(2 pi std^2) - 1; the mean of
    # 10,000 points has a standard error of 0.007.
    expected = -np.log(num_modes) - np.log(2.0 * np.pi * std**2) - 1.0
    oracle = datasets.oracle_log_likelihood(name, datasets.load(name, 10000, seed=1))
    assert abs(oracle - expected) < 0.03


@pytest.mark.parametrize(
    "call",
    [
        lambda: datasets.get("moons"),
        lambda: datasets.load("moons"),
        lambda: datasets.oracle_log_likelihood("moons", np.zeros([3, 2])),
    ],
)
def test_unknown_name_lists_valid_names(call):
    with pytest.raises(ValueError, match="two_moons") as error:
        call()
    assert all(name in str(error.value) for name in datasets.NAMES)


@pytest.mark.parametrize("num_samples", [0, -5, 2.5, 10.0, True, "100"])
def test_load_rejects_bad_num_samples(num_samples):
    with pytest.raises(ValueError, match="num_samples"):
        datasets.load("grid", num_samples)


@pytest.mark.parametrize("seed", [-1, 2**31, 1.5])
def test_load_rejects_bad_seed(seed):
    with pytest.raises(ValueError, match="seed"):
        datasets.load("grid", 10, seed=seed)


def test_get_rejects_non_float_dtype():
    with pytest.raises(ValueError, match="float32 or float64"):
        datasets.get("grid", tf.int32)


@pytest.mark.parametrize(
    "x",
    [
        np.array([[0.0, np.nan], [1.0, 1.0]]),
        np.array([[0.0, np.inf]]),
        np.zeros([4, 3]),
        np.zeros([4]),
        np.zeros([0, 2]),
    ],
)
def test_oracle_rejects_bad_points(x):
    with pytest.raises(ValueError):
        datasets.oracle_log_likelihood("ring", x)
