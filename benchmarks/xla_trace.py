"""Where a compiled training step's time goes, kernel by kernel (`python -m benchmarks.xla_trace`).

Runs RAD's and Real NVP's forward+backward (mean NLL and its gradient, no optimizer
update; the sweep's models, batch 500, XLA) under TensorFlow's profiler and sums the time
of every kernel XLA's CPU runtime launched (each a fused loop, a matrix product or a
reduction: a thunk), over `CALLS` calls, per call:

```none
time(group) = sum over the group's thunks of their duration / CALLS
```

Groups, from the compiled program's instructions: matrix products (`dot`); reductions
(`reduce`, `reduce-window`); the networks' element-wise work (instructions named after a
conditioner, a gating or Real NVP's network and its scaled tanh in their metadata); the rest, for RAD its fold, gating and base,
for Real NVP its coupling arithmetic and base. Thunks run on up to two threads at once,
so the sum can exceed the wall time of a call, which is recorded too. Writes
`benchmarks/results/xla_trace_<d>.json`.
"""

import argparse
import collections
import glob
import os
import re
import sys
import tempfile
import time

CALLS = 5
GROUPS = ("matrix products", "reductions", "networks' element-wise", "the rest")


def hlo_instructions(hlo_text):
    """`{name: (opcode, op_name)}` of the optimized HLO's instructions."""
    from benchmarks import hlo_text as hlo

    return {i.name: (i.opcode, hlo.attribute(i, "op_name")) for i in hlo.instructions(hlo_text)}


def _group(instruction, name):
    opcode, op_name = instruction
    if opcode == "dot" or name.startswith(("MatMul", "dot")):
        return GROUPS[0]
    if "reduce" in name:
        return GROUPS[1]
    if re.search(r"/(conditioner|gating|network|log_scale)", op_name):
        return GROUPS[2]
    return GROUPS[3]


def thunk_times(fn, log_dir):
    """`{thunk name: ms per call}` of `fn()` over `CALLS` calls, from one profiler session."""
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    tf.profiler.experimental.start(log_dir)
    for _ in range(CALLS):
        tf.nest.map_structure(lambda t: t.numpy(), fn())
    tf.profiler.experimental.stop()
    path = sorted(glob.glob(os.path.join(log_dir, "**", "*.xplane.pb"), recursive=True))[-1]
    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    ms = collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            for event in line.events:
                ms[plane.event_metadata[event.metadata_id].name] += event.duration_ps / 1e9 / CALLS
    return ms


def trace(fn, log_dir):
    """Per-call thunk time by group (ms) and the number of distinct thunks per group."""
    instructions = hlo_instructions(fn.experimental_get_compiler_ir()(stage="optimized_hlo"))
    ms, counts = collections.Counter(), collections.Counter()
    for name, time_ms in thunk_times(fn, log_dir).items():
        if name in instructions:
            group = _group(instructions[name], name)
            ms[group] += time_ms
            counts[group] += 1
    return {g: round(ms[g], 3) for g in GROUPS}, {g: counts[g] for g in GROUPS}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.xla_trace",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--dimension", type=int, default=64)
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from benchmarks import machine, report, steps, sweep

    models = sweep.make_models(args.dimension)
    x = tf.constant(sweep.points(args.dimension, 500, seed=2))
    results = {"command": " ".join(["python -m benchmarks.xla_trace", *argv]),
               "machine": machine.info(), "load_average_start": machine.load_average(),
               "calls": CALLS, "models": {}}
    for name, model in models.items():
        fn = tf.function(steps.forward_backward_fn(model, x), jit_compile=True)
        fn()
        start = time.perf_counter()
        for _ in range(CALLS):
            tf.nest.map_structure(lambda t: t.numpy(), fn())
        wall_ms = (time.perf_counter() - start) * 1e3 / CALLS
        with tempfile.TemporaryDirectory() as log_dir:
            ms, counts = trace(fn, log_dir)
        results["models"][name] = {"wall_ms": round(wall_ms, 2), "thunk_ms": ms,
                                   "thunks": counts}
        print(f"{name}: {wall_ms:.1f} ms per call; thunk ms {ms}; thunks {counts}")
    report.write_results(results, f"xla_trace_{args.dimension}.json")


if __name__ == "__main__":
    main()
