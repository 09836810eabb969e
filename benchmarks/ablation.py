"""Where RAD's training step goes, by ablation (`python -m benchmarks.ablation`).

At each dimension, in one process, the forward+backward of the mean NLL of a batch of
500 points under XLA (the sweep's models, no optimizer update) of six programs, timed
interleaved (medians of `REPEATS` samples of `CALLS` calls):

- **RAD**: the model as it is;
- **RAD, gating arithmetic removed**: `fold_math.fused_log_gating` replaced by a
  stand-in that reads every input and computes no transcendental,
  `v sum_j (s_j + log q+_j + log q-_j)`;
- **RAD, fold and gating arithmetic removed**: `fold_math.fused_fold` replaced too, by
  `z = x c_1 + c_0 + c_2` with `log_det = c_3`, the boundary log-probabilities `c_4..c_9`
  and `v = z` (`c` the ten raw parameters per element, unstacked as the fold unstacks
  them), so that every raw parameter still gets a gradient;
- **RAD, no gating network**: `RADFlow(gating_hidden_units=0)` (`s(z) = 0`), a density
  too, its conditioners widened to bring its parameter count closest to RAD's;
- **RAD, shared values recomputed**: RAD with `fold_math.computed_once` replaced by the
  identity, as before it existed: XLA then recomputes `u`, `v` and the gating's sine,
  logits and `G_v` in every kernel that reads them (the in-process A/B of that lever);
- **RAD, 4 layers**: a density too, RAD's parameter count in 4 wider layers instead of 6
  (`sweep.make_models(rad_layers=4)`): the fold's and gating's arithmetic is per layer;
- **Real NVP** at the same parameter count.

The stand-ins are not densities: they show what the fold's and the gating's element-wise
arithmetic cost (the differences) and what the rest of RAD costs (the conditioners and
gatings, their scaled tanh, the splits, the base), which no faster fold arithmetic can
remove. Also one layer's fold and gating alone, forward+backward under XLA, at batch 500
and n = 8, 32 and 128 folded elements: the slope is the cost per folded element.
The same programs' `log_prob` at batch 20,000 (forward only, XLA), as in the sweep's
throughput. At 2-D, what Keras's Adam update adds to RAD's and Real NVP's step: the
forward+backward against the whole step (forward, backward, `optimizer.apply_gradients`),
both compiled with XLA, batch 500. And, in RAD's compiled forward+backward, the kernels
(fused loops) that hold a copy of the gating's sine polynomial (`fold_math.sin_half_pi`,
found by its coefficient `-(pi/2)^3 / 3!`) and their time under TensorFlow's profiler: XLA:CPU fuses
each cheap element-wise chain into every kernel that consumes it instead of computing it
once, so the gating's arithmetic is recomputed in each of them unless
`fold_math.computed_once` makes it a kernel's result.
Writes `benchmarks/results/ablation.json`.
"""

import os
from unittest import mock

CALLS = 10
LOG_PROB_BATCH = 20_000
REPEATS = 15
LAYER_WIDTHS = (8, 32, 128)
VARIANTS = ("RAD", "RAD, gating arithmetic removed", "RAD, fold and gating arithmetic removed",
            "RAD, no gating network", "RAD, shared values recomputed", "RAD, 4 layers",
            "Real NVP")


def stand_in_fold(x, raw, min_probability, log_scale_bound):
    import tensorflow as tf

    del min_probability, log_scale_bound
    c = tf.unstack(raw, num=10, axis=-1)
    z = x * c[1] + c[0] + c[2]
    return (z, z, tf.zeros_like(z, tf.int32), c[3], tf.stack(c[4:7], axis=-1),
            tf.stack(c[7:10], axis=-1))


def stand_in_gating(v, k, gating_logits, log_q_plus, log_q_minus):
    import tensorflow as tf

    del k
    return v * tf.reduce_sum(gating_logits + log_q_plus + log_q_minus, axis=-1)


def _forward_backward(model, x):
    import tensorflow as tf

    from benchmarks import steps

    return tf.function(steps.forward_backward_fn(model, x), jit_compile=True)


def log_prob_program(model, x):
    import tensorflow as tf

    return tf.function(lambda: model.log_prob(x), jit_compile=True)


