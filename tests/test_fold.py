"""PiecewiseFold as mathematics: geometry, inverse, log-det, gating, errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import breakpoints, randomize

from tfp_rad import PiecewiseFold
from tfp_rad.fold import fold_parameters_from_raw
from tfp_rad.models.layers import mlp


def random_raw(seed, n=7, dtype=np.float64, scale=2.0):
    return np.random.default_rng(seed).normal(0.0, scale, (n, 10)).astype(dtype)


def free_fold(seed, event_size=3, scale=2.0):
    fold = PiecewiseFold(event_size)
    fold.raw_parameters.assign(random_raw(seed, event_size, fold.compute_dtype, scale))
    return fold


def coupling_fold(seed, event_size=4):
    conditioner = mlp(8, (event_size - event_size // 2) * 10, "conditioner")
    fold = PiecewiseFold(event_size, conditioner=conditioner)
    randomize(fold, seed)
    return fold


def test_slopes_satisfy_the_identities(float64):
    p = fold_parameters_from_raw(tf.constant(random_raw(0, 1000)), 1e-3, 8.0)
    alpha = [np.exp(np.asarray(t)) for t in (p.log_alpha1, p.log_alpha2, p.log_alpha3)]
    np.testing.assert_allclose(sum(1.0 / a for a in alpha), 1.0, rtol=1e-12)
    assert np.all(-1 < np.asarray(p.a)) and np.all(np.asarray(p.a) < np.asarray(p.b))
    assert np.all(np.asarray(p.b) < 1)
    # Continuity equations of rad-math section 4.
    lqp, lqm = np.asarray(p.log_q_plus), np.asarray(p.log_q_minus)
    la1, la2, la3 = (np.asarray(t) for t in (p.log_alpha1, p.log_alpha2, p.log_alpha3))
    np.testing.assert_allclose(lqp[0] + la1, lqp[1] + la2, atol=1e-12)
    np.testing.assert_allclose(lqm[1] + la2, lqm[2] + la3, atol=1e-12)
    np.testing.assert_allclose(lqp[2] + la3, np.asarray(p.log_alpha_plus), atol=1e-12)
    np.testing.assert_allclose(lqm[0] + la1, np.asarray(p.log_alpha_minus), atol=1e-12)


def test_uniform_boundary_gating_is_the_uniform_three_fold(float64):
    fold = PiecewiseFold(1)  # raw parameters start at zero: q+ = q- = 1/3, no affine maps
    u = np.array([[-3.0], [-1.0], [-2 / 3], [-0.5], [0.0], [1 / 3], [0.5], [1.0], [2.0]])
    z, k, log_det = fold.fold(u)
    # a = -1/3, b = 1/3: slopes 3 inside [-1, 1] (piece 1 reversed), identity outside.
    np.testing.assert_allclose(z[:, 0], [-3, -1, 0, 0.5, 0, -1, -0.5, 1, 2], atol=1e-12)
    np.testing.assert_array_equal(k[:, 0], [0, 0, 0, 0, 1, 1, 2, 2, 2])
    inner = np.abs(u[:, 0]) <= 1
    np.testing.assert_allclose(log_det, np.where(inner, np.log(3.0), 0.0), atol=1e-12)


def test_fold_maps_breakpoints_to_plus_minus_one(float64):
    fold = free_fold(1)
    x = breakpoints(fold)[0].T  # [4, n]: u = -1, a, b, 1
    z = fold.fold(x)[0].numpy()
    p = fold.fold_parameters(x)
    v = (z - p.shift_out.numpy()) * np.exp(-p.log_scale_out.numpy())
    np.testing.assert_allclose(v, [[-1] * 3, [1] * 3, [-1] * 3, [1] * 3], atol=1e-9)


def points_near_breakpoints(fold, x_passthrough=None, eps=1e-9):
    """Points in every piece, the far tails and both sides of every breakpoint."""
    edges = breakpoints(fold, x_passthrough)  # [N, n, 4]
    offsets = np.array([-1e3, -5.0, 5.0, 1e3])
    around = np.concatenate([edges - eps, edges + eps, edges[..., :1] + offsets], -1)
    return around  # [N, n, 12]


@pytest.mark.parametrize("mode", ["free", "coupling"])
def test_unfold_inverts_fold(float64, mode):
    fold = free_fold(2) if mode == "free" else coupling_fold(2)
    rng = np.random.default_rng(0)
    x = rng.normal(0, 3, (64, fold.event_size))
    if mode == "free":
        extra = points_near_breakpoints(fold)[0].T  # [12, n]
    else:
        near = points_near_breakpoints(fold, x)  # [64, n, 12]
        extra = np.repeat(x, 12, axis=0)
        extra[:, fold.event_size // 2 :] = np.moveaxis(near, -1, 1).reshape(-1, near.shape[1])
    x = np.concatenate([x, extra])
    z, k, _ = fold.fold(x)
    assert set(np.unique(k)) == {0, 1, 2}
    np.testing.assert_allclose(fold.unfold(z, k), x, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    "fold_mask", [[False, True, False, True], [True, True, False, False], [True, False, False, True]]
)
def test_any_mask_folds_as_the_contiguous_mask_on_permuted_coordinates(float64, fold_mask):
    # The contiguous mask [False, False, True, True] splits and merges by slices and a
    # concatenation, the others (folded first, interleaved, wrapped) by gathers or by the
    # concatenation in the other order: the same fold, its coordinates permuted.
    contiguous = coupling_fold(4)
    other = PiecewiseFold(4, fold_mask=fold_mask, conditioner=contiguous.conditioner)
    order = np.concatenate([np.flatnonzero(~np.array(fold_mask)), np.flatnonzero(fold_mask)])
    x = np.random.default_rng(5).normal(0, 3, (400, 4))
    z, k, log_det = other.fold(x)
    z_ref, k_ref, log_det_ref = contiguous.fold(x[:, order])
    np.testing.assert_array_equal(z.numpy()[:, order], z_ref)
    np.testing.assert_array_equal(k, k_ref)
    np.testing.assert_array_equal(log_det, log_det_ref)
    assert len(np.unique(k.numpy())) == 3
    np.testing.assert_allclose(other.unfold(z, k), x, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("mode", ["free", "coupling"])
def test_log_det_matches_autodiff_jacobian(float64, mode):
    fold = free_fold(3) if mode == "free" else coupling_fold(3)
    x = tf.constant(np.random.default_rng(1).normal(0, 2, (32, fold.event_size)))
    with tf.GradientTape() as tape:
        tape.watch(x)
        z = fold.fold(x)[0]
    jacobian = tape.batch_jacobian(z, x).numpy()
    expected = np.linalg.slogdet(jacobian)[1]
    np.testing.assert_allclose(fold.fold(x)[2], expected, atol=1e-9)


def test_gating_rows_are_distributions_over_feasible_pieces(float64):
    fold = free_fold(4)
    z = np.linspace(-8, 8, 401)[:, None].repeat(3, axis=1)
    logits = np.random.default_rng(2).normal(0, 3, (401, 3, 3))
    log_probs = fold.gating_log_probs(z, logits).numpy()
    feasible = fold.feasible_pieces(z).numpy()
    np.testing.assert_allclose(np.exp(log_probs).sum(-1), 1.0, atol=1e-12)
    assert np.all(np.isneginf(log_probs[~feasible]))
    assert np.all(np.isfinite(log_probs[feasible]))
    # Outside [-1, 1] exactly one piece is feasible.
    assert np.all(feasible.sum(-1) >= 1) and np.any(feasible.sum(-1) == 1)


def test_unnormalized_gating_differs_by_a_constant_per_element(floatx):
    fold = free_fold(4)
    z = np.linspace(-8, 8, 401)[:, None].repeat(3, axis=1).astype(floatx)
    logits = np.random.default_rng(2).normal(0, 30, (401, 3, 3)).astype(floatx)
    normalized = fold.gating_log_probs(z, logits).numpy()
    unnormalized = fold.gating_log_probs(z, logits, normalized=False).numpy()
    np.testing.assert_array_equal(np.isneginf(unnormalized), np.isneginf(normalized))
    np.testing.assert_array_equal(unnormalized.max(-1), 0.0)
    feasible = np.isfinite(normalized)
    shift = np.where(feasible, unnormalized, 0.0) - np.where(feasible, normalized, 0.0)
    tolerance = 1e-5 if floatx == "float32" else 1e-12
    np.testing.assert_allclose(shift, shift.max(-1, keepdims=True) * feasible, atol=tolerance)


def test_gating_equals_boundary_probabilities_at_plus_minus_one(float64):
    fold = free_fold(5)
    raw = fold.raw_parameters.numpy()
    raw[:, 2:4] = 0.0  # no output affine map: z = v exactly
    fold.raw_parameters.assign(raw)
    p = fold.fold_parameters(np.zeros((1, 3)))
    wild_logits = np.full((2, 3, 3), 7.0) * np.array([1.0, -2.0, 0.5])
    z = np.array([[1.0] * 3, [-1.0] * 3])
    log_probs = fold.gating_log_probs(z, wild_logits).numpy()
    np.testing.assert_allclose(log_probs[0], np.stack(p.log_q_plus, -1), atol=1e-12)
    np.testing.assert_allclose(log_probs[1], np.stack(p.log_q_minus, -1), atol=1e-12)


def test_log_gating_prob_gathers_the_gating_row(float64):
    fold = coupling_fold(6)
    x = np.random.default_rng(3).normal(0, 2, (50, 4))
    z, k, _ = fold.fold(x)
    logits = np.random.default_rng(4).normal(0, 2, (50, 2, 3))
    rows = fold.gating_log_probs(z, logits).numpy()
    expected = np.take_along_axis(rows, k.numpy()[..., None], -1)[..., 0].sum(-1)
    np.testing.assert_allclose(fold.log_gating_prob(z, k, logits), expected, atol=1e-12)


def test_fold_with_gating_equals_fold_then_log_gating_prob(float64):
    # The reference recovers v = (z - m_out) exp(-r_out) from z, which loses digits where
    # the randomized gating's logits reach 1e4: hence float64 and a relative tolerance.
    fold = coupling_fold(6)
    gating = mlp(8, 2 * 3, "gating")
    gating.build((None, 4))  # an unbuilt model has no variables for randomize to set
    randomize(gating, 7)
    # Scale 2 puts points on every piece and on both sides of |v| = 1.
    x = np.random.default_rng(3).normal(0, 2, (200, 4))
    z, k, log_det, log_gate = fold.fold_with_gating(x, gating)
    z_ref, k_ref, log_det_ref = fold.fold(x)
    tolerance = 1e-10
    np.testing.assert_allclose(z, z_ref, atol=tolerance)
    np.testing.assert_array_equal(k, k_ref)
    np.testing.assert_allclose(log_det, log_det_ref, atol=tolerance)
    expected = fold.log_gating_prob(z_ref, k_ref, gating(z_ref))
    np.testing.assert_allclose(log_gate, expected, rtol=1e-7, atol=tolerance)
    assert len(np.unique(k.numpy())) == 3
    _, _, _, no_gating = fold.fold_with_gating(x)
    np.testing.assert_allclose(no_gating, fold.log_gating_prob(z_ref, k_ref), atol=tolerance)


def test_gating_logits_of_the_wrong_width_are_rejected():
    fold = coupling_fold(6)  # 2 folded elements: 6 logits per point
    x = np.random.default_rng(3).normal(0, 2, (5, 4)).astype(np.float32)
    z, k, _ = fold.fold(x)
    with pytest.raises(ValueError, match=r"needs 3 gating logits.*\[N, 2, 3\] or \[N, 6\].*\(5, 4\)"):
        fold.log_gating_prob(z, k, np.zeros((5, 4), np.float32))
    with pytest.raises(ValueError, match="needs 3 gating logits"):
        fold.fold_with_gating(x, mlp(8, 4, "gating"))
    with pytest.raises(ValueError, match="needs 3 gating logits"):
        fold.gating_log_probs(z, np.zeros((5, 2, 2), np.float32))
    # The accepted shapes still work.
    fold.log_gating_prob(z, k, np.zeros((5, 6), np.float32))
    fold.log_gating_prob(z, k, np.zeros((5, 2, 3), np.float32))


def test_extreme_raw_parameters_stay_finite(floatx):
    raw = np.array([[0, 30, 0, -30, 60, -60, 0, -60, 0, 60]], dtype=floatx)
    fold = PiecewiseFold(1)
    fold.raw_parameters.assign(raw)
    x = np.linspace(-1e3, 1e3, 1001)[:, None].astype(floatx)
    z, k, log_det = fold.fold(x)
    assert np.all(np.isfinite(z)) and np.all(np.isfinite(log_det))
    assert np.all(np.isfinite(fold.unfold(z, k)))


def test_piece_indices_outside_range_are_rejected():
    fold = PiecewiseFold(2)
    with pytest.raises(ValueError, match=r"\{0, 1, 2\}.*\[3\]"):
        fold.unfold(np.zeros((1, 2), np.float32), np.array([[0, 3]]))
    with pytest.raises(ValueError, match=r"\{0, 1, 2\}.*\[-1\]"):
        fold.unfold(np.zeros((1, 2), np.float32), np.array([[-1, 0]]))
    with pytest.raises(ValueError, match="2 entries"):
        fold.unfold(np.zeros((1, 2), np.float32), np.array([[0, 1, 2]]))
    with pytest.raises(ValueError, match="integers"):
        fold.unfold(np.zeros((1, 2), np.float32), np.array([[0.0, 1.0]]))


def test_wrong_event_size_or_dtype_is_rejected():
    fold = PiecewiseFold(3)
    with pytest.raises(ValueError, match="event size 3.*\\(5, 2\\)"):
        fold.fold(np.zeros((5, 2), np.float32))
    with pytest.raises(ValueError, match="scalar"):
        fold.fold(np.float32(1.0))
    with pytest.raises(ValueError, match="float64.*Cast"):
        fold.fold(tf.zeros((5, 3), tf.float64))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(event_size=0), "event_size must be a positive integer"),
        (dict(event_size=2.5), "event_size must be a positive integer"),
        (dict(event_size=2, fold_mask=[True]), "2 entries"),
        (dict(event_size=2, fold_mask=[False, False]), "folds no element"),
        (dict(event_size=2, min_boundary_probability=1.0), r"min_boundary_probability"),
        (dict(event_size=2, log_scale_bound=0.0), "log_scale_bound must be positive"),
        (
            dict(event_size=2, fold_mask=[True, True], conditioner=keras.layers.Dense(20)),
            "pass-through",
        ),
    ],
)
def test_impossible_hyper_parameters_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PiecewiseFold(**kwargs)


def test_free_standing_fold_lists_its_trainable_variables():
    fold = PiecewiseFold(3)
    assert [tuple(v.shape) for v in fold.trainable_variables] == [(3, 10)]
    coupling = coupling_fold(0)
    assert len(coupling.trainable_variables) == 4  # conditioner's two Dense layers


def test_sin_half_pi_is_the_sine_to_rounding_and_clips():
    from tfp_rad.fold import _sin_half_pi

    v = np.linspace(-1.0, 1.0, 100_001)
    np.testing.assert_allclose(_sin_half_pi(tf.constant(v)), np.sin(np.pi * v / 2), rtol=0,
                               atol=4e-16)
    np.testing.assert_allclose(_sin_half_pi(tf.constant(v, tf.float32)),
                               np.sin(np.pi * v / 2), rtol=0, atol=3e-7)
    assert _sin_half_pi(tf.constant(1.0, tf.float64)).numpy() == 1.0
    assert _sin_half_pi(tf.constant(-1.0, tf.float64)).numpy() == -1.0
    np.testing.assert_array_equal(_sin_half_pi(tf.constant([-1e30, -3.0, 7.0, 1e30])),
                                  [-1.0, -1.0, 1.0, 1.0])
