"""Training a flow for a fixed number of Adam steps with Keras's own `fit` loop.

`fit_steps` runs exactly the steps asked for, stops with `TrainingDivergedError` (not NaN
weights) when the loss stops being finite, and takes Keras callbacks; `backup_and_restore`
is Keras's `BackupAndRestore` for it, guarded against resuming a run of other settings.
"""

import dataclasses
import json
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf

from tfp_rad import catalog, saving, validation

DECAYS = catalog.DECAYS
LEARNING_RATE = catalog.LEARNING_RATE
MAX_STEPS_PER_EPOCH = 500
_VALIDATION_BATCH = 10_000
SETTINGS_FILE = "settings.json"
# What `keras.callbacks.BackupAndRestore(double_checkpoint=True)` writes in its directory.
_BACKUP_FILES = ("latest.weights.h5", "training_metadata.json")


@dataclasses.dataclass(frozen=True)
class DataDefaults:
    """Training settings derived from a table's size by `data_defaults` (see there).

    Attributes:
      batch_size: points per optimizer step.
      steps_per_pass: optimizer steps in one pass over the training rows (an epoch in the
        ordinary sense).
      validate_every: steps between two validation checks (Keras's "epoch" in
        `fit_steps`, its `steps_per_epoch`).
      patience: validation checks in a row without improvement before stopping.
      max_steps: the step budget (a multiple of `validate_every`), reached only if the
        validation loss keeps improving.
      learning_rate: Adam's initial learning rate (cosine decay over `max_steps`).
      weight_decay: decoupled weight decay (None: none).
      restore_best_weights: keep the weights of the best validation check (always True).
    """

    batch_size: int
    steps_per_pass: int
    validate_every: int
    patience: int
    max_steps: int
    learning_rate: float
    weight_decay: float | None
    restore_best_weights: bool = True

    def fit_steps_arguments(self):
        """The keyword arguments of `fit_steps` that these settings fill in."""
        return dict(
            steps=self.max_steps,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            steps_per_epoch=self.validate_every,
            early_stopping_patience=self.patience,
            weight_decay=self.weight_decay,
        )


# Adam's initial learning rate on tables, by flow: RAD started near the identity has its
# conditioners' output scale at 6 (models.initialization), so its steps are larger.
DATA_LEARNING_RATES = {"rad": 1e-4, "real_nvp": 1e-3}
DATA_PATIENCE = 20
_MIN_BATCH, _MAX_BATCH = 32, 256
_PASSES = 200
_MIN_STEPS, _MAX_STEPS = 2_000, 20_000


