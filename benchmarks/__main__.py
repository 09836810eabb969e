"""`python -m benchmarks`: times RAD against Real NVP, prints a table, writes JSON and docs.

Run from the repository root. `--quick` is a smoke run (few repetitions); a full run
takes several minutes on a 2-core CPU. See `benchmarks/__init__.py` for the modules and
`docs/performance.md` for what each figure means.
"""

import argparse
import glob
import os
import re
import shlex
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_JSON = os.path.join("benchmarks", "results", "latest.json")
DEFAULT_DOCS = os.path.join("docs", "performance.md")
QUICK_JSON = os.path.join("benchmarks", "results", "quick.json")
QUICK_DOCS = os.path.join("benchmarks", "results", "quick.md")
SWEEP_JSON = os.path.join("benchmarks", "results", "sweep.json")
LEVERS_JSON = os.path.join("benchmarks", "results", "levers.json")
STRATEGY_JSON = os.path.join("benchmarks", "results", "strategy.json")
QUICK_SWEEP_JSON = os.path.join("benchmarks", "results", "sweep_quick.json")
DEPTH_SWEEP_JSON = os.path.join("benchmarks", "results", "sweep_rad{layers}.json")


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Times RADFlow against the TFP Real NVP baseline (interleaved, medians "
        "of many repetitions) and checks the speed targets.",
    )
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: few repetitions, short fits, `fit` with "
                        "steps_per_execution=50 only; writes "
                        f"{QUICK_JSON} and {QUICK_DOCS} unless --output/--docs say otherwise")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed repetitions per figure and model (default 21; 3 with "
                        "--quick); eager steps and fit calls use fewer")
    parser.add_argument("--output", default=None,
                        help=f"JSON results file (default {DEFAULT_JSON})")
    parser.add_argument("--docs", default=None,
                        help=f"Markdown page to write (default {DEFAULT_DOCS}); 'none' to skip")
    parser.add_argument("--profile", action="store_true",
                        help="also measure where RAD's time goes (forward vs "
                        "forward+backward, per-call cost, sampling's random numbers, "
                        "log_prob's fused loops and its networks' share)")
    parser.add_argument("--protocol", action="store_true",
                        help="also run the 50,000-step protocol for real with "
                        "tfp_rad.training.fit_steps, to check the projection (minutes)")
    parser.add_argument("--sweep", action="store_true",
                        help="run only the dimension sweep (d = 2, 16, 64 at equal parameter "
                        "counts: fit steps, log_prob and sampling throughput, compile times, "
                        f"a profile at the largest d); writes {SWEEP_JSON} (with --quick "
                        f"{QUICK_SWEEP_JSON}) and re-renders the docs page with it")
    parser.add_argument("--levers", action="store_true",
                        help="run only the one-process A/Bs of issue 16's levers at the "
                        "sweep's dimensions (fused fold vs TensorFlow's gradient; log_prob "
                        f"block sizes); writes {LEVERS_JSON} and re-renders the docs page")
    parser.add_argument("--strategy", action="store_true",
                        help="run only the training-under-a-strategy comparison (RADFlow(2) "
                        "through fit: one device with and without XLA, MirroredStrategy on "
                        f"two logical CPUs with and without XLA); writes {STRATEGY_JSON} and "
                        "re-renders the docs page")
    parser.add_argument("--conditional", action="store_true",
                        help="run only the cost of a context (conditional RADFlow against "
                        "the unconditional one and conditional Real NVP: fit step and "
                        "log_prob); writes benchmarks/results/conditional.json")
    parser.add_argument("--rad-layers", type=int, default=None,
                        help="with --sweep: RAD's number of layers (default 6), its width "
                        "matched to the 6-layer RAD's parameter count, against the same Real "
                        "NVP; writes " + DEPTH_SWEEP_JSON.format(layers="<L>") + " and adds "
                        "its section to the docs page")
    parser.add_argument("--dimensions", default=None,
                        help="with --sweep or --levers: comma-separated dimensions "
                        "(default 2,16,64)")
    parser.add_argument("--render", metavar="JSON", default=None,
                        help="measure nothing: print the table and rewrite the docs page "
                        "from a saved JSON file")
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.rad_layers is not None and (args.rad_layers < 1 or not args.sweep):
        parser.error("--rad-layers takes a positive number of layers, with --sweep")
    return args


