"""RADDistribution as mathematics: normalization, sampling, continuity, gradients, composition."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from conftest import (
    boundary_probabilities,
    breakpoints,
    randomize,
    randomize_rad,
    total_variation,
    trapezoid_mass_1d,
)

from tfp_rad import PiecewiseFold, RADDistribution
from tfp_rad.models import RADFlow, RealNVPFlow
from tfp_rad.models.layers import mlp

tfd = tfp.distributions
tfb = tfp.bijectors


def random_flow(event_size, seed, num_layers=3):
    model = RADFlow(event_size, num_layers=num_layers)
    randomize_rad(model, seed)
    return model


def assert_far_from_uniform(model, x):
    """Guards the tests below against proving things about a near-identity model."""
    spreads = [np.ptp(boundary_probabilities(f, x)[0], axis=0).max() for f in model.folds]
    uniform = [np.abs(boundary_probabilities(f, x)[0] - 1 / 3).max() for f in model.folds]
    gating_std = [np.asarray(g(x)).std(axis=0).max() for g in model.gatings]
    assert max(uniform) > 0.15, uniform
    assert max(gating_std) > 0.5, gating_std
    return spreads


def grid_2d(low, high, num):
    axis = np.linspace(low, high, num)
    xx, yy = np.meshgrid(axis, axis, indexing="ij")
    return axis, np.stack([xx.ravel(), yy.ravel()], axis=1)


# ------------------------------------------------------------------------------------------
# Normalization and sampling.


@pytest.mark.parametrize("seed", [0, 4])
def test_1d_density_integrates_to_one(floatx, seed):
    model = random_flow(1, seed)
    assert_far_from_uniform(model, np.linspace(-3.0, 3.0, 50)[:, None])
    mass = trapezoid_mass_1d(tf.function(model.log_prob), -15.0, 15.0, 4_000_001)
    assert abs(mass - 1.0) < 1e-3


@pytest.mark.parametrize("seed", [0, 3])
def test_2d_density_integrates_to_one(float64, seed):
    model = random_flow(2, seed)
    assert_far_from_uniform(model, np.random.default_rng(0).normal(size=(500, 2)))
    axis, points = grid_2d(-10.0, 10.0, 2000)
    log_prob = tf.function(model.log_prob)
    density = np.exp(log_prob(points).numpy()).reshape(len(axis), len(axis))
    mass = np.trapezoid(np.trapezoid(density, axis), axis)
    assert abs(mass - 1.0) < 1e-2


def test_1d_samples_match_the_density(floatx):
    model = random_flow(1, 0)
    samples = model.sample(200_000, seed=7).numpy()[:, 0]
    edges = np.linspace(-12.0, 3.0, 151)
    assert total_variation(samples, model.log_prob, edges) < 0.02
    # The check has teeth: the same samples against another random model fail it.
    assert total_variation(samples, random_flow(1, 4).log_prob, edges) > 0.1


def test_2d_samples_match_the_density(float64):
    model = random_flow(2, 0)
    samples = model.sample(200_000, seed=3).numpy()
    edges = np.linspace(-9.0, 3.0, 31)
    axis, points = grid_2d(-9.0, 3.0, 30 * 8 + 1)
    density = np.exp(tf.function(model.log_prob)(points).numpy()).reshape(len(axis), len(axis))
    cell = (axis[1] - axis[0]) ** 2
    corners = 0.25 * (density[1:, 1:] + density[:-1, 1:] + density[1:, :-1] + density[:-1, :-1])
    mass = (corners * cell).reshape(30, 8, 30, 8).sum(axis=(1, 3))
    counts = np.histogram2d(samples[:, 0], samples[:, 1], bins=[edges, edges])[0]
    outside = 1.0 - counts.sum() / len(samples)
    tv = 0.5 * (np.abs(counts / len(samples) - mass).sum() + outside)
    assert tv < 0.02
    shifted = np.histogram2d(samples[:, 0] + 0.2, samples[:, 1], bins=[edges, edges])[0]
    assert 0.5 * np.abs(shifted / len(samples) - mass).sum() > 0.05


# ------------------------------------------------------------------------------------------
# Continuity at the breakpoints.


def breakpoints_in_data_space(model):
    """Every layer's breakpoints of a 1-D flow, pulled back to data space through all the
    feasible preimages of the layers before it."""
    points = []
    for depth, fold in enumerate(model.folds):
        level = breakpoints(fold).reshape(-1, 1)
        for earlier in reversed(model.folds[:depth]):
            feasible = earlier.feasible_pieces(level).numpy()[:, 0, :]
            rows, pieces = np.nonzero(feasible)
            level = earlier.unfold(level[rows], pieces[:, None].astype(np.int32)).numpy()
        points.append(level)
    return np.concatenate(points)


def one_sided_gap(log_prob, x, direction, delta):
    step = delta * direction
    return np.abs(np.asarray(log_prob(x + step)) - np.asarray(log_prob(x - step)))


def test_log_prob_is_continuous_at_every_breakpoint_1d(float64):
    model = random_flow(1, 0)
    x = breakpoints_in_data_space(model)
    assert len(x) > 4 * 3  # deeper layers' breakpoints have several preimages
    gap = one_sided_gap(model.log_prob, x, 1.0, 1e-10)
    assert gap.max() < 1e-6, gap.max()


def test_log_prob_is_continuous_at_the_coupling_breakpoints_2d(float64):
    model = random_flow(2, 1)
    rng = np.random.default_rng(5)
    x1 = rng.normal(size=(40, 2))  # the pass-through coordinate of layer 0 is x[:, 0]
    edges = breakpoints(model.folds[0], x1)[:, 0, :]  # [40, 4] values of x[:, 1]
    x = np.repeat(x1, 4, axis=0)
    x[:, 1] = edges.ravel()
    gap = one_sided_gap(model.log_prob, x, np.array([0.0, 1.0]), 1e-10)
    assert gap.max() < 1e-6, gap.max()


def test_plain_softmax_gating_breaks_continuity(float64):
    """Same folds and gating, but `p(k | z) = softmax(s(z))` inside [-1, 1]: jumps appear."""
    gaps = {}
    for conditioned in (True, False):
        keras.utils.set_random_seed(11)
        distribution = tfd.MultivariateNormalDiag(loc=tf.zeros([1], tf.float64))
        folds = []
        for i in range(2):
            fold = PiecewiseFold(1, boundary_conditioned_gating=conditioned)
            fold.raw_parameters.assign(np.random.default_rng(i).normal(0, 0.8, (1, 10)))
            gating = mlp(8, 3, f"gating_{i}")
            gating.build((None, 1))
            randomize(gating, 100 + i, 1.5)
            distribution = RADDistribution(distribution, fold, gating)
            folds.append(fold)
        x = breakpoints(folds[-1]).reshape(-1, 1)  # the outermost layer meets the data
        gaps[conditioned] = one_sided_gap(distribution.log_prob, x, 1.0, 1e-10)
    assert gaps[True].max() < 1e-6
    assert gaps[False].max() > 1e-2


# ------------------------------------------------------------------------------------------
# Gradients.


def test_gradients_are_finite_near_breakpoints_and_in_the_tails(floatx):
    model = random_flow(2, 2)
    rng = np.random.default_rng(0)
    x1 = rng.normal(size=(20, 2))
    near = np.repeat(x1, 8, axis=0)
    edges = breakpoints(model.folds[0], x1)[:, 0, :]
    near[:, 1] = np.concatenate([edges - 1e-6, edges + 1e-6], axis=1).ravel()
    tails = np.array([[1e3, -1e3], [-1e3, 1e3], [50.0, 50.0], [-50.0, 0.0]])
    x = tf.constant(np.concatenate([near, tails]), model.compute_dtype)
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(model.log_prob(x))
    gradients = tape.gradient(loss, model.trainable_variables)
    assert np.isfinite(loss.numpy())
    assert all(g is not None and np.all(np.isfinite(g)) for g in gradients)
    assert sum(float(tf.reduce_sum(tf.abs(g))) > 0 for g in gradients) == len(gradients)


# ------------------------------------------------------------------------------------------
# The distribution contract.


def test_shapes_dtype_and_batched_equals_single(floatx):
    model = random_flow(2, 0)
    distribution = model.distribution
    assert isinstance(distribution, tfd.Distribution)
    assert distribution.event_shape == [2] and distribution.batch_shape == []
    assert distribution.dtype == tf.as_dtype(floatx)
    x = np.random.default_rng(0).normal(size=(3, 4, 2)).astype(floatx)
    batched = distribution.log_prob(x)
    assert batched.shape == (3, 4)
    single = [[distribution.log_prob(x[i, j]).numpy() for j in range(4)] for i in range(3)]
    tolerance = 1e-5 if floatx == "float32" else 1e-12
    np.testing.assert_allclose(batched, single, rtol=tolerance, atol=tolerance)
    assert distribution.sample([5, 2], seed=(1, 2)).shape == (5, 2, 2)
    np.testing.assert_allclose(distribution.prob(x), np.exp(batched), rtol=1e-5)


def test_same_seed_same_samples():
    distribution = random_flow(2, 0).distribution
    a = distribution.sample(100, seed=(3, 4))
    np.testing.assert_array_equal(a, distribution.sample(100, seed=(3, 4)))
    assert not np.array_equal(a, distribution.sample(100, seed=(3, 5)))


def test_xla_and_eager_log_prob_and_sample_agree(floatx):
    model = random_flow(2, 1, num_layers=6)
    x = np.random.default_rng(1).normal(size=(1000, 2)).astype(floatx)
    eager = model.log_prob(x).numpy()
    xla = tf.function(lambda v: model.distribution.log_prob(v), jit_compile=True)(x).numpy()
    if floatx == "float64":
        np.testing.assert_allclose(xla, eager, rtol=1e-10, atol=1e-10)
    else:  # XLA's float32 transcendentals differ from eager's by a few ulp per op
        assert abs(xla.mean() - eager.mean()) < 1e-5 * abs(eager.mean())
        np.testing.assert_allclose(xla, eager, rtol=2e-5, atol=1e-5)
    # XLA picks its own stateless RNG algorithm, so the draws differ from eager's.
    sample = tf.function(lambda: model.distribution.sample(50, seed=(1, 1)), jit_compile=True)
    assert sample().shape == (50, 2) and np.all(np.isfinite(sample()))


@pytest.mark.parametrize("jit_compile", [False, True])
def test_log_prob_in_blocks_equals_log_prob_at_once(floatx, jit_compile):
    """1003 points in blocks of at most 64 (16 blocks of 63, the last padded) against one
    call: the values and the gradients agree, whatever the batch shape."""
    model = random_flow(2, 3)
    x = tf.constant(np.random.default_rng(4).normal(0, 2, size=(17, 59, 2)), floatx)
    assert model.distribution.log_prob_block_size == 4096

    def value_and_gradients(block_size):
        # The outer layer cuts the blocks; the inner ones (default 4096) take them whole.
        distribution = model.distribution.copy(log_prob_block_size=block_size)
        with tf.GradientTape() as tape:
            log_prob = distribution.log_prob(x)
            loss = -tf.reduce_mean(log_prob)
        return log_prob, tape.gradient(loss, model.trainable_variables)

    compute = tf.function(value_and_gradients, jit_compile=jit_compile)
    at_once, at_once_gradients = compute(None)
    in_blocks, in_blocks_gradients = compute(64)
    assert in_blocks.shape == (17, 59) and np.all(np.isfinite(in_blocks))
    tolerance = 1e-5 if floatx == "float32" else 1e-12
    np.testing.assert_allclose(in_blocks, at_once, rtol=tolerance, atol=tolerance)
    for a, b in zip(in_blocks_gradients, at_once_gradients):
        # Sums over the points in another order: compared on the gradient's own scale.
        np.testing.assert_allclose(a, b, atol=tolerance * 10 * np.abs(b).max())


def test_log_prob_of_a_batch_of_distributions_is_not_cut_into_blocks(float64):
    """With a base of batch shape [3] the points cannot be flattened; all go at once."""
    fold = PiecewiseFold(2)
    fold.raw_parameters.assign(np.random.default_rng(5).normal(size=(2, 10)))
    base = tfd.MultivariateNormalDiag(loc=np.arange(6.0).reshape(3, 2))
    x = np.random.default_rng(6).normal(size=(5, 3, 2))
    blocked = tf.function(RADDistribution(base, fold, log_prob_block_size=4).log_prob)(x)
    at_once = tf.function(RADDistribution(base, fold, log_prob_block_size=None).log_prob)(x)
    assert blocked.shape == (5, 3)
    np.testing.assert_array_equal(blocked, at_once)


@pytest.mark.parametrize("block_size", [0, -5, 2.5, True, "64"])
def test_impossible_log_prob_block_sizes_are_rejected(block_size):
    base = tfd.MultivariateNormalDiag(loc=tf.zeros(2))
    with pytest.raises(ValueError, match="log_prob_block_size must be a positive integer"):
        RADDistribution(base, PiecewiseFold(2), log_prob_block_size=block_size)


def test_points_at_infinity_have_density_zero_and_leave_gradients_finite(floatx):
    model = random_flow(2, 0)
    rad = model.distribution  # nested RADDistributions
    x = tf.constant([[np.inf, 0.0], [0.3, -np.inf], [0.3, -0.2]], floatx)
    with tf.GradientTape() as tape:
        log_prob = rad.log_prob(x)
        finite_loss = -tf.reduce_sum(log_prob[2])
    np.testing.assert_array_equal(log_prob[:2], [-np.inf, -np.inf])
    np.testing.assert_allclose(log_prob[2], rad.log_prob(x[2:3])[0], rtol=1e-6)
    assert np.isfinite(log_prob[2]) and np.isnan(rad.log_prob([np.nan, 0.0]))
    gradients = tape.gradient(finite_loss, model.trainable_variables)
    assert all(np.all(np.isfinite(g)) for g in gradients if g is not None)


def test_infer_layers_chains_the_latents():
    model = random_flow(2, 0)
    x = np.random.default_rng(2).normal(size=(10, 2)).astype(np.float32)
    steps = model.distribution.infer_layers(x)
    assert len(steps) == 3
    for step, next_step in zip(steps, steps[1:]):
        np.testing.assert_array_equal(step.z, next_step.x)
    for step, fold in zip(steps, model.folds):
        np.testing.assert_allclose(fold.unfold(step.z, step.k), step.x, atol=1e-5)
    z, k = model.distribution.infer(x)
    np.testing.assert_array_equal(z, steps[0].z)
    assert k.dtype == tf.int32 and k.shape == (10, 1)


def test_wrapped_by_transformed_distribution(float64):
    rad = random_flow(2, 0).distribution
    bijector = tfb.Chain([tfb.Shift(np.array([1.0, -2.0])), tfb.Scale(np.array([2.0, 0.5]))])
    wrapped = tfd.TransformedDistribution(rad, bijector)
    y = np.random.default_rng(3).normal(size=(7, 2))
    expected = rad.log_prob(bijector.inverse(y)) + bijector.inverse_log_det_jacobian(y, 1)
    np.testing.assert_allclose(wrapped.log_prob(y), expected, atol=1e-12)
    assert wrapped.sample(4, seed=(0, 1)).shape == (4, 2)


def test_rad_on_a_real_nvp_base_is_normalized(float64):
    """A hybrid: one RAD coupling layer on top of TFP's Real NVP flow."""
    real_nvp = RealNVPFlow(2, num_layers=2, hidden_units=16)
    randomize(real_nvp, 0, 0.5)
    rad = random_flow(2, 1, num_layers=1)
    hybrid = RADDistribution(real_nvp.distribution, rad.folds[0], rad.gatings[0])
    axis, points = grid_2d(-10.0, 10.0, 1500)
    density = np.exp(tf.function(hybrid.log_prob)(points).numpy()).reshape(1500, 1500)
    assert abs(np.trapezoid(np.trapezoid(density, axis), axis) - 1.0) < 1e-2
    assert hybrid.sample(10, seed=(2, 3)).shape == (10, 2)


