"""`python -m benchmarks`: times RAD against Real NVP, prints a table, writes JSON and docs.

Run from the repository root. `--quick` is a smoke run (few repetitions); a full run
takes several minutes on a 2-core CPU. See `benchmarks/__init__.py` for the modules and
`docs/performance.md` for what each figure means.
"""

import argparse
import os
import shlex
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_JSON = os.path.join("benchmarks", "results", "latest.json")
DEFAULT_DOCS = os.path.join("docs", "performance.md")
QUICK_JSON = os.path.join("benchmarks", "results", "quick.json")
QUICK_DOCS = os.path.join("benchmarks", "results", "quick.md")


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
    parser.add_argument("--render", metavar="JSON", default=None,
                        help="measure nothing: print the table and rewrite the docs page "
                        "from a saved JSON file")
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.chdir(ROOT)
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
        report.write_markdown(results, docs, output)
        print(f"docs: {docs}")


if __name__ == "__main__":
    main()
