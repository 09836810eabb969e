"""Shared fixtures and helpers: dtype switching, randomized models, quadrature."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The tests, and the interpreters some of them start (`python tests/test_distributed.py`,
# ...), import this checkout's `tfp_rad`, not the one the environment installed: an editable
# install may point at another worktree, which they would then test instead.
CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, CHECKOUT)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [CHECKOUT, os.environ.get("PYTHONPATH")]))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfp_rad.models.layers import StackedNetwork  # noqa: E402


@pytest.fixture(params=["float32", "float64"])
def floatx(request):
    """Runs a test once per Keras float type, restoring float32 afterwards."""
    keras.config.set_floatx(request.param)
    yield request.param
    keras.config.set_floatx("float32")


@pytest.fixture
def float64():
    keras.config.set_floatx("float64")
    yield "float64"
    keras.config.set_floatx("float32")


def randomize(layer, seed, scale=1.0):
    """Sets every trainable variable of `layer` to `N(0, scale^2)` draws (far from init)."""
    rng = np.random.default_rng(seed)
    for variable in layer.trainable_variables:
        variable.assign(rng.normal(0.0, scale, variable.shape).astype(variable.dtype))


def randomize_rad(model, seed, scale=0.3, gating_scale=1.0, affine_scale=0.25, tanh_scale=2.0):
    """Randomizes a RADFlow far from its initialization, yet with moderate affine maps.

    Conditioners get `N(0, scale^2)` draws and output scale `tanh_scale`; free-standing fold
    parameters and gating networks `N(0, gating_scale^2)`; then the raw columns that feed
    the affine maps `m_in, r_in, m_out, r_out` are scaled by `affine_scale`. Boundary
    probabilities and gating logits end up far from uniform, while the scales of stacked
    layers do not compound into a density too wide for quadrature.
    """
    rng = np.random.default_rng(seed)
    for fold, gating in zip(model.folds, model.gatings):
        if isinstance(fold.conditioner, StackedNetwork):  # RADFlow's stacked weights
            _randomize_stacked_conditioner(fold.conditioner, rng, scale, affine_scale,
                                           tanh_scale)
        else:
            _randomize_layer_conditioner(fold, rng, scale, gating_scale, affine_scale,
                                         tanh_scale)
        gating_seed = rng.integers(1 << 30)
        if isinstance(gating, StackedNetwork):
            gating_rng = np.random.default_rng(gating_seed)
            for name in ("hidden_kernel", "hidden_bias", "output_kernel", "output_bias"):
                shape = gating.weight(name).shape
                gating.assign(name, gating_rng.normal(0.0, gating_scale, shape))
        else:
            randomize(gating, gating_seed, gating_scale)


def _randomize_layer_conditioner(fold, rng, scale, gating_scale, affine_scale, tanh_scale):
    """`randomize_rad`'s draws for a fold's own parameters or per-layer conditioner."""
    if fold.conditioner is None:
        owner, outputs = fold, {id(fold.raw_parameters)}
    else:
        owner = fold.conditioner
        outputs = {id(v) for v in owner.get_layer("output").weights}
    for variable in owner.trainable_variables:
        if variable.shape == ():  # the ScaledTanh output range
            variable.assign(tanh_scale)
            continue
        std = scale if fold.conditioner is not None else gating_scale
        value = rng.normal(0.0, std, variable.shape)
        if id(variable) in outputs:  # raw [n, 10], or the output Dense [h, n * 10], [n * 10]
            value.reshape(value.shape[:-1] + (-1, 10))[..., :4] *= affine_scale
        variable.assign(value.astype(variable.dtype))


def _randomize_stacked_conditioner(conditioner, rng, scale, affine_scale, tanh_scale):
    """The same draws, in the same order, for a conditioner that is a `StackedNetwork`."""
    for name in ("hidden_kernel", "hidden_bias", "output_kernel", "output_bias"):
        value = rng.normal(0.0, scale, conditioner.weight(name).shape)
        if name.startswith("output"):  # [h, n * 10] or [n * 10]
            value.reshape(value.shape[:-1] + (-1, 10))[..., :4] *= affine_scale
        conditioner.assign(name, value)
    conditioner.assign("scale", tanh_scale)  # the ScaledTanh output range


def boundary_probabilities(fold, x=None):
    """`(q+, q-)` of a fold at points `x` as numpy arrays `[..., num_folded, 3]`.

    For a free-standing fold pass `x=None`; for a coupling fold `x` gives the pass-through.
    """
    dummy = np.zeros((1, fold.event_size)) if x is None else x
    p = fold.fold_parameters(tf.constant(dummy, fold.compute_dtype))
    return (np.exp(np.stack(p.log_q_plus, -1)), np.exp(np.stack(p.log_q_minus, -1)))


def breakpoints(fold, x=None):
    """The fold's breakpoints `u in {-1, a, b, 1}` mapped to input coordinates, `[N, n, 4]`.

    For a free-standing fold pass `x=None` (then `N = 1`); for a coupling fold `x` `[N, d]`
    gives the pass-through elements that the breakpoints depend on.
    """
    x = np.zeros((1, fold.event_size)) if x is None else x
    p = fold.fold_parameters(tf.constant(x, fold.compute_dtype))
    shape = (len(x), fold.num_folded)
    a, b, shift, log_scale = (
        np.broadcast_to(np.asarray(t), shape) for t in (p.a, p.b, p.shift_in, p.log_scale_in)
    )
    u = np.stack([-np.ones(shape), a, b, np.ones(shape)], axis=-1)
    return (u - shift[..., None]) * np.exp(-log_scale)[..., None]


def trapezoid_mass_1d(log_prob_fn, low, high, num):
    grid = np.linspace(low, high, num)
    density = np.exp(np.asarray(log_prob_fn(grid[:, None])))
    return np.trapezoid(density, grid)


def total_variation(samples, log_prob_fn, edges, refine=20):
    """TV distance between a 1-D sample histogram and the density's mass on the same bins.

    Bin masses come from the trapezoid rule on `refine` sub-intervals per bin. Samples
    outside the edges count fully against the sampler, so choose edges that hold the mass.
    """
    fine = np.linspace(edges[0], edges[-1], (len(edges) - 1) * refine + 1)
    density = np.exp(np.asarray(log_prob_fn(fine[:, None])))
    cells = 0.5 * (density[1:] + density[:-1]) * np.diff(fine)
    mass = cells.reshape(len(edges) - 1, refine).sum(axis=1)
    counts = np.histogram(samples, bins=edges)[0]
    outside = len(samples) - counts.sum()
    return 0.5 * (np.abs(counts / len(samples) - mass).sum() + outside / len(samples))


def assert_one_line_errors(runs, capsys):
    """Each `(argv, pattern)` of `runs` makes `tfp-rad` exit with code 2 and print one line
    to stderr, `tfp-rad <command>: ...`, that matches the regular expression `pattern`."""
    import re

    from tfp_rad.cli import main as cli

    for argv, pattern in runs:
        code = cli.main(argv)
        error = capsys.readouterr().err
        assert code == 2, (argv, error)
        assert error.startswith(f"tfp-rad {argv[0]}: ") and error.count("\n") == 1, error
        assert re.search(pattern, error), (pattern, error)
