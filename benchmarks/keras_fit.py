"""Training steps through `model.fit` (the users' path), and the 50,000-step projection.

`fit` is Keras's own, as a user calls it (`compile(Adam(5e-3), jit_compile=True,
steps_per_execution=...)`, no callbacks), on the CLI's input pipeline (a shuffled, repeated
`tf.data` dataset of the two-moons training points, batch 500), for `steps_per_epoch=S`
steps per call. (`tfp_rad.training.fit_steps`, the CLI's path, adds a cosine learning-rate
decay and Keras's `TerminateOnNaN`; `run_protocol` times that path as it is.)

A call is timed end to end, iterator set-up and tear-down included, and the time per
step is the call's wall time / S. The first call of a freshly compiled model is the
warm-up: its excess over S steps at the measured rate is the compile/warm-up overhead.
"""

import statistics
import time

import keras

from benchmarks import settings, subjects
from benchmarks.timing import Figure, first_calls, interleaved, scaled


class PhaseClock(keras.callbacks.Callback):
    """Splits each `fit` call into set-up, the training loop, and tear-down.

    Marks the start of training (`on_train_begin`) and the end of the epoch (Keras calls
    `on_epoch_end` after the last step's results are fetched); the caller marks the call's
    start and return. Defines no per-batch hook, so Keras keeps dispatching its own batch
    callbacks asynchronously, as without this clock.
    """

    def __init__(self):
        super().__init__()
        self.phases = []  # (set-up s, loop s, tear-down s) per fit call

    def on_train_begin(self, logs=None):
        self._begin = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self._epoch_end = time.perf_counter()

    def record(self, start, end):
        self.phases.append((self._begin - start, self._epoch_end - self._begin,
                            end - self._epoch_end))


def compiled_for_fit(model, steps_per_execution):
    model.compile(
        optimizer=keras.optimizers.Adam(settings.LEARNING_RATE),
        jit_compile=True,
        steps_per_execution=steps_per_execution,
    )
    return model


def fit_call(model, dataset, steps, clock):
    """A callable running one `fit` of `steps` steps (one epoch) on `dataset`.

    `clock` (a `PhaseClock`) records the call's phases. (`shuffle=False` only silences
    Keras's warning: `fit` never reshuffles a dataset.)
    """

    def call():
        start = time.perf_counter()
        history = model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0,
                            shuffle=False, callbacks=[clock])
        clock.record(start, time.perf_counter())
        return history

    return call


def measure_fit(points, steps_per_execution, config, models=None, datasets=None):
    """Times `fit` for both models at one `steps_per_execution`.

    `models` (`{name: model}`, fresh and uncompiled) defaults to `subjects.make_models()`;
    `datasets` (`{name: tf.data.Dataset}`) to the CLI's pipeline of `points` for each.

    Returns:
      `(figure, first_call_seconds, overhead_seconds, phases)`: the figure in ms per
      step; the wall time of the first (compiling) `fit` call of S steps; its excess over
      S steps at the median rate (`{model: seconds}`); and the median phases of the
      timed calls (`{model: {"setup_ms", "loop_ms_per_step", "teardown_ms"}}`).
    """
    models = subjects.make_models() if models is None else models
    clocks = {name: PhaseClock() for name in models}
    calls = {
        name: fit_call(
            compiled_for_fit(model, steps_per_execution),
            datasets[name] if datasets else subjects.training_dataset(points),
            config.fit_steps,
            clocks[name],
        )
        for name, model in models.items()
    }
    first = first_calls(calls)
    seconds = interleaved(calls, config.fit_repeats, warmup=1)
    per_step = scaled(seconds, 1.0 / config.fit_steps)
    figure = Figure(
        key=f"fit_spe{steps_per_execution}",
        label=f"step via `model.fit`, jit, steps_per_execution={steps_per_execution}",
        unit="ms/step",
        higher_is_better=False,
        samples=scaled(per_step, 1e3),
        notes=f"{config.fit_steps} steps per fit call, timed end to end",
    )
    medians = figure.values
    overhead = {
        name: first[name] - config.fit_steps * medians[name] / 1e3 for name in calls
    }
    phases = {}
    for name, clock in clocks.items():
        timed = clock.phases[-config.fit_repeats:]
        setup, loop, teardown = (statistics.median(p[i] for p in timed) for i in range(3))
        phases[name] = {"setup_ms": setup * 1e3,
                        "loop_ms_per_step": loop * 1e3 / config.fit_steps,
                        "teardown_ms": teardown * 1e3}
    return figure, first, overhead, phases


def protocol_projection(fit_figure, overhead, steps=settings.PROTOCOL_STEPS):
    """Projected wall time of `steps` training steps: per-step fit time x steps + overhead."""
    samples = {
        name: [ms / 1e3 * steps + overhead[name] for ms in values]
        for name, values in fit_figure.samples.items()
    }
    return Figure(
        key="protocol_projection",
        label=f"projected {steps:,}-step protocol (fit as in `{fit_figure.key}`)",
        unit="s",
        higher_is_better=False,
        samples=samples,
        notes="per-step fit time x steps + measured compile/warm-up overhead",
    )


def run_protocol(points, steps=settings.PROTOCOL_STEPS):
    """Actually trains each model for `steps` steps with `tfp_rad.training.fit_steps`.

    Models run one after the other (a check of the projection, not an interleaved
    figure). Returns `{model: {"fit_s", "setup_s", "loop_s", "teardown_s"}}`: the wall
    time `fit_steps` reports (compile included) and the phases of its `fit` call.
    """
    from tfp_rad.training import fit_steps

    result = {}
    for name, model in subjects.make_models().items():
        clock = PhaseClock()
        start = time.perf_counter()
        _, seconds = fit_steps(model, points, steps, verbose=0, callbacks=[clock])
        clock.record(start, time.perf_counter())
        setup, loop, teardown = clock.phases[-1]
        result[name] = {"fit_s": seconds, "setup_s": setup, "loop_s": loop,
                        "teardown_s": teardown}
    return result
