"""Where the step time goes: forward vs forward+backward, per-call cost, sampling's RNG.

All timed functions are XLA-compiled (`tf.function(jit_compile=True)`):

- forward: the loss (mean NLL) of a batch; forward+backward: the loss and its gradient
  with respect to every trainable variable (no optimizer update), at batch 500 and at a
  large batch, in ns per point. At batch 500 the fixed cost of a call dominates; at the
  large batch the per-point math does.
- the full training step at batch 1: the fixed cost of one XLA step call (dispatch,
  argument and variable handling, the Adam update of every variable), in ms.
- sampling's random numbers: `tf.random.stateless_normal` of the base samples (TFP's
  default algorithm, as the models use, and Philox) and one categorical draw of a piece
  per point, at the large batch, in ms per call.
"""

import tensorflow as tf
import tensorflow_probability as tfp

from benchmarks import steps
from benchmarks.throughput import seeds
from benchmarks.timing import Figure, first_calls, interleaved, scaled, time_call

tfd = tfp.distributions


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


def measure_passes(models, batch, config):
    """Figures (ns/point) of the forward and forward+backward passes on `batch`."""
    size = int(batch.shape[0])
    figures, first = [], {}
    for key, make in (("forward", forward_fn), ("forward_backward", forward_backward_fn)):
        calls = {name: _bound(make(m), batch) for name, m in models.items()}
        first[f"{key}_{size}"] = first_calls(calls)
        seconds = interleaved(calls, config.repeats, warmup=config.warmup,
                              number=config.steps_per_sample if size <= 1000 else 1)
        figures.append(
            Figure(
                key=f"profile_{key}_{size}",
                label=f"{key.replace('_', '+')} (XLA), batch {size:,}",
                unit="ns/point",
                higher_is_better=False,
                samples=scaled(seconds, 1e9 / size),
            )
        )
    return figures, first


def measure_call_cost(models, config):
    """Figure (ms) of the full XLA training step at batch 1: the fixed cost per call.

    The models' optimizers must be built (`subjects.with_built_optimizer`).
    """
    one_point = tf.zeros([1, 2], tf.float32)
    calls = {
        name: _bound(steps.compiled_step(m, "xla"), one_point)
        for name, m in models.items()
    }
    first = {"step_xla_1": first_calls(calls)}
    seconds = interleaved(calls, config.repeats, warmup=config.warmup,
                          number=config.steps_per_sample)
    figure = Figure(
        key="profile_step_xla_1",
        label="training step (XLA), batch 1: fixed cost per call",
        unit="ms/step",
        higher_is_better=False,
        samples=scaled(seconds, 1e3),
    )
    return figure, first


def measure_random_numbers(num_points, config):
    """Median ms per call of the random-number primitives that sampling uses."""
    primitives = {
        "stateless_normal_default_alg": lambda s: tf.random.stateless_normal(
            [num_points, 2], seed=s),
        "stateless_normal_philox": lambda s: tf.random.stateless_normal(
            [num_points, 2], seed=s, alg="philox"),
        "categorical_5_pieces": lambda s: tfd.Categorical(
            logits=tf.zeros([num_points, 5]), dtype=tf.int32).sample(seed=s),
    }
    result = {}
    for name, fn in primitives.items():
        compiled = tf.function(fn, jit_compile=True)
        seed_list = seeds(8)
        compiled(seed_list[0])
        timings = sorted(
            time_call(lambda: compiled(seed_list[r % 8])) for r in range(config.repeats)
        )
        result[name] = timings[len(timings) // 2] * 1e3
    return result
