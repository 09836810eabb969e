"""`tfp-rad reproduce`: the paper's RAD vs Real NVP protocol (`experiments.paper`)."""

import functools

from tfp_rad import catalog
from tfp_rad.cli import arguments
from tfp_rad.experiments import paper


def add_parser(subparsers):
    """Adds `reproduce` to the `tfp-rad` parser's `subparsers`."""
    parser = subparsers.add_parser(
        "reproduce",
        help="the paper's RAD vs Real NVP comparison (rad-math §6), resumable",
        description=(
            "Trains RAD and Real NVP on the 2-D problems with the paper's protocol "
            "(rad-math §6), one JSON and one .keras model per run under OUTPUT/runs and "
            "OUTPUT/models, and writes OUTPUT/table.md. Finished runs are skipped, so a "
            "killed reproduction resumes where it stopped; an OUTPUT with runs of other "
            "settings is refused."
        ),
    )
    parser.add_argument(
        "--problems", nargs="+", default=list(catalog.PROBLEMS), choices=catalog.PROBLEMS,
        metavar="PROBLEM", help=f"default: all of {' '.join(catalog.PROBLEMS)}",
    )
    parser.add_argument(
        "--models", nargs="+", default=list(catalog.MODEL_KINDS), choices=catalog.MODEL_KINDS,
        metavar="MODEL", help=f"default: {' '.join(catalog.MODEL_KINDS)}",
    )
    paper_width = paper.HIDDEN_UNITS["rad"]
    parser.add_argument(
        "--gating-hidden-units", type=arguments.non_negative_int, default=paper_width,
        help=f"width of RAD's gating networks (default {paper_width}, the paper's; "
        "0: none, the gating logits only interpolate the boundary probabilities)",
    )
    arguments.add_protocol_arguments(parser, 50_000, "results/paper", "default results/paper")
    parser.set_defaults(run=functools.partial(run, parser))


def run(parser, args):
    """Runs `tfp-rad reproduce` (`paper.run`, or `paper.write_table` with `--table-only`)."""
    return arguments.run_protocol(
        parser, args, paper.run, paper.write_table, problems=args.problems,
        models=args.models, gating_hidden_units=args.gating_hidden_units,
    )
