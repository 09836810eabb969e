"""`tfp-rad score`: the log-likelihood of a file's points under a saved model."""

import numpy as np

from tfp_rad.cli.arguments import UserError


def add_parser(subparsers):
    """Adds `score` to the `tfp-rad` parser's `subparsers`."""
    parser = subparsers.add_parser(
        "score",
        help="log-likelihood of a file's points under a saved model",
        description="Evaluates a model saved by `tfp-rad train` on the points of a .csv or "
        ".npy file: mean log p(x) in nats per point and per dimension.",
    )
    parser.add_argument("model", help="a .keras file (e.g. OUTPUT/model.keras)")
    parser.add_argument("--data", required=True, metavar="FILE", help="a .csv or .npy file")
    parser.add_argument(
        "--output", default=None,
        help="optional .npy or .csv file for each point's log p(x) (nats), in file order",
    )
    parser.set_defaults(run=run)


def log_probs(model, x, batch_size=10_000):
    """`log p(x)` of each point `[n]` as float64, computed in batches of `batch_size`."""
    return np.concatenate([
        np.asarray(model.log_prob(x[i : i + batch_size]), np.float64)
        for i in range(0, len(x), batch_size)
    ])


def run(args):
    """Runs `tfp-rad score`: prints the mean log-likelihood, optionally saves log p per point.

    Raises:
      UserError: for an unreadable model or data file, a data file whose number of columns
        is not the model's event size, or an output of another file type.
    """
    from tfp_rad import data_files, saving

    try:
        if args.output:
            data_files.file_format(args.output)
        model = saving.load_model(args.model)
        x = data_files.load_points(args.data)
    except ValueError as error:
        raise UserError(str(error)) from None
    if x.shape[1] != model.event_size:
        raise UserError(
            f"{args.data} has {x.shape[1]} column(s), but the model {args.model} is of "
            f"dimension {model.event_size}."
        )
    log_p = log_probs(model, x)
    mean = float(np.mean(log_p))
    print(f"{args.data}: {len(x)} points of dimension {x.shape[1]}, under {args.model}:")
    print(
        f"mean log-likelihood {mean:.4f} nats/point, {mean / x.shape[1]:.4f} nats/dim"
    )
    impossible = np.count_nonzero(~np.isfinite(log_p))
    if impossible:
        print(f"({impossible} point(s) have log p = -inf: outside what the model can reach)")
    if args.output:
        data_files.save_points(args.output, log_p[:, None], names=["log_prob"])
        print(f"Wrote each point's log p(x) to {args.output}")
    return 0
