"""The transcendental arithmetic of a compiled `log_prob`, and its cost (`python -m benchmarks.arithmetic`).

For the sweep's models (RAD and Real NVP at equal parameter count) at each dimension:

- **count**: in XLA's optimized HLO of `log_prob` on `POINTS` points (one block of
  `RADDistribution`'s blocked `log_prob`), the elements computed by every `exp`, `log`,
  `tanh` and division, fused or not, per point;
- **rate**: the seconds XLA:CPU takes per evaluation of each of these functions on this
  machine, in cache and on one thread, at full throughput (`TERMS` independent
  evaluations per element of a `VECTOR`-element vector, `rates`);
- **floor**: `sum over functions of count x rate`, the time per point that these
  functions alone take, against the measured `log_prob` time per point (on `POINTS`
  points, XLA, the same single thread);
- **memory traffic**: in the same program, the kernels XLA:CPU runs (fused loops,
  matrix products, copies: every top-level instruction but parameters, constants,
  tuples, bitcasts and control flow) and the bytes they read and write (each one's
  operands and result), per point (`memory_traffic`).

Everything runs on one intra-op thread, so that the counts, the rates and the measured
times are comparable; the sweep's throughputs use two. Each time is the fastest of
`REPEATS` calls, the one the shared machine disturbed least. The floor is a lower bound: no
implementation of the same model evaluates fewer of these functions. Its share of the
measured time says how much of `log_prob` they are; the rest is the other arithmetic
and the passes over memory of the compiled program's kernels. Writes
`benchmarks/results/arithmetic.json`.
"""

import collections
import os
import re

from benchmarks import hlo_text as hlo

POINTS = 4_000
TERMS = 64
VECTOR = 65_536
REPEATS = 15
FUNCTIONS = ("exponential", "log", "tanh", "divide")  # HLO opcodes
_FLOAT_ARRAY = re.compile(r"f(?:32|64)\[([\d,]*)\]\S*")
_ARRAY = re.compile(r"(pred|[fsu](?:8|16|32|64))\[([\d,]*)\]")
_NOT_KERNELS = ("parameter", "constant", "tuple", "get-tuple-element", "bitcast", "while",
                "call", "conditional")


def count_per_point(hlo_text, points):
    """`{opcode: elements per point}` of the `FUNCTIONS` in an HLO module's text.

    Every instruction of every computation counts once (fused computations included), so
    a program with loops must be given one iteration's worth of points.
    """
    counts = collections.Counter()
    for instruction in hlo.instructions(hlo_text):
        array = _FLOAT_ARRAY.fullmatch(instruction.shape)
        if array and instruction.opcode in FUNCTIONS:
            elements = 1
            for size in filter(None, array.group(1).split(",")):
                elements *= int(size)
            counts[instruction.opcode] += elements
    return {opcode: counts[opcode] / points for opcode in FUNCTIONS}