def data_defaults(num_train, num_columns, kind="rad", **overrides):
    """Training settings for a table of `num_train` training rows and `num_columns` columns.

    With `n = num_train`:

    ```none
    batch_size     B = min(n, clip(n // 16, 32, 256))
    steps_per_pass P = n // B                          (one pass over the training rows)
    validate_every V = max(1, P // (patience + 1))     (patience = 20 checks)
    max_steps      S = V * ceil(clip(200 P, 2000, 20000) / V)
    learning_rate  1e-4 for RAD, 1e-3 for Real NVP (`DATA_LEARNING_RATES`)
    weight decay none,  best validation weights kept
    ```

    So a check comes at least once per pass, and when a pass is long enough (`P >=
    patience + 1` steps: from about 700 training rows) early stopping can stop within the
    first pass, before a small table is seen twice; the patience of a tiny table is a
    few passes. `num_columns` does not change these settings (it is checked, and sets the
    architecture in `data_architecture`).

    Args:
      num_train: positive int, the training rows.
      num_columns: positive int, the columns.
      kind: `"rad"` or `"real_nvp"`, the flow trained (sets the learning rate).
      **overrides: any field of `DataDefaults` to set instead of deriving it (the others
        are derived from it: e.g. `batch_size=64` changes `steps_per_pass` and what
        follows from it).

    Returns:
      A `DataDefaults`.

    Raises:
      ValueError: for a non-positive size, an unknown field, or a bad override.
    """
    n = validation.positive_int(num_train, "num_train")
    validation.positive_int(num_columns, "num_columns")
    fields = {f.name for f in dataclasses.fields(DataDefaults)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"Unknown training settings {unknown}; the settings are {sorted(fields)}.")
    if overrides.get("restore_best_weights", True) is not True:
        raise ValueError("restore_best_weights is always True: the best validation weights are kept.")
    positive = ("batch_size", "steps_per_pass", "validate_every", "patience", "max_steps")
    for name in positive:
        if overrides.get(name) is not None:
            overrides[name] = validation.positive_int(overrides[name], name)
    if kind not in DATA_LEARNING_RATES:
        raise ValueError(f"kind must be one of {sorted(DATA_LEARNING_RATES)}, got {kind!r}.")
    learning_rate = overrides.get("learning_rate") or DATA_LEARNING_RATES[kind]
    if not validation.is_positive_number(learning_rate):
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}.")
    weight_decay = overrides.get("weight_decay")
    if weight_decay is not None and not validation.is_positive_number(weight_decay):
        raise ValueError(f"weight_decay must be a positive number or None, got {weight_decay!r}.")
    batch = overrides.get("batch_size") or min(n, max(_MIN_BATCH, min(_MAX_BATCH, n // 16)))
    if batch > n:
        raise ValueError(f"batch_size={batch} is larger than the {n} training rows.")
    per_pass = overrides.get("steps_per_pass") or n // batch
    patience = overrides.get("patience") or DATA_PATIENCE
    every = overrides.get("validate_every") or max(1, per_pass // (patience + 1))
    budget = overrides.get("max_steps") or min(_MAX_STEPS, max(_MIN_STEPS, _PASSES * per_pass))
    max_steps = every * math.ceil(budget / every)
    return DataDefaults(
        batch_size=batch, steps_per_pass=per_pass, validate_every=every, patience=patience,
        max_steps=max_steps, learning_rate=float(learning_rate), weight_decay=weight_decay,
    )


def data_architecture(kind, num_columns):
    """The flow sizes used on a table of `num_columns` columns (measured on real tables).

    `num_layers = 6` coupling layers of `hidden_units = clip(2 d, 32, 128)` units; RAD
    without gating networks (`gating_hidden_units = 0`); the defensive mixture with the
    standard normal, `defensive_weight = catalog.DATA_DEFENSIVE_WEIGHT` (0.05: no row more
    than `log 20 = 3.0` nats below the whitening's Gaussian, `tfp_rad.models.defensive`).
    See docs/tabular.md for the measurements behind them.

    Args:
      kind: `"rad"` or `"real_nvp"`.
      num_columns: positive int `d`.

    Returns:
      A dict of keyword arguments for `RADFlow` or `RealNVPFlow`.
    """
    d = validation.positive_int(num_columns, "num_columns")
    if kind not in ("rad", "real_nvp"):
        raise ValueError(f"kind must be 'rad' or 'real_nvp', got {kind!r}.")
    sizes = {"num_layers": 6, "hidden_units": int(min(128, max(32, 2 * d))),
             "defensive_weight": catalog.DATA_DEFENSIVE_WEIGHT}
    if kind == "rad":
        sizes["gating_hidden_units"] = 0
    return sizes


class TrainingDivergedError(RuntimeError):
    """The training loss became NaN or infinite: the model's weights are not usable."""


def fit_steps(
    model,
    x,
    steps,
    batch_size=500,
    learning_rate=LEARNING_RATE,
    decay="cosine",
    seed=0,
    steps_per_epoch=None,
    steps_per_execution=50,
    jit_compile=None,
    verbose=1,
    callbacks=None,
    validation_data=None,
    early_stopping_patience=None,
    weight_decay=None,
    context=None,
    validation_context=None,
):
    """Compiles `model` with Adam and runs exactly `steps` minibatch steps of `fit` on `x`.

    The learning rate decays from `learning_rate` to 0 along a cosine over the `steps`
    (`decay="cosine"`, Keras's `CosineDecay`) or stays constant (`decay="none"`).

    The data are shuffled (seeded) and repeated, so `steps` counts optimizer steps whatever
    the data size. Keras's "epochs" are blocks of `steps_per_epoch` steps: the loss (mean
    NLL) is reported, and epoch-wise callbacks such as `backup_and_restore` run, once per
    block. `steps_per_epoch` must divide `steps`; by default it is the largest divisor of
    `steps` up to 500 (so a prime number of steps gets one-step epochs: correct, but slow).
    Keras's `TerminateOnNaN(raise_error=True)` always runs first, so a diverging run stops
    after the first execution (of up to `steps_per_execution` steps) whose loss is not
    finite, before any callback can save its weights.

    With `validation_data`, the mean NLL of those points is computed at the end of every
    epoch (reported as `val_loss`). With `early_stopping_patience=p` as well, Keras's
    `EarlyStopping(monitor="val_loss", patience=p, restore_best_weights=True)` ends
    training after `p` epochs in a row without a lower `val_loss` than the best so far,
    and at the end of training (stopped early or not) the weights of the epoch with the
    lowest `val_loss` are restored. Then fewer than `steps` steps may run (the learning
    rate schedule still spans `steps`); `model.optimizer.iterations` counts those that did.

    Under a `tf.distribute` strategy, call this inside `strategy.scope()`: the batches are
    global (split over the replicas), `jit_compile=None` then means False, and one step
    runs per execution (Keras's multi-step loop fails under a strategy).

    Args:
      model: a `FlowModel` (built).
      x: training points `[n, event_size]` (checked, cast to the model's dtype).
      steps: positive int, the number of optimizer steps.
      batch_size: points per step (at most `n`).
      learning_rate: Adam's (initial) learning rate, positive.
      decay: `"cosine"` or `"none"`.
      seed: seed of the data shuffling.
      steps_per_epoch: optional divisor of `steps`.
      steps_per_execution: at most this many steps run in one call of the compiled
        function (the largest divisor of `steps_per_epoch` up to it; 1 under a strategy).
      jit_compile: XLA for the training step; None lets `FlowModel.compile` choose (True,
        or False under a strategy).
      verbose: Keras's progress output, 0, 1 or 2.
      callbacks: optional list of Keras callbacks, run after `TerminateOnNaN`.
      validation_data: optional points `[m, event_size]` (checked like `x`), evaluated at
        the end of every epoch in batches of up to 10,000.
      early_stopping_patience: optional positive int, in epochs; needs `validation_data`.
        The `EarlyStopping` callback runs after `callbacks`.
      weight_decay: optional positive float `w`: Keras's decoupled weight decay, which
        after each step shrinks every weight `theta <- theta - lr_t w theta` (`lr_t` the
        step's learning rate), as AdamW does. None (the default) is plain Adam.
      context: a conditional model's contexts `[n, context_size]`, one per point of `x`
        (checked like `x`); the loss is then the mean conditional NLL.
      validation_context: the contexts of `validation_data`, for a conditional model.

    Returns:
      `(history, seconds)`: the Keras `History` and the wall time of `fit`. After a
      resumed run, the history holds the epochs run in this call only.

    Raises:
      ValueError: for bad arguments or data, before any step runs.
      TrainingDivergedError: when the loss became NaN or infinite; the model's weights are
        then not finite (and were not saved by the callbacks).
    """
    steps = validation.positive_int(steps, "steps")
    batch_size = validation.positive_int(batch_size, "batch_size")
    if not validation.is_positive_number(learning_rate):
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate}.")
    if decay not in DECAYS:
        raise ValueError(f"decay must be one of {DECAYS}, got {decay!r}.")
    if weight_decay is not None and not validation.is_positive_number(weight_decay):
        raise ValueError(
            f"weight_decay must be a positive number or None, got {weight_decay}."
        )
    if steps_per_epoch is None:
        steps_per_epoch = _largest_divisor(steps, MAX_STEPS_PER_EPOCH)
    elif steps % validation.positive_int(steps_per_epoch, "steps_per_epoch"):
        raise ValueError(
            f"steps_per_epoch={steps_per_epoch} must divide steps={steps}: Keras runs whole "
            "epochs, so any other value would run more steps than asked for."
        )
    steps_per_execution = _largest_divisor(
        steps_per_epoch, validation.positive_int(steps_per_execution, "steps_per_execution")
    )
    if tf.distribute.has_strategy():
        steps_per_execution = 1  # more fails in Keras's loop (keras-team/keras#19246)
    schedule = learning_rate
    if decay == "cosine":
        schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    x = validation.points_array(x, model.event_size, model.compute_dtype, "Training data")
    context = _contexts(model, context, len(x), "Training data")
    callbacks = [keras.callbacks.TerminateOnNaN(raise_error=True), *(callbacks or [])]
    if validation_data is not None:
        validation_data = validation.points_array(
            validation_data, model.event_size, model.compute_dtype, "Validation data"
        )
        validation_context = _contexts(
            model, validation_context, len(validation_data), "Validation data")
        if validation_context is not None:
            validation_data = {"x": validation_data, "context": validation_context}
    if early_stopping_patience is not None:
        patience = validation.positive_int(early_stopping_patience, "early_stopping_patience")
        if validation_data is None:
            raise ValueError(
                "early_stopping_patience needs validation_data: early stopping watches the "
                "validation loss."
            )
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=patience, restore_best_weights=True
        ))
    dataset = shuffled_batches(x, min(batch_size, len(x)), seed, context)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule, weight_decay=weight_decay),
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    start = time.perf_counter()
    try:
        history = model.fit(
            dataset,
            epochs=steps // steps_per_epoch,
            steps_per_epoch=steps_per_epoch,
            shuffle=False,  # the dataset shuffles itself
            verbose=verbose,
            callbacks=callbacks,
            validation_data=validation_data,
            validation_batch_size=_VALIDATION_BATCH,
        )
    except RuntimeError as error:
        if "NaN or Inf loss" not in str(error):  # TerminateOnNaN's message
            raise
        raise _diverged(model, steps, learning_rate, decay) from error
    if saving.non_finite_weights(model):  # a finite loss, then a non-finite update
        raise _diverged(model, steps, learning_rate, decay)
    return history, time.perf_counter() - start


