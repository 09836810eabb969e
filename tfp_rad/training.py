"""Training a flow for a fixed number of Adam steps with Keras's own `fit` loop."""

import math
import time

import keras
import numpy as np
import tensorflow as tf

from tfp_rad import validation

DECAYS = ("cosine", "none")


def fit_steps(
    model,
    x,
    steps,
    batch_size=500,
    learning_rate=5e-3,
    decay="cosine",
    seed=0,
    steps_per_epoch=None,
    steps_per_execution=50,
    jit_compile=True,
    verbose=1,
    callbacks=None,
):
    """Compiles `model` with Adam and runs `steps` minibatch steps of `fit` on `x`.

    The learning rate decays from `learning_rate` to 0 along a cosine over the `steps`
    (`decay="cosine"`, Keras's `CosineDecay`) or stays constant (`decay="none"`).

    The data are shuffled (seeded) and repeated, so `steps` counts optimizer steps whatever
    the data size; Keras reports the loss (mean NLL) once per "epoch" of `steps_per_epoch`
    steps (default: up to 500).

    Returns:
      `(history, seconds)`: the Keras `History` and the wall time of `fit`.
    """
    steps = validation.positive_int(steps, "steps")
    batch_size = validation.positive_int(batch_size, "batch_size")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}.")
    if decay not in DECAYS:
        raise ValueError(f"decay must be one of {DECAYS}, got {decay!r}.")
    if decay == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    x = validation.points_array(x, model.event_size, model.compute_dtype, "Training data")
    steps_per_epoch = steps_per_epoch or min(steps, 500)
    epochs = math.ceil(steps / steps_per_epoch)
    dataset = (
        tf.data.Dataset.from_tensor_slices(x)
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(min(batch_size, len(x)), drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        jit_compile=jit_compile,
        steps_per_execution=min(steps_per_execution, steps_per_epoch),
    )
    start = time.perf_counter()
    history = model.fit(
        dataset,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        shuffle=False,  # the dataset shuffles itself
        verbose=verbose,
        callbacks=callbacks,
    )
    return history, time.perf_counter() - start


def mean_log_likelihood(model, x, batch_size=10_000):
    """Mean `log p(x)` in nats per point (minus the model's `evaluate` loss)."""
    x = validation.points_array(x, model.event_size, model.compute_dtype, "Evaluation data")
    log_probs = [
        np.asarray(model.log_prob(x[i : i + batch_size]), np.float64)
        for i in range(0, len(x), batch_size)
    ]
    return float(np.mean(np.concatenate(log_probs)))
