"""RAD's layers in one XLA loop, its compile and step (`python -m benchmarks.layer_loop`).

`RADFlow` keeps its layers' networks in two `StackedMLP`s (9 variables), and unrolls its
L layers: each is traced, converted to HLO and compiled on its own. This study measures
the other way to run the same weights: one traced layer run L times by a `tf.while_loop`
that reads slice `j` of each stack,

```none
y_0 = x,   (a, b) = (y_j[:, :d/2], y_j[:, d/2:])
z_j, k_j, log_det_j = fold_j(b; conditioner_j(a)),   y_{j+1} = [z_j, a]
log p(x) = log N(y_L; 0, I) + sum_j (log_det_j + log p(k_j | gating_j input))
```

Swapping the halves after each layer makes one body fold the halves alternately, as
`alternating_masks` does (so d must be even); the gating of layer j reads `[a, z_j]` for
even j and `[z_j, a]` for odd j, the point in its own order. The log-density is RAD's, to
rounding (the study checks it on perturbed weights).

At each dimension, in one process, two programs (batch 500, XLA, the sweep's models): the
Adam training step (forward, backward, `apply_gradients`) and the forward+backward alone,
of three variants: **RAD** as it is (the mean NLL of `benchmarks.steps.nll`), **RAD, one
loop** (the same model's variables, run by the loop) and **Real NVP** at the same
parameter count.

Every program is first built and called once at d = 2 and discarded (`warm_up`). Then,
for each: the trace (`get_concrete_function`), the first call (conversion to HLO, XLA's
passes and code generation, one call), the instructions of the program before and after
XLA's passes, and a call's time (median of interleaved samples). Compile is trace + first
call - one call, as the sweep's compile figure is the first `fit` call's excess.
And `log_prob` at batch 20,000 under XLA (as in the sweep): RAD's, the loop's in RAD's
blocks of points, and Real NVP's, timed interleaved.
Writes `benchmarks/results/layer_loop.json`.
"""

import math
import os
import time

BATCH = 500
REPEATS = 15
CALLS = 10
VARIANTS = ("RAD", "RAD, one loop", "Real NVP")
PROGRAMS = ("step", "forward+backward")
LOG_PROB_BATCH = 20_000


def stacks(model):
    """The 9 stacked weights the loop reads: `RADFlow.conditioners`' 5, then
    `RADFlow.gating_networks`' 4 (`StackedMLP` weights, `[L, ...]`)."""
    check_supported(model)
    c, g = model.conditioners, model.gating_networks
    return [c.hidden_kernel, c.hidden_bias, c.output_kernel, c.output_bias, c.scale,
            g.hidden_kernel, g.hidden_bias, g.output_kernel, g.output_bias]


def check_supported(model):
    """Raises ValueError unless `model` is a loopable `RADFlow`: even d, unconditional,
    gated, not standardized."""
    from tfp_rad.models import RADFlow

    if not isinstance(model, RADFlow):
        raise ValueError(f"Only a RADFlow's layers can be looped, got {type(model).__name__}.")
    problems = [text for bad, text in (
        (model.event_size % 2, f"an even event_size (got {model.event_size})"),
        (model.context_size, "no context"),
        (not model.gating_hidden_units, "gating networks"),
        (model.standardize or model.whiten, "no standardization"),
    ) if bad]
    if problems:
        raise ValueError("The layer loop needs " + ", ".join(problems) + ".")


def looped_log_prob(stacks, x, min_probability, log_scale_bound):
    """RAD's `log p(x)` `[N]` with its layers run by one `tf.while_loop` (module docstring).

    Args:
      stacks: the 9 stacked weights of `stacks(model)`, `[L, ...]`.
      x: `[N, d]` points, d even.
      min_probability, log_scale_bound: the folds' constants (`PiecewiseFold`'s).
    """
    import tensorflow as tf

    from tfp_rad import fold_math
    from tfp_rad.fold import NUM_PIECES, PARAMETERS_PER_ELEMENT

    num_layers = stacks[0].shape[0]
    half = x.shape[-1] // 2

    def layer(j, y, log_det_and_gate):
        (hidden, hidden_bias, output, output_bias, scale, gating_hidden, gating_hidden_bias,
         gating_output, gating_output_bias) = (w[j] for w in stacks)
        passthrough, folded = y[:, :half], y[:, half:]
        raw = scale * tf.tanh(tf.nn.relu(passthrough @ hidden + hidden_bias) @ output
                              + output_bias)
        z, v, k, log_det, log_q_plus, log_q_minus = fold_math.fused_fold(
            folded, tf.reshape(raw, [-1, half, PARAMETERS_PER_ELEMENT]), min_probability,
            log_scale_bound)
        gating_input = tf.where(j % 2 == 0, tf.concat([passthrough, z], -1),
                                tf.concat([z, passthrough], -1))  # the point's own order
        gating_logits = (tf.nn.relu(gating_input @ gating_hidden + gating_hidden_bias)
                         @ gating_output + gating_output_bias)
        log_gate = fold_math.fused_log_gating(
            v, k, tf.reshape(gating_logits, [-1, half, NUM_PIECES]), log_q_plus, log_q_minus)
        return (j + 1, tf.concat([z, passthrough], -1),
                log_det_and_gate + tf.reduce_sum(log_det + log_gate, axis=-1))

    _, y, log_det_and_gate = tf.while_loop(
        lambda j, *_: j < num_layers, layer,
        (tf.constant(0), x, tf.zeros(tf.shape(x)[:1], x.dtype)),
        maximum_iterations=num_layers)
    base = (-0.5 * tf.reduce_sum(tf.square(y), axis=-1)
            - 0.5 * x.shape[-1] * math.log(2.0 * math.pi))
    return base + log_det_and_gate