def _existing(path):
    return path if os.path.exists(path) else None


def _depth_sweeps():
    """The saved sweeps of RAD at other depths, by number of layers."""
    paths = glob.glob(DEPTH_SWEEP_JSON.format(layers="*"))
    return sorted(paths, key=lambda p: int(re.search(r"(\d+)\.json$", p).group(1)))


def run_sweep(args, argv):
    """`--sweep`, `--levers` or `--strategy`: measures, writes the JSON, renders the docs."""
    from benchmarks import settings, strategies

    config = settings.Settings.sweep(args.quick, args.repeats)
    log = lambda line: print(line, flush=True)  # noqa: E731
    results = {"command": " ".join(["python -m benchmarks", *map(shlex.quote, argv)]),
               "quick": args.quick, "tf_xla_flags": os.environ.get("TF_XLA_FLAGS")}
    if args.strategy:  # the logical devices must be set up before TensorFlow starts
        results.update(strategies.run(config, log=log))
    import tensorflow as tf

    from benchmarks import levers, report, sweep

    tf.get_logger().setLevel("ERROR")
    dimensions = (tuple(int(d) for d in args.dimensions.split(","))
                  if args.dimensions else sweep.DIMENSIONS)
    if args.strategy:
        output = args.output or STRATEGY_JSON
    elif args.levers:
        results.update(levers.run(config, dimensions, log=log))
        output = args.output or LEVERS_JSON
    else:
        rad_layers = args.rad_layers or sweep.NUM_LAYERS
        results.update(sweep.run(config, dimensions, log=log, rad_layers=rad_layers))
        output = args.output or (
            QUICK_SWEEP_JSON if args.quick else SWEEP_JSON if rad_layers == sweep.NUM_LAYERS
            else DEPTH_SWEEP_JSON.format(layers=rad_layers))
    report.write_json(results, output)
    print()
    if not args.strategy:
        print(report.levers_text(results) if args.levers else report.sweep_text(results))
    print(f"\nresults: {output}")
    docs = args.docs or DEFAULT_DOCS
    if docs.lower() != "none" and not args.quick:
        report.write_markdown(
            report.read_json(DEFAULT_JSON), docs, DEFAULT_JSON,
            sweep_json=(output if args.sweep and not args.rad_layers
                        else _existing(SWEEP_JSON)),
            levers_json=output if args.levers else _existing(LEVERS_JSON),
            strategy_json=output if args.strategy else _existing(STRATEGY_JSON),
            depth_sweep_jsons=_depth_sweeps())
        print(f"docs: {docs}")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.chdir(ROOT)
    if args.conditional:
        from benchmarks import conditional

        return conditional.main(args, argv)
    if args.sweep or args.levers or args.strategy:
        return run_sweep(args, argv)
    from benchmarks import report

    output = args.output or (QUICK_JSON if args.quick else DEFAULT_JSON)
    docs = args.docs or (QUICK_DOCS if args.quick else DEFAULT_DOCS)
    if args.render:
        results = report.read_json(args.render)
        output = args.render
    else:
        import tensorflow as tf

        from benchmarks import settings, suite

        tf.get_logger().setLevel("ERROR")  # retracing notices of the many small functions
        config = (settings.Settings.quick if args.quick else settings.Settings.full)(
            args.repeats)
        results = {
            "command": " ".join(["python -m benchmarks", *map(shlex.quote, argv)]),
            "quick": args.quick,
            "tf_xla_flags": os.environ.get("TF_XLA_FLAGS"),
        }
        results.update(suite.run(config, profile=args.profile, protocol=args.protocol,
                                 log=lambda line: print(line, flush=True)))
        report.write_json(results, output)
    print()
    print(report.text(results))
    print(f"\nresults: {output}")
    if docs.lower() != "none":
        report.write_markdown(results, docs, output, sweep_json=_existing(SWEEP_JSON),
                              levers_json=_existing(LEVERS_JSON),
                              strategy_json=_existing(STRATEGY_JSON),
                              depth_sweep_jsons=_depth_sweeps())
        print(f"docs: {docs}")


if __name__ == "__main__":
    main()