def traced(fn, fold=None, gating=None, once=None):
    """`fn`, traced and compiled by a first call with the stand-ins patched in."""
    from tfp_rad import fold as fold_module
    from tfp_rad import fold_math

    with mock.patch.object(fold_module, "fused_fold", fold or fold_module.fused_fold), \
            mock.patch.object(fold_module, "fused_log_gating",
                              gating or fold_module.fused_log_gating), \
            mock.patch.object(fold_math, "computed_once", once or fold_math.computed_once):
        fn()
    return fn


def ablation(dimension, program, batch, repeats, number):
    """`{variant: ms per call}` of `program(model, x)` at `dimension`, timed interleaved."""
    import statistics

    import tensorflow as tf

    from benchmarks import sweep, timing

    x = tf.constant(sweep.points(dimension, batch, seed=2))
    fns = {}
    for variant, fold, gating in zip(VARIANTS[:3], (None, None, stand_in_fold),
                                     (None, stand_in_gating, stand_in_gating)):
        models = sweep.make_models(dimension)
        fns[variant] = traced(program(models[timing.RAD], x), fold, gating)
    fns[VARIANTS[3]] = traced(program(sweep.make_ungated_model(dimension), x))
    fns[VARIANTS[4]] = traced(program(sweep.make_models(dimension)[timing.RAD], x),
                               once=lambda t: t)
    fns[VARIANTS[5]] = traced(program(sweep.make_models(dimension, rad_layers=4)[timing.RAD],
                                       x))
    fns[VARIANTS[6]] = traced(program(models[timing.REAL_NVP], x))
    samples = timing.interleaved(fns, repeats, number=number)
    return {name: round(1e3 * statistics.median(s), 3) for name, s in samples.items()}


def optimizer_share(dimension, repeats):
    """Forward+backward against the whole Adam step at `dimension`, per model.

    `{model: {"forward+backward": ms, "step": ms, "step_kernels_ms": ms, "variables": n}}`:
    the medians of interleaved calls, and the step's kernel (thunk) time under the
    profiler, which leaves out the work around the kernels of each call.
    """
    import statistics
    import tempfile

    import tensorflow as tf

    from benchmarks import steps, subjects, sweep, timing, xla_trace

    x = tf.constant(sweep.points(dimension, 500, seed=2))
    fns, out = {}, {}
    for name, model in sweep.make_models(dimension).items():
        subjects.with_built_optimizer(model)
        fns[(name, "forward+backward")] = traced(_forward_backward(model, x))
        step = steps.compiled_step(model, "xla")
        fns[(name, "step")] = traced(lambda step=step: step(x))
        instructions = xla_trace.hlo_instructions(
            step.experimental_get_compiler_ir(x)(stage="optimized_hlo"))
        with tempfile.TemporaryDirectory() as log_dir:
            ms = xla_trace.thunk_times(fns[(name, "step")], log_dir)
        out[name] = {"variables": len(model.trainable_variables), "step_kernels_ms": round(
            sum(t for k, t in ms.items() if k in instructions), 3)}
    samples = timing.interleaved(fns, repeats, number=2 * CALLS)
    for (name, program), s in samples.items():
        out[name][program] = round(1e3 * statistics.median(s), 3)
    return out


def polynomial_copies(dimension):
    """Kernels of RAD's compiled forward+backward holding the sine polynomial, and their ms."""
    import tempfile

    import numpy as np
    import tensorflow as tf

    from benchmarks import hlo_text, sweep, timing, xla_trace

    x = tf.constant(sweep.points(dimension, 500, seed=2))
    fn = traced(_forward_backward(sweep.make_models(dimension)[timing.RAD], x))
    hlo = fn.experimental_get_compiler_ir()(stage="optimized_hlo")
    computations = hlo_text.computations(hlo)
    entry = next(text for is_entry, text in computations.values() if is_entry)
    kernels = {i.name: hlo_text.attribute(i, "calls") for i in hlo_text.instructions(entry)
               if i.opcode == "fusion"}
    coefficient = f"constant({np.float32(-(np.pi / 2) ** 3 / 6):.6g}"
    holding = {k for k, c in kernels.items() if coefficient in computations.get(c, (0, ""))[1]}
    with tempfile.TemporaryDirectory() as log_dir:
        ms = xla_trace.thunk_times(fn, log_dir)
    instructions = xla_trace.hlo_instructions(hlo)
    return {"fused_loops": len(kernels), "with_polynomial": len(holding),
            "all_thunks_ms": round(sum(t for k, t in ms.items() if k in instructions), 3),
            "with_polynomial_ms": round(sum(ms[k] for k in holding), 3)}


