"""Data-parallel training under `tf.distribute.MirroredStrategy` on two logical CPUs.

The devices must be configured before TensorFlow initializes, so the training runs in a
fresh interpreter: this file run as a script (`main`), which prints its results as JSON.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

# Long enough to train (the NLL falls by 0.8-0.9 nats), short enough that the runs have not
# parted: two runs that differ only in float32 rounding stay within 4e-7 nats of each other
# through 100 Adam steps, then part as training amplifies the difference (measured on seeds
# 0-9, RAD with per-layer and with stacked networks: at most 4e-7 nats apart after 100 steps,
# up to 3e-3 after 150 and 4e-2 after 200; Real NVP up to 7e-4 after 200).
STEPS, BATCH_SIZE, NUM_POINTS = 100, 200, 2000


def batches(x, steps, batch_size, seed):
    """The points of `steps` batches, one seeded permutation of `x` after another.

    Shuffled here rather than by `tf.data`: a seeded `shuffle` is re-seeded when a strategy
    distributes the dataset, so both runs would not see the same batches.
    """
    rng = np.random.default_rng(seed)
    passes = -(-steps * batch_size // len(x))
    return np.concatenate([x[rng.permutation(len(x))] for _ in range(passes)])[
        : steps * batch_size
    ]


def main():
    """Trains each model on one device and on two replicas; prints the results as JSON."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    import keras

    from tfp_rad import datasets, training
    from tfp_rad.models import RADFlow, RealNVPFlow

    x = datasets.load("two_moons", NUM_POINTS, seed=1)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    results = {"replicas": strategy.num_replicas_in_sync}

    def train(kind, mode, optimizer, steps):
        """A model trained by `model.fit` on the same batches, on one device or mirrored."""
        keras.utils.set_random_seed(0)
        with strategy.scope() if mode == "mirrored" else tf.device("/cpu:0"):
            model = kind(2, num_layers=2)
            model.compile(optimizer=optimizer(), jit_compile=False)
            stream = batches(x, steps, BATCH_SIZE, seed=0)
            model.fit(tf.data.Dataset.from_tensor_slices(stream).batch(BATCH_SIZE), verbose=0)
        return model

    for name, kind in (("rad", RADFlow), ("real_nvp", RealNVPFlow)):
        one_step = {
            mode: train(kind, mode, lambda: keras.optimizers.SGD(0.05), 1).get_weights()
            for mode in ("single", "mirrored")
        }
        keras.utils.set_random_seed(0)
        nll = {"initial": -training.mean_log_likelihood(kind(2, num_layers=2), x)}
        for mode in ("single", "mirrored"):
            model = train(kind, mode, lambda: keras.optimizers.Adam(5e-3), STEPS)
            nll[mode] = -training.mean_log_likelihood(model, x)
        with strategy.scope():  # the library's own loop under the strategy
            model = kind(2, num_layers=2)
            training.fit_steps(model, x, 20, batch_size=BATCH_SIZE, verbose=0)
        results[name] = {
            "one_step_difference": max(
                float(np.abs(a - b).max()) for a, b in zip(*one_step.values())
            ),
            "nll": nll,
            "fit_steps": {
                "iterations": int(model.optimizer.iterations.numpy()),
                "jit_compile": bool(model.jit_compile),
                "nll": -training.mean_log_likelihood(model, x),
            },
        }
    print("RESULTS " + json.dumps(results))


@pytest.fixture(scope="module")
def distributed():
    process = subprocess.run(
        [sys.executable, os.path.abspath(__file__)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    lines = [line for line in process.stdout.splitlines() if line.startswith("RESULTS ")]
    assert process.returncode == 0 and lines, process.stdout + process.stderr
    return json.loads(lines[-1][len("RESULTS ") :])


@pytest.mark.parametrize("name", ["rad", "real_nvp"])
def test_one_mirrored_step_equals_one_single_device_step(distributed, name):
    assert distributed["replicas"] == 2
    # Each replica's loss is scaled by 1/2 and the replicas' gradients are summed: the
    # step is that of the global batch, up to float32 rounding (not twice it).
    assert distributed[name]["one_step_difference"] < 1e-6


@pytest.mark.parametrize("name", ["rad", "real_nvp"])
def test_mirrored_training_reaches_the_single_device_nll(distributed, name):
    nll = distributed[name]["nll"]
    decrease = nll["initial"] - nll["single"]
    assert decrease > 0.3, nll
    # The same batches in the same order: only rounding differs (see STEPS).
    assert abs(nll["mirrored"] - nll["single"]) < 1e-4, nll


@pytest.mark.parametrize("name", ["rad", "real_nvp"])
def test_fit_steps_runs_under_the_strategy(distributed, name):
    run = distributed[name]["fit_steps"]
    assert run["iterations"] == 20
    assert not run["jit_compile"]  # FlowModel.compile's default under a strategy
    assert run["nll"] < distributed[name]["nll"]["initial"]


if __name__ == "__main__":
    main()
