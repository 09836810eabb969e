"""One kernel per layer for the fold and the gating, measured (`python -m benchmarks.custom_call`).

The lever of issue 16 that XLA's fusion cannot reach: the fold's and the gating's forward
each as one hand-written loop over the folded elements (`benchmarks/fold_kernel.cc`,
vectorized by g++ with glibc's vector `exp` and `log`, its blocks shared among the cores
by OpenMP), called from the compiled program as an XLA:CPU custom call
(`XlaCustomCallV2`; the targets are registered in XLA's registry, which TensorFlow's
`libtensorflow_cc` exports). `fold` and `log_gating` below
stand in for `fold_math.fused_fold` and `fold_math.fused_log_gating` with the same
arguments and results, forward only: a program that differentiates them fails ("no
gradient defined").

At each dimension, in one process, under XLA at batch 20,000 (the sweep's models):

- the largest difference between RAD's `log_prob` with the custom calls and without, relative
  to the value, in float32 (the sweep's RAD) and float64 (a RAD of the same size);
- `log_prob` of RAD, of RAD with the custom calls, of RAD with the ablation's
  transcendental-free stand-ins (`benchmarks.ablation`: what no fold arithmetic at all
  would cost) and of Real NVP, timed interleaved (medians of `REPEATS` calls);
- one layer's fold and gating forward alone on one `log_prob` block, `[4,096, n]` folded
  elements (n the sweep model's), compiled by XLA and as the custom calls, in ns per
  folded element;
- the same per folded element and layer inside `log_prob`: the time RAD's `log_prob` takes
  beyond the stand-ins', over its `20,000 n L` folded elements (L layers);
- the kernels of the three RAD programs under TensorFlow's profiler, by HLO opcode
  (`kernel_times`).

Writes `benchmarks/results/custom_call.json`.
"""

import functools
import os
import shutil
import subprocess
import tempfile

LOG_PROB_BATCH = 20_000
REPEATS = 15
KERNEL_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fold_kernel.cc")
VARIANTS = ("RAD", "RAD, custom calls", "RAD, fold and gating arithmetic removed", "Real NVP")


@functools.lru_cache(maxsize=None)
def load():
    """Builds `fold_kernel.cc` with g++ (once per process) and registers its targets."""
    import ctypes

    import tensorflow as tf

    compiler = shutil.which("g++")
    if compiler is None:
        raise RuntimeError("benchmarks.custom_call needs g++ on the PATH to build "
                           f"{KERNEL_SOURCE}")
    directory = tempfile.mkdtemp(prefix="rad_custom_call_")
    library, tf_lib = os.path.join(directory, "fold_kernel.so"), tf.sysconfig.get_lib()
    # -ffast-math lets g++ call glibc's vector exp and log. Compiled and linked apart: a
    # library linked with -ffast-math would set the processor to flush subnormal numbers
    # to zero in the whole process when loaded (gcc's crtfastmath), and change other code.
    subprocess.run([compiler, "-O3", "-march=native", "-ffast-math", "-fopenmp", "-fPIC",
                    "-c", KERNEL_SOURCE, "-o", os.path.join(directory, "fold_kernel.o")],
                   check=True)
    subprocess.run([compiler, "-shared", "-fopenmp", os.path.join(directory, "fold_kernel.o"),
                    "-o", library, f"-L{tf_lib}", "-l:libtensorflow_cc.so.2",
                    f"-Wl,-rpath,{tf_lib}"], check=True)
    ctypes.CDLL(library).rad_register_custom_calls()
    return library


def _target(name, dtype):
    import tensorflow as tf

    suffixes = {tf.float32: "f32", tf.float64: "f64"}
    if dtype not in suffixes:
        raise TypeError(f"{name}: float32 or float64 only, not {dtype.name}")
    return f"{name}_{suffixes[dtype]}"


