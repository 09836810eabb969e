"""`tfp-rad study`: the studies beyond the paper (`experiments.studies`)."""

import functools

from tfp_rad import catalog
from tfp_rad.cli import arguments
from tfp_rad.experiments import studies


def add_parser(subparsers):
    """Adds `study` to the `tfp-rad` parser's `subparsers`."""
    parser = subparsers.add_parser(
        "study",
        help="studies beyond the paper: hybrid RAD/Real NVP stacks, gating capacity",
        description=(
            "Trains the models of a study, one JSON per run under OUTPUT/runs, and "
            "writes OUTPUT/table.md. hybrid: RAD, Real NVP and a RAD/Real NVP HybridFlow "
            "at an equal parameter budget; gating: RAD with gating networks of 0, 2, 8 "
            "and 32 hidden units (both on the 2-D problems); tabular: RAD, Real NVP, a "
            "Gaussian, a Gaussian mixture and a KDE on scikit-learn's bundled tables "
            "(only --tables, --models, --seeds, --output and --table-only apply). Finished "
            "runs are skipped, so a killed study resumes where it stopped; an OUTPUT with "
            "runs of other settings is refused."
        ),
    )
    parser.add_argument("study", choices=sorted([*studies.STUDIES, "tabular"]))
    parser.add_argument(
        "--tables", nargs="+", default=list(catalog.TABLES), choices=catalog.TABLES,
        metavar="TABLE", help="tabular only: default all of " + " ".join(catalog.TABLES),
    )
    parser.add_argument(
        "--problems", nargs="+", default=None, choices=catalog.PROBLEMS, metavar="PROBLEM",
        help="default: all six for hybrid, two_moons spiral for gating",
    )
    parser.add_argument(
        "--models", nargs="+", default=None, metavar="MODEL",
        help="default: all of the study's (hybrid: rad real_nvp hybrid; gating: "
        + " ".join(f"gating{g}" for g in studies.GATING_HIDDEN_UNITS) + ")",
    )
    arguments.add_protocol_arguments(
        parser, studies.STEPS, None, "default results/beyond/STUDY"
    )
    parser.set_defaults(run=functools.partial(run, parser))


def run(parser, args):
    """Runs `tfp-rad study STUDY` (`studies.run`, or its table with `--table-only`)."""
    if args.study == "tabular":
        return _run_tabular(parser, args)
    args.output = args.output or studies.default_output(args.study)
    return arguments.run_protocol(
        parser,
        args,
        functools.partial(studies.run, args.study),
        functools.partial(studies.write_table, args.study),
        problems=args.problems,
        models=args.models,
    )


def _run_tabular(parser, args):
    """`tfp-rad study tabular` (`experiments.tabular`): runs the missing runs, the table."""
    from tfp_rad.experiments import tabular

    models = args.models or list(tabular.MODELS)
    unknown = sorted(set(models) - set(tabular.MODELS))
    if unknown:
        parser.error(f"unknown models {unknown} for tabular; the models are "
                     f"{' '.join(tabular.MODELS)}")
    output = args.output or tabular.DEFAULT_OUTPUT
    if not args.table_only:
        tabular.run_study(output, args.tables, args.seeds, models)
    path = tabular.write_table(output, args.tables, args.seeds, models)
    print(f"Wrote {path}")
    return 0