def test_base_of_the_wrong_event_shape_is_rejected():
    fold = PiecewiseFold(2)
    with pytest.raises(ValueError, match=r"event shape \[2\]"):
        RADDistribution(tfd.MultivariateNormalDiag(loc=tf.zeros(3)), fold)
    with pytest.raises(ValueError, match="dtype float64"):
        RADDistribution(tfd.MultivariateNormalDiag(loc=tf.zeros(2, tf.float64)), fold)
    rad = RADDistribution(tfd.MultivariateNormalDiag(loc=tf.zeros(2)), fold)
    with pytest.raises(ValueError, match="event size 2"):
        rad.log_prob(np.zeros((4, 3), np.float32))


# ------------------------------------------------------------------------------------------
# TFP conventions: batch slicing and CompositeTensor.


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_slicing_slices_the_base_and_keeps_the_fold(dtype):
    fold = PiecewiseFold(2, dtype=dtype)
    randomize(fold, seed=3)
    loc = np.random.default_rng(0).normal(size=(4, 2)).astype(dtype)
    inner = RADDistribution(tfd.MultivariateNormalDiag(loc=loc), fold)
    outer_fold = PiecewiseFold(2, dtype=dtype)
    randomize(outer_fold, seed=4)
    deep = RADDistribution(inner, outer_fold)
    x = np.random.default_rng(1).normal(size=(7, 4, 2)).astype(dtype)
    for rad in (inner, deep):
        assert rad.batch_shape == [4] and rad[1:3].batch_shape == [2] and rad[0].batch_shape == []
        np.testing.assert_allclose(rad[1:3].log_prob(x[:, 1:3]), rad.log_prob(x)[:, 1:3],
                                   rtol=1e-6)
        np.testing.assert_allclose(rad[0].log_prob(x[:, 0]), rad.log_prob(x)[:, 0], rtol=1e-6)
        assert rad[::2].fold is rad.fold
        assert rad[::2].sample(3, seed=(1, 2)).shape == [3, 2, 2]


def test_a_flow_distribution_passed_to_a_tf_function_traces_once_and_sees_new_weights():
    model = random_flow(2, seed=5)
    x = np.random.default_rng(2).normal(size=(6, 2)).astype(np.float32)
    traces = []

    @tf.function
    def log_prob(distribution, points):
        traces.append(None)
        return distribution.log_prob(points)

    assert isinstance(model.distribution, tf.__internal__.CompositeTensor)
    first = log_prob(model.distribution, x)
    np.testing.assert_allclose(first, model.log_prob(x), rtol=1e-5)
    randomize_rad(model, seed=6)  # new weights, same distribution structure
    second = log_prob(model.distribution, x)
    assert len(traces) == 1
    np.testing.assert_allclose(second, model.log_prob(x), rtol=1e-5)
    assert not np.allclose(first, second)