def _contexts(model, context, num_points, what):
    """A conditional model's contexts of `num_points` points, checked; None if unconditional."""
    size = getattr(model, "context_size", 0)
    validation.check_context(context, size, np.float64, model.name)
    if not size:
        return None
    context = validation.points_array(
        context, size, model.compute_dtype, f"The contexts of {what}")
    if len(context) != num_points:
        raise ValueError(
            f"{what} has {num_points} points but {len(context)} contexts; give one per point.")
    return context


def shuffled_batches(x, batch_size, seed=0, context=None):
    """An endless `tf.data.Dataset` of minibatches `[batch_size, d]`, reshuffled every epoch.

    With `context` (`[n, m]`, one per point) each element is instead the dict
    `{"x": [batch_size, d], "context": [batch_size, m]}` of the same points and theirs.

    Epoch `e` draws a fresh permutation of the `n` points (stateless, from `(seed, e)`),
    gathers it into `n // batch_size` whole batches and drops the `n % batch_size` points
    left over (different ones each epoch). Each element of the dataset is a whole batch, so
    the pipeline costs a few microseconds per batch; a `from_tensor_slices(x).shuffle(n)`
    pipeline pays that per point (about 0.6 ms per batch of 500 on a 2-core CPU, half a
    training step of the paper's models).

    Args:
      x: points `[n, d]`, `n >= batch_size`.
      batch_size: positive int.
      seed: int seed of the shuffles.
    """
    points = tf.constant(x) if context is None else {
        "x": tf.constant(x), "context": tf.constant(context)}
    num_points = len(x)
    num_batches = num_points // batch_size

    def epoch(index):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(num_points), seed=tf.stack([tf.constant(seed, tf.int64), index]))
        batches = tf.reshape(order[: num_batches * batch_size], [num_batches, batch_size])
        return tf.data.Dataset.from_tensor_slices(
            tf.nest.map_structure(lambda t: tf.gather(t, batches), points))

    return tf.data.Dataset.range(2**62).flat_map(epoch).prefetch(tf.data.AUTOTUNE)


