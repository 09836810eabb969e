"""The 1-D illustrations: each draws its PNG and the numbers it shows are right."""

import numpy as np
import pytest

from tfp_rad import PiecewiseFold
from tfp_rad.experiments import illustrations


def assert_png(path):
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_trimodal_fold(tmp_path):
    path = tmp_path / "trimodal.png"
    numbers = illustrations.trimodal_fold(path, latent=0.5)
    assert_png(path)
    assert numbers["integral"] == pytest.approx(1.0, abs=1e-6)
    assert sum(numbers["piece_masses"]) == pytest.approx(numbers["integral"], abs=1e-6)
    assert min(numbers["piece_masses"]) > 0.1  # three modes, each with real weight
    fold = PiecewiseFold(1, dtype="float64")
    fold.raw_parameters.assign([illustrations.TRIMODAL_RAW])
    z, k, _ = fold.fold(np.array(numbers["preimages"])[:, None])
    np.testing.assert_allclose(np.asarray(z)[:, 0], 0.5, atol=1e-12)
    np.testing.assert_array_equal(np.asarray(k)[:, 0], [0, 1, 2])
    assert np.all(np.diff(numbers["breakpoints"]) > 0)


def test_trimodal_fold_needs_three_preimages(tmp_path):
    with pytest.raises(ValueError, match="latent"):
        illustrations.trimodal_fold(tmp_path / "none.png", latent=1.5)


def test_sine_gating(tmp_path):
    path = tmp_path / "sine.png"
    numbers = illustrations.sine_gating(path)
    assert_png(path)
    assert numbers["integral"] == pytest.approx(1.0, abs=1e-5)
    assert numbers["integral_without_wave"] == pytest.approx(1.0, abs=1e-5)
    assert numbers["gating_crossings"] >= 4  # p(k | z) oscillates


def test_continuity(tmp_path):
    path = tmp_path / "continuity.png"
    numbers = illustrations.continuity(path)
    assert_png(path)
    assert len(numbers["jumps_boundary_conditioned"]) == 4
    assert numbers["max_jump_boundary_conditioned"] < 1e-6
    assert numbers["max_jump_plain_softmax"] > 1e-2
    assert numbers["max_jump_plain_softmax"] == max(numbers["jumps_plain_softmax"])
    # Any gating that is a distribution over feasible pieces gives a normalized p_X.
    assert numbers["integral_boundary_conditioned"] == pytest.approx(1.0, abs=1e-5)
    assert numbers["integral_plain_softmax"] == pytest.approx(1.0, abs=1e-3)


def test_smoothing_by_folding(tmp_path):
    path = tmp_path / "smoothing.png"
    numbers = illustrations.smoothing_by_folding(path, num_folds=3)
    assert_png(path)
    distance = numbers["sup_distance"]
    assert len(distance) == 4
    assert np.all(np.diff(distance) < 0)
    assert np.all(np.array(distance) <= np.array(numbers["bound"]))
    assert distance[-1] < 1e-2
    np.testing.assert_allclose(numbers["integrals"], 1.0, atol=1e-4)


def test_smoothing_needs_a_fold(tmp_path):
    with pytest.raises(ValueError, match="num_folds"):
        illustrations.smoothing_by_folding(tmp_path / "none.png", num_folds=0)
