"""Property-based tests of the fold over random raw parameters and points (float64).

The layers are created once with `dtype="float64"`, so no floatx fixture is needed; each
example assigns its own raw parameters.
"""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tfp_rad import PiecewiseFold, RADDistribution
from tfp_rad.fold import fold_parameters_from_raw

MIN_PROBABILITY, LOG_SCALE_BOUND = 1e-3, 8.0
EVENT_SIZE = 2
FOLD = PiecewiseFold(EVENT_SIZE, dtype="float64")
BASE = tfp.distributions.MultivariateNormalDiag(loc=tf.zeros([EVENT_SIZE], tf.float64))
PROPERTIES = settings(max_examples=50, deadline=None)


def floats(bound):
    return st.floats(-bound, bound, allow_nan=False, allow_infinity=False)


def raw_parameters(bound=3.0):
    """Raw fold parameters `[EVENT_SIZE, 10]` with every entry in `[-bound, bound]`."""
    return arrays(np.float64, (EVENT_SIZE, 10), elements=floats(bound))


def points(num, bound):
    return arrays(np.float64, (num, EVENT_SIZE), elements=floats(bound))


def breakpoints(parameters):
    """Each folded element's breakpoints `u = -1, a, b, 1` in input coordinates, `[n, 4]`."""
    u = np.stack([-np.ones(EVENT_SIZE), parameters.a, parameters.b, np.ones(EVENT_SIZE)], -1)
    return (u - np.asarray(parameters.shift_in)[:, None]) * np.exp(
        -np.asarray(parameters.log_scale_in)
    )[:, None]


def with_raw(raw):
    FOLD.raw_parameters.assign(raw)
    return FOLD.fold_parameters(tf.zeros([1, EVENT_SIZE], tf.float64))


@PROPERTIES
@given(arrays(np.float64, (16, 10), elements=floats(1e6)))
def test_parameters_from_any_raw_values_are_finite_and_consistent(raw):
    p = fold_parameters_from_raw(tf.constant(raw), MIN_PROBABILITY, LOG_SCALE_BOUND)
    assert all(np.all(np.isfinite(np.asarray(t))) for t in tf.nest.flatten(p))
    for log_q in (p.log_q_plus, p.log_q_minus):
        q = np.exp(np.stack(log_q))
        np.testing.assert_allclose(q.sum(0), 1.0, rtol=1e-12)
        assert np.all(q >= MIN_PROBABILITY / 3 * (1 - 1e-12))
    alpha = np.exp(np.stack([p.log_alpha1, p.log_alpha2, p.log_alpha3]))
    np.testing.assert_allclose((1.0 / alpha).sum(0), 1.0, rtol=1e-12)
    a, b = np.asarray(p.a), np.asarray(p.b)
    assert np.all(-1.0 < a) and np.all(a < b) and np.all(b < 1.0)
    assert np.all(np.abs(np.stack([p.log_scale_in, p.log_scale_out])) <= LOG_SCALE_BOUND)


@PROPERTIES
@given(
    raw_parameters(4.0),
    points(32, 50.0),
    arrays(np.float64, (32, EVENT_SIZE), elements=floats(1e-6)),
    st.integers(0, 3),
)
def test_unfold_inverts_fold_exactly(raw, x, offsets, corner):
    p = with_raw(raw)
    near = breakpoints(p)[:, corner] + offsets  # both sides of one breakpoint
    x = np.concatenate([x, near])
    z, k, log_det = FOLD.fold(x)
    assert np.all(np.isfinite(z)) and np.all(np.isfinite(log_det))
    recovered = FOLD.unfold(z, k).numpy()
    assert np.all(np.abs(recovered - x) <= 1e-9 * np.maximum(1.0, np.abs(x)))


@PROPERTIES
@given(
    raw_parameters(),
    points(64, 20.0),
    arrays(np.float64, (64, EVENT_SIZE, 3), elements=floats(10.0)),
)
def test_gating_is_a_distribution_over_the_feasible_pieces(raw, z, logits):
    with_raw(raw)
    log_probs = FOLD.gating_log_probs(z, logits).numpy()
    feasible = FOLD.feasible_pieces(z).numpy()
    assert np.all(feasible.any(-1))
    assert np.all(np.isneginf(log_probs[~feasible]))
    assert np.all(np.isfinite(log_probs[feasible]))
    np.testing.assert_allclose(np.exp(log_probs).sum(-1), 1.0, rtol=1e-12)


@PROPERTIES
@given(
    raw_parameters(),
    arrays(np.float64, (EVENT_SIZE, EVENT_SIZE * 3), elements=floats(2.0)),
    arrays(np.float64, (EVENT_SIZE * 3,), elements=floats(2.0)),
    points(1, 3.0),
)
def test_one_layer_log_density_is_continuous_at_the_breakpoints(raw, weights, bias, anchor):
    """The one-sided limits of `log p` agree at every breakpoint of every element.

    Each limit is the linear extrapolation `2 f(x0 +- h) - f(x0 +- 2h)`, exact up to
    `O(h^2)`: the difference of the two is the jump of `log p`, free of its slope.
    """
    p = with_raw(raw)
    gating = lambda z: tf.reshape(z @ weights + bias, [-1, EVENT_SIZE, 3])  # noqa: E731
    log_prob = RADDistribution(BASE, FOLD, gating).log_prob
    edges = breakpoints(p)  # [n, 4]
    # A step of 1e-7 in the folded coordinate v (1e-7 / slope in u), so that the curvature of
    # log p does not reach the extrapolation even next to the steepest pieces.
    steepest = np.max(np.stack([np.asarray(t) for t in (
        p.log_alpha1, p.log_alpha2, p.log_alpha3, p.log_alpha_plus, p.log_alpha_minus)]), 0)
    h = 1e-7 * np.exp(-np.asarray(p.log_scale_in) - steepest)
    multiples = np.array([-2.0, -1.0, 1.0, 2.0])
    x = np.tile(anchor, (EVENT_SIZE, 4, 4, 1))  # [element moved, multiple, breakpoint, d]
    for i in range(EVENT_SIZE):
        x[i, :, :, i] = edges[i] + multiples[:, None] * h[i]
    f = log_prob(x.reshape(-1, EVENT_SIZE)).numpy().reshape(EVENT_SIZE, 4, 4)
    left, right = 2 * f[:, 1] - f[:, 0], 2 * f[:, 2] - f[:, 3]
    assert np.all(np.isfinite(left)) and np.all(np.isfinite(right))
    np.testing.assert_allclose(right, left, atol=1e-5)