def fold_constants(model):
    """`(min_probability, log_scale_bound)` of a `RADFlow`'s folds."""
    fold = model.folds[0]
    return fold.min_boundary_probability, fold.log_scale_bound


def largest_relative_difference(model, x):
    """`max |looped - log_prob| / (1 + |log_prob|)` over the points `x`, in `model`'s dtype."""
    import tensorflow as tf

    expected = model.log_prob(x)
    looped = looped_log_prob(stacks(model), x, *fold_constants(model))
    return float(tf.reduce_max(tf.abs(looped - expected) / (1.0 + tf.abs(expected))))


def perturbed(model, seed=0, scale=0.1):
    """`model` with normal noise of `scale` added to every weight (so no layer is the
    uniform fold it starts as), returned for chaining."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for variable in model.trainable_variables:
        noise = scale * rng.standard_normal(variable.shape)
        variable.assign(variable + noise.astype(variable.dtype))
    return model


def looped_loss(model):
    """`loss(x)`: the mean NLL of `model`'s looped `log_prob` (trains its variables)."""
    import tensorflow as tf

    constants = fold_constants(model)

    def loss(x):
        return -tf.reduce_mean(looped_log_prob(stacks(model), x, *constants))

    return loss


def compiled_programs(loss, variables):
    """`{"step": Adam step(x) -> loss, "forward+backward": gradients(x)}`, XLA-compiled."""
    import keras
    import tensorflow as tf

    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(variables)

    def loss_and_gradients(x):
        with tf.GradientTape() as tape:
            value = loss(x)
        return value, tape.gradient(value, variables)

    @tf.function(jit_compile=True)
    def step(x):
        value, gradients = loss_and_gradients(x)
        optimizer.apply_gradients(zip(gradients, variables))
        return value

    @tf.function(jit_compile=True)
    def forward_backward(x):
        return loss_and_gradients(x)[1]

    return dict(zip(PROGRAMS, (step, forward_backward)))


def programs(dimension):
    """`{variant: compiled_programs(...)}` of the module's three variants at `dimension`."""
    from benchmarks import steps, sweep

    out = {}
    for variant in VARIANTS:
        models = sweep.make_models(dimension)
        model = models[sweep.REAL_NVP if variant == VARIANTS[2] else sweep.RAD]
        loss = (looped_loss(model) if variant == VARIANTS[1]
                else lambda x, model=model: steps.nll(model, x))
        out[variant] = compiled_programs(loss, model.trainable_variables)
    return out


def first_call_split(fn, x):
    """`{"trace_s", "first_call_s", "hlo_instructions", "optimized_hlo_instructions"}` of
    a fresh XLA-compiled function: its trace, then its first call (compile and one run)."""
    from benchmarks import timing, xla_trace

    start = time.perf_counter()
    fn.get_concrete_function(x)
    traced = time.perf_counter()
    timing.block(fn(x))
    called = time.perf_counter()
    sizes = {stage: len(xla_trace.hlo_instructions(fn.experimental_get_compiler_ir(x)(stage)))
             for stage in ("hlo", "optimized_hlo")}
    return {"trace_s": round(traced - start, 3), "first_call_s": round(called - traced, 3),
            "hlo_instructions": sizes["hlo"],
            "optimized_hlo_instructions": sizes["optimized_hlo"]}