def _diverged(model, steps, learning_rate, decay):
    """The `TrainingDivergedError` of `model`, stopped in a `fit_steps` run."""
    bad = saving.non_finite_weights(model)
    return TrainingDivergedError(
        f"Training diverged by step {int(model.optimizer.iterations.numpy())} of {steps} (Adam, "
        f"learning rate {learning_rate:g}, decay {decay}): the loss or the weights became "
        f"NaN or inf, and {len(bad)} weight tensor(s) of {model.name} are not finite. "
        "Training stopped there; lower the learning rate."
    )


def _largest_divisor(n, at_most):
    """The largest divisor of the positive int `n` that is at most `at_most`."""
    return max(d for d in range(1, min(n, at_most) + 1) if n % d == 0)


def backup_and_restore(checkpoint_dir, settings):
    """Keras's `BackupAndRestore` for a `fit_steps` run, refusing another run's checkpoint.

    The callback backs up the weights, the optimizer's state (its step count, hence the
    learning-rate schedule, included) and the epoch at the end of every epoch of
    `fit_steps` into `checkpoint_dir`, keeping the previous backup too
    (`double_checkpoint=True`, used when the latest is unreadable). A `fit_steps` call with
    the same settings then resumes from the last backup and runs only the remaining epochs.
    The data order after a resume is a fresh pass of the seeded shuffle, not the
    continuation of the interrupted one. The backup is kept when training ends
    (`delete_checkpoint=False`): call `remove_checkpoint` once the results are saved.

    `settings` (a JSON-serializable dict: what defines the run) is written to
    `<checkpoint_dir>/settings.json`; a backup made with other settings is refused.

    Args:
      checkpoint_dir: the directory of the backup (created if needed).
      settings: dict of the run's settings.

    Returns:
      A `keras.callbacks.BackupAndRestore` for `fit_steps(..., callbacks=[...])`.

    Raises:
      ValueError: if `checkpoint_dir` holds a backup of a run with other settings; the
        message names the settings that differ.
    """
    settings = json.loads(json.dumps(settings))  # as it reads back from the file
    path = os.path.join(checkpoint_dir, SETTINGS_FILE)
    if has_checkpoint(checkpoint_dir) and os.path.exists(path):
        with open(path) as f:
            saved = json.load(f)
        differences = [
            f"{key}={saved.get(key)!r} there, {settings.get(key)!r} here"
            for key in sorted(set(saved) | set(settings))
            if saved.get(key) != settings.get(key)
        ]
        if differences:
            raise ValueError(
                f"The checkpoint in {checkpoint_dir} is of a run with other settings "
                f"({'; '.join(differences)}), so this run cannot resume from it. Use another "
                "checkpoint directory, or delete that one to start over."
            )
    os.makedirs(checkpoint_dir, exist_ok=True)
    with open(path, "w") as f:
        json.dump(settings, f, indent=2)
    return keras.callbacks.BackupAndRestore(
        checkpoint_dir, save_freq="epoch", double_checkpoint=True, delete_checkpoint=False
    )


