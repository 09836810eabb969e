"""The training protocol that the paper reproduction and the studies share on the 2-D problems.

A protocol is its `SETTINGS` (steps, batch size, learning rate and schedule, data sizes),
shared by every run of an output directory; a run is one (problem, model, seed), trained
by `train_and_evaluate` with `training.fit_steps` on the data of
`datasets.train_test_data` and scored on its train and fresh test points next to the true
density (the oracle).
"""

import numbers

import numpy as np

from tfp_rad import catalog, validation
from tfp_rad.experiments.run_store import RunStoreError

SETTINGS = ("steps", "batch_size", "learning_rate", "decay", "num_train", "num_test")
RESULTS = (  # what every run's record holds (`train_and_evaluate`)
    "parameters",
    "train_log_likelihood",
    "test_log_likelihood",
    "oracle_train_log_likelihood",
    "oracle_test_log_likelihood",
    "versions",
)
MAX_SEED = 2**30 - 2  # the largest seed whose data seed 2 seed + 2 is a valid dataset seed


def protocol_settings(
    steps,
    batch_size=500,
    learning_rate=catalog.LEARNING_RATE,
    decay="cosine",
    num_train=10_000,
    num_test=10_000,
):
    """The settings that every run of a protocol shares, checked: a dict of `SETTINGS`.

    Raises:
      ValueError: for a non-positive size, a learning rate that is not a positive number,
        or an unknown decay.
    """
    settings = {
        "steps": validation.positive_int(steps, "steps"),
        "batch_size": validation.positive_int(batch_size, "batch_size"),
        "learning_rate": float(learning_rate),
        "decay": decay,
        "num_train": validation.positive_int(num_train, "num_train"),
        "num_test": validation.positive_int(num_test, "num_test"),
    }
    if not np.isfinite(settings["learning_rate"]) or settings["learning_rate"] <= 0:
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}.")
    if decay not in catalog.DECAYS:
        raise ValueError(f"decay must be one of {', '.join(catalog.DECAYS)}, got {decay!r}.")
    return settings


def unique_names(values, valid, what):
    """`values` as a list without repeats, or `RunStoreError` for none or an unknown one."""
    values = list(dict.fromkeys([values] if isinstance(values, str) else values))
    if not values:
        raise RunStoreError(f"No {what}s given: name at least one of {', '.join(valid)}.")
    for value in values:
        if value not in valid:
            raise RunStoreError(f"Unknown {what} {value!r}; valid {what}s are {', '.join(valid)}.")
    return values


def unique_seeds(seeds):
    """`seeds` as a list without repeats, or `RunStoreError` for none or a bad one."""
    seeds = list(dict.fromkeys(seeds))
    if not seeds:
        raise RunStoreError("No seeds given: give at least one, e.g. 0 1 2.")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not (
            0 <= seed <= MAX_SEED
        ):
            raise RunStoreError(f"Seeds must be integers in [0, {MAX_SEED}], got {seed!r}.")
    return [int(seed) for seed in seeds]


def train_and_evaluate(config, make_model, machine, jit_compile, verbose):
    """Trains `make_model()` as `config` says and evaluates it: `(model, record)`.

    The Keras session is cleared and seeded with `config["seed"]` first, the data are
    those of `datasets.train_test_data`, training is `training.fit_steps`. The record
    holds the config, the parameter count, the train and test mean log-likelihoods and the
    true density's on the same points (`oracle_*`), the training time, `jit_compile` and
    the `machine`.
    """
    import keras

    from tfp_rad import datasets, training

    problem, seed = config["problem"], config["seed"]
    keras.backend.clear_session()  # Keras's advice for models built in a loop
    keras.utils.set_random_seed(seed)
    x_train, x_test = datasets.train_test_data(
        problem, config["num_train"], config["num_test"], seed
    )
    model = make_model()
    _, train_seconds = training.fit_steps(
        model,
        x_train,
        config["steps"],
        batch_size=config["batch_size"],
        learning_rate=config["learning_rate"],
        decay=config["decay"],
        seed=seed,
        jit_compile=jit_compile,
        verbose=verbose,
    )
    record = {
        "config": config,
        "parameters": model.count_params(),
        "train_log_likelihood": training.mean_log_likelihood(model, x_train),
        "test_log_likelihood": training.mean_log_likelihood(model, x_test),
        "oracle_train_log_likelihood": datasets.oracle_log_likelihood(problem, x_train),
        "oracle_test_log_likelihood": datasets.oracle_log_likelihood(problem, x_test),
        "train_seconds": train_seconds,
        "jit_compile": jit_compile,
        "versions": machine,
    }
    return model, record


def settings_arguments(settings):
    """The command-line options that give a protocol's `settings` (after `--output`)."""
    return [
        "--learning-rate", repr(settings["learning_rate"]), "--decay", settings["decay"],
        "--batch-size", str(settings["batch_size"]),
        "--num-train", str(settings["num_train"]), "--num-test", str(settings["num_test"]),
    ]


def steps_description(settings):
    """One sentence on a protocol's training: steps, batch, learning rate, data sizes."""
    return (
        f"{settings['steps']} Adam steps of batch {settings['batch_size']} "
        f"(learning rate {settings['learning_rate']}, decay {settings['decay']}) on "
        f"{settings['num_train']} training points; {settings['num_test']} fresh test points "
        "per seed."
    )
