"""`tfp-rad plot`: the paper's figures from the saved models (`experiments.figures`)."""

import os

from tfp_rad import catalog
from tfp_rad.cli import arguments


def add_parser(subparsers):
    """Adds `plot` to the `tfp-rad` parser's `subparsers`."""
    parser = subparsers.add_parser(
        "plot",
        help="draw the paper's figures from the models saved by `tfp-rad reproduce`",
        description="Draws the paper's 2-D figures (samples, latents, layer-by-layer "
        "inference, RAD's folding) from the models that `tfp-rad reproduce` saved.",
    )
    parser.add_argument("--runs", default="results/paper", help="a reproduce --output folder")
    parser.add_argument(
        "--problems", nargs="+", default=list(catalog.PROBLEMS), choices=catalog.PROBLEMS,
        metavar="PROBLEM",
    )
    parser.add_argument(
        "--seed", type=arguments.seed, default=0, help="which seed's models to draw"
    )
    parser.add_argument("--num-points", type=arguments.positive_int, default=5000)
    parser.add_argument("--output", default="docs/figures")
    parser.set_defaults(run=run)


def run(args):
    """Runs `tfp-rad plot`: every figure of every problem whose models are on disk."""
    from tfp_rad.experiments import figures

    written = figures.draw_figures(
        args.runs, args.problems, args.seed, args.num_points, args.output
    )
    for problem, paths in written.items():
        if paths:
            print(f"{problem}: wrote {', '.join(os.path.basename(p) for p in paths)}")
        else:
            print(f"{problem}: no saved models for seed {args.seed} in {args.runs}; skipped.")
    return 0
