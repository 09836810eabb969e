"""The `tfp-rad` command line (also `python -m tfp_rad`).

`tfp-rad` alone runs `tfp-rad train` with its defaults: a RADFlow on two moons.
`tfp-rad train --data FILE` trains on your own points (`.csv` or `.npy`), `tfp-rad sample`
draws from a saved model and `tfp-rad score` evaluates one on a file.
"""

import argparse
import json
import os
import platform
import sys

import numpy as np

from tfp_rad import datasets, training

MODELS = ("rad", "real_nvp")
LEARNING_RATE = 5e-3  # Adam's learning rate in `train` and `reproduce`
VALIDATION_SPLIT = 0.1  # `train --data`: the fraction of the points held out
PATIENCE = 10  # `train --data`: early stopping's patience, in epochs
MAX_PLOTTED = 10_000  # points of data, and as many samples, in `train --data`'s plots


class UserError(Exception):
    """Bad input (a file, a model, an option): `main` prints it in one line and returns 2."""


def _train_parser(subparsers):
    parser = subparsers.add_parser(
        "train",
        help="train a RAD (or Real NVP) flow on a built-in 2-D problem or your own data",
        description="Trains a flow, prints train/test log-likelihood, writes results and plots.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--dataset", default=None, choices=datasets.NAMES,
        help="a built-in 2-D problem (default: two_moons)",
    )
    source.add_argument(
        "--data", default=None, metavar="FILE",
        help="your own points [n, d]: a .csv (comma-separated, optional header line) or "
        ".npy file; the features are standardized inside the model",
    )
    parser.add_argument(
        "--validation-split", type=float, default=None,
        help=f"with --data: the fraction of the points held out (seeded) to validate every "
        f"epoch (default {VALIDATION_SPLIT}; 0: none)",
    )
    parser.add_argument(
        "--patience", type=int, default=None,
        help=f"with --data: stop after this many epochs without a better validation loss "
        f"and keep the best epoch's weights (default {PATIENCE}; 0: no early stopping)",
    )
    parser.add_argument("--model", default="rad", choices=MODELS)
    parser.add_argument("--steps", type=int, default=3000, help="Adam steps (default 3000)")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--learning-rate", type=float, default=LEARNING_RATE)
    parser.add_argument(
        "--decay", default="cosine", choices=training.DECAYS, help="learning-rate schedule"
    )
    parser.add_argument("--num-layers", type=int, default=6)
    parser.add_argument(
        "--hidden-units", type=int, default=None, help="default: 8 for rad, 56 for real_nvp"
    )
    parser.add_argument(
        "--gating-hidden-units", type=int, default=None,
        help="rad only: width of the gating networks (default: --hidden-units, as in the "
        "paper; 0: none, the gating logits only interpolate the boundary probabilities)",
    )
    parser.add_argument("--num-train", type=int, default=10_000, help="built-in problems only")
    parser.add_argument("--num-test", type=int, default=10_000, help="built-in problems only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--output", default=None,
        help="default: outputs/<dataset>-<model>, or outputs/<data file name>-<model>",
    )
    parser.add_argument("--no-jit", action="store_true", help="train without XLA")
    parser.add_argument(
        "--steps-per-epoch",
        type=int,
        default=None,
        help="steps between loss reports and checkpoints; must divide --steps "
        "(default: the largest divisor of --steps up to 500)",
    )
    parser.add_argument(
        "--checkpoint-dir",
        default=None,
        help="where training is backed up every epoch, and resumed from when the same "
        "command is run again after an interruption (default: OUTPUT/checkpoint)",
    )
    parser.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])
    parser.set_defaults(run=run_train)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tfp-rad", description="RAD deep mixture flows for TensorFlow Probability."
    )
    subparsers = parser.add_subparsers(dest="command")
    _train_parser(subparsers)
    _sample_parser(subparsers)
    _score_parser(subparsers)
    # not at the top: they import this module
    from tfp_rad import figures, high_dimensional_study, reproduce, studies

    reproduce.add_parser(subparsers)
    figures.add_parser(subparsers)
    studies.add_parser(subparsers)
    high_dimensional_study.add_parser(subparsers)
    return parser


def versions():
    import keras
    import tensorflow as tf
    import tensorflow_probability as tfp

    import tfp_rad

    return {
        "tfp_rad": tfp_rad.__version__,
        "tensorflow": tf.__version__,
        "tensorflow_probability": tfp.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }


def make_model(
    kind, event_size, num_layers, hidden_units, standardize=False, gating_hidden_units=None
):
    """A `RADFlow` (`kind="rad"`) or `RealNVPFlow` (`"real_nvp"`) of these sizes.

    `hidden_units=None` leaves the model's own default, the paper's width (8 for RAD, 56
    for Real NVP); any other value, 0 included, goes to the model, which checks it.
    `gating_hidden_units` is RAD's (None: `hidden_units`).
    """
    from tfp_rad.models import RADFlow, RealNVPFlow

    sizes = {"num_layers": num_layers, "standardize": standardize}
    if hidden_units is not None:
        sizes["hidden_units"] = hidden_units
    if kind == "rad":
        return RADFlow(event_size, gating_hidden_units=gating_hidden_units, **sizes)
    return RealNVPFlow(event_size, **sizes)


def train_test_data(dataset, num_train, num_test, seed):
    """The training and test sets of the run with seed `seed`: `(x_train, x_test)`.

    They are drawn with data seeds `2 seed + 1` and `2 seed + 2`: the test set is fresh
    points, and different seeds never share a dataset.
    """
    return (
        datasets.load(dataset, num_train, seed=2 * seed + 1),
        datasets.load(dataset, num_test, seed=2 * seed + 2),
    )


def split_points(x, validation_split, seed):
    """Splits points `[n, d]` into `(train, validation)` by a permutation seeded with `seed`.

    `m = max(1, round(validation_split * n))` points go to validation (`None` and all the
    points to training when `validation_split` is 0).

    Raises:
      UserError: if `validation_split` is not in `[0, 1)` or leaves no training point.
    """
    if not 0 <= validation_split < 1:
        raise UserError(f"--validation-split must be in [0, 1), got {validation_split}.")
    if validation_split == 0:
        return x, None
    order = np.random.default_rng(seed).permutation(len(x))
    num_validation = max(1, round(validation_split * len(x)))
    if num_validation >= len(x):
        raise UserError(
            f"{len(x)} point(s) are too few for a validation split of {validation_split}: "
            "no point would be left to train on."
        )
    return x[order[num_validation:]], x[order[:num_validation]]


def _user_data(args):
    """`train --data`: the points, the split, and the standardized model adapted on them."""
    from tfp_rad import data_files

    if args.validation_split is None:
        args.validation_split = VALIDATION_SPLIT
    try:
        x = data_files.load_points(args.data)
        x_train, x_validation = split_points(x, args.validation_split, args.seed)
        if args.patience is None:
            args.patience = PATIENCE if x_validation is not None else 0
        if args.patience < 0 or (args.patience and x_validation is None):
            raise UserError(
                f"--patience must be 0 (no early stopping) or a number of epochs with a "
                f"validation split > 0; got {args.patience} with split {args.validation_split}."
            )
        model = _model(args, x.shape[1], standardize=True)
        model.adapt(x_train)
    except ValueError as error:
        raise UserError(str(error)) from None
    return x, x_train, x_validation, model


def _model(args, event_size, standardize=False):
    """The model of `tfp-rad train`'s options: `make_model` with `--model`, the sizes and,
    for RAD, `--gating-hidden-units`.

    Raises:
      ValueError: for impossible sizes, or `--gating-hidden-units` with another model.
    """
    if args.gating_hidden_units is not None and args.model != "rad":
        raise ValueError(f"--gating-hidden-units applies to --model rad only, not {args.model}.")
    return make_model(
        args.model, event_size, args.num_layers, args.hidden_units, standardize=standardize,
        gating_hidden_units=args.gating_hidden_units,
    )


