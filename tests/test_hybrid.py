"""HybridFlow (RAD and Real NVP layers in one stack), RADFlow's gating width, the studies."""

import json
import os
import types

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import randomize, randomize_rad
from test_rad_distribution import assert_far_from_uniform, grid_2d

import tfp_rad
from tfp_rad import datasets
from tfp_rad.cli import main as cli
from tfp_rad.experiments import studies
from tfp_rad.models import HybridFlow, RADFlow, RealNVPFlow
from tfp_rad.models.real_nvp_flow import real_nvp_coupling

# Two models of the first paper run (commit 9e704fc), saved before gating_hidden_units and
# the shared layer builders existed.
LEGACY_MODELS = os.path.join(os.path.dirname(__file__), "data")


def random_hybrid(seed, layers=("rad", "real_nvp") * 3, real_nvp_scale=0.3):
    """A HybridFlow far from its initialization, with tails narrow enough for quadrature.

    The RAD layers as `randomize_rad` makes them (with a conditioner output range of 1),
    the Real NVP conditioners `N(0, real_nvp_scale^2)`.
    """
    model = HybridFlow(2, layers=layers, rad_hidden_units=8, real_nvp_hidden_units=16)
    randomize_rad(model, seed, tanh_scale=1.0)
    rng = np.random.default_rng(seed + 100)
    for conditioner in model.conditioners:
        randomize(conditioner, rng.integers(1 << 30), real_nvp_scale)
    return model


def without_real_nvp(model):
    """The same model with every Real NVP coupling reset to the identity."""
    copy = HybridFlow.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    for conditioner in copy.conditioners:
        for variable in conditioner.network.get_layer("output").weights:
            variable.assign(tf.zeros_like(variable))
    return copy


def density_on(model, points, num):
    return np.exp(tf.function(model.log_prob)(points).numpy()).reshape(num, num)


def standard_normal_density(points, num):
    return (np.exp(-0.5 * np.sum(points**2, axis=1)) / (2 * np.pi)).reshape(num, num)


# ------------------------------------------------------------------------------------------
# HybridFlow as mathematics: normalization, sampling, the log-likelihood's terms.


def test_hybrid_density_integrates_to_one(float64):
    model = random_hybrid(0)
    # Not a near-trivial model: the RAD layers' boundary probabilities and gatings are far
    # from uniform, the density is far from the N(0, I) it starts as, and the Real NVP
    # layers change it a lot.
    assert_far_from_uniform(model, np.random.default_rng(0).normal(size=(500, 2)))
    axis, points = grid_2d(-10.0, 10.0, 2000)
    density = density_on(model, points, len(axis))
    assert abs(np.trapezoid(np.trapezoid(density, axis), axis) - 1.0) < 1e-2
    cell = (axis[1] - axis[0]) ** 2
    assert 0.5 * np.abs(density - standard_normal_density(points, len(axis))).sum() * cell > 0.3
    coarse_axis, coarse = grid_2d(-10.0, 10.0, 400)
    rad_only = density_on(without_real_nvp(model), coarse, len(coarse_axis))
    change = density_on(model, coarse, len(coarse_axis)) - rad_only
    assert 0.5 * np.abs(change).sum() * (coarse_axis[1] - coarse_axis[0]) ** 2 > 0.2


def test_hybrid_samples_match_the_density(float64):
    model = random_hybrid(0)
    samples = model.sample(500_000, seed=3).numpy()
    # 30 x 30 bins over a box that holds all but 2e-4 of the samples; the density is sharp
    # (folds), so each bin's mass takes the trapezoid rule on 32 x 32 sub-cells.
    bins, refine = 30, 32
    (x_low, x_high), (y_low, y_high) = (-4.0, 7.0), (-7.0, 2.0)
    x_edges, y_edges = np.linspace(x_low, x_high, bins + 1), np.linspace(y_low, y_high, bins + 1)
    x_axis = np.linspace(x_low, x_high, bins * refine + 1)
    y_axis = np.linspace(y_low, y_high, bins * refine + 1)
    xx, yy = np.meshgrid(x_axis, y_axis, indexing="ij")
    density = density_on(model, np.stack([xx.ravel(), yy.ravel()], axis=1), len(x_axis))
    cell = (x_axis[1] - x_axis[0]) * (y_axis[1] - y_axis[0])
    corners = 0.25 * (density[1:, 1:] + density[:-1, 1:] + density[1:, :-1] + density[:-1, :-1])
    mass = (corners * cell).reshape(bins, refine, bins, refine).sum(axis=(1, 3))
    counts = np.histogram2d(samples[:, 0], samples[:, 1], bins=[x_edges, y_edges])[0]
    outside = 1.0 - counts.sum() / len(samples)
    assert outside < 1e-3
    assert 0.5 * (np.abs(counts / len(samples) - mass).sum() + outside) < 0.02
    # The check has teeth: the same samples shifted by 0.2 fail it.
    shifted = np.histogram2d(samples[:, 0] + 0.2, samples[:, 1], bins=[x_edges, y_edges])[0]
    assert 0.5 * np.abs(shifted / len(samples) - mass).sum() > 0.05


