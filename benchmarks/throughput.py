"""`log_prob` and sampling throughput at a large batch, with XLA and without.

`log_prob` is `model.log_prob` on a fixed batch of two-moons points; sampling is
`model.distribution.sample(n, seed=seed)` with the stateless seed passed as a tensor
argument (a new value each call), so nothing is constant-folded or cached.
"""

import tensorflow as tf

from benchmarks.steps import cycling
from benchmarks.timing import Figure, first_calls, interleaved, inverted

MODES = {"xla": True, "tf.function": False}
LABELS = {"log_prob": "`log_prob`", "sample": "sampling"}


def log_prob_fn(model, jit_compile):
    return tf.function(model.log_prob, jit_compile=jit_compile)


def sample_fn(model, num_points, jit_compile):
    def sample(seed):
        return model.distribution.sample(num_points, seed=seed)

    return tf.function(sample, jit_compile=jit_compile)


def seeds(count):
    return [tf.constant([0, i], tf.int32) for i in range(count)]


def measure(kind, models, points, config, modes=tuple(MODES)):
    """Throughput figures of `kind` ("log_prob" or "sample") in each of `modes`.

    Returns `(figures, first_call_seconds)`, figures in millions of points per second.
    """
    num_points = int(points.shape[0])
    figures, first = [], {}
    for mode in modes:
        jit = MODES[mode]
        if kind == "log_prob":
            calls = {name: (lambda f: lambda: f(points))(log_prob_fn(m, jit))
                     for name, m in models.items()}
        else:
            calls = {
                name: cycling(sample_fn(m, num_points, jit), seeds(64))
                for name, m in models.items()
            }
        key = f"{kind}_{mode.replace('.', '_')}"
        first[key] = first_calls(calls)
        seconds = interleaved(calls, config.repeats, warmup=config.warmup)
        figures.append(
            Figure(
                key=key,
                label=f"{LABELS[kind]} throughput, batch {num_points:,}, {mode}",
                unit="M points/s",
                higher_is_better=True,
                samples=inverted(seconds, num_points / 1e6),
            )
        )
    return figures, first
