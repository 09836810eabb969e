"""The fused fold and gating (`tfp_rad.fold_math`): values and hand-written gradients.

The oracle is the unfused path (`tfp_rad.fold.FUSED = False`): the column-wise formulas
of `PiecewiseFold`, differentiated by TensorFlow. Inputs cover every piece, both sides of
every breakpoint (`u = -1, a, b, 1` plus or minus a small step), far tails and latents
outside `[-1, 1]`.
"""

import numpy as np
import pytest
import tensorflow as tf
from conftest import randomize, randomize_rad

from tfp_rad import fold as fold_module
from tfp_rad import fold_math
from tfp_rad import PiecewiseFold
from tfp_rad.fold import fold_parameters_from_raw
from tfp_rad.fold_math import computed_once, fused_fold
from tfp_rad.models import RADFlow
from tfp_rad.models.layers import mlp

TOLERANCE = {"float32": dict(rtol=2e-4, atol=2e-4), "float64": dict(rtol=1e-9, atol=1e-9)}
# Gradients near breakpoints are ill-conditioned in float32 (slopes up to ~1e4): there the
# fused and the unfused float32 gradients both differ from float64's by up to 3e-3
# (relative), so they are compared to each other at that level.
GRADIENT_TOLERANCE = {"float32": dict(rtol=5e-3, atol=5e-3),
                      "float64": dict(rtol=1e-8, atol=1e-8)}
# How close to the breakpoints the points lie. In float32 a step of a few ulps makes the
# gradients ill-conditioned (two correct roundings differ by 1e-3 there), so float32 stays
# a little further away; float64 goes within 1e-6.
STEP = {"float32": 1e-3, "float64": 1e-6}


@pytest.fixture
def unfused(monkeypatch):
    """A function running its argument with the reference (unfused) path."""

    def run(fn, *args):
        monkeypatch.setattr(fold_module, "FUSED", False)
        try:
            return fn(*args)
        finally:
            monkeypatch.setattr(fold_module, "FUSED", True)

    return run


def inputs(dtype, seed=0, num_random=40, num_folded=5, step=1e-6):
    """`(x [N, n], raw [N, n, 10], s [N, n, 3])` with points near every breakpoint."""
    rng = np.random.default_rng(seed)
    raw_rows = rng.normal(0.0, 2.0, (num_random, num_folded, 10))
    raw_rows[..., 1] *= 0.5  # moderate input scales
    p = fold_parameters_from_raw(tf.constant(raw_rows), 1e-3, 8.0)
    u_edges = np.stack([-np.ones_like(p.a), p.a, p.b, np.ones_like(p.a)], -1)  # [N, n, 4]
    u = np.concatenate([
        rng.normal(0.0, 1.0, (num_random, num_folded, 2)),
        u_edges - step, u_edges + step,
        rng.choice([-1.0, 1.0], (num_random, num_folded, 2)) * rng.uniform(1.5, 50.0, (
            num_random, num_folded, 2)),
    ], axis=-1)  # [N, n, 12]
    x = (u - np.asarray(p.shift_in)[..., None]) * np.exp(-np.asarray(p.log_scale_in))[..., None]
    x = np.moveaxis(x, -1, 0).reshape(-1, num_folded)
    raw = np.tile(raw_rows, (u.shape[-1], 1, 1))
    s = rng.normal(0.0, 3.0, raw.shape[:2] + (3,))
    return (tf.constant(x, dtype), tf.constant(raw, dtype), tf.constant(s, dtype))


def fold_and_gate(fold, x, raw, s, weights):
    """A scalar that uses every output of the fold and of the gating, and its parts."""
    p = fold_parameters_from_raw(raw, fold.min_boundary_probability, fold.log_scale_bound)
    z, v, k, log_det, p, _ = fold._fold(x, p, None)
    log_gate = fold._log_gating_prob(v, k, s, p)
    parts = (z, v, k, log_det, log_gate)
    total = (tf.reduce_sum(weights[0] * z) + tf.reduce_sum(weights[1] * v)
             + tf.reduce_sum(weights[2] * log_det) + tf.reduce_sum(weights[3] * log_gate))
    return total, parts


def values_and_gradients(fold, x, raw, s, weights):
    with tf.GradientTape() as tape:
        tape.watch([x, raw, s])
        total, parts = fold_and_gate(fold, x, raw, s, weights)
    return parts, tape.gradient(total, [x, raw, s])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_values_and_gradients_equal_the_unfused_ones(dtype, unfused):
    x, raw, s = inputs(dtype, step=STEP[dtype])
    fold = PiecewiseFold(x.shape[-1], dtype=dtype)
    rng = np.random.default_rng(1)
    weights = [tf.constant(rng.normal(size=x.shape), dtype) for _ in range(2)] + [
        tf.constant(rng.normal(size=x.shape[:1]), dtype) for _ in range(2)]
    fused_parts, fused_grads = values_and_gradients(fold, x, raw, s, weights)
    parts, grads = unfused(values_and_gradients, fold, x, raw, s, weights)
    k = parts[2].numpy()
    assert set(np.unique(k)) == {0, 1, 2}
    np.testing.assert_array_equal(fused_parts[2], k)
    v = parts[1].numpy()
    assert np.any(v > 1) and np.any(v < -1) and np.any(np.abs(v) < 1)  # gating both ways
    for fused_value, value in zip(fused_parts, parts):
        np.testing.assert_allclose(fused_value, value, **TOLERANCE[dtype])
    for fused_grad, grad in zip(fused_grads, grads):
        scale = np.maximum(1.0, np.abs(grad.numpy()))  # relative for large gradients
        np.testing.assert_allclose(fused_grad / scale, grad / scale, **GRADIENT_TOLERANCE[dtype])