def run_train(args):
    """Runs `tfp-rad train`: trains, evaluates, writes the model, results and plots.

    On a built-in problem (`--dataset`), it reports train and test log-likelihood and the
    oracle's, and draws `samples.png` and `density.png`. On a file (`--data`), the model
    has the file's number of columns as event size and standardizes its features (adapted
    on the training split); a seeded `--validation-split` of the points is evaluated every
    epoch for early stopping (`--patience`); it reports train and validation
    log-likelihood, per point and per dimension, and draws `marginals.png` and (for 2 or
    more columns) `pairs.png`.

    Training is backed up to the checkpoint directory every epoch; the same command run
    again after an interruption resumes from the last backup and runs only the remaining
    steps (a checkpoint of other settings is refused). `model.keras` and `results.json`
    are each written whole (to a partial file, then renamed), after training; the
    checkpoint is removed once everything is written.

    Returns:
      0 on success; 1 if training diverged (nothing is written, the checkpoint is
      removed).

    Raises:
      UserError: (exit code 2) for an unreadable data file, options that do not fit it, or
        a checkpoint directory that holds a run of other settings.
    """
    import keras

    from tfp_rad import saving

    keras.utils.set_random_seed(args.seed)
    if args.data is None:
        if args.validation_split is not None or args.patience is not None:
            raise UserError("--validation-split and --patience apply to --data only.")
        args.dataset = args.dataset or "two_moons"
        name = args.dataset
        x_train, x_test = train_test_data(args.dataset, args.num_train, args.num_test, args.seed)
        x_validation = None
        try:
            model = _model(args, 2)
        except ValueError as error:
            raise UserError(str(error)) from None
    else:
        name = os.path.splitext(os.path.basename(args.data))[0]
        x, x_train, x_validation, model = _user_data(args)
    output = args.output or os.path.join("outputs", f"{name}-{args.model}")
    checkpoint_dir = args.checkpoint_dir or os.path.join(output, "checkpoint")
    os.makedirs(output, exist_ok=True)
    ignored = ("run", "output", "checkpoint_dir", "no_jit", "verbose")
    settings = {k: v for k, v in vars(args).items() if k not in ignored}
    resuming = training.has_checkpoint(checkpoint_dir)
    try:
        backup = training.backup_and_restore(checkpoint_dir, settings)
    except ValueError as error:
        raise UserError(str(error)) from None
    if args.data is None:
        source = args.dataset
    else:
        held_out = 0 if x_validation is None else len(x_validation)
        source = (
            f"{args.data} ({len(x)} points of dimension {x.shape[1]}: {len(x_train)} to "
            f"train, {held_out} to validate; features standardized)"
        )
    print(
        f"Training {type(model).__name__} ({model.count_params()} parameters) on "
        f"{source}: {args.steps} steps of batch {args.batch_size}, "
        + (f"resuming from {checkpoint_dir}." if resuming else f"backed up to {checkpoint_dir}.")
    )
    try:
        history, seconds = training.fit_steps(
            model,
            x_train,
            args.steps,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            decay=args.decay,
            seed=args.seed,
            steps_per_epoch=args.steps_per_epoch,
            jit_compile=not args.no_jit,
            verbose=args.verbose,
            callbacks=[backup],
            validation_data=x_validation,
            early_stopping_patience=args.patience or None,
        )
    except training.TrainingDivergedError as error:
        training.remove_checkpoint(checkpoint_dir)
        print(
            f"tfp-rad train: {error} Nothing was written to {output}/, and the checkpoint "
            "was removed so that a rerun starts over.",
            file=sys.stderr,
        )
        return 1
    steps_run = int(model.optimizer.iterations.numpy())
    resumed_from = history.epoch[0] * history.params["steps"] if history.epoch else steps_run
    if resumed_from:
        print(f"Resumed at step {resumed_from}; trained to step {steps_run}.")
    results = {
        "config": {k: v for k, v in vars(args).items() if k != "run"},
        "parameters": model.count_params(),
        "optimizer_steps": steps_run,
        "resumed_from_step": resumed_from,
    }
    if args.data is None:
        results.update(
            train_log_likelihood=training.mean_log_likelihood(model, x_train),
            test_log_likelihood=training.mean_log_likelihood(model, x_test),
            oracle_test_log_likelihood=datasets.oracle_log_likelihood(args.dataset, x_test),
        )
    else:
        results.update(_data_results(args, model, history, x, x_train, x_validation))
    results.update(train_seconds=seconds, versions=versions())
    saving.save_model(model, os.path.join(output, "model.keras"))
    partial = os.path.join(output, ".results.partial.json")
    with open(partial, "w") as f:
        json.dump(results, f, indent=2)
    os.replace(partial, os.path.join(output, "results.json"))
    if args.data is None:
        plots = _plot_problem(args, model, x_test, output)
    else:
        plots = _plot_data(args, model, x, output)
    training.remove_checkpoint(checkpoint_dir)
    if args.data is None:
        print(
            f"log-likelihood (nats/point): train {results['train_log_likelihood']:.3f}, "
            f"test {results['test_log_likelihood']:.3f}, "
            f"oracle {results['oracle_test_log_likelihood']:.3f}"
        )
    else:
        _print_data_results(results)
    print(f"Wrote {', '.join(['model.keras', 'results.json', *plots])} to {output}/")
    return 0


