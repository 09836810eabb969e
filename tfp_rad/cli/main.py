"""The `tfp-rad` entry point: builds the parser from the command modules and runs one.

`tfp-rad [options]` means `tfp-rad train [options]`. Parsing imports no TensorFlow, so
`--help` answers at once; a command imports TensorFlow with its C++ start-up log captured
(`native_log`) unless `--tf-log` is given.
"""

import argparse
import sys

from tfp_rad.cli import arguments, highdim, native_log, plot, reproduce, sample, score, study
from tfp_rad.cli import train

COMMANDS = (train, sample, score, reproduce, plot, study, highdim)


def build_parser():
    """The `tfp-rad` parser, one subcommand per module of `COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="tfp-rad", description="RAD deep mixture flows for TensorFlow Probability."
    )
    subparsers = parser.add_subparsers(dest="command")
    for command in COMMANDS:
        command.add_parser(subparsers)
    for subparser in subparsers.choices.values():
        subparser.add_argument(
            "--tf-log", action="store_true",
            help="show TensorFlow's C++ start-up and info log (hidden by default)",
        )
    return parser


def main(argv=None):
    """Runs `tfp-rad` with `argv` (default: the process's); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    if not argv or (argv[0] not in commands and argv[0] not in ("-h", "--help")):
        argv = ["train", *argv]  # `tfp-rad [options]` means `tfp-rad train [options]`
    args = parser.parse_args(argv)
    native_log.tensorflow_imported(show_log=args.tf_log)
    try:
        return args.run(args)
    except arguments.UserError as error:
        print(f"tfp-rad {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