def test_fused_gradient_matches_finite_differences():
    x, raw, s = inputs("float64", seed=3, num_random=2, num_folded=2)
    # Random points inside and far tails only: next to a breakpoint a finite difference
    # would straddle it.
    rows = np.r_[0:4, 20:24]  # blocks of 2 rows: two random ones, then (last) two tails
    x, raw, s = (tf.gather(t, rows) for t in (x, raw, s))
    fold = PiecewiseFold(2, dtype="float64")
    weights = [tf.ones_like(x), tf.ones_like(x), tf.ones(x.shape[:1], tf.float64),
               tf.ones(x.shape[:1], tf.float64)]
    theoretical, numerical = tf.test.compute_gradient(
        lambda x, raw, s: fold_and_gate(fold, x, raw, s, weights)[0], [x, raw, s], delta=1e-6)
    for t, n in zip(theoretical, numerical):
        np.testing.assert_allclose(t, n, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fold_with_gating_gradients_reach_every_variable_as_unfused(dtype, unfused):
    """The whole coupling layer (conditioner, fold, gating network), fused vs unfused."""
    conditioner = mlp(8, 3 * 10, "conditioner", dtype)
    gating = mlp(8, 3 * 3, "gating", dtype)
    fold = PiecewiseFold(6, conditioner=conditioner, dtype=dtype)
    gating.build((None, 6))
    randomize(fold, 0, 0.5)
    randomize(gating, 1, 2.0)
    x = tf.constant(np.random.default_rng(2).normal(0.0, 2.0, (256, 6)), dtype)
    variables = fold.trainable_variables + gating.trainable_variables

    def loss_and_gradients():
        with tf.GradientTape() as tape:
            tape.watch(x)
            z, _, log_det, log_gate = fold.fold_with_gating(x, gating)
            loss = tf.reduce_sum(log_det + log_gate) + tf.reduce_sum(tf.sin(z))
        return loss, tape.gradient(loss, [x] + variables)

    fused_loss, fused_grads = tf.function(loss_and_gradients, jit_compile=True)()
    loss, grads = unfused(tf.function(loss_and_gradients, jit_compile=True))
    np.testing.assert_allclose(fused_loss, loss, **TOLERANCE[dtype])
    for fused_grad, grad in zip(fused_grads, grads):
        assert grad is not None and fused_grad is not None
        scale = np.maximum(1.0, np.abs(grad.numpy()).max())
        np.testing.assert_allclose(fused_grad / scale, grad / scale, **GRADIENT_TOLERANCE[dtype])


def test_fused_fold_outputs_have_the_documented_shapes():
    x, raw, _ = inputs("float32", num_random=3, num_folded=4)
    z, v, k, log_det, log_q_plus, log_q_minus = fused_fold(x, raw, 1e-3, 8.0)
    assert z.shape == v.shape == k.shape == log_det.shape == x.shape
    assert k.dtype == tf.int32
    assert log_q_plus.shape == log_q_minus.shape == x.shape + (3,)
    np.testing.assert_allclose(np.exp(log_q_plus).sum(-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("jit_compile", [False, True])
def test_computed_once_returns_its_argument_bit_for_bit(dtype, jit_compile):
    # Subnormals are left out: TensorFlow's CPU arithmetic flushes them to zero, in this
    # division as in any product or sum (`tiny / 4 * 2` is 0 there too).
    info = np.finfo(dtype)
    values = np.array([0.0, -0.0, 1.0, -2.5, 1e-30, info.tiny, info.max, -info.max, np.inf,
                       -np.inf, np.nan, np.pi], dtype)
    values = np.concatenate([values, np.random.default_rng(0).normal(0, 1e3, 100).astype(dtype)])
    result = tf.function(computed_once, jit_compile=jit_compile)(tf.constant(values)).numpy()
    np.testing.assert_array_equal(result.view(f"u{values.itemsize}"),
                                  values.view(f"u{values.itemsize}"))


@pytest.mark.parametrize("event_size", [2, 16])
def test_computed_once_moves_compiled_log_prob_less_than_xla_differs_from_eager(
        event_size, monkeypatch):
    # `computed_once` returns its argument, but XLA fuses the program around it otherwise,
    # so float32 results move by rounding. They must move less than XLA's own result
    # differs from eager execution's (through a deep randomized stack both are amplified:
    # measured 7e-5 against 2e-4 relative at d = 2, 3e-3 against 7e-3 at d = 16).
    model = RADFlow(event_size, num_layers=6, hidden_units=16)
    randomize_rad(model, seed=3)
    x = tf.constant(np.random.default_rng(4).normal(0.0, 1.5, (2000, event_size)), tf.float32)

    def compiled_log_prob():
        return tf.function(model.log_prob, jit_compile=True)(x).numpy()

    def relative(a, b):
        return np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b)))

    with_once, eager = compiled_log_prob(), model.log_prob(x).numpy()
    monkeypatch.setattr(fold_math, "computed_once", lambda t: t)
    without = compiled_log_prob()
    assert np.all(np.isfinite(with_once)) and 0.0 < relative(with_once, eager)
    assert relative(with_once, without) < relative(with_once, eager)
