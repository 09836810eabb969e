"""The `tfp-rad` command line: one thin module per command (parse, call, print).

`main.main` is the entry point. A command module defines `add_parser(subparsers)`, which
imports no TensorFlow (so `--help` is instant), and a `run(args)` that imports the
library or the experiment it calls.
"""
