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
    parser.add_argument("-n", "--num-samples", type=int, required=True, help="how many")
    parser.add_argument("--seed", type=int, default=0, help="the same seed, the same samples")
    parser.add_argument(
        "--output", default=None,
        help="a .npy or .csv file (default: <model name>-samples.npy next to the model)",
    )
    parser.set_defaults(run=run)


def run(args):
    """Runs `tfp-rad sample`: draws `-n` samples, prints their per-feature summary, saves them.

    Raises:
      UserError: for an unreadable model, a bad `-n` or an output of another file type.
    """
    from tfp_rad import data_files, saving, validation

    output = args.output or os.path.splitext(args.model)[0] + "-samples.npy"
    try:
        data_files.file_format(output)
        num_samples = validation.positive_int(args.num_samples, "-n")
        model = saving.load_model(args.model)
    except ValueError as error:
        raise UserError(str(error)) from None
    samples = model.sample(num_samples, seed=args.seed).numpy()
    data_files.save_points(output, samples)
    print(
        f"Drew {num_samples} samples of dimension {model.event_size} from {args.model} "
        f"({type(model).__name__}, seed {args.seed})."
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
