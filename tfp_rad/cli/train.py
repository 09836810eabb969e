"""`tfp-rad train` (and `tfp-rad` alone): trains one flow on a built-in problem or a file.

`tfp-rad` alone trains a RADFlow on two moons with the defaults; `tfp-rad train --data
FILE` trains on your own points (`.csv` or `.npy`).
"""

import json
import os
import sys

import numpy as np

from tfp_rad import catalog
from tfp_rad.cli import arguments
from tfp_rad.cli.arguments import UserError

VALIDATION_SPLIT = 0.1  # `train --data`: the fraction of the points held out
PATIENCE = 10  # `train --data`: early stopping's patience, in epochs
MAX_PLOTTED = 10_000  # points of data, and as many samples, in `train --data`'s plots


def add_parser(subparsers):
    """Adds `train` to the `tfp-rad` parser's `subparsers`."""
    parser = subparsers.add_parser(
        "train",
        help="train a RAD (or Real NVP) flow on a built-in 2-D problem or your own data",
        description="Trains a flow, prints train/test log-likelihood, writes results and plots.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--dataset", default=None, choices=catalog.PROBLEMS,
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
    parser.add_argument("--model", default="rad", choices=catalog.MODEL_KINDS)
    parser.add_argument(
        "--steps", type=arguments.positive_int, default=3000, help="Adam steps (default 3000)"
    )
    parser.add_argument("--batch-size", type=arguments.positive_int, default=500)
    parser.add_argument("--learning-rate", type=float, default=catalog.LEARNING_RATE)
    parser.add_argument(
        "--decay", default="cosine", choices=catalog.DECAYS, help="learning-rate schedule"
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
    parser.add_argument(
        "--num-train", type=arguments.positive_int, default=10_000, help="built-in problems only"
    )
    parser.add_argument(
        "--num-test", type=arguments.positive_int, default=10_000, help="built-in problems only"
    )
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
    parser.set_defaults(run=run)


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
    """The model of `tfp-rad train`'s options: `make_flow` with `--model`, the sizes and,
    for RAD, `--gating-hidden-units`.

    Raises:
      ValueError: for impossible sizes, or `--gating-hidden-units` with another model.
    """
    from tfp_rad.models import make_flow

    if args.gating_hidden_units is not None and args.model != "rad":
        raise ValueError(f"--gating-hidden-units applies to --model rad only, not {args.model}.")
    return make_flow(
        args.model, event_size, args.num_layers, args.hidden_units, standardize=standardize,
        gating_hidden_units=args.gating_hidden_units,
    )


def run(args):
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

    from tfp_rad import datasets, saving, training
    from tfp_rad.versions import versions

    keras.utils.set_random_seed(args.seed)
    if args.data is None:
        if args.validation_split is not None or args.patience is not None:
            raise UserError("--validation-split and --patience apply to --data only.")
        args.dataset = args.dataset or "two_moons"
        name = args.dataset
        x_train, x_test = datasets.train_test_data(
            args.dataset, args.num_train, args.num_test, args.seed
        )
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
        plots = _plot_problem(args, model, x_test, results, output)
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
    from tfp_rad import training

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


def _plot_problem(args, model, x_test, results, output):
    """`samples.png` and `density.png` of a built-in problem; returns their names.

    The titles name the problem, the model and its size, the training steps, and the test
    log-likelihood next to the true density's (the oracle).
    """
    from tfp_rad import datasets, plotting

    name = catalog.MODEL_NAMES[args.model]
    bounds = plotting.square_bounds(x_test)
    samples = model.sample(len(x_test), seed=args.seed).numpy()
    trained = (
        f"{name} ({type(model).__name__}, {results['parameters']} parameters, "
        f"{results['optimizer_steps']} steps)"
    )
    plotting.plot_samples(
        [(f"data: {len(x_test)} test points", x_test),
         (f"{name}: {len(samples)} samples", samples)],
        os.path.join(output, "samples.png"),
        bounds,
        title=f"{args.dataset}: {trained}",
    )
    truth = datasets.get(args.dataset, dtype="float64")
    plotting.plot_densities(
        [("true density", truth.log_prob), (f"{name} density", model.log_prob)],
        os.path.join(output, "density.png"),
        bounds,
        title=f"{args.dataset}: test log-likelihood {name} "
        f"{results['test_log_likelihood']:.3f}, oracle "
        f"{results['oracle_test_log_likelihood']:.3f} nats/point",
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
