"""The dimension sweep (`python -m benchmarks --sweep`): RAD against Real NVP at d = 2, 16, 64.

At each dimension both models have 6 layers and (nearly) equal parameter counts: RAD with
16 hidden units (conditioners and gatings), Real NVP with the width whose count is closest
to RAD's. Everything runs in one process; each figure times both models interleaved, so
the ratios hold under the same machine load:

- a training step through `model.fit` (Adam, XLA, batch 500) with steps_per_execution=50
  and with Keras's default of 1, per step; the first `fit` call's excess over the same
  number of steps at the measured rate is the compile (trace + XLA) time;
- `log_prob` and sampling throughput at batch 20,000 under XLA, and their first calls;
- at the largest dimension, where RAD's time goes: forward vs forward+backward at batch
  500, the compiled `log_prob`'s fused loops and transcendentals, and the share of its
  networks.

The points are standard normal draws for d > 2 and two moons for d = 2: the models' speed
does not depend on the values (the fold selects its pieces with `tf.where`).
"""

import time

import keras
import numpy as np

from benchmarks import keras_fit, machine, profiling, subjects, throughput
from benchmarks.timing import RAD, REAL_NVP
from tfp_rad.models import RADFlow, RealNVPFlow

DIMENSIONS = (2, 16, 64)
NUM_LAYERS = 6
RAD_HIDDEN_UNITS = 16
THROUGHPUT_BATCH = 20_000


def real_nvp_parameters(event_size, width, num_layers=NUM_LAYERS):
    """Trainable parameters of `RealNVPFlow(event_size, num_layers, width)`.

    Per layer: the hidden layer `[d_a, w]` and bias, the output layer `[w, 2 d_b]` and
    bias, and the scaled tanh's scalar, with `d_a = d // 2` read and `d_b = d - d_a`
    transformed.
    """
    read = event_size // 2
    moved = event_size - read
    return num_layers * (read * width + width + width * 2 * moved + 2 * moved + 1)


def matched_width(event_size, target, num_layers=NUM_LAYERS, parameters=None):
    """The width whose parameter count (`parameters`, default Real NVP's) is closest to `target`."""
    parameters = parameters or real_nvp_parameters
    return min(range(1, 4096),
               key=lambda w: abs(parameters(event_size, w, num_layers) - target))


def rad_parameters(event_size, width, num_layers=NUM_LAYERS):
    """Trainable parameters of `RADFlow(event_size, num_layers, width)`.

    Per layer, with `d_a = d // 2` read and `n = d - d_a` folded: the conditioner
    `[d_a, w]` and bias, `[w, 10 n]` and bias, and the scaled tanh's scalar; the gating
    `[d, w]` and bias, `[w, 3 n]` and bias.
    """
    read = event_size // 2
    folded = event_size - read
    conditioner = read * width + width + width * 10 * folded + 10 * folded + 1
    gating = event_size * width + width + width * 3 * folded + 3 * folded
    return num_layers * (conditioner + gating)


def ungated_rad_parameters(event_size, width, num_layers=NUM_LAYERS):
    """Trainable parameters of `RADFlow(event_size, num_layers, width, gating_hidden_units=0)`.

    Per layer, with `d_a = d // 2` read and `n = d - d_a` folded: the conditioner
    `[d_a, w]` and bias, `[w, 10 n]` and bias, and the scaled tanh's scalar.
    """
    read = event_size // 2
    folded = event_size - read
    return num_layers * (read * width + width + width * 10 * folded + 10 * folded + 1)


def make_ungated_model(event_size, seed=0):
    """`RADFlow(gating_hidden_units=0)` at `event_size`, its count matched to the sweep's RAD."""
    keras.utils.set_random_seed(seed)
    target = subjects.num_parameters(RADFlow(event_size, NUM_LAYERS, RAD_HIDDEN_UNITS))
    width = matched_width(event_size, target, parameters=ungated_rad_parameters)
    return RADFlow(event_size, NUM_LAYERS, width, gating_hidden_units=0, dtype="float32")


def make_models(event_size, seed=0, rad_layers=NUM_LAYERS):
    """`{RAD: RADFlow, REAL_NVP: RealNVPFlow}` at `event_size` with matched parameter counts.

    Both have `NUM_LAYERS` layers and RAD `RAD_HIDDEN_UNITS` units, unless `rad_layers`
    says otherwise: RAD then has that many layers and the width whose count is closest to
    the `NUM_LAYERS`-layer RAD's (Real NVP is unchanged).
    """
    keras.utils.set_random_seed(seed)
    target = rad_parameters(event_size, RAD_HIDDEN_UNITS)
    rad_width = matched_width(event_size, target, rad_layers, rad_parameters)
    rad = RADFlow(event_size, rad_layers, rad_width, dtype="float32")
    width = matched_width(event_size, target)
    return {RAD: rad, REAL_NVP: RealNVPFlow(event_size, NUM_LAYERS, width, dtype="float32")}


