"""One-process A/B measurements of the levers of issue 16 (`python -m benchmarks --levers`).

At each dimension of the sweep (same models as `sweep`), timed interleaved in one process:

- *fused fold*: RAD with the fused fold and gating (`tfp_rad.fold_math`, hand-written
  gradients; `tfp_rad.fold.FUSED = True`, the default) against the same RAD with the
  column-wise formulas differentiated by TensorFlow (`FUSED = False`), and Real NVP as the
  yardstick: a training step (50 Adam steps fused in one XLA program, batch 500, per
  step), `log_prob` at batch 20,000 (XLA), and the first call of each (trace + compile);
- *block size*: RAD's `log_prob` at batch 20,000 with `log_prob_block_size` 4096 (the
  default, which `RADFlow` keeps at every dimension), 1024 and 256.

The flag is read when a function is traced, so each variant's functions are traced (on
their first call) with the flag set as the variant needs and keep it afterwards.
"""

import time

import tensorflow as tf

from benchmarks import machine, steps, subjects, sweep
from benchmarks.timing import REAL_NVP, first_calls, interleaved, inverted, scaled
from tfp_rad import fold as fold_module

FUSED, UNFUSED = "rad_fused", "rad_unfused"
NUM_STEPS = 50


def _with_flag(fused, fn):
    def call():
        previous, fold_module.FUSED = fold_module.FUSED, fused
        try:
            return fn()
        finally:
            fold_module.FUSED = previous
    return call


def _variants(event_size):
    """`{FUSED: RADFlow, UNFUSED: RADFlow, REAL_NVP: RealNVPFlow}`, equal initial weights."""
    fused = sweep.make_models(event_size)
    unfused = sweep.make_models(event_size)[sweep.RAD]
    return {FUSED: fused[sweep.RAD], UNFUSED: unfused, REAL_NVP: fused[REAL_NVP]}


def _summary(seconds, scale):
    return {name: sorted(values)[len(values) // 2] * scale for name, values in seconds.items()}


def fused_fold_ab(event_size, config, log):
    models = _variants(event_size)
    batches = sweep.points(event_size, NUM_STEPS * 500, seed=3).reshape(NUM_STEPS, 500, -1)
    large = sweep.points(event_size, sweep.THROUGHPUT_BATCH, seed=1)
    step_calls, log_prob_calls = {}, {}
    for name, model in models.items():
        run = steps.fused_steps_fn(subjects.with_built_optimizer(model))
        log_prob = tf.function(model.log_prob, jit_compile=True)
        fused = name != UNFUSED
        step_calls[name] = _with_flag(fused, (lambda f: lambda: f(batches))(run))
        log_prob_calls[name] = _with_flag(fused, (lambda f: lambda: f(large))(log_prob))
    result = {"first_call_s": {"step": first_calls(step_calls),
                               "log_prob": first_calls(log_prob_calls)}}
    step_seconds = interleaved(step_calls, config.repeats, warmup=config.warmup)
    log_prob_seconds = interleaved(log_prob_calls, config.repeats, warmup=config.warmup)
    result["step_ms"] = _summary(scaled(step_seconds, 1e3 / NUM_STEPS), 1.0)
    result["log_prob_m_points_s"] = _summary(
        inverted(log_prob_seconds, sweep.THROUGHPUT_BATCH / 1e6), 1.0)
    result["samples"] = {"step_ms": scaled(step_seconds, 1e3 / NUM_STEPS),
                         "log_prob_s": log_prob_seconds}
    log(f"  d={event_size} step ms {_rounded(result['step_ms'])}; log_prob M/s "
        f"{_rounded(result['log_prob_m_points_s'])}; first calls "
        f"{ {k: _rounded(v) for k, v in result['first_call_s'].items()} }")
    return result


def block_size_ab(event_size, config, log, sizes=(4096, 1024, 256)):
    model = sweep.make_models(event_size)[sweep.RAD]
    chosen = model.distribution.log_prob_block_size
    large = sweep.points(event_size, sweep.THROUGHPUT_BATCH, seed=1)
    calls = {}
    for size in dict.fromkeys((*sizes, chosen)):
        distribution = model.distribution.copy(log_prob_block_size=size)
        f = tf.function(distribution.log_prob, jit_compile=True)
        calls[str(size)] = (lambda f: lambda: f(large))(f)
    first_calls(calls)
    seconds = interleaved(calls, config.repeats, warmup=config.warmup)
    result = {"chosen": chosen,
              "m_points_s": _summary(inverted(seconds, sweep.THROUGHPUT_BATCH / 1e6), 1.0)}
    log(f"  d={event_size} log_prob M points/s by block size {_rounded(result['m_points_s'])} "
        f"(RADFlow picks {chosen})")
    return result


def _rounded(values):
    return {k: round(v, 3) for k, v in values.items()}


def run(config, dimensions=sweep.DIMENSIONS, log=print):
    start = time.perf_counter()
    results = {"machine": machine.info(), "load_average_start": machine.load_average(),
               "dimensions": {}}
    other = machine.OtherLoad().start()
    for d in dimensions:
        log(f"[levers d={d}] load average {machine.load_average()}")
        results["dimensions"][str(d)] = {"fused_fold": fused_fold_ab(d, config, log),
                                         "block_size": block_size_ab(d, config, log)}
    results.update(load_average_end=machine.load_average(),
                   other_processes_cores=other.stop(),
                   wall_time_s=round(time.perf_counter() - start, 1),
                   settings={"repeats": config.repeats, "steps": NUM_STEPS,
                             "throughput_batch": sweep.THROUGHPUT_BATCH})
    return results