def test_log_prob_is_the_sum_of_the_layers_terms(float64):
    """log p(x) = sum_RAD [log p(k|z) + log|det|] + sum_RealNVP log|det| + log N(z_L)."""
    model = random_hybrid(1, layers=("real_nvp", "rad", "rad", "real_nvp"))
    x = np.random.default_rng(2).normal(size=(50, 2))
    steps = model.infer_layers(x)
    assert [step.k is None for step in steps] == [True, False, False, True]
    total = np.zeros(len(x))
    folds, gatings, conditioners = iter(model.folds), iter(model.gatings), iter(model.conditioners)
    for i, step in enumerate(steps):
        if i:
            np.testing.assert_array_equal(step.x, steps[i - 1].z)
        if step.k is None:
            coupling = real_nvp_coupling(2, i, next(conditioners))
            np.testing.assert_allclose(coupling.forward(step.z), step.x, atol=1e-10)
            total += coupling.inverse_log_det_jacobian(step.x, event_ndims=1)
        else:
            fold, gating = next(folds), next(gatings)
            _, k, log_det = fold.fold(step.x)
            np.testing.assert_array_equal(k, step.k)
            total += log_det + fold.log_gating_prob(step.z, step.k, gating(step.z))
    total += -0.5 * np.sum(steps[-1].z ** 2, axis=1) - np.log(2 * np.pi)
    np.testing.assert_allclose(model.log_prob(x), total, rtol=1e-10)


def test_a_hybrid_of_one_kind_is_the_pure_model(float64):
    """All-RAD and all-Real NVP stacks are RADFlow and RealNVPFlow, weight for weight."""
    x = np.random.default_rng(4).normal(size=(20, 2))
    rad = RADFlow(2, num_layers=3)
    randomize_rad(rad, 5)
    hybrid = HybridFlow(2, layers=("rad",) * 3)
    assert hybrid.count_params() == rad.count_params()
    # RADFlow keeps its layers' weights stacked; HybridFlow one MLP per layer.
    names = ("hidden_kernel", "hidden_bias", "output_kernel", "output_bias", "scale")
    for fold, gating, rad_fold, rad_gating in zip(hybrid.folds, hybrid.gatings, rad.folds,
                                                  rad.gatings):
        fold.conditioner.set_weights([rad_fold.conditioner.weight(n) for n in names])
        gating.set_weights([rad_gating.weight(n) for n in names[:4]])
    np.testing.assert_array_equal(hybrid.log_prob(x), rad.log_prob(x))

    real_nvp = RealNVPFlow(2, num_layers=3, hidden_units=12)
    randomize(real_nvp, 6, 0.5)
    hybrid = HybridFlow(2, layers=("real_nvp",) * 3, real_nvp_hidden_units=12)
    assert hybrid.count_params() == real_nvp.count_params()
    # RealNVPFlow's conditioner_0 drives the layer next to the base; HybridFlow's the data side.
    for mine, theirs in zip(hybrid.conditioners, reversed(real_nvp.conditioners)):
        mine.set_weights(theirs.get_weights())
    np.testing.assert_allclose(hybrid.log_prob(x), real_nvp.log_prob(x), rtol=1e-12)


# ------------------------------------------------------------------------------------------
# HybridFlow as a Keras model.


