"""Where the step time goes: forward vs forward+backward, per-call cost, sampling's RNG.

All timed functions are XLA-compiled (`tf.function(jit_compile=True)`):

- forward: the loss (mean NLL) of a batch; forward+backward: the loss and its gradient
  with respect to every trainable variable (no optimizer update), at batch 500 and at a
  large batch, in ns per point; comparing the two batch sizes separates the cost of a call
  from the per-point math.
- the full training step at batch 1 and at batch 500, timed interleaved: the step at
  batch 1 is the fixed cost of one XLA step call (dispatch, argument and variable
  handling, the Adam update of every variable), in ms.
- the compiled `log_prob`: how many fused loops XLA makes of it (each a pass over the
  batch, run in turn) and how many transcendental instructions it holds, from the
  optimized HLO; and its time at the large batch next to the time of the model's networks
  alone (every conditioner, and RAD's gatings, on inputs of the same batch size, in the
  blocks in which the model's `log_prob` runs them), timed interleaved, in ms per call.
- sampling's random numbers: `tf.random.stateless_normal` of the base samples (Philox,
  as the models draw them, and TF's default algorithm, which TFP's samplers use) and one
  layer's piece draw (`sample_categorical`), at the large batch, in ms per call, timed
  interleaved with both models' whole `distribution.sample` calls.
"""

import statistics

import tensorflow as tf

from benchmarks import steps
from benchmarks.steps import cycling
from benchmarks.throughput import seeds
from benchmarks.timing import Figure, first_calls, interleaved, scaled
from tfp_rad.philox_sampling import sample_categorical
from tfp_rad.rad_distribution import RADDistribution, in_blocks


def forward_fn(model):
    return tf.function(lambda x: steps.nll(model, x), jit_compile=True)


def forward_backward_fn(model):
    variables = model.trainable_variables

    @tf.function(jit_compile=True)
    def forward_backward(x):
        with tf.GradientTape() as tape:
            loss = steps.nll(model, x)
        return loss, tape.gradient(loss, variables)

    return forward_backward


def _bound(fn, argument):
    return lambda: fn(argument)


def _split(seconds, key):
    """`{(key, model): samples}` -> `{model: samples}` for one key."""
    return {name: values for (k, name), values in seconds.items() if k == key}


def measure_passes(models, batch, config):
    """Figures (ns/point) of the forward and forward+backward passes on `batch`.

    Both passes of both models are timed in one interleaved loop, so the backward /
    forward ratio holds under the same machine load.
    """
    size = int(batch.shape[0])
    makers = {"forward": forward_fn, "forward_backward": forward_backward_fn}
    calls = {(key, name): _bound(make(m), batch)
             for key, make in makers.items() for name, m in models.items()}
    first = first_calls(calls)
    seconds = interleaved(calls, config.repeats, warmup=config.warmup,
                          number=config.steps_per_sample if size <= 1000 else 1)
    figures = [
        Figure(
            key=f"profile_{key}_{size}",
            label=f"{key.replace('_', '+')} (XLA), batch {size:,}",
            unit="ns/point",
            higher_is_better=False,
            samples=scaled(_split(seconds, key), 1e9 / size),
        )
        for key in makers
    ]
    first_by_key = {f"{key}_{size}": _split(first, key) for key in makers}
    return figures, first_by_key


def measure_call_cost(models, batch, config):
    """Figures (ms) of the full XLA training step at batch 1 and at `batch`, interleaved.

    The step at batch 1 is the fixed cost of one call (dispatch, argument and variable
    handling, the Adam update of every variable). The models' optimizers must be built
    (`subjects.with_built_optimizer`).
    """
    inputs = {1: batch[:1], int(batch.shape[0]): batch}
    calls = {(size, name): _bound(steps.compiled_step(m, "xla"), x)
             for name, m in models.items() for size, x in inputs.items()}
    first = first_calls(calls)
    seconds = interleaved(calls, config.repeats, warmup=config.warmup,
                          number=config.steps_per_sample)
    figures = [
        Figure(
            key=f"profile_step_xla_{size}",
            label=f"training step (XLA), batch {size:,}"
            + (": fixed cost per call" if size == 1 else ""),
            unit="ms/step",
            higher_is_better=False,
            samples=scaled(_split(seconds, size), 1e3),
        )
        for size in inputs
    ]
    return figures, {f"step_xla_{size}": _split(first, size) for size in inputs}


