"""Training steps through `model.fit` (the users' path), and the 50,000-step projection.

`fit` runs on the CLI's pipeline (a shuffled, repeated `tf.data` dataset of the two-moons
training points, batch 500) with `jit_compile=True`, for `steps_per_epoch=S` steps per
call. A call is timed end to end, iterator set-up and tear-down included, and the time
per step is the call's wall time / S. The first call of a freshly compiled model is the
warm-up: its excess over S steps at the measured rate is the compile/warm-up overhead.
"""

import keras

from benchmarks import settings, subjects
from benchmarks.timing import Figure, first_calls, interleaved, scaled


def compiled_for_fit(model, steps_per_execution):
    model.compile(
        optimizer=keras.optimizers.Adam(settings.LEARNING_RATE),
        jit_compile=True,
        steps_per_execution=steps_per_execution,
    )
    return model


def fit_call(model, dataset, steps):
    """A callable running one `fit` of `steps` steps (one epoch) on `dataset`."""
    return lambda: model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)


def measure_fit(points, steps_per_execution, config):
    """Times `fit` for both models at one `steps_per_execution`.

    Returns:
      `(figure, first_call_seconds, overhead_seconds)`: the figure in ms per step; the
      wall time of the first (compiling) `fit` call of S steps; and its excess over S
      steps at the median rate (`{model: seconds}`).
    """
    models = subjects.make_models()
    calls = {
        name: fit_call(
            compiled_for_fit(model, steps_per_execution),
            subjects.training_dataset(points),
            config.fit_steps,
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
    return figure, first, overhead


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

    Returns `{model: seconds}` (the wall time of `fit`, compile included), models run one
    after the other (a check of the projection, not an interleaved figure).
    """
    from tfp_rad.training import fit_steps

    return {
        name: fit_steps(model, points, steps, verbose=0)[1]
        for name, model in subjects.make_models().items()
    }