def layer_costs(repeats):
    """One layer's fold and gating, forward+backward, ms at batch 500 and each width."""
    import statistics

    import numpy as np
    import tensorflow as tf

    from benchmarks import timing
    from tfp_rad.fold_math import fused_fold, fused_log_gating

    fns = {}
    for n in LAYER_WIDTHS:
        rng = np.random.default_rng(0)
        x = tf.constant(rng.normal(0.0, 1.5, (500, n)), tf.float32)
        raw = tf.constant(rng.normal(size=(500, n, 10)), tf.float32)
        logits = tf.constant(rng.normal(size=(500, n, 3)), tf.float32)

        def forward_backward(x=x, raw=raw, logits=logits):
            with tf.GradientTape() as tape:
                tape.watch([x, raw, logits])
                z, v, k, log_det, log_q_plus, log_q_minus = fused_fold(x, raw, 1e-3, 8.0)
                log_gate = fused_log_gating(v, k, logits, log_q_plus, log_q_minus)
                total = tf.reduce_sum(z) + tf.reduce_sum(log_det) + tf.reduce_sum(log_gate)
            return tape.gradient(total, [x, raw, logits])

        fns[n] = tf.function(forward_backward, jit_compile=True)
    samples = timing.interleaved(fns, repeats, number=CALLS)
    return {n: round(1e3 * statistics.median(s), 4) for n, s in samples.items()}


def main(argv=None):
    from benchmarks import settings

    args, argv = settings.dimension_study_arguments(
        "python -m benchmarks.ablation", __doc__.splitlines()[0], (16, 64), REPEATS, argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np

    from benchmarks import machine, report, subjects, sweep

    results = {"command": " ".join(["python -m benchmarks.ablation", *argv]),
               "machine": machine.info(), "load_average_start": machine.load_average(),
               "batch": 500, "log_prob_batch": LOG_PROB_BATCH, "steps_ms": {},
               "log_prob_ms": {}}
    other = machine.OtherLoad().start()
    for dimension in args.dimensions:
        models = {**sweep.make_models(dimension), VARIANTS[3]: sweep.make_ungated_model(dimension),
                  VARIANTS[5]: sweep.make_models(dimension, rad_layers=4)[sweep.RAD]}
        results.setdefault("parameters", {})[dimension] = {
            name: [subjects.num_parameters(m), m.hidden_units] for name, m in models.items()}
        for key, program, batch, number in (
                ("steps_ms", _forward_backward, 500, CALLS),
                ("log_prob_ms", log_prob_program, LOG_PROB_BATCH, 1)):
            ms = ablation(dimension, program, batch, args.repeats, number)
            results[key][dimension] = ms
            base = ms["Real NVP"]
            print(f"d={dimension} {key} at batch {batch}: " + "; ".join(
                f"{k} {v:.2f} ms ({v / base:.2f}x Real NVP)" for k, v in ms.items()),
                flush=True)
        copies = polynomial_copies(dimension)
        results.setdefault("polynomial_copies", {})[dimension] = copies
        print(f"d={dimension}: {copies['with_polynomial']} of RAD's {copies['fused_loops']} "
              f"fused loops hold the sine polynomial, {copies['with_polynomial_ms']:.2f} of "
              f"{copies['all_thunks_ms']:.2f} ms of kernel time", flush=True)
    optimizer = optimizer_share(2, args.repeats)
    results["optimizer_ms"] = {2: optimizer}
    print("d=2, forward+backward vs step with Adam: " + "; ".join(
        f"{name} ({o['variables']} variables) {o['forward+backward']:.3f} vs {o['step']:.3f} ms"
        f" (kernels {o['step_kernels_ms']:.3f} ms)" for name, o in optimizer.items()), flush=True)
    layer = layer_costs(args.repeats)
    widths = np.array(LAYER_WIDTHS, float)
    slope, intercept = np.polyfit(500 * widths, np.array([layer[n] for n in LAYER_WIDTHS]), 1)
    results["layer_ms"] = layer
    results["layer_ns_per_element"] = round(slope * 1e6, 1)
    results["layer_fixed_ms"] = round(intercept, 4)
    print("one layer's fold and gating, forward+backward at batch 500: "
          + ", ".join(f"n={n} {t:.3f} ms" for n, t in layer.items())
          + f"; {slope * 1e6:.1f} ns per folded element + {intercept:.3f} ms")
    report.write_results(results, "ablation.json", other)


if __name__ == "__main__":
    main()