def measure_random_numbers(models, num_points, config):
    """Median ms per call of sampling's random-number primitives and of whole sample calls.

    The primitives and each model's `distribution.sample(num_points)` (all XLA) are timed
    interleaved, so they compare under the same machine load.
    """
    functions = {
        "stateless_normal_default_alg": lambda s: tf.random.stateless_normal(
            [num_points, 2], seed=s),
        "stateless_normal_philox": lambda s: tf.random.stateless_normal(
            [num_points, 2], seed=s, alg="philox"),
        "piece_draw": lambda s: sample_categorical(tf.zeros([num_points, 1, 3]), s),
    }
    for name, model in models.items():
        functions[f"{name}_sample"] = (
            lambda m: lambda s: m.distribution.sample(num_points, seed=s))(model)
    calls = {name: cycling(tf.function(fn, jit_compile=True), seeds(16))
             for name, fn in functions.items()}
    first_calls(calls)
    seconds = interleaved(calls, config.repeats, warmup=config.warmup)
    return {name: statistics.median(values) * 1e3 for name, values in seconds.items()}


TRANSCENDENTALS = ("exponential", "log", "tanh", "logistic", "log-plus-one",
                   "exponential-minus-one", "power", "sine", "cosine")


def _points_only(log_prob):
    """`log_prob` of points alone: a signature without the optional context."""
    return lambda x: log_prob(x)


def count_hlo_instructions(models, points):
    """`{model: {"fusions": F, "transcendentals": T}}` in XLA's optimized HLO of
    `model.log_prob(points)`.

    Each fusion is one loop over (part of) the batch, so at a large batch F says how many
    passes the compiled program makes over memory. T counts the transcendental instructions
    (exp, log, tanh, ...); each is applied element-wise over its shape (a column of the
    batch, or a wider block such as a conditioner's whole output), with a polynomial or
    rational approximation.
    """
    counts = {}
    for name, model in models.items():
        compiled = tf.function(_points_only(model.log_prob), jit_compile=True)
        lines = compiled.experimental_get_compiler_ir(points)(stage="optimized_hlo").splitlines()
        counts[name] = {
            "fusions": sum(" fusion(" in line and "kind=k" in line for line in lines),
            "transcendentals": sum(f" {op}(" in line for line in lines
                                   for op in TRANSCENDENTALS),
        }
    return counts


def networks(model):
    """`{"conditioners": [...], "gatings": [...]}`: the model's networks, each as
    `(network, input width)`; Real NVP has no gatings."""
    if hasattr(model, "folds"):
        return {
            "conditioners": [(f.conditioner, f.num_passthrough) for f in model.folds],
            "gatings": [(g, model.event_size) for g in model.gatings if g is not None],
        }
    return {"conditioners": [(c, c.input_units) for c in model.conditioners], "gatings": []}


def _networks_fn(nets, block_size):
    """`x -> sum over nets of net(x[:, :width]).sum(-1)`, `[N]`, in blocks of `block_size`
    points when it is not None."""

    def apply(x):
        return tf.add_n([tf.reduce_sum(net(x[:, :width]), axis=-1) for net, width in nets])

    if block_size is None:
        return apply
    return lambda x: in_blocks(apply, x, block_size)


def measure_log_prob_parts(models, points, config):
    """Median ms per call of each model's XLA `log_prob` on `points` and of its networks.

    A network's part is all its networks of one kind (conditioners or gatings) applied to
    the first columns of `points`, compiled together: what the networks alone cost at this
    batch size, whatever the values. Where the model's `log_prob` runs in blocks
    (`RADDistribution.log_prob_block_size`), so do its networks here. Everything is timed
    interleaved.
    """
    functions = {}
    for name, model in models.items():
        functions[(name, "log_prob")] = model.log_prob
        distribution = model.distribution
        block_size = (distribution.log_prob_block_size
                      if isinstance(distribution, RADDistribution) else None)
        for kind, nets in networks(model).items():
            if nets:
                functions[(name, kind)] = _networks_fn(nets, block_size)
    calls = {key: _bound(tf.function(fn, jit_compile=True), points)
             for key, fn in functions.items()}
    first_calls(calls)
    seconds = interleaved(calls, config.repeats, warmup=config.warmup)
    return {f"{name}_{part}": statistics.median(values) * 1e3
            for (name, part), values in seconds.items()}
