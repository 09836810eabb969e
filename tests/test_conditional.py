"""Conditional densities p(x | c): the fold, the distribution and the Keras models."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from conftest import randomize, randomize_rad, total_variation, trapezoid_mass_1d

from tfp_rad import PiecewiseFold, RADDistribution, training
from tfp_rad.models import HybridFlow, RADFlow, RealNVPFlow
from tfp_rad.models.layers import mlp
from tfp_rad.rad_distribution import context_kwargs

tfd = tfp.distributions

CONTEXTS = np.array([[-1.5, 0.5], [0.0, 0.0], [1.0, -1.0]])


def conditional_fold(seed, event_size=4, context_size=2, fold_mask=None, scale=1.0):
    """A randomized conditional fold (coupling, or reading the context alone)."""
    num_folded = event_size - event_size // 2 if fold_mask is None else sum(fold_mask)
    conditioner = mlp(8, num_folded * 10, "conditioner")
    fold = PiecewiseFold(event_size, fold_mask=fold_mask, conditioner=conditioner,
                         context_size=context_size)
    randomize(fold, seed, scale)
    return fold


def random_conditional_flow(event_size, seed, context_size=2, num_layers=3, **kwargs):
    model = RADFlow(event_size, num_layers=num_layers, context_size=context_size, **kwargs)
    randomize_rad(model, seed)
    return model


def grid_2d(low, high, num):
    axis = np.linspace(low, high, num)
    xx, yy = np.meshgrid(axis, axis, indexing="ij")
    return axis, np.stack([xx.ravel(), yy.ravel()], axis=1)


def mass_2d(log_prob, context, low=-10.0, high=10.0, num=1201):
    axis, points = grid_2d(low, high, num)
    density = np.exp(log_prob(points, np.asarray(context, points.dtype)).numpy())
    density = density.reshape(num, num)
    return np.trapezoid(np.trapezoid(density, axis), axis), density, axis[1] - axis[0]


# ------------------------------------------------------------------------------------------
# The fold.


@pytest.mark.parametrize("mode", ["coupling", "context_only"])
def test_unfold_inverts_fold_for_every_context(floatx, mode):
    mask = None if mode == "coupling" else [True, True, True]
    # Moderate weights: slopes up to (3 / min_p)^2 would amplify float32's rounding.
    fold = conditional_fold(1, event_size=4 if mode == "coupling" else 3, fold_mask=mask,
                            scale=0.5)
    rng = np.random.default_rng(0)
    x = rng.normal(0, 3, (300, fold.event_size)).astype(floatx)
    context = rng.normal(0, 1, (300, 2)).astype(floatx)
    z, k, _ = fold.fold(x, context=context)
    assert set(np.unique(k)) == {0, 1, 2}
    # float32: z's rounding, divided by a slope well below 1, costs a few 1e-4 at worst.
    tolerance = 2e-3 if floatx == "float32" else 1e-10
    np.testing.assert_allclose(fold.unfold(z, k, context=context), x, rtol=tolerance,
                               atol=tolerance)
    # The fold depends on the context: another context folds the same points elsewhere.
    other, _, _ = fold.fold(x, context=context[::-1])
    assert np.abs(np.asarray(other) - np.asarray(z)).max() > 0.1


def test_log_det_matches_autodiff_jacobian_given_the_context(float64):
    fold = conditional_fold(2)
    x = tf.constant(np.random.default_rng(1).normal(0, 2, (32, 4)))
    context = np.random.default_rng(2).normal(0, 1, (32, 2))
    with tf.GradientTape() as tape:
        tape.watch(x)
        z = fold.fold(x, context=context)[0]
    expected = np.linalg.slogdet(tape.batch_jacobian(z, x).numpy())[1]
    np.testing.assert_allclose(fold.fold(x, context=context)[2], expected, atol=1e-9)


def test_one_context_broadcasts_to_every_point(float64):
    fold = conditional_fold(3)
    x = np.random.default_rng(3).normal(0, 2, (20, 4))
    context = np.array([0.3, -0.7])
    one = fold.fold_parameters(x, context)
    tiled = fold.fold_parameters(x, np.tile(context, (20, 1)))
    for a, b in zip(tf.nest.flatten(one), tf.nest.flatten(tiled)):
        np.testing.assert_array_equal(a, b)


def test_fold_with_gating_reads_the_context(float64):
    fold = conditional_fold(4)
    gating = mlp(8, 2 * 3, "gating")
    gating.build((None, 4 + 2))
    randomize(gating, 5)
    x = np.random.default_rng(4).normal(0, 2, (200, 4))
    context = np.random.default_rng(5).normal(0, 1, (200, 2))
    z, k, log_det, log_gate = fold.fold_with_gating(x, gating, context=context)
    expected = fold.log_gating_prob(
        z, k, gating(np.concatenate([z, context], 1)), context=context)
    np.testing.assert_allclose(log_gate, expected, rtol=1e-7, atol=1e-10)
    _, _, _, other = fold.fold_with_gating(x, gating, context=context[::-1])
    assert np.abs(np.asarray(other) - np.asarray(log_gate)).max() > 0.1


def test_bad_contexts_of_a_fold_are_rejected():
    fold = conditional_fold(0)
    x = np.zeros((5, 4), np.float32)
    with pytest.raises(ValueError, match="is conditional.*context_size=2.*\\[\\.\\.\\., 2\\]"):
        fold.fold(x)
    with pytest.raises(ValueError, match=r"2 entries on its last axis.*\(5, 3\)"):
        fold.fold(x, context=np.zeros((5, 3)))
    with pytest.raises(ValueError, match="scalar"):
        fold.fold(x, context=1.0)
    with pytest.raises(ValueError, match="NaN or inf in 1 row.*index 3"):
        fold.fold(x, context=np.array([[0, 0]] * 3 + [[np.nan, 0]] + [[0, 0]], np.float32))
    with pytest.raises(ValueError, match="real numbers"):
        fold.fold(x, context=np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="unconditional.*given a context"):
        PiecewiseFold(4).fold(x, context=np.zeros((5, 2)))
    with pytest.raises(ValueError, match="needs a conditioner"):
        PiecewiseFold(2, context_size=1)
    with pytest.raises(ValueError, match="context_size must be a non-negative integer"):
        PiecewiseFold(2, conditioner=mlp(4, 10, "c"), context_size=-1)


def test_conditional_fold_round_trips_its_config():
    fold = conditional_fold(0)
    copy = PiecewiseFold.from_config(fold.get_config())
    assert copy.context_size == 2 and copy.fold_mask == fold.fold_mask


# ------------------------------------------------------------------------------------------
# The distribution: normalization, sampling, continuity, gradients.


def test_1d_conditional_density_integrates_to_one_for_every_context(floatx):
    model = random_conditional_flow(1, 0)
    assert all(fold.conditioner is not None for fold in model.folds)  # reads c alone
    log_prob = tf.function(model.log_prob)
    grid = np.linspace(-15.0, 15.0, 2_000_001)[:, None].astype(floatx)
    densities = []
    for context in CONTEXTS.astype(floatx):
        density = np.exp(log_prob(grid, context).numpy())
        assert abs(np.trapezoid(density, grid[:, 0]) - 1.0) < 1e-3
        densities.append(density)
    # The contexts give different densities (total variation far from 0).
    step = grid[1, 0] - grid[0, 0]
    for a in range(len(densities)):
        for b in range(a):
            assert 0.5 * np.abs(densities[a] - densities[b]).sum() * step > 0.1


@pytest.mark.parametrize("kind", ["rad", "real_nvp", "hybrid"])
def test_2d_conditional_density_integrates_to_one_for_every_context(float64, kind):
    if kind == "rad":
        model = random_conditional_flow(2, 3, context_size=1)
    elif kind == "real_nvp":
        model = RealNVPFlow(2, num_layers=3, hidden_units=16, context_size=1)
        randomize(model, 3, 0.4)
    else:
        model = HybridFlow(2, layers=("rad", "real_nvp", "rad"), rad_hidden_units=8,
                           real_nvp_hidden_units=16, context_size=1)
        randomize_rad(model, 3, tanh_scale=1.0)
        for conditioner in model.conditioners:
            randomize(conditioner, 4, 0.3)
    log_prob = tf.function(model.log_prob)
    densities = []
    for context in ([-1.0], [1.5]):
        mass, density, step = mass_2d(log_prob, context)
        assert abs(mass - 1.0) < 1e-2, (context, mass)
        densities.append(density)
    assert 0.5 * np.abs(densities[0] - densities[1]).sum() * step**2 > 0.1


def test_samples_for_a_context_match_its_density(floatx):
    model = random_conditional_flow(1, 0)
    context = CONTEXTS[0].astype(floatx)
    edges = np.linspace(-15.0, 15.0, 301)

    def log_prob(points):
        return model.log_prob(points, context)

    samples = model.sample(200_000, seed=7, context=context).numpy()[:, 0]
    assert total_variation(samples, log_prob, edges) < 0.02
    # One context per draw, all equal: the same law.
    rows = np.tile(context, (200_000, 1))
    per_row = model.sample(200_000, seed=8, context=rows).numpy()[:, 0]
    assert total_variation(per_row, log_prob, edges) < 0.02
    # The check has teeth: the samples of another context fail it.
    other = model.sample(200_000, seed=7, context=CONTEXTS[2].astype(floatx)).numpy()[:, 0]
    assert total_variation(other, log_prob, edges) > 0.1


def conditional_breakpoints(model, context):
    """Every layer's breakpoints of a 1-D conditional flow given `context`, pulled back to
    data space through all the feasible preimages of the layers before it."""
    points = []
    for depth, fold in enumerate(model.folds):
        p = fold.fold_parameters(np.zeros((1, 1), fold.compute_dtype), context)
        u = np.stack([-np.ones(1), np.asarray(p.a)[0], np.asarray(p.b)[0], np.ones(1)])
        level = ((u - np.asarray(p.shift_in)[0]) * np.exp(-np.asarray(p.log_scale_in)[0]))
        level = level.reshape(-1, 1)
        for earlier in reversed(model.folds[:depth]):
            feasible = earlier.feasible_pieces(level, context=context).numpy()[:, 0, :]
            rows, pieces = np.nonzero(feasible)
            level = earlier.unfold(level[rows], pieces[:, None].astype(np.int32),
                                   context=context).numpy()
        points.append(level)
    return np.concatenate(points)


def test_log_prob_is_continuous_at_every_breakpoint_for_every_context(floatx):
    model = random_conditional_flow(1, 0)

    def gap(x, context, delta):
        return np.abs(model.log_prob(x + delta, context).numpy()
                      - model.log_prob(x - delta, context).numpy())

    for context in CONTEXTS.astype(floatx):
        x = conditional_breakpoints(model, context).astype(floatx)
        assert len(x) > 4 * 3
        if floatx == "float64":  # the one-sided limits themselves
            assert gap(x, context, 1e-10).max() < 1e-6, context
        else:
            # float32 cannot step 1e-10; log p's slopes reach 1e4 here, so a step of 1e-4
            # leaves gaps of order 0.1 too. Continuous, the gap shrinks tenfold with the
            # step; a jump J would stay J (floor: x's rounding, up to 1e-6, times the slope).
            coarse, fine = gap(x, context, 1e-4), gap(x, context, 1e-5)
            assert np.all(fine < 0.2 * coarse + 1e-2), (context, np.max(fine - 0.2 * coarse))


def test_log_prob_is_continuous_at_the_coupling_breakpoints_2d(float64):
    model = random_conditional_flow(2, 1)
    rng = np.random.default_rng(5)
    x1, context = rng.normal(size=(40, 2)), rng.normal(size=(40, 2))
    p = model.folds[0].fold_parameters(x1, context)
    u = np.stack([-np.ones(40), np.asarray(p.a)[:, 0], np.asarray(p.b)[:, 0], np.ones(40)], 1)
    edges = (u - np.asarray(p.shift_in)) * np.exp(-np.asarray(p.log_scale_in))
    x = np.repeat(x1, 4, axis=0)
    x[:, 1] = edges.ravel()
    contexts = np.repeat(context, 4, axis=0)
    step = np.array([0.0, 1e-10])
    gap = np.abs(model.log_prob(x + step, contexts) - model.log_prob(x - step, contexts))
    assert np.max(gap) < 1e-6


@pytest.mark.parametrize("kind", ["rad", "real_nvp", "hybrid"])
def test_gradients_reach_every_variable_and_the_context(floatx, kind):
    if kind == "rad":
        model = random_conditional_flow(2, 2)
    elif kind == "real_nvp":
        model = RealNVPFlow(2, num_layers=2, hidden_units=8, context_size=2)
        randomize(model, 2, 0.5)
    else:
        model = HybridFlow(2, layers=("rad", "real_nvp"), context_size=2)
        randomize(model, 2, 0.5)
    rng = np.random.default_rng(0)
    x = tf.constant(np.concatenate([rng.normal(size=(64, 2)), [[1e3, -1e3], [-50.0, 50.0]]]),
                    floatx)
    context = tf.constant(rng.normal(size=(66, 2)), floatx)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(context)
        loss = -tf.reduce_mean(model.log_prob(x, context))
    gradients = tape.gradient(loss, model.trainable_variables)
    assert np.isfinite(loss.numpy())
    assert all(g is not None and np.all(np.isfinite(g)) for g in gradients)
    assert all(float(tf.reduce_sum(tf.abs(g))) > 0 for g in gradients)
    context_gradient = tape.gradient(loss, context)
    assert np.all(np.isfinite(context_gradient)) and np.abs(context_gradient).max() > 0


def test_xla_equals_eager(floatx):
    model = random_conditional_flow(2, 1, num_layers=4)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5000, 2)).astype(floatx)  # more than a block of 4096
    context = rng.normal(size=(5000, 2)).astype(floatx)
    eager = model.log_prob(x, context).numpy()
    distribution = model.distribution
    xla = tf.function(lambda v, c: distribution.log_prob(v, context=c), jit_compile=True)
    compiled = xla(x, context).numpy()
    if floatx == "float64":
        np.testing.assert_allclose(compiled, eager, rtol=1e-10, atol=1e-10)
    else:  # XLA's float32 transcendentals differ from eager's by a few ulp per op
        assert abs(compiled.mean() - eager.mean()) < 1e-5 * abs(eager.mean())
        np.testing.assert_allclose(compiled, eager, rtol=1e-4, atol=1e-4)
    sample = tf.function(lambda c: distribution.sample(50, seed=(1, 1), context=c),
                         jit_compile=True)
    draws = sample(context[0]).numpy()
    assert draws.shape == (50, 2) and np.all(np.isfinite(draws))


def test_shapes_broadcast_between_points_and_contexts(float64):
    distribution = random_conditional_flow(2, 0).distribution
    rng = np.random.default_rng(0)
    x, context = rng.normal(size=(3, 4, 2)), rng.normal(size=(4, 2))
    batched = distribution.log_prob(x, context=context)
    assert batched.shape == (3, 4)
    single = [[distribution.log_prob(x[i, j], context=context[j]).numpy() for j in range(4)]
              for i in range(3)]
    np.testing.assert_allclose(batched, single, rtol=1e-12)
    np.testing.assert_allclose(distribution.prob(x, context=context), np.exp(batched))
    assert distribution.sample(5, seed=(1, 2), context=context[0]).shape == (5, 2)
    assert distribution.sample((), seed=(1, 2), context=context).shape == (4, 2)
    assert distribution.sample([3, 4], seed=(1, 2), context=context).shape == (3, 4, 2)
    with pytest.raises(ValueError, match="does not broadcast"):
        distribution.log_prob(x, context=rng.normal(size=(5, 2)))
    with pytest.raises(ValueError, match="does not broadcast"):
        distribution.sample(3, seed=(1, 2), context=context)


def test_bad_contexts_of_a_distribution_are_rejected():
    distribution = random_conditional_flow(2, 0).distribution
    x = np.zeros((4, 2), np.float32)
    with pytest.raises(ValueError, match="is conditional"):
        distribution.log_prob(x)
    with pytest.raises(ValueError, match="is conditional"):
        distribution.sample(3, seed=(1, 2))
    with pytest.raises(ValueError, match="2 entries on its last axis"):
        distribution.log_prob(x, context=np.zeros((4, 1)))
    with pytest.raises(ValueError, match="NaN or inf"):
        distribution.sample(3, seed=(1, 2), context=[np.inf, 0.0])
    unconditional = RADDistribution(tfd.MultivariateNormalDiag(loc=tf.zeros(2)), PiecewiseFold(2))
    with pytest.raises(ValueError, match="unconditional"):
        unconditional.log_prob(x, context=np.zeros((4, 2)))
    with pytest.raises(ValueError, match="unconditional"):
        unconditional.sample(3, seed=(1, 2), context=np.zeros(2))


def test_context_reaches_tfp_real_nvp_through_bijector_kwargs(float64):
    model = RealNVPFlow(2, num_layers=3, hidden_units=8, context_size=1)
    randomize(model, 0, 0.5)
    distribution = model.distribution
    context = np.array([[0.5], [-1.0]])
    kwargs = context_kwargs(distribution, context)
    names = {b.name for b in distribution.bijector.bijectors}
    assert set(kwargs) == {"bijector_kwargs"} and set(kwargs["bijector_kwargs"]) == names
    x = np.array([[0.1, 0.2], [0.1, 0.2]])
    direct = distribution.log_prob(x, bijector_kwargs=kwargs["bijector_kwargs"])
    np.testing.assert_allclose(direct, model.log_prob(x, context))
    assert abs(float(direct[0] - direct[1])) > 1e-3


# ------------------------------------------------------------------------------------------
# The Keras models.


def conditional_data(n, seed=0, dtype="float32"):
    """Pairs whose x given c is a Gaussian centred at (2c, -c)."""
    rng = np.random.default_rng(seed)
    context = rng.uniform(-1.0, 1.0, (n, 1))
    x = 0.3 * rng.normal(size=(n, 2)) + np.concatenate([2 * context, -context], 1)
    return x.astype(dtype), context.astype(dtype)


MODELS = {
    "rad": lambda **kw: RADFlow(2, num_layers=2, context_size=1, **kw),
    "real_nvp": lambda **kw: RealNVPFlow(2, num_layers=2, hidden_units=16, context_size=1,
                                         **kw),
    "hybrid": lambda **kw: HybridFlow(2, layers=("rad", "real_nvp"), real_nvp_hidden_units=16,
                                      context_size=1, **kw),
}


@pytest.mark.parametrize("kind", MODELS)
def test_fit_lowers_the_conditional_nll(kind):
    keras.utils.set_random_seed(0)
    x, context = conditional_data(2000)
    model = MODELS[kind]()
    model.compile(optimizer=keras.optimizers.Adam(5e-3), steps_per_execution=5)
    data = {"x": x, "context": context}
    before = model.evaluate(data, batch_size=500, verbose=0)
    model.fit(data, batch_size=200, epochs=10, verbose=0)
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(500)
    after = model.evaluate(dataset, verbose=0)
    assert after < before - 0.5, (before, after)
    np.testing.assert_allclose(after, -np.mean(model.log_prob(x, context)), rtol=1e-5)
    # One context [m] for all points equals the same context repeated per point.
    np.testing.assert_allclose(model.log_prob(x[:10], context[0]),
                               model.log_prob(x[:10], np.tile(context[0], (10, 1))), rtol=1e-6)


def _trained_weights(dataset, steps_per_execution):
    keras.utils.set_random_seed(11)
    model = RADFlow(2, num_layers=2, context_size=1, dtype="float64")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=True,
                  steps_per_execution=steps_per_execution)
    model.fit(dataset, epochs=2, steps_per_epoch=10, verbose=0, shuffle=False)
    return [np.asarray(w) for w in model.weights]


def test_fused_steps_train_exactly_as_keras_own_loop(float64):
    x, context = conditional_data(2000, dtype="float64")
    dataset = training.shuffled_batches(x, 200, seed=3, context=context)
    assert set(next(iter(dataset))) == {"x", "context"}
    for a, b in zip(_trained_weights(dataset, 1), _trained_weights(dataset, 5)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_fit_steps_trains_a_conditional_model():
    x, context = conditional_data(2000)
    model = RADFlow(2, num_layers=2, context_size=1)
    before = training.mean_log_likelihood(model, x, context=context)
    training.fit_steps(model, x, 200, batch_size=200, context=context, verbose=0,
                       validation_data=x[:500], validation_context=context[:500])
    assert training.mean_log_likelihood(model, x, context=context) > before + 0.5
    with pytest.raises(ValueError, match="is conditional"):
        training.fit_steps(model, x, 10, verbose=0)
    with pytest.raises(ValueError, match="2000 points but 1999 contexts"):
        training.fit_steps(model, x, 10, verbose=0, context=context[1:])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", MODELS)
def test_save_and_load_round_trip(kind, dtype, tmp_path):
    x, context = conditional_data(1000, dtype=dtype)
    model = MODELS[kind](standardize=True, dtype=dtype)
    model.adapt(x, context)
    model.compile(optimizer="adam", jit_compile=False)  # saving is tested, not XLA
    model.fit({"x": x, "context": context}, batch_size=500, epochs=1, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model) and loaded.context_size == 1
    assert loaded.compute_dtype == dtype
    np.testing.assert_array_equal(loaded.log_prob(x[:50], context[:50]),
                                  model.log_prob(x[:50], context[:50]))
    np.testing.assert_array_equal(loaded.sample(5, seed=3, context=context[0]),
                                  model.sample(5, seed=3, context=context[0]))


def test_standardize_adapts_points_and_contexts(float64):
    x, context = conditional_data(1000, dtype="float64")
    context = 10.0 + 5.0 * context
    model = RADFlow(2, num_layers=2, context_size=1, standardize=True)
    randomize_rad(model, 0)
    model.adapt(x, context)
    np.testing.assert_allclose(model.context_mean, context.mean(0))
    np.testing.assert_allclose(model.context_scale, context.std(0))
    flow = RADFlow(2, num_layers=2, context_size=1)
    flow.set_weights(_flow_weights(model))
    expected = flow.log_prob((x - x.mean(0)) / x.std(0), (context - context.mean(0))
                             / context.std(0)) - np.log(x.std(0)).sum()
    np.testing.assert_allclose(model.log_prob(x, context), expected, rtol=1e-10)
    with pytest.raises(ValueError, match="Context feature 0.*constant"):
        model.adapt(x, np.ones((1000, 1)))
    with pytest.raises(ValueError, match="is conditional"):
        model.adapt(x)


def _flow_weights(model):
    """`model`'s weights without its standardization's (its non-trainable variables)."""
    standardization = {id(v) for v in model.non_trainable_variables}
    return [np.asarray(v) for v in model.weights if id(v) not in standardization]


def test_model_sample_takes_one_context_or_one_per_draw():
    model = random_conditional_flow(2, 0, context_size=1)
    assert model.sample(7, seed=1, context=[0.5]).shape == (7, 2)
    assert model.sample(7, seed=1, context=np.full((7, 1), 0.5)).shape == (7, 2)
    with pytest.raises(ValueError, match=r"one context \[1\] or one per draw, \[7, 1\].*\(6, 1\)"):
        model.sample(7, seed=1, context=np.zeros((6, 1)))
    with pytest.raises(ValueError, match="one per draw"):
        model.sample(7, seed=1, context=np.zeros((7, 1, 1)))


@pytest.mark.parametrize("kind", MODELS)
def test_bad_contexts_of_a_model_are_rejected(kind):
    model = MODELS[kind]()
    model.compile(optimizer="adam")
    x, context = conditional_data(100)
    with pytest.raises(ValueError, match="is conditional"):
        model.log_prob(x)
    with pytest.raises(ValueError, match="is conditional"):
        model.sample(3, seed=0)
    with pytest.raises(ValueError, match=r"1 entries on its last axis.*\(100, 2\)"):
        model.log_prob(x, np.zeros((100, 2)))
    with pytest.raises(ValueError, match="scalar"):
        model.log_prob(x, 0.5)
    with pytest.raises(ValueError, match="NaN or inf"):
        model.log_prob(x, np.full((100, 1), np.nan))
    with pytest.raises(ValueError, match=r"1 entries on its last axis.*\(100,\)"):
        model.log_prob(x, context[:, 0])  # one number per point, but rank 1
    with pytest.raises(ValueError, match="must be a dict"):
        model.fit(x, verbose=0)
    with pytest.raises(ValueError, match="must be a dict"):
        model.evaluate(x, verbose=0)
    with pytest.raises(ValueError, match=r"2-D array.*shape \(100,\)"):
        model.fit({"x": x, "context": context[:, 0]}, verbose=0)
    bad = context.copy()
    bad[17] = np.nan
    with pytest.raises(ValueError, match="contexts of Training data.*NaN or inf.*index 17"):
        model.fit({"x": x, "context": bad}, verbose=0)
    with pytest.raises(ValueError, match="100 points but 99 contexts"):
        model.fit({"x": x, "context": context[1:]}, verbose=0)
    with pytest.raises(ValueError, match="keys 'x' and 'context'"):
        model.fit({"points": x, "context": context}, verbose=0)


@pytest.mark.parametrize("model_class", [RADFlow, RealNVPFlow, HybridFlow])
def test_negative_context_size_is_rejected(model_class):
    with pytest.raises(ValueError, match="context_size must be a non-negative integer"):
        model_class(2, context_size=-1)


def test_unconditional_models_refuse_a_context():
    model = RADFlow(2, num_layers=2)
    x = np.zeros((4, 2), np.float32)
    with pytest.raises(ValueError, match="unconditional"):
        model.log_prob(x, np.zeros((4, 1)))
    with pytest.raises(ValueError, match="unconditional"):
        model.sample(3, seed=0, context=[0.0])
    with pytest.raises(ValueError, match="unconditional"):
        model.fit({"x": x, "context": np.zeros((4, 1))}, verbose=0)
    real_nvp = RealNVPFlow(2, num_layers=2)
    with pytest.raises(ValueError, match="unconditional"):
        real_nvp.log_prob(x, np.zeros((4, 1)))