def test_fit_lowers_the_nll():
    moons = datasets.load("two_moons", num_samples=2000, seed=0)
    keras.utils.set_random_seed(0)
    model = HybridFlow(2, rad_hidden_units=8, real_nvp_hidden_units=39)
    assert model.count_params() == 951  # 3 RAD layers of 158, 3 Real NVP layers of 159
    model.compile(optimizer=keras.optimizers.Adam(5e-3))
    before = model.evaluate(moons, batch_size=500, verbose=0)
    model.fit(moons, batch_size=200, epochs=30, verbose=0)  # 300 steps
    after = model.evaluate(moons, batch_size=500, verbose=0)
    assert after < before - 0.5, (before, after)


def test_save_and_load_round_trip(tmp_path):
    model = random_hybrid(2, layers=("real_nvp", "rad", "rad"))
    path = str(tmp_path / "hybrid.keras")
    tfp_rad.save_model(model, path)
    loaded = tfp_rad.load_model(path)
    assert type(loaded) is HybridFlow and loaded.layer_kinds == ("real_nvp", "rad", "rad")
    assert loaded.get_config() == model.get_config()
    x = np.random.default_rng(0).normal(size=(100, 2)).astype(np.float32)
    np.testing.assert_array_equal(loaded.log_prob(x), model.log_prob(x))
    np.testing.assert_array_equal(loaded.sample(5, seed=3), model.sample(5, seed=3))


def test_one_dimensional_rad_only_hybrid_uses_free_standing_folds():
    model = HybridFlow(1, layers=("rad", "rad"))
    assert all(fold.conditioner is None for fold in model.folds)
    assert model.sample(4, seed=0).shape == (4, 1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(layers=("rad", "maf")), "Unknown layer kind.*'maf'"),
        (dict(layers=()), "layers is empty"),
        (dict(layers="rad"), "not the string 'rad'"),
        (dict(event_size=1, layers=("rad", "real_nvp")), "event_size must be >= 2, got 1"),
        (dict(real_nvp_hidden_units=0), "real_nvp_hidden_units must be a positive integer"),
        (dict(rad_hidden_units=-1), "hidden_units must be a positive integer"),
    ],
)
def test_bad_hyper_parameters_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HybridFlow(**{"event_size": 2, **kwargs})


# ------------------------------------------------------------------------------------------
# RADFlow's gating width.


@pytest.mark.parametrize("width", [0, 2, 8, 32])
def test_gating_widths_build_with_the_expected_parameter_counts(width):
    model = RADFlow(2, hidden_units=8, gating_hidden_units=width)
    conditioner = (1 * 8 + 8) + (8 * 10 + 10) + 1
    gating = (2 * width + width) + (width * 3 + 3) if width else 0
    assert model.count_params() == 6 * (conditioner + gating)
    assert all((g is None) == (width == 0) for g in model.gatings)


@pytest.mark.parametrize("width", [0, 32])
def test_gating_widths_integrate_to_one(float64, width):
    model = RADFlow(2, num_layers=3, gating_hidden_units=width)
    gatings = model.gatings if width else [types.SimpleNamespace(trainable_variables=[])] * 3
    randomize_rad(types.SimpleNamespace(folds=model.folds, gatings=gatings), 3)
    axis, points = grid_2d(-10.0, 10.0, 1500)
    density = density_on(model, points, len(axis))
    assert abs(np.trapezoid(np.trapezoid(density, axis), axis) - 1.0) < 1e-2
    cell = (axis[1] - axis[0]) ** 2
    assert 0.5 * np.abs(density - standard_normal_density(points, len(axis))).sum() * cell > 0.3


def test_no_gating_network_means_zero_gating_logits(float64):
    """gating_hidden_units=0 is s(z) = 0: a gating network whose output is zero."""
    without = RADFlow(2, num_layers=3, gating_hidden_units=0)
    randomize_rad(types.SimpleNamespace(
        folds=without.folds, gatings=[types.SimpleNamespace(trainable_variables=[])] * 3), 7)
    zero = RADFlow(2, num_layers=3, gating_hidden_units=4)
    zero.conditioners.set_weights(without.conditioners.get_weights())
    randomize(zero.gating_networks, 8)
    for variable in (zero.gating_networks.output_kernel, zero.gating_networks.output_bias):
        variable.assign(tf.zeros_like(variable))
    x = np.random.default_rng(1).normal(size=(50, 2))
    np.testing.assert_allclose(zero.log_prob(x), without.log_prob(x), rtol=1e-12)
    randomize(zero.gating_networks, 9)  # and a non-zero s(z) changes the density
    assert np.abs(zero.log_prob(x) - without.log_prob(x)).max() > 0.1


