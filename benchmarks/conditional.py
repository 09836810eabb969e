"""The cost of a context (`python -m benchmarks --conditional`).

Three models of the conditional experiment's architecture (6 layers; RAD's conditioners and
gatings of 16 hidden units), timed interleaved in one process on the SBI problem
`abs_posterior` (points `θ` `[n, 2]`, contexts `x` `[n, 2]`):

- `rad_conditional`: `RADFlow(2, context_size=2)`, the model under test;
- `rad`: `RADFlow(2)` of the same widths, trained on the points alone: the reference of
  the issue's target, *the context costs at most 15 % over the unconditional model*;
- `real_nvp_conditional`: `RealNVPFlow(2, context_size=2)` (TFP's `tfb.RealNVP` with its
  `conditional_input`), its width matched to the conditional RAD's parameter count, as in
  `tfp_rad.experiments.conditional`.

Figures (medians of the repetitions): a training step through `model.fit` (Adam, XLA,
`steps_per_execution=50`, batch 500, on `tfp_rad.training.shuffled_batches`), in ms per
step; `log_prob` (XLA) throughput at a batch of 100,000 pairs, in M points/s. The cost of
the context is

    cost = t(rad_conditional) / t(rad)

with `t` the median time per step, or per point for `log_prob` (the inverse throughput);
its median over repetitions of the side-by-side ratio is kept as well (`paired`), which
cancels load that drifts between repetitions.
"""

import os
import shlex
import time

import keras
import numpy as np
import tensorflow as tf

from benchmarks import keras_fit, machine, report, subjects
from benchmarks.timing import first_calls, interleaved, inverted
from tfp_rad import conditional_datasets, training
from tfp_rad.experiments import conditional as experiment
from tfp_rad.models import RADFlow

OUTPUT = os.path.join("benchmarks", "results", "conditional.json")
QUICK_OUTPUT = os.path.join("benchmarks", "results", "conditional_quick.json")
PROBLEM = "abs_posterior"
NUM_LAYERS = 6
RAD_HIDDEN_UNITS = 16
LOG_PROB_BATCH = 100_000
STEPS_PER_EXECUTION = 50
CONDITIONAL_RAD, RAD, CONDITIONAL_REAL_NVP = "rad_conditional", "rad", "real_nvp_conditional"
TARGET = 1.15  # the largest cost of the context the issue accepts


def make_models(seed=0):
    """`{CONDITIONAL_RAD, RAD, CONDITIONAL_REAL_NVP: fresh float32 model}`."""
    keras.utils.set_random_seed(seed)
    return {
        CONDITIONAL_RAD: experiment.build("rad", PROBLEM, NUM_LAYERS, RAD_HIDDEN_UNITS),
        RAD: RADFlow(2, num_layers=NUM_LAYERS, hidden_units=RAD_HIDDEN_UNITS),
        CONDITIONAL_REAL_NVP: experiment.build("real_nvp", PROBLEM, NUM_LAYERS,
                                               RAD_HIDDEN_UNITS),
    }


def _contexts(model, context):
    """`context` for a conditional model, None for an unconditional one."""
    return context if model.context_size else None


def _summary(samples):
    """Medians, and the cost of the context (median ratio and paired ratio) of `samples`,
    times per unit of work (`{name: [time, ...]}`)."""
    medians = {name: float(np.median(values)) for name, values in samples.items()}
    paired = np.asarray(samples[CONDITIONAL_RAD]) / np.asarray(samples[RAD])
    return {"median": medians,
            "cost_of_context": medians[CONDITIONAL_RAD] / medians[RAD],
            "cost_of_context_paired": float(np.median(paired)),
            "rad_conditional_over_real_nvp_conditional":
                medians[CONDITIONAL_RAD] / medians[CONDITIONAL_REAL_NVP]}


def measure_fit(models, x, context, config):
    """`model.fit`'s time per step (ms), interleaved; each first call (s), its compile
    overhead (s) and the median phases of the timed calls (`keras_fit.measure_fit`), and
    the cost of the context in the training loop alone (`cost_of_context_loop`, from the
    phases: without `fit`'s set-up and tear-down)."""
    datasets = {name: training.shuffled_batches(x, 500, context=_contexts(model, context))
                for name, model in models.items()}
    figure, first, overhead, phases = keras_fit.measure_fit(
        x, STEPS_PER_EXECUTION, config, models=models, datasets=datasets)
    loop = {name: phase["loop_ms_per_step"] for name, phase in phases.items()}
    return {**_summary(figure.samples),
            "cost_of_context_loop": loop[CONDITIONAL_RAD] / loop[RAD], "first_call_s": first,
            "compile_s": overhead, "phases": phases, "samples_ms": figure.samples}


