"""The models under test, with the paper's architectures, and the two-moons data."""

import keras
import numpy as np
import tensorflow as tf

from benchmarks import settings
from benchmarks.timing import RAD, REAL_NVP
from tfp_rad import datasets
from tfp_rad.models import RADFlow, RealNVPFlow
from tfp_rad.training import shuffled_batches

EVENT_SIZE = 2
ARCHITECTURES = {
    RAD: "RADFlow(2): 6 layers, 8 hidden units",
    REAL_NVP: "RealNVPFlow(2) (TFP tfb.RealNVP): 6 layers, 56 hidden units",
}


def make_models(seed=0):
    """Fresh `{RAD: RADFlow(2), REAL_NVP: RealNVPFlow(2)}` in float32, default sizes."""
    keras.utils.set_random_seed(seed)
    return {
        RAD: RADFlow(EVENT_SIZE, dtype="float32"),
        REAL_NVP: RealNVPFlow(EVENT_SIZE, dtype="float32"),
    }


def with_built_optimizer(model):
    """Compiles `model` with the CLI's Adam and builds the optimizer's slots now."""
    model.compile(optimizer=keras.optimizers.Adam(settings.LEARNING_RATE))
    model.optimizer.build(model.trainable_variables)
    return model


def training_points(num_points=settings.TRAIN_POINTS, seed=0):
    """Two-moons training points `[num_points, 2]` float32, as the paper's protocol."""
    return datasets.load("two_moons", num_points, seed=seed)


def batches(points, batch_size, num_batches, seed=0):
    """`[num_batches, batch_size, 2]` batches drawn from `points` by a seeded shuffle."""
    rng = np.random.default_rng(seed)
    needed = batch_size * num_batches
    order = np.concatenate(
        [rng.permutation(len(points)) for _ in range(-(-needed // len(points)))]
    )[:needed]
    return tf.constant(points[order].reshape(num_batches, batch_size, -1))


def training_dataset(points, batch_size=settings.BATCH_SIZE, seed=0):
    """The CLI's input pipeline (`tfp_rad.training.shuffled_batches`)."""
    return shuffled_batches(points, batch_size, seed)


def num_parameters(model):
    return int(sum(np.prod(v.shape) for v in model.trainable_variables))
