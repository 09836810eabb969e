"""Runs the benchmark sections in order and collects every result in one JSON-ready dict."""

import dataclasses
import time

from benchmarks import keras_fit, machine, profiling, settings, steps, subjects, targets
from benchmarks import throughput
from benchmarks.timing import Figure, first_calls, interleaved, scaled

STEP_MODES = ("eager", "tf.function", "xla")
NUM_STEP_BATCHES = 20


class _Recorder:
    """Collects figures, first-call times and per-section machine load."""

    def __init__(self, log):
        self.log = log
        self.figures = {}
        self.first_call_s = {}
        self.sections = []

    def add(self, *figures):
        for figure in figures:
            self.figures[figure.key] = figure
            v = figure.values
            self.log(f"  {figure.label}: RAD {v['rad']:.4g}, Real NVP {v['real_nvp']:.4g} "
                     f"{figure.unit} (ratio {figure.ratio:.2f})")

    def section(self, name, fn):
        self.log(f"[{name}] load average {machine.load_average()}")
        other, start = machine.OtherLoad().start(), time.perf_counter()
        result = fn()
        self.sections.append({
            "name": name,
            "wall_s": round(time.perf_counter() - start, 1),
            "load_average_end": machine.load_average(),
            "other_processes_cores": other.stop(),
        })
        return result


def _steps_section(rec, config, points):
    models = {n: subjects.with_built_optimizer(m) for n, m in subjects.make_models().items()}
    batches = list(subjects.batches(points, settings.BATCH_SIZE, NUM_STEP_BATCHES))
    for mode in STEP_MODES:
        calls = {n: steps.cycling(steps.compiled_step(m, mode), batches)
                 for n, m in models.items()}
        key = f"step_{mode.replace('.', '_')}"
        rec.first_call_s[key] = first_calls(calls)
        eager = mode == "eager"
        seconds = interleaved(
            calls,
            config.eager_repeats if eager else config.repeats,
            warmup=config.warmup,
            number=1 if eager else config.steps_per_sample,
        )
        rec.add(Figure(key, f"training step, batch {settings.BATCH_SIZE}, {mode}",
                       "ms/step", False, scaled(seconds, 1e3),
                       notes="GradientTape + optimizer.apply_gradients"))
    return models


def _floor_section(rec, config, points):
    k = config.fused_steps
    batches = subjects.batches(points, settings.BATCH_SIZE, k, seed=1)
    calls = {}
    for name, model in subjects.make_models().items():
        run = steps.fused_steps_fn(subjects.with_built_optimizer(model))
        calls[name] = (lambda f: lambda: f(batches))(run)
    rec.first_call_s["floor"] = first_calls(calls)
    seconds = interleaved(calls, config.repeats, warmup=config.warmup)
    rec.add(Figure("floor", f"floor: {k} steps fused in one XLA program, batch "
                   f"{settings.BATCH_SIZE}", "ms/step", False, scaled(seconds, 1e3 / k),
                   notes="tf.while_loop over pre-sliced batches inside one jit function"))


def _fit_section(rec, config, points):
    overheads, phases = {}, {}
    for spe in config.steps_per_execution:
        figure, first, overhead, phase = keras_fit.measure_fit(points, spe, config)
        rec.first_call_s[figure.key] = first
        overheads[figure.key], phases[figure.key] = overhead, phase
        rec.add(figure)
    reference = "fit_spe50" if "fit_spe50" in rec.figures else figure.key
    rec.add(keras_fit.protocol_projection(rec.figures[reference], overheads[reference]))
    return overheads, phases


def _throughput_section(rec, config, models, large):
    for kind in ("log_prob", "sample"):
        figures, first = throughput.measure(kind, models, large, config)
        rec.first_call_s.update(first)
        rec.add(*figures)


def _profile_section(rec, config, models, points, large):
    batch = subjects.batches(points, settings.BATCH_SIZE, 1)[0]
    figures = []
    for x in (batch, large):
        passes, first = profiling.measure_passes(models, x, config)
        rec.first_call_s.update(first)
        figures += passes
    call_cost, first = profiling.measure_call_cost(models, batch, config)
    rec.first_call_s.update(first)
    figures += call_cost
    rec.add(*figures)
    rng = profiling.measure_random_numbers(models, int(large.shape[0]), config)
    rec.log(f"  random numbers at batch {int(large.shape[0]):,} (ms): {rng}")
    counts = profiling.count_hlo_instructions(models, large)
    fusions = {name: c["fusions"] for name, c in counts.items()}
    transcendentals = {name: c["transcendentals"] for name, c in counts.items()}
    rec.log(f"  fused loops in the compiled log_prob: {fusions}")
    rec.log(f"  transcendental instructions in the compiled log_prob: {transcendentals}")
    parts = profiling.measure_log_prob_parts(models, large, config)
    rec.log(f"  log_prob and its networks at batch {int(large.shape[0]):,} (ms): {parts}")
    return {"figures": [f.key for f in figures], "random_numbers_ms": rng,
            "log_prob_fusions": fusions, "log_prob_transcendentals": transcendentals,
            "log_prob_parts_ms": parts}


def run(config, profile=False, protocol=False, log=print):
    """Runs every section; returns the results dict (JSON-ready)."""
    start = time.perf_counter()
    results = {"machine": machine.info(), "load_average_start": machine.load_average()}
    other = machine.OtherLoad().start()
    rec = _Recorder(log)
    points = subjects.training_points()
    large = subjects.training_points(settings.LARGE_BATCH, seed=1)

    models = rec.section("training steps", lambda: _steps_section(rec, config, points))
    rec.section("fused floor", lambda: _floor_section(rec, config, points))
    overheads, fit_phases = rec.section(
        "model.fit", lambda: _fit_section(rec, config, points))
    rec.section("throughput", lambda: _throughput_section(rec, config, models, large))
    if profile:
        results["profile"] = rec.section(
            "profile", lambda: _profile_section(rec, config, models, points, large))
    if protocol:
        results["protocol_run_s"] = rec.section(
            "protocol run", lambda: keras_fit.run_protocol(points))
        for name, run in results["protocol_run_s"].items():
            log(f"  {name}: {settings.PROTOCOL_STEPS:,} steps with fit_steps in "
                f"{run['fit_s']:.0f} s (set-up {run['setup_s']:.1f} s, loop with compile "
                f"{run['loop_s']:.0f} s, tear-down {run['teardown_s']:.1f} s)")

    results.update(
        settings=dataclasses.asdict(config),
        models={
            name: {"architecture": subjects.ARCHITECTURES[name],
                   "parameters": subjects.num_parameters(m),
                   "layers": m.num_layers, "hidden_units": m.hidden_units}
            for name, m in models.items()
        },
        figures=[figure.to_json() for figure in rec.figures.values()],
        first_call_s=rec.first_call_s,
        fit_overhead_s=overheads,
        fit_phases=fit_phases,
        targets=targets.evaluate(rec.figures),
        sections=rec.sections,
        load_average_end=machine.load_average(),
        other_processes_cores=other.stop(),
        wall_time_s=round(time.perf_counter() - start, 1),
    )
    return results