def measure(dimension, repeats):
    """`{variant: {program: first_call_split + ms + compile_s}}` at `dimension`.

    Every variant's Adam step and forward+backward are traced and called a first time
    one after another, then timed interleaved (medians of `repeats` samples of `CALLS`
    calls); `compile_s` is trace + first call - one call.
    """
    import statistics

    import tensorflow as tf

    from benchmarks import sweep, timing

    x = tf.constant(sweep.points(dimension, BATCH, seed=2))
    fns = {(variant, program): fn for variant, compiled in programs(dimension).items()
           for program, fn in compiled.items()}
    out = {key: first_call_split(fn, x) for key, fn in fns.items()}
    samples = timing.interleaved({key: (lambda fn=fn: fn(x)) for key, fn in fns.items()},
                                 repeats, number=CALLS)
    for key, s in samples.items():
        call = statistics.median(s)
        out[key]["ms"] = round(1e3 * call, 3)
        out[key]["compile_s"] = round(out[key]["trace_s"] + out[key]["first_call_s"] - call, 3)
    nested = {}
    for (variant, program), figures in out.items():
        nested.setdefault(variant, {})[program] = figures
    return nested


def log_prob_times(dimension, repeats):
    """`{variant: ms}` of `log_prob` at batch `LOG_PROB_BATCH` (XLA), timed interleaved;
    the loop runs in RAD's blocks of points (`rad_distribution.in_blocks`)."""
    import statistics

    import tensorflow as tf

    from benchmarks import ablation, sweep, timing
    from tfp_rad.rad_distribution import DEFAULT_LOG_PROB_BLOCK_SIZE, in_blocks

    x = tf.constant(sweep.points(dimension, LOG_PROB_BATCH, seed=2))
    models = sweep.make_models(dimension)
    rad = models[sweep.RAD]
    constants = fold_constants(rad)

    @tf.function(jit_compile=True)
    def looped():
        return in_blocks(lambda block: looped_log_prob(stacks(rad), block, *constants), x,
                         DEFAULT_LOG_PROB_BLOCK_SIZE)

    fns = {VARIANTS[0]: ablation.log_prob_program(rad, x), VARIANTS[1]: looped,
           VARIANTS[2]: ablation.log_prob_program(models[sweep.REAL_NVP], x)}
    for fn in fns.values():
        timing.block(fn())
    samples = timing.interleaved(fns, repeats)
    return {name: round(1e3 * statistics.median(s), 3) for name, s in samples.items()}


def warm_up():
    """Builds and calls every variant's programs once at d = 2, and discards them.

    The first trace of a process pays one-time costs (autograph's conversion of the
    library's functions, Keras's and the optimizer's first traces); without this, they
    would fall on whichever variant is measured first.
    """
    import tensorflow as tf

    from benchmarks import sweep, timing

    x = tf.constant(sweep.points(2, BATCH, seed=2))
    for compiled in programs(2).values():
        for fn in compiled.values():
            timing.block(fn(x))


def main(argv=None):
    from benchmarks import settings

    args, argv = settings.dimension_study_arguments(
        "python -m benchmarks.layer_loop", __doc__.splitlines()[0], (2, 16, 64), REPEATS, argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from benchmarks import machine, report, sweep
    from tfp_rad.models import RADFlow

    results = {"command": " ".join(["python -m benchmarks.layer_loop", *argv]),
               "machine": machine.info(), "load_average_start": machine.load_average(),
               "batch": BATCH, "log_prob_batch": LOG_PROB_BATCH, "relative_difference": {},
               "programs": {}, "log_prob_ms": {}}
    other = machine.OtherLoad().start()
    warm_up()
    for dimension in args.dimensions:
        x = sweep.points(dimension, BATCH, seed=2)
        results["relative_difference"][dimension] = {
            dtype: largest_relative_difference(
                perturbed(RADFlow(dimension, sweep.NUM_LAYERS, sweep.RAD_HIDDEN_UNITS,
                                  dtype=dtype)), tf.constant(x, dtype))
            for dtype in ("float32", "float64")}
        figures = measure(dimension, args.repeats)
        results["programs"][dimension] = figures
        results["log_prob_ms"][dimension] = log_prob_times(dimension, args.repeats)
        print(f"d={dimension}: largest relative difference of the loop's log_prob: " + ", ".join(
            f"{k} {v:.1e}" for k, v in results["relative_difference"][dimension].items()))
        print(f"  log_prob at batch {LOG_PROB_BATCH}: " + "; ".join(
            f"{name} {ms:.2f} ms" for name, ms in results["log_prob_ms"][dimension].items()))
        for program in PROGRAMS:
            base = figures[VARIANTS[2]][program]
            print(f"  {program}: " + "; ".join(
                f"{name}: trace {f['trace_s']:.2f} s, first call {f['first_call_s']:.2f} s, "
                f"compile {f['compile_s']:.2f} s ({f['compile_s'] / base['compile_s']:.2f}x "
                f"Real NVP), HLO {f['hlo_instructions']} -> {f['optimized_hlo_instructions']} "
                f"instructions, {f['ms']:.2f} ms ({f['ms'] / base['ms']:.2f}x)"
                for name, f in ((n, v[program]) for n, v in figures.items())), flush=True)
    report.write_results(results, "layer_loop.json", other)


if __name__ == "__main__":
    main()
