"""XLA under a strategy, by hand: `python -m benchmarks.strategy_xla_loop [JSON]`.

Keras cannot XLA-compile `fit`'s step under `MirroredStrategy` (a variable on another
device). This custom loop compiles only each replica's loss and gradients with XLA
(`tf.function(jit_compile=True)` called inside `strategy.run`) and leaves the all-reduce
and the Adam update to the strategy outside XLA. It trains `RADFlow(2)` on two logical
CPUs (global batch 500) with and without that XLA function, the two steps timed
interleaved (50 steps per sample, 7 samples), and writes the first-call and per-step
times as JSON (default `benchmarks/results/strategy_xla_loop.json`).
"""

import json
import os
import sys
import time

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks import machine  # noqa: E402
from tfp_rad import datasets  # noqa: E402
from tfp_rad.models import RADFlow  # noqa: E402

x = datasets.load("two_moons", 10_000, seed=1)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
dataset = tf.data.Dataset.from_tensor_slices(x).repeat().batch(500)
results, steps = {"machine": machine.info(), "load_average_start": machine.load_average()}, {}


def build(jit):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = RADFlow(2)
        optimizer = keras.optimizers.Adam(5e-3)
        optimizer.build(model.trainable_variables)
    variables = model.trainable_variables

    @tf.function(jit_compile=jit)
    def loss_and_gradients(points):
        with tf.GradientTape() as tape:
            loss = model.compute_loss(y_pred=model(points, training=True))  # / replicas
        return loss, tape.gradient(loss, variables)

    @tf.function
    def train_step(batch):
        def replica_step(points):
            loss, gradients = loss_and_gradients(points)
            optimizer.apply_gradients(zip(gradients, variables))
            return loss
        return strategy.reduce("SUM", strategy.run(replica_step, (batch,)), axis=None)
    return train_step


iterator = iter(strategy.experimental_distribute_dataset(dataset))
for jit in (False, True):
    step = build(jit)
    try:
        t0 = time.perf_counter(); float(step(next(iterator))); first = time.perf_counter() - t0
        steps[jit] = step
        results[f"jit={jit}"] = {"first_s": round(first, 1), "times": []}
    except Exception as e:
        results[f"jit={jit}"] = f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"
for r in range(7):
    for jit, step in (list(steps.items()) if r % 2 == 0 else list(steps.items())[::-1]):
        t0 = time.perf_counter()
        for _ in range(50): loss = step(next(iterator))
        float(loss); results[f"jit={jit}"]["times"].append((time.perf_counter() - t0) / 50 * 1e3)
for jit in steps:
    r = results[f"jit={jit}"]; r["ms_per_step"] = round(float(np.median(r.pop("times"))), 2)
results["load_average_end"] = machine.load_average()
output = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    "benchmarks", "results", "strategy_xla_loop.json")
with open(output, "w") as f:
    json.dump(results, f, indent=1)
print("RESULT", json.dumps(results))
