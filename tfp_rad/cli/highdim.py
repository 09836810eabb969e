"""`tfp-rad highdim`: RAD vs Real NVP on a 16-D mixture and 64-D digits (`experiments.highdim`)."""

import shlex

from tfp_rad.cli import arguments
from tfp_rad.experiments import highdim


def add_parser(subparsers):
    """Adds `highdim` to the `tfp-rad` parser's `subparsers`."""
    parser = subparsers.add_parser(
        "highdim",
        help="RAD vs Real NVP at equal parameter count and at RAD's cost on a 16-D "
             "mixture and 64-D digits",
        description=highdim.__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "--problems", nargs="+", default=list(highdim.PROBLEMS), choices=highdim.PROBLEMS
    )
    parser.add_argument(
        "--models", nargs="+", default=list(highdim.MODELS), choices=highdim.MODELS,
        help="the models to train (default: all)",
    )
    parser.add_argument("--seeds", nargs="+", type=arguments.seed, default=[0, 1, 2])
    parser.add_argument("--output", default=highdim.DEFAULT_OUTPUT)
    parser.add_argument(
        "--steps", type=arguments.positive_int, default=None,
        help="maximum steps of every run (default: each problem's; for smoke tests)",
    )
    parser.add_argument("--verbose", type=int, default=0, choices=[0, 1, 2])
    parser.set_defaults(run=run)


def run(args):
    """Runs `tfp-rad highdim` (`highdim.run`); refused runs exit with 2."""
    from tfp_rad.experiments.run_store import RunStoreError

    command = "tfp-rad highdim " + " ".join(
        ["--problems", *args.problems, "--models", *args.models, "--seeds",
         *map(str, args.seeds), "--output", shlex.quote(args.output),
         *(["--steps", str(args.steps)] if args.steps else [])])
    try:
        path = highdim.run(
            args.output, args.problems, args.seeds, args.steps, command, args.verbose,
            models=args.models,
        )
    except RunStoreError as error:
        raise arguments.UserError(str(error)) from None
    print(f"Wrote {path}")
    return 0