def fold(x, raw, min_probability, log_scale_bound):
    """`fold_math.fused_fold`'s results, by the custom call `rad_fold_<dtype>` (forward)."""
    import tensorflow as tf
    from tensorflow.compiler.tf2xla.ops import gen_xla_ops

    load()
    shape, dtype = x.shape, x.dtype
    probabilities = shape.concatenate([3])
    return tuple(gen_xla_ops.xla_custom_call_v2(
        [x, raw, tf.constant([min_probability, log_scale_bound], dtype),
         tf.size(x, out_type=tf.int64)],
        _target("rad_fold", dtype), "", False,
        [dtype, dtype, tf.int32, dtype, dtype, dtype],
        [shape, shape, shape, shape, probabilities, probabilities]))


def log_gating(v, k, gating_logits, log_q_plus, log_q_minus):
    """`fold_math.fused_log_gating`'s result, by the custom call `rad_log_gating_<dtype>`."""
    import tensorflow as tf
    from tensorflow.compiler.tf2xla.ops import gen_xla_ops

    load()
    return gen_xla_ops.xla_custom_call_v2(
        [v, k, gating_logits, log_q_plus, log_q_minus, tf.size(v, out_type=tf.int64)],
        _target("rad_log_gating", v.dtype), "", False, [v.dtype], [v.shape])[0]


def largest_relative_difference(model, x):
    """max |log_prob with the custom calls - without| / |without|, both under XLA."""
    import numpy as np

    from benchmarks import ablation

    reference = ablation.traced(ablation.log_prob_program(model, x))().numpy()
    custom = ablation.traced(ablation.log_prob_program(model, x), fold, log_gating)().numpy()
    return float(np.max(np.abs(custom - reference) / np.abs(reference)))


def _rad_programs(dimension, x):
    """`{variant: compiled log_prob of x}` for RAD, with the custom calls, with the stand-ins."""
    from benchmarks import ablation, sweep

    patches = {VARIANTS[0]: (None, None), VARIANTS[1]: (fold, log_gating),
               VARIANTS[2]: (ablation.stand_in_fold, ablation.stand_in_gating)}
    return {name: ablation.traced(
        ablation.log_prob_program(sweep.make_models(dimension)[sweep.RAD], x), *patch)
        for name, patch in patches.items()}


def log_prob_times(dimension, repeats):
    """`{variant: ms}` of `log_prob` at batch `LOG_PROB_BATCH`, timed interleaved."""
    import statistics

    import tensorflow as tf

    from benchmarks import ablation, sweep, timing

    x = tf.constant(sweep.points(dimension, LOG_PROB_BATCH, seed=2))
    fns = _rad_programs(dimension, x)
    fns[VARIANTS[3]] = ablation.traced(
        ablation.log_prob_program(sweep.make_models(dimension)[sweep.REAL_NVP], x))
    samples = timing.interleaved(fns, repeats)
    return {name: round(1e3 * statistics.median(s), 3) for name, s in samples.items()}


def kernel_times(dimension):
    """`{variant: {opcode: ms}}`: the kernels (thunks) of RAD's `log_prob` programs per call.

    For RAD, RAD with the custom calls and RAD with the stand-ins at batch
    `LOG_PROB_BATCH`, under TensorFlow's profiler (`xla_trace.thunk_times`), summed by the
    HLO opcode each kernel runs (`fusion`, `custom-call`, `dot`, ...). Kernels that run at
    once on both cores add up, so a total can exceed the call's wall time.
    """
    import collections

    import tensorflow as tf

    from benchmarks import sweep, xla_trace

    x = tf.constant(sweep.points(dimension, LOG_PROB_BATCH, seed=2))
    out = {}
    for name, fn in _rad_programs(dimension, x).items():
        instructions = xla_trace.hlo_instructions(
            fn.experimental_get_compiler_ir()(stage="optimized_hlo"))
        ms = collections.Counter()
        for thunk, time_ms in xla_trace.thunk_times(fn, tempfile.mkdtemp()).items():
            if thunk in instructions:
                ms[instructions[thunk][0]] += time_ms
        out[name] = {opcode: round(t, 2) for opcode, t in ms.most_common() if t >= 0.05}
    return out