def measure_log_prob(models, x, context, config):
    """`log_prob` under XLA at a batch of `len(x)`: M points/s, and the cost of the context
    (from the times per call)."""
    calls = {}
    for name, model in models.items():
        log_prob = tf.function(model.log_prob, jit_compile=True)
        arguments = (x, context) if model.context_size else (x,)
        calls[name] = (lambda f, a: lambda: f(*a))(log_prob, arguments)
    first = first_calls(calls)
    seconds = interleaved(calls, config.repeats, warmup=config.warmup)
    throughput = inverted(seconds, len(x) / 1e6)
    return {**_summary(seconds),
            "m_points_s": {name: float(np.median(v)) for name, v in throughput.items()},
            "first_call_s": first, "samples_s": seconds}


def run(config, log=print):
    """Measures the three models; returns the JSON-ready results."""
    start = time.perf_counter()
    results = {"machine": machine.info(), "load_average_start": machine.load_average(),
               "problem": PROBLEM, "target_cost": TARGET}
    other = machine.OtherLoad().start()
    models = make_models()
    results["parameters"] = {n: subjects.num_parameters(m) for n, m in models.items()}
    results["hidden_units"] = {n: m.hidden_units for n, m in models.items()}
    x, context = conditional_datasets.load(PROBLEM, 10_000, seed=0)
    results["fit"] = measure_fit(models, x, context, config)
    log(f"fit, spe{STEPS_PER_EXECUTION} (ms/step): {_rounded(results['fit']['median'])}; "
        f"phases {results['fit']['phases']}; "
        f"load average {machine.load_average()}")
    x, context = conditional_datasets.load(PROBLEM, LOG_PROB_BATCH, seed=1)
    results["log_prob"] = measure_log_prob(models, x, context, config)
    log(f"log_prob (M points/s): {_rounded(results['log_prob']['m_points_s'])}; "
        f"load average {machine.load_average()}")
    results.update(load_average_end=machine.load_average(),
                   other_processes_cores=other.stop(),
                   wall_time_s=round(time.perf_counter() - start, 1),
                   settings={"fit_steps": config.fit_steps, "fit_repeats": config.fit_repeats,
                             "repeats": config.repeats, "batch_size": 500,
                             "steps_per_execution": STEPS_PER_EXECUTION,
                             "log_prob_batch": LOG_PROB_BATCH, "num_layers": NUM_LAYERS,
                             "rad_hidden_units": RAD_HIDDEN_UNITS})
    return results


def _rounded(values):
    return {k: round(v, 3) for k, v in values.items()}


def text(results):
    """The printed summary: each figure's medians, the cost of the context, the verdict."""
    lines = [f"The cost of a context ({results['problem']}; parameters "
             f"{results['parameters']}; load average {results['load_average_start']} -> "
             f"{results['load_average_end']})"]
    for key, label in (("fit", "fit step (ms)"), ("log_prob", "log_prob (s per call)")):
        figure = results[key]
        verdict = "met" if figure["cost_of_context"] <= results["target_cost"] else "missed"
        lines.append(
            f"  {label}: {_rounded(figure['median'])}; context costs "
            f"{figure['cost_of_context']:.3f}x (paired {figure['cost_of_context_paired']:.3f}x, "
            f"target <= {results['target_cost']}: {verdict}); conditional RAD / conditional "
            f"Real NVP {figure['rad_conditional_over_real_nvp_conditional']:.2f}x")
    lines.append(f"  fit's training loop alone: context costs "
                 f"{results['fit']['cost_of_context_loop']:.3f}x")
    return "\n".join(lines)


def main(args, argv):
    """`python -m benchmarks --conditional [--quick] [--repeats N] [--output JSON]`; the JSON
    goes to `OUTPUT` (`QUICK_OUTPUT` with `--quick`) by default."""
    from benchmarks import settings

    tf.get_logger().setLevel("ERROR")
    config = (settings.Settings.quick if args.quick else settings.Settings.full)(args.repeats)
    results = {"command": " ".join(["python -m benchmarks", *map(shlex.quote, argv)]),
               "quick": args.quick, "tf_xla_flags": os.environ.get("TF_XLA_FLAGS")}
    results.update(run(config, log=lambda line: print(line, flush=True)))
    output = args.output or (QUICK_OUTPUT if args.quick else OUTPUT)
    report.write_json(results, output)
    print()
    print(text(results))
    print(f"\nresults: {output}")
