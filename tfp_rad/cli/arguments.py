"""What the command modules share: `UserError`, argparse types, the protocol options."""

import argparse
import math

from tfp_rad import catalog
from tfp_rad.experiments import protocol


class UserError(Exception):
    """Bad input (a file, a model, an option): `main` prints it in one line and returns 2."""


def _parse(text, kind, what):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def positive_int(text):
    """argparse type: a positive integer."""
    value = _parse(text, int, "an integer")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def non_negative_int(text):
    """argparse type: an integer >= 0."""
    value = _parse(text, int, "an integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text}")
    return value


def positive_float(text):
    """argparse type: a positive finite number."""
    value = _parse(text, float, "a number")
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def seed(text):
    """argparse type: a protocol seed, an integer in `[0, protocol.MAX_SEED]`."""
    value = _parse(text, int, "an integer")
    if not 0 <= value <= protocol.MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"seeds must be integers in [0, {protocol.MAX_SEED}], got {text}"
        )
    return value


def add_protocol_arguments(parser, steps, output, output_help):
    """Adds the options shared by the protocol commands, from `--steps` to `--verbose`.

    Args:
      parser: an `argparse` parser.
      steps: the default of `--steps`.
      output: the default of `--output`.
      output_help: the help of `--output`.
    """
    parser.add_argument("--steps", type=positive_int, default=steps, help=f"default {steps}")
    parser.add_argument(
        "--seeds", nargs="+", type=seed, default=[0, 1, 2], metavar="SEED",
        help="default 0 1 2",
    )
    parser.add_argument("--output", default=output, help=output_help)
    parser.add_argument(
        "--learning-rate", type=positive_float, default=catalog.LEARNING_RATE,
        help=f"Adam's learning rate (default {catalog.LEARNING_RATE}, as `train`)",
    )
    parser.add_argument(
        "--decay", default="cosine", choices=catalog.DECAYS,
        help="learning-rate schedule (default cosine, as `train`)",
    )
    parser.add_argument("--batch-size", type=positive_int, default=500)
    parser.add_argument("--num-train", type=positive_int, default=10_000)
    parser.add_argument("--num-test", type=positive_int, default=10_000)
    parser.add_argument("--no-jit", action="store_true", help="train without XLA")
    parser.add_argument(
        "--table-only", action="store_true",
        help="only rewrite OUTPUT/table.md from the run JSONs",
    )
    parser.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])


def run_protocol(parser, args, run, write_table, **selection):
    """Runs a protocol command from its parsed `args`: the table only, or the runs.

    `run(output, seeds=..., steps=..., ..., **selection)` trains; `write_table(output)`
    rewrites the table and returns its path. A `RunStoreError` becomes an argparse error
    (exit 2).
    """
    from tfp_rad.experiments.run_store import RunStoreError

    try:
        if not args.table_only:
            run(
                args.output,
                seeds=args.seeds,
                steps=args.steps,
                batch_size=args.batch_size,
                learning_rate=args.learning_rate,
                decay=args.decay,
                num_train=args.num_train,
                num_test=args.num_test,
                jit_compile=not args.no_jit,
                verbose=args.verbose,
                **selection,
            )
        path = write_table(args.output)
    except RunStoreError as error:
        parser.error(str(error))
    print(f"Wrote {path}")
    return 0
