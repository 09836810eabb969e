"""RAD's layers in one XLA loop, its compile and step (`python -m benchmarks.layer_loop`).

`RADFlow` unrolls its layers: each of its L layers is traced, converted to HLO and
compiled on its own, and Keras's Adam traces its update once per variable (9 per layer:
the conditioner's and the gating's two dense layers and the scaled tanh's scale). This
study measures the other layout, in which one traced layer is run L times by a
`tf.while_loop` over the layers' weights stacked on a leading axis `[L, ...]`:

```none
y_0 = x,   (a, b) = (y_j[:, :d/2], y_j[:, d/2:])
z_j, k_j, log_det_j = fold_j(b; conditioner_j(a)),   y_{j+1} = [z_j, a]
log p(x) = log N(y_L; 0, I) + sum_j (log_det_j + log p(k_j | [a, z_j]))
```

Swapping the halves after each layer makes one body fold the halves alternately, as
`alternating_masks` does (so d must be even); the odd layers' gatings read their input
halves swapped, so their first kernels' rows are swapped when stacked. The log-density is
RAD's, to rounding (the study checks it on perturbed weights).

At each dimension, in one process, two programs (batch 500, XLA, the sweep's models): the
Adam training step (forward, backward, `apply_gradients`) and the forward+backward alone,
of five variants:

- **RAD**: the model as it is (the mean NLL of `benchmarks.steps.nll`);
- **RAD, one loop, its variables**: the loop over the model's own 54 variables, stacked at
  each call (a layout a library could adopt without changing the saved format);
- **RAD, one loop, stacked variables**: the loop over 9 variables that hold the layers'
  weights stacked (a layout with a new saved format: Adam updates 9 variables);
- **Real NVP** at the same parameter count;
- **RAD, unrolled, stacked variables**: RAD as it is, its layers' networks reading slices
  of 9 stacked variables (`StackedLayerView`): Adam's 9 variables without the loop.

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
VARIANTS = ("RAD", "RAD, one loop, its variables", "RAD, one loop, stacked variables",
            "Real NVP", "RAD, unrolled, stacked variables")
PROGRAMS = ("step", "forward+backward")
LOG_PROB_BATCH = 20_000
LOOP_LOG_PROB = "RAD, one loop"
# Per layer, in this order: the conditioner's hidden kernel and bias, output kernel and
# bias, the scaled tanh's scale; the gating's hidden kernel and bias, output kernel and bias.
GATING_INPUT_KERNEL = 5


def layer_weights(model):
    """`[[9 weights] per layer]` of a `RADFlow`, data side first (order of the module)."""
    check_supported(model)
    weights = []
    for fold, gating in zip(model.folds, model.gatings):
        hidden, output, scaled_tanh = fold.conditioner.layers
        gating_hidden, gating_output = gating.layers
        weights.append([hidden.kernel, hidden.bias, output.kernel, output.bias,
                        scaled_tanh.scale, gating_hidden.kernel, gating_hidden.bias,
                        gating_output.kernel, gating_output.bias])
    return weights


def stacked_weights(weights, loop_order=True):
    """The 9 tensors `[L, ...]` that stack `layer_weights`, as the loop reads them.

    In the loop, odd layers see `[a, z]` with the halves swapped, so their gating's input
    kernel `[d, h]` has its two halves of rows swapped (`loop_order=False`: as they are).
    """
    import tensorflow as tf

    stacks = []
    for i in range(len(weights[0])):
        layers = [tf.convert_to_tensor(layer[i]) for layer in weights]
        if loop_order and i == GATING_INPUT_KERNEL:
            half = layers[0].shape[0] // 2
            layers = [w if j % 2 == 0 else tf.concat([w[half:], w[:half]], axis=0)
                      for j, w in enumerate(layers)]
        stacks.append(tf.stack(layers))
    return stacks


class StackedLayerView:
    """Layer `index`'s conditioner or gating network read from the 9 stacked variables.

    A callable that `PiecewiseFold` (as its conditioner) and `RADDistribution` (as the
    gating) call in place of the layer's own Keras MLP, slicing each stack at `index`.
    """

    built = True

    def __init__(self, stacks, index, gating):
        self.stacks, self.index, self.gating = stacks, index, gating

    def __call__(self, x):
        import tensorflow as tf

        first = GATING_INPUT_KERNEL if self.gating else 0
        hidden, hidden_bias, output, output_bias = (
            self.stacks[first + i][self.index] for i in range(4))
        y = tf.nn.relu(x @ hidden + hidden_bias) @ output + output_bias
        return y if self.gating else self.stacks[4][self.index] * tf.tanh(y)


def unrolled_on_stacks(model, stacked_variables):
    """`model` (a `RADFlow`) with its layers' networks replaced by `StackedLayerView`s of
    `stacked_variables` (stacked with `loop_order=False`): the unrolled model as it is,
    its weights in 9 variables."""
    for index, fold in enumerate(model.folds):
        fold.conditioner = StackedLayerView(stacked_variables, index, gating=False)
        model.gatings[index] = StackedLayerView(stacked_variables, index, gating=True)
    return model


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
      stacks: the 9 tensors of `stacked_weights`, `[L, ...]`.
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
        gating_logits = (tf.nn.relu(tf.concat([passthrough, z], -1) @ gating_hidden
                                    + gating_hidden_bias) @ gating_output + gating_output_bias)
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
    looped = looped_log_prob(stacked_weights(layer_weights(model)), x, *fold_constants(model))
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


def looped_loss_fn(model, stacked_variables=None):
    """`(loss(x), variables)`: the mean NLL of the looped `log_prob`, and what it trains.

    Over `model`'s own variables, stacked at each call, or, given `stacked_variables` (9
    Keras variables holding `stacked_weights`), over those.
    """
    import tensorflow as tf

    constants = fold_constants(model)
    if stacked_variables is None:
        variables = model.trainable_variables

        def stacks():
            return stacked_weights(layer_weights(model))
    else:
        variables = list(stacked_variables)

        def stacks():
            return [v.value for v in variables]

    def loss(x):
        return -tf.reduce_mean(looped_log_prob(stacks(), x, *constants))

    return loss, variables


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
    """`{variant: compiled_programs(...)}` of the module's five variants at `dimension`."""
    import keras

    from benchmarks import steps, sweep

    out = {}
    for variant in VARIANTS:
        models = sweep.make_models(dimension)
        model = models[sweep.REAL_NVP if variant == VARIANTS[3] else sweep.RAD]
        if variant in (VARIANTS[0], VARIANTS[3]):
            loss = (lambda x, model=model: steps.nll(model, x), model.trainable_variables)
        elif variant == VARIANTS[1]:
            loss = looped_loss_fn(model)
        elif variant == VARIANTS[4]:
            stacks = [keras.Variable(w) for w in
                      stacked_weights(layer_weights(model), loop_order=False)]
            model = unrolled_on_stacks(model, [v.value for v in stacks])
            loss = (lambda x, model=model: steps.nll(model, x), stacks)
        else:
            loss = looped_loss_fn(model, [keras.Variable(w) for w in
                                          stacked_weights(layer_weights(model))])
        out[variant] = compiled_programs(*loss)
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
    """`{RAD, RAD in one loop, Real NVP: ms}` of `log_prob` at batch `LOG_PROB_BATCH` (XLA).

    The loop reads the model's weights stacked (at inference the variables' layout does
    not matter) and runs in RAD's blocks of points (`rad_distribution.in_blocks`),
    timed interleaved with RAD's and Real NVP's `log_prob`.
    """
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
        stacks = stacked_weights(layer_weights(rad))
        return in_blocks(lambda block: looped_log_prob(stacks, block, *constants), x,
                         DEFAULT_LOG_PROB_BLOCK_SIZE)

    fns = {VARIANTS[0]: ablation.log_prob_program(rad, x), LOOP_LOG_PROB: looped,
           VARIANTS[3]: ablation.log_prob_program(models[sweep.REAL_NVP], x)}
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
            base = figures[VARIANTS[3]][program]
            print(f"  {program}: " + "; ".join(
                f"{name}: trace {f['trace_s']:.2f} s, first call {f['first_call_s']:.2f} s, "
                f"compile {f['compile_s']:.2f} s ({f['compile_s'] / base['compile_s']:.2f}x "
                f"Real NVP), HLO {f['hlo_instructions']} -> {f['optimized_hlo_instructions']} "
                f"instructions, {f['ms']:.2f} ms ({f['ms'] / base['ms']:.2f}x)"
                for name, f in ((n, v[program]) for n, v in figures.items())), flush=True)
    report.write_results(results, "layer_loop.json", other)


if __name__ == "__main__":
    main()