def test_gating_width_defaults_to_hidden_units_and_rejects_bad_values(tmp_path):
    assert RADFlow(2, hidden_units=5).gating_hidden_units == 5
    assert RADFlow(2, hidden_units=5).gating_networks.hidden_units == 5
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="gating_hidden_units must be a non-negative"):
            RADFlow(2, gating_hidden_units=bad)
    model = RADFlow(2, num_layers=2, gating_hidden_units=0)
    tfp_rad.save_model(model, str(tmp_path / "m.keras"))
    loaded = tfp_rad.load_model(str(tmp_path / "m.keras"))
    assert loaded.gating_hidden_units == 0 and loaded.gatings == [None, None]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("two_moons-rad-seed0", [-11.151144, -8.981431, -12.3037815, -5.5098915]),
        ("two_moons-real_nvp-seed0", [-10.006102, -11.210751, -7.7280993, -5.781677]),
    ],
)
def test_committed_models_load_with_their_original_log_prob(name, expected):
    """Models saved before gating_hidden_units and the shared layer builders existed."""
    model = tfp_rad.load_model(os.path.join(LEGACY_MODELS, f"legacy-{name}.keras"))
    points = np.array([[0.0, 0.0], [1.0, 0.5], [-1.2, 0.3], [0.5, -0.7]], np.float32)
    # The values that the code of commit 1e9715e gave.
    np.testing.assert_allclose(model.log_prob(points), expected, rtol=1e-5)
    if isinstance(model, RADFlow):
        assert model.gating_hidden_units == model.hidden_units == 8


# ------------------------------------------------------------------------------------------
# The studies.


def test_hybrid_study_models_have_equal_parameter_budgets():
    counts = {
        model.name: studies.build_model(model.architecture).count_params()
        for model in studies.STUDIES["hybrid"].models()
    }
    assert counts == {"rad": 948, "real_nvp": 954, "hybrid": 951}


def test_matched_hidden_units_minimizes_the_distance():
    def architecture(h):
        return {"class": "RealNVPFlow", "num_layers": 1, "hidden_units": h}  # 4 h + 3

    assert studies.matched_hidden_units(architecture, 100) == 24  # 99 beats 103
    assert studies.matched_hidden_units(architecture, 5) == 1
    assert studies.matched_hidden_units(architecture, 1001) == 249  # 999 ties 1003: smaller h


def test_gating_study_writes_runs_and_table_then_resumes(tmp_path, capsys):
    output = str(tmp_path)
    fast = dict(steps=10, num_train=600, num_test=600, jit_compile=False, verbose=0)
    kwargs = dict(problems=["two_moons"], models=["gating0", "gating2"], seeds=[0], **fast)
    executed = studies.run("gating", output, **kwargs)
    assert executed == ["two_moons-gating0-seed0", "two_moons-gating2-seed0"]
    with open(tmp_path / "runs" / "two_moons-gating0-seed0.json") as f:
        record = json.load(f)
    assert record["config"]["architecture"]["gating_hidden_units"] == 0
    assert record["parameters"] == 642 and np.isfinite(record["test_log_likelihood"])
    table = (tmp_path / "table.md").read_text()
    assert "tfp-rad study gating --problems two_moons --models gating0 gating2" in table
    assert "| gating 0 (none) | `RADFlow(num_layers=6, hidden_units=8, gating_hidden_units=0)` |" \
        " 642 |" in table
    assert f"| two_moons | {record['test_log_likelihood']:.3f} (n=1) |" in table
    assert studies.run("gating", output, **kwargs) == []
    with pytest.raises(ValueError, match="steps=10 where this invocation has 11"):
        studies.run("gating", output, **{**kwargs, "steps": 11})
    with pytest.raises(ValueError, match="Unknown model 'gating3'"):
        studies.run("gating", output, **{**kwargs, "models": ["gating3"]})
    (tmp_path / "table.md").unlink()
    assert cli.main(["study", "gating", "--table-only", "--output", output]) == 0
    assert (tmp_path / "table.md").read_text() == table
    with pytest.raises(SystemExit):
        cli.main(["study", "hybrid", "--table-only", "--output", output])  # gating runs
    assert "not a problem and model of `tfp-rad study hybrid`" in capsys.readouterr().err