def layer_times(folded, repeats):
    """ns per folded element of one layer's fold and gating forward, XLA and custom calls."""
    import statistics

    import numpy as np
    import tensorflow as tf

    from benchmarks import timing
    from tfp_rad import fold_math
    from tfp_rad.rad_distribution import DEFAULT_LOG_PROB_BLOCK_SIZE

    rng = np.random.default_rng(0)
    points = DEFAULT_LOG_PROB_BLOCK_SIZE
    x = tf.constant(rng.normal(size=(points, folded)), tf.float32)
    raw = tf.constant(rng.normal(size=(points, folded, 10)), tf.float32)
    logits = tf.constant(rng.normal(size=(points, folded, 3)), tf.float32)

    def program(fold_fn, gating_fn):
        @tf.function(jit_compile=True)
        def layer():
            _, v, k, log_det, log_q_plus, log_q_minus = fold_fn(x, raw, 0.01, 3.0)
            return log_det + gating_fn(v, k, logits, log_q_plus, log_q_minus)
        layer()
        return layer

    fns = {"one block, XLA": program(fold_math.fused_fold, fold_math.fused_log_gating),
           "one block, custom calls": program(fold, log_gating)}
    samples = timing.interleaved(fns, repeats, number=10)
    elements = points * folded
    return {name: round(1e9 * statistics.median(s) / elements, 2) for name, s in samples.items()}


def main(argv=None):
    from benchmarks import settings

    args, argv = settings.dimension_study_arguments(
        "python -m benchmarks.custom_call", __doc__.splitlines()[0], (2, 16, 64), REPEATS, argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from benchmarks import machine, report, sweep
    from tfp_rad.models import RADFlow
    from tfp_rad.rad_distribution import DEFAULT_LOG_PROB_BLOCK_SIZE

    load()
    results = {"command": " ".join(["python -m benchmarks.custom_call", *argv]),
               "machine": machine.info(), "load_average_start": machine.load_average(),
               "log_prob_batch": LOG_PROB_BATCH, "block_points": DEFAULT_LOG_PROB_BLOCK_SIZE,
               "relative_difference": {}, "log_prob_ms": {},
               "layer_ns_per_element": {}}
    other = machine.OtherLoad().start()
    for dimension in args.dimensions:
        rad = sweep.make_models(dimension)[sweep.RAD]
        x = sweep.points(dimension, LOG_PROB_BATCH, seed=2)
        difference = {
            "float32": largest_relative_difference(rad, tf.constant(x)),
            "float64": largest_relative_difference(
                RADFlow(dimension, sweep.NUM_LAYERS, sweep.RAD_HIDDEN_UNITS, dtype="float64"),
                tf.constant(x, tf.float64))}
        results["relative_difference"][dimension] = difference
        ms = log_prob_times(dimension, args.repeats)
        results["log_prob_ms"][dimension] = ms
        folded = dimension - dimension // 2
        layer = layer_times(folded, args.repeats)
        elements = LOG_PROB_BATCH * folded * sweep.NUM_LAYERS
        for name, variant in (("in log_prob, XLA", VARIANTS[0]),
                              ("in log_prob, custom calls", VARIANTS[1])):
            layer[name] = round(1e6 * (ms[variant] - ms[VARIANTS[2]]) / elements, 2)
        results["layer_ns_per_element"][dimension] = layer
        kernels = kernel_times(dimension)
        results.setdefault("kernel_ms", {})[dimension] = kernels
        base = ms[VARIANTS[3]]
        print(f"d={dimension}: log_prob at batch {LOG_PROB_BATCH}: " + "; ".join(
            f"{k} {v:.2f} ms ({v / base:.2f}x Real NVP)" for k, v in ms.items())
            + f". Largest relative difference with the custom calls: float32 "
            f"{difference['float32']:.1e}, float64 {difference['float64']:.1e}. One layer's fold "
            f"and gating forward (n={folded}): " + ", ".join(
                f"{k} {v:.2f} ns per element" for k, v in layer.items()) + ". Kernel ms per "
            "call: " + "; ".join(f"{name} " + ", ".join(f"{op} {t:.1f}" for op, t in ms.items())
                                 for name, ms in kernels.items()), flush=True)
    report.write_results(results, "custom_call.json", other)


if __name__ == "__main__":
    main()