def _bytes(shape_text):
    """The bytes of the arrays in an HLO shape (`f32[4000,8]{1,0}`, or a tuple of them)."""
    total = 0
    for element_type, dims in _ARRAY.findall(shape_text):
        elements = 1
        for size in filter(None, dims.split(",")):
            elements *= int(size)
        total += elements * (1 if element_type == "pred" else int(element_type[1:]) // 8)
    return total


def memory_traffic(hlo_text, points):
    """`(kernels, bytes per point)` of the program's top-level instructions.

    Top level: the entry computation, and the bodies of its loops and calls (each counted
    once, so a program with loops must be given one iteration's worth of points). Bytes:
    each kernel's result and operands, as XLA:CPU reads and writes them.
    """
    computations = hlo.computations(hlo_text)
    run = {name for name, (entry, _) in computations.items() if entry}
    for _, text in computations.values():
        run |= set(re.findall(r"body=%([\w.\-]+)", text))
        run |= set(re.findall(r"\bcall\(.*?to_apply=%([\w.\-]+)", text))
    kernels, moved = 0, 0
    for name in run:
        sizes = {}
        for instruction in hlo.instructions(computations[name][1]):
            sizes[instruction.name] = _bytes(instruction.shape)
            if instruction.opcode in _NOT_KERNELS:
                continue
            kernels += 1
            operands = re.findall(r"%([\w.\-]+)", instruction.rest.split("), ")[0])
            moved += sizes[instruction.name] + sum(sizes.get(operand, 0) for operand in operands)
    return kernels, moved / points


def _seconds(fn, x, repeats):
    from benchmarks import timing

    timing.block(fn(x))
    return min(timing.time_call(lambda: fn(x)) for _ in range(repeats))


def rates(repeats=REPEATS):
    """`{opcode: seconds per element}` of each of the `FUNCTIONS` under XLA, in cache.

    The throughput of independent evaluations: `sum_k f(x + k / 100)` for `k < TERMS`
    against `k < 1`, one fused loop over `VECTOR` elements, per element and evaluation.
    """
    import tensorflow as tf

    functions = {"exponential": tf.exp, "log": tf.math.log, "tanh": tf.tanh,
                 "divide": tf.math.reciprocal}
    x = tf.random.stateless_uniform([VECTOR], seed=[1, 2], minval=0.5, maxval=1.0)

    def summed(function, terms):
        @tf.function(jit_compile=True, autograph=False)
        def total(v):
            return tf.add_n([function(v + 0.01 * k) for k in range(terms)])

        return total

    return {opcode: (_seconds(summed(function, TERMS), x, repeats)
                     - _seconds(summed(function, 1), x, repeats)) / ((TERMS - 1) * VECTOR)
            for opcode, function in functions.items()}


def _compiled_log_prob(model):
    import tensorflow as tf

    def log_prob(points):
        return model.log_prob(points)

    return tf.function(log_prob, jit_compile=True, autograph=False)


def measure(dimension, rate, repeats=REPEATS):
    """Counts, floor and measured time per point of each sweep model's `log_prob`."""
    import tensorflow as tf

    from benchmarks import sweep

    x = tf.constant(sweep.points(dimension, POINTS, seed=2))
    out = {}
    for name, model in sweep.make_models(dimension).items():
        log_prob = _compiled_log_prob(model)
        hlo = log_prob.experimental_get_compiler_ir(x)(stage="optimized_hlo")
        counts = count_per_point(hlo, POINTS)
        kernels, bytes_per_point = memory_traffic(hlo, POINTS)
        measured = _seconds(log_prob, x, repeats) / POINTS
        floor = sum(counts[opcode] * rate[opcode] for opcode in FUNCTIONS)
        out[name] = {"per_point": counts, "floor_us": floor * 1e6,
                     "measured_us": measured * 1e6, "floor_share": floor / measured,
                     "kernels": kernels, "bytes_per_point": bytes_per_point}
    return out


def main(argv=None):
    from benchmarks import settings

    args, argv = settings.dimension_study_arguments(
        "python -m benchmarks.arithmetic", __doc__.splitlines()[0], (2, 16, 64), REPEATS, argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    from benchmarks import machine, report

    results = {"command": " ".join(["python -m benchmarks.arithmetic", *argv]),
               "machine": machine.info(), "load_average_start": machine.load_average(),
               "points": POINTS, "intra_op_threads": 1}
    other = machine.OtherLoad().start()
    rate = rates(args.repeats)
    results["ns_per_element"] = {opcode: seconds * 1e9 for opcode, seconds in rate.items()}
    print("ns per element: " + ", ".join(
        f"{opcode} {ns:.2f}" for opcode, ns in results["ns_per_element"].items()), flush=True)
    results["dimensions"] = {}
    for dimension in args.dimensions:
        results["dimensions"][dimension] = measure(dimension, rate, args.repeats)
        for name, m in results["dimensions"][dimension].items():
            print(f"d={dimension} {name}: per point " + ", ".join(
                f"{opcode} {n:.0f}" for opcode, n in m["per_point"].items())
                + f"; floor {m['floor_us']:.3f} us, measured {m['measured_us']:.3f} us "
                f"({m['floor_share']:.0%}); {m['kernels']} kernels moving "
                f"{m['bytes_per_point']:,.0f} bytes per point", flush=True)
    report.write_results(results, "arithmetic.json", other)


if __name__ == "__main__":
    main()