def _data_results(args, model, history, x, x_train, x_validation):
    """The entries of `results.json` particular to `train --data`."""
    d = x.shape[1]
    results = {
        "data_file": args.data,
        "num_points": len(x),
        "num_train": len(x_train),
        "num_validation": 0 if x_validation is None else len(x_validation),
        "dimensions": d,
        "steps_requested": args.steps,
        "stopped_early": int(model.optimizer.iterations.numpy()) < args.steps,
        "feature_mean": np.asarray(model.feature_mean).tolist(),
        "feature_scale": np.asarray(model.feature_scale).tolist(),
    }
    train = training.mean_log_likelihood(model, x_train)
    results.update(train_log_likelihood=train, train_log_likelihood_per_dim=train / d)
    if x_validation is not None:
        validation = training.mean_log_likelihood(model, x_validation)
        losses = history.history["val_loss"]
        best = int(np.argmin(losses))
        results.update(
            validation_log_likelihood=validation,
            validation_log_likelihood_per_dim=validation / d,
            validation_loss_by_epoch=[float(v) for v in losses],
            best_validation_step=(history.epoch[best] + 1) * history.params["steps"],
        )
    return results


def _print_data_results(results):
    steps, requested = results["optimizer_steps"], results["steps_requested"]
    if results["stopped_early"]:
        print(f"Early stopping: ran {steps} of {requested} steps.")
    if results["config"]["patience"]:
        print(
            f"Kept the weights of step {results['best_validation_step']}, the best on the "
            "validation points."
        )
    names = ["train"] + (["validation"] if "validation_log_likelihood" in results else [])
    for unit, suffix in (("point", ""), ("dim", "_per_dim")):
        values = ", ".join(f"{n} {results[f'{n}_log_likelihood{suffix}']:.4f}" for n in names)
        print(f"log-likelihood (nats/{unit}): {values}")


def _plot_problem(args, model, x_test, output):
    """`samples.png` and `density.png` of a built-in problem; returns their names."""
    from tfp_rad import plotting

    bounds = plotting.square_bounds(x_test)
    samples = model.sample(len(x_test), seed=args.seed).numpy()
    plotting.plot_samples(
        [("data (test)", x_test), (f"{args.model} samples", samples)],
        os.path.join(output, "samples.png"),
        bounds,
    )
    truth = datasets.get(args.dataset, dtype="float64")
    plotting.plot_densities(
        [("true density", truth.log_prob), (f"{args.model} density", model.log_prob)],
        os.path.join(output, "density.png"),
        bounds,
    )
    return ["samples.png", "density.png"]


def _plot_data(args, model, x, output):
    """`marginals.png` and, for 2 or more columns, `pairs.png`; returns their names.

    They show up to `MAX_PLOTTED` of the file's points (a seeded subset) and as many
    model samples.
    """
    from tfp_rad import plotting

    if len(x) > MAX_PLOTTED:
        x = x[np.random.default_rng(args.seed).choice(len(x), MAX_PLOTTED, replace=False)]
    samples = model.sample(len(x), seed=args.seed).numpy()
    plotting.plot_marginals(x, samples, os.path.join(output, "marginals.png"))
    if x.shape[1] == 1:
        return ["marginals.png"]
    plotting.plot_pairs(x, samples, os.path.join(output, "pairs.png"))
    return ["marginals.png", "pairs.png"]


def _sample_parser(subparsers):
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
    parser.set_defaults(run=run_sample)


def run_sample(args):
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


def _score_parser(subparsers):
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
    parser.set_defaults(run=run_score)


def log_probs(model, x, batch_size=10_000):
    """`log p(x)` of each point `[n]` as float64, computed in batches of `batch_size`."""
    return np.concatenate([
        np.asarray(model.log_prob(x[i : i + batch_size]), np.float64)
        for i in range(0, len(x), batch_size)
    ])


def run_score(args):
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


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    if not argv or (argv[0] not in commands and argv[0] not in ("-h", "--help")):
        argv = ["train", *argv]  # `tfp-rad [options]` means `tfp-rad train [options]`
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        return args.run(args)
    except UserError as error:
        print(f"tfp-rad {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
