"""`tfp-rad sample`: exact samples from a saved model, to a `.npy` or `.csv` file."""

import os

from tfp_rad.cli.arguments import UserError


def add_parser(subparsers):
    """Adds `sample` to the `tfp-rad` parser's `subparsers`."""
    parser = subparsers.add_parser(
        "sample",
        help="draw samples from a saved model",
        description="Draws exact samples from a model saved by `tfp-rad train` and writes "
        "them to a .npy or .csv file.",
    )
    parser.add_argument("model", help="a .keras file (e.g. OUTPUT/model.keras)")
    parser.add_argument(
        "-n", "--num-samples", type=int, default=None,
        help="how many (required, except with a --context file: one sample per row)")
    parser.add_argument(
        "--context", nargs="+", default=None, metavar="C",
        help="a conditional model's context: its numbers (n samples given it), or a .csv "
        "or .npy file with one context per row (one sample given each)",
    )
    parser.add_argument("--seed", type=int, default=0, help="the same seed, the same samples")
    parser.add_argument(
        "--output", default=None,
        help="a .npy or .csv file (default: <model name>-samples.npy next to the model)",
    )
    parser.set_defaults(run=run)


def read_context(tokens, model):
    """`--context` as an array: `[m]` from numbers, `[n, m]` from a `.csv`/`.npy` file.

    Raises:
      ValueError: for a context given to an unconditional model, none for a conditional
        one, unreadable numbers or file, or the wrong number of entries.
    """
    import numpy as np

    from tfp_rad import data_files

    if not model.context_size:
        if tokens:
            raise ValueError(
                f"{model.name} is unconditional (no context_size): --context does not apply.")
        return None
    if not tokens:
        raise ValueError(
            f"{model.name} is conditional: give --context, {model.context_size} numbers or a "
            "file with one context per row.")
    if len(tokens) == 1 and os.path.splitext(tokens[0])[1].lower() in data_files.FORMATS:
        context = data_files.load_points(tokens[0])
    else:
        try:
            context = np.array([float(token) for token in tokens])
        except ValueError:
            raise ValueError(
                f"--context takes {model.context_size} numbers or one .csv/.npy file; got "
                f"{' '.join(tokens)}.") from None
    if context.shape[-1] != model.context_size:
        raise ValueError(
            f"--context has {context.shape[-1]} entries per context, but {model.name} reads "
            f"{model.context_size}.")
    return context


def run(args):
    """Runs `tfp-rad sample`: draws `-n` samples, prints their per-feature summary, saves them.

    Raises:
      UserError: for an unreadable model, a bad `-n` or an output of another file type.
    """
    from tfp_rad import data_files, saving, validation

    output = args.output or os.path.splitext(args.model)[0] + "-samples.npy"
    try:
        data_files.file_format(output)
        model = saving.load_model(args.model)
        context = read_context(args.context, model)
        if context is not None and context.ndim == 2:
            if args.num_samples not in (None, len(context)):
                raise ValueError(
                    f"-n {args.num_samples} differs from the {len(context)} contexts of "
                    f"{args.context[0]}: one sample is drawn given each (omit -n).")
            args.num_samples = len(context)
        num_samples = validation.positive_int(args.num_samples, "-n")
        samples = model.sample(num_samples, seed=args.seed, context=context).numpy()
    except ValueError as error:
        raise UserError(str(error)) from None
    data_files.save_points(output, samples)
    given = "" if context is None else (
        f" given the context {context.tolist()}" if context.ndim == 1
        else f" given the {len(context)} contexts of {args.context[0]}")
    print(
        f"Drew {num_samples} samples of dimension {model.event_size} from {args.model} "
        f"({type(model).__name__}, seed {args.seed}){given}."
    )
    for j in range(min(model.event_size, 4)):
        column = samples[:, j]
        print(
            f"  x{j}: mean {column.mean():.4g}, std {column.std():.4g}, "
            f"min {column.min():.4g}, max {column.max():.4g}"
        )
    if model.event_size > 4:
        print(f"  ({model.event_size - 4} more features)")
    print(f"Wrote {output}")
    return 0