def has_checkpoint(checkpoint_dir):
    """True if `checkpoint_dir` holds a backup written by `backup_and_restore`'s callback."""
    return any(
        os.path.exists(os.path.join(checkpoint_dir, name + suffix))
        for name in _BACKUP_FILES
        for suffix in ("", ".bkp")
    )


def remove_checkpoint(checkpoint_dir):
    """Deletes the files of a `backup_and_restore` checkpoint, and the directory if empty.

    Only the files that the callback and `backup_and_restore` write are removed, so a
    directory shared with other files is left with them.
    """
    names = [name + suffix for name in _BACKUP_FILES for suffix in ("", ".bkp")]
    for name in (*names, SETTINGS_FILE):
        path = os.path.join(checkpoint_dir, name)
        if os.path.exists(path):
            os.remove(path)
    if os.path.isdir(checkpoint_dir) and not os.listdir(checkpoint_dir):
        os.rmdir(checkpoint_dir)


def log_likelihoods(model, x, batch_size=10_000, context=None):
    """`log p(x_i)` (or `log p(x_i | c_i)` given `context`) per point, float64, in batches."""
    x = validation.points_array(x, model.event_size, model.compute_dtype, "Evaluation data")
    context = _contexts(model, context, len(x), "Evaluation data")
    return np.concatenate([
        np.asarray(model.log_prob(
            x[i : i + batch_size], None if context is None else context[i : i + batch_size]),
            np.float64)
        for i in range(0, len(x), batch_size)
    ])


def mean_log_likelihood(model, x, batch_size=10_000, context=None):
    """Mean `log p(x)` (or `log p(x | c)` given `context`) in nats per point (minus the
    model's `evaluate` loss)."""
    return float(np.mean(log_likelihoods(model, x, batch_size, context)))