def points(event_size, num_points, seed=0):
    """Two moons at d = 2, standard normal points otherwise; float32 `[num_points, d]`."""
    if event_size == 2:
        return subjects.training_points(num_points, seed=seed)
    rng = np.random.default_rng(seed)
    return rng.standard_normal((num_points, event_size)).astype(np.float32)


def _fit(event_size, data, spe, config, log, rad_layers):
    models = make_models(event_size, rad_layers=rad_layers)
    figure, first, overhead, phases = keras_fit.measure_fit(
        data, spe, config, models=models)
    log(f"  d={event_size} fit spe{spe}: RAD {figure.values[RAD]:.2f}, Real NVP "
        f"{figure.values[REAL_NVP]:.2f} ms/step ({figure.ratio:.2f}x); compile "
        f"{overhead[RAD]:.1f} / {overhead[REAL_NVP]:.1f} s")
    return {"figure": figure.to_json(), "first_call_s": first, "compile_s": overhead,
            "phases": phases}


def _throughput(event_size, config, log, rad_layers):
    models = make_models(event_size, rad_layers=rad_layers)
    large = points(event_size, THROUGHPUT_BATCH, seed=1)
    result = {}
    for kind in ("log_prob", "sample"):
        figures, first = throughput.measure(kind, models, large, config, modes=("xla",))
        figure = figures[0]
        log(f"  d={event_size} {kind}: RAD {figure.values[RAD]:.3f}, Real NVP "
            f"{figure.values[REAL_NVP]:.3f} M points/s (Real NVP / RAD "
            f"{1 / figure.ratio:.2f}x); first call {first[figure.key][RAD]:.1f} / "
            f"{first[figure.key][REAL_NVP]:.1f} s")
        result[kind] = {"figure": figure.to_json(), "first_call_s": first[figure.key]}
    return result


def _profile(event_size, config, log, rad_layers):
    models = make_models(event_size, rad_layers=rad_layers)
    for model in models.values():
        subjects.with_built_optimizer(model)
    batch = points(event_size, 500, seed=2)
    large = points(event_size, THROUGHPUT_BATCH, seed=1)
    passes, _ = profiling.measure_passes(models, batch, config)
    counts = profiling.count_hlo_instructions(models, large)
    parts = profiling.measure_log_prob_parts(models, large, config)
    result = {
        "passes": [f.to_json() for f in passes],
        "log_prob_fusions": {n: c["fusions"] for n, c in counts.items()},
        "log_prob_transcendentals": {n: c["transcendentals"] for n, c in counts.items()},
        "log_prob_parts_ms": parts,
    }
    for f in passes:
        log(f"  d={event_size} {f.label}: RAD {f.values[RAD]:.0f}, Real NVP "
            f"{f.values[REAL_NVP]:.0f} ns/point")
    log(f"  d={event_size} log_prob fusions {result['log_prob_fusions']}, transcendentals "
        f"{result['log_prob_transcendentals']}, parts (ms) {parts}")
    return result


def run(config, dimensions=DIMENSIONS, spes=(50, 1), profile=True, log=print,
        rad_layers=NUM_LAYERS):
    """Runs the sweep (RAD with `rad_layers` layers); returns its JSON-ready results."""
    start = time.perf_counter()
    results = {"machine": machine.info(), "load_average_start": machine.load_average(),
               "dimensions": {}, "sections": []}
    other_total = machine.OtherLoad().start()
    for d in dimensions:
        log(f"[d={d}] load average {machine.load_average()}")
        other, t0 = machine.OtherLoad().start(), time.perf_counter()
        models = make_models(d, rad_layers=rad_layers)
        entry = {
            "parameters": {n: subjects.num_parameters(m) for n, m in models.items()},
            "hidden_units": {n: m.hidden_units for n, m in models.items()},
        }
        data = points(d, 10_000)
        entry["fit"] = {f"spe{spe}": _fit(d, data, spe, config, log, rad_layers)
                        for spe in spes}
        entry["throughput"] = _throughput(d, config, log, rad_layers)
        if profile and d == max(dimensions):
            entry["profile"] = _profile(d, config, log, rad_layers)
        results["dimensions"][str(d)] = entry
        results["sections"].append({
            "name": f"d={d}", "wall_s": round(time.perf_counter() - t0, 1),
            "load_average_end": machine.load_average(),
            "other_processes_cores": other.stop()})
    results.update(
        load_average_end=machine.load_average(),
        other_processes_cores=other_total.stop(),
        wall_time_s=round(time.perf_counter() - start, 1),
        settings={"fit_steps": config.fit_steps, "fit_repeats": config.fit_repeats,
                  "repeats": config.repeats, "throughput_batch": THROUGHPUT_BATCH,
                  "num_layers": NUM_LAYERS, "rad_hidden_units": RAD_HIDDEN_UNITS,
                  "rad_layers": rad_layers},
    )
    return results
