"""The conditional problems: exact densities, samplers, the SBI posterior against Bayes' rule."""

import numpy as np
import pytest

from tfp_rad import conditional_datasets

CONTEXTS = {
    "moving_mixture": [[-1.0], [-0.2], [0.6], [1.0]],
    "abs_posterior": [[1.6, 1.4], [1.6, 0.1], [0.1, 0.1], [-0.3, 0.8]],
}


def grid_2d(low, high, num):
    axis = np.linspace(low, high, num)
    xx, yy = np.meshgrid(axis, axis, indexing="ij")
    return axis, np.stack([xx.ravel(), yy.ravel()], axis=1)


@pytest.mark.parametrize("name", conditional_datasets.NAMES)
def test_conditional_densities_integrate_to_one_and_differ(name):
    axis, points = grid_2d(-6.0, 6.0, 1201)
    densities = []
    for context in CONTEXTS[name]:
        density = np.exp(conditional_datasets.conditional(name, context).log_prob(points))
        density = density.reshape(len(axis), len(axis))
        assert abs(np.trapezoid(np.trapezoid(density, axis), axis) - 1.0) < 2e-3, context
        densities.append(density)
    cell = (axis[1] - axis[0]) ** 2
    for a in range(len(densities)):
        for b in range(a):
            assert 0.5 * np.abs(densities[a] - densities[b]).sum() * cell > 0.2


def test_abs_posterior_is_bayes_rule():
    """p(theta | x) ∝ N(theta; 0, I) N(x; |R theta|, 0.2^2 I), normalized by quadrature."""
    axis, theta = grid_2d(-4.0, 4.0, 801)
    angle = np.pi / 6
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    cell = (axis[1] - axis[0]) ** 2
    for x in ([1.0, 0.4], [0.3, 1.8]):
        log_joint = (-0.5 * np.sum(theta**2, 1)
                     - 0.5 * np.sum((np.array(x) - np.abs(theta @ rotation.T)) ** 2, 1) / 0.04)
        posterior = np.exp(log_joint - log_joint.max())
        posterior /= posterior.sum() * cell
        exact = np.exp(conditional_datasets.conditional("abs_posterior", x).log_prob(theta))
        np.testing.assert_allclose(exact, posterior, atol=1e-3 * posterior.max())
        # Four modes: the posterior mass splits evenly between the four sign patterns of phi.
        phi = theta @ rotation.T
        for signs in ([1, 1], [1, -1], [-1, 1], [-1, -1]):
            quadrant = np.all(phi * signs > 0, axis=1)
            assert abs(exact[quadrant].sum() * cell - 0.25) < 5e-3


@pytest.mark.parametrize("name", conditional_datasets.NAMES)
def test_pairs_follow_the_conditional_density(name):
    """Points drawn for one context fall in bins as the density says."""
    context = np.array(CONTEXTS[name][1])
    distribution = conditional_datasets.conditional(name, np.tile(context, (100_000, 1)))
    samples = distribution.sample(seed=(2, 3)).numpy()
    edges = np.linspace(-4.0, 4.0, 21)
    axis, points = grid_2d(-4.0, 4.0, 20 * 8 + 1)
    density = np.exp(conditional_datasets.conditional(name, context).log_prob(points).numpy())
    density = density.reshape(len(axis), len(axis))
    corners = 0.25 * (density[1:, 1:] + density[:-1, 1:] + density[1:, :-1] + density[:-1, :-1])
    mass = (corners * (axis[1] - axis[0]) ** 2).reshape(20, 8, 20, 8).sum(axis=(1, 3))
    counts = np.histogram2d(samples[:, 0], samples[:, 1], bins=[edges, edges])[0] / len(samples)
    assert 0.5 * np.abs(counts - mass).sum() < 0.02
    shifted = np.histogram2d(samples[:, 0] + 0.3, samples[:, 1], bins=[edges, edges])[0]
    assert 0.5 * np.abs(shifted / len(samples) - mass).sum() > 0.05


def test_load_is_reproducible_and_simulates_the_sbi_pairs():
    x, c = conditional_datasets.load("abs_posterior", 1000, seed=4, dtype=np.float64)
    again, _ = conditional_datasets.load("abs_posterior", 1000, seed=4, dtype=np.float64)
    np.testing.assert_array_equal(x, again)
    assert not np.array_equal(x, conditional_datasets.load("abs_posterior", 1000, seed=5)[0])
    angle = np.pi / 6
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    noise = c - np.abs(x @ rotation.T)  # the simulator's noise, N(0, 0.2^2)
    assert abs(noise.std() - 0.2) < 0.02 and abs(noise.mean()) < 0.02
    points, contexts = conditional_datasets.load("moving_mixture", 500, seed=0)
    assert points.shape == (500, 2) and contexts.shape == (500, 1)
    assert np.all(np.abs(contexts) <= 1.0)


def test_oracle_is_the_mean_true_log_density():
    x, c = conditional_datasets.load("moving_mixture", 300, seed=1, dtype=np.float64)
    expected = np.mean([
        conditional_datasets.conditional("moving_mixture", c[i]).log_prob(x[i]).numpy()
        for i in range(300)])
    assert abs(conditional_datasets.oracle_log_likelihood("moving_mixture", x, c)
               - expected) < 1e-10


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="Unknown conditional problem 'ring'"):
        conditional_datasets.conditional("ring", [0.0])
    with pytest.raises(ValueError, match="1 entries on its last axis"):
        conditional_datasets.conditional("moving_mixture", [0.0, 1.0])
    with pytest.raises(ValueError, match="NaN or inf"):
        conditional_datasets.conditional("abs_posterior", [np.nan, 1.0])
    with pytest.raises(ValueError, match="seed must be an integer"):
        conditional_datasets.load("abs_posterior", 10, seed=-1)
    with pytest.raises(ValueError, match="10 points but 9 contexts"):
        conditional_datasets.oracle_log_likelihood("moving_mixture", np.zeros((10, 2)),
                                                   np.zeros((9, 1)))
