"""`tfp-rad train` (and `tfp-rad` alone): trains one flow on a built-in problem or a file.

`tfp-rad` alone trains a RADFlow on two moons with the defaults; `tfp-rad train --data
FILE` trains on your own points (`.csv` or `.npy`); with `--context-columns` some of the
file's columns are a context `c` and the model is the conditional density `p(x | c)` of
the other columns.
"""

import json
import os
import sys

import numpy as np

from tfp_rad import catalog
from tfp_rad.cli import arguments
from tfp_rad.cli.arguments import UserError

VALIDATION_SPLIT = 0.15  # `train --data`: the fraction of the rows held out to validate
TEST_SPLIT = 0.2  # `train --data`: the fraction of the rows held out to test
# Built-in problems' defaults (with --data these are derived from the table's size). The
# first run's (`./dev run`, `tfp-rad` alone): on two moons, RAD without gating networks for
# 12,000 steps gave a cleaner density and a better test log-likelihood than the paper's RAD
# for 3,000 (-1.437 against -1.502, seed 0), at a similar wall time, which start-up and
# compilation dominate.
PROBLEM_DEFAULTS = {"steps": 12_000, "batch_size": 500, "learning_rate": catalog.LEARNING_RATE,
                    "num_layers": 6}
PROBLEM_GATING_HIDDEN_UNITS = 0
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
        help="your own table [n, d]: a .csv (comma-separated, optional header line) or "
        ".npy file; discrete-looking columns are dequantized, the table is whitened inside "
        "the model, and the training settings are derived from its size",
    )
    parser.add_argument(
        "--context-columns", nargs="+", default=None, metavar="COLUMN",
        help="with --data: the columns (indices from 0, or .csv header names) that are a "
        "context c; the model learns p(x | c) of the other columns",
    )
    parser.add_argument(
        "--validation-split", type=float, default=None,
        help=f"with --data: the fraction of the rows held out (seeded) for early stopping "
        f"and the baselines' choices (default {VALIDATION_SPLIT}; 0: none)",
    )
    parser.add_argument(
        "--test-split", type=float, default=None,
        help=f"with --data: the fraction of the rows held out (seeded) and used only for "
        f"the reported test figures (default {TEST_SPLIT}; 0: none)",
    )
    parser.add_argument(
        "--patience", type=int, default=None,
        help="with --data: stop after this many validation checks without a better "
        "validation loss and keep the best weights (default: derived; 0: no early stopping)",
    )
    parser.add_argument(
        "--no-dequantize", action="store_true",
        help="with --data: add no noise to integer or few-valued columns",
    )
    parser.add_argument(
        "--dequantize-columns", type=arguments.non_negative_int, nargs="+", default=None,
        metavar="J", help="with --data: dequantize these columns (from 0) instead of the "
        "detected ones",
    )
    parser.add_argument(
        "--ridge", type=arguments.positive_float, default=None,
        help="with --data: whiten with C + RIDGE diag(C) (for a singular covariance)",
    )
    parser.add_argument(
        "--defensive-weight", type=float, default=None, metavar="EPS",
        help="with --data: the standard normal's share in the model's defensive mixture "
        "(1 - EPS) flow + EPS N(0, I) in whitened space, so that no row is more than "
        "log(1/EPS) nats below the full-covariance Gaussian (default "
        f"{catalog.DATA_DEFENSIVE_WEIGHT}; 0: none, the flow alone)",
    )
    parser.add_argument(
        "--no-baselines", action="store_true",
        help="with --data: do not fit the Gaussian, Gaussian mixture and KDE baselines",
    )
    parser.add_argument("--model", default="rad", choices=catalog.MODEL_KINDS)
    parser.add_argument(
        "--steps", type=arguments.positive_int, default=None,
        help=f"Adam steps (default {PROBLEM_DEFAULTS['steps']}; with --data: derived, the "
        "most that run)",
    )
    parser.add_argument(
        "--batch-size", type=arguments.positive_int, default=None,
        help="default 500; with --data: derived",
    )
    parser.add_argument(
        "--learning-rate", type=float, default=None,
        help=f"default {catalog.LEARNING_RATE}; with --data: derived",
    )
    parser.add_argument(
        "--weight-decay", type=arguments.positive_float, default=None,
        help="Adam's decoupled weight decay (default none)",
    )
    parser.add_argument(
        "--decay", default="cosine", choices=catalog.DECAYS, help="learning-rate schedule"
    )
    parser.add_argument("--num-layers", type=int, default=None,
                        help="default 6 (with --data: derived)")
    parser.add_argument(
        "--hidden-units", type=int, default=None,
        help="default: 8 for rad, 56 for real_nvp; with --data: derived from the columns",
    )
    parser.add_argument(
        "--gating-hidden-units", type=int, default=None,
        help="rad only: width of the gating networks (default 0 on a built-in problem and "
        "with --data; 0: none, the gating logits only interpolate the boundary "
        "probabilities; the paper's is --hidden-units)",
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
        "(default: the largest divisor of --steps up to 500); with --data: the steps "
        "between validation checks (default: derived)",
    )
    parser.add_argument(
        "--checkpoint-dir",
        default=None,
        help="where training is backed up every epoch, and resumed from when the same "
        "command is run again after an interruption (default: OUTPUT/checkpoint)",
    )
    parser.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])
    parser.set_defaults(run=run)


def _user_data(args):
    """`train --data`: the table, dequantized and split, and the whitened model.

    With `--context-columns` those columns are the contexts `c` (neither dequantized nor
    whitened, but standardized inside the model) and the model is the conditional density
    `p(x | c)` of the other columns, without the defensive mixture (an unconditional
    Gaussian's share).

    Returns:
      A dict: `x` (the file's rows, context columns left out), `dequantizer`, `y`
      (dequantized), `train`, `validation`, `test` (None when their split is 0),
      `contexts` (None, or a dict of the same parts' contexts), `settings` (the derived
      `training.DataDefaults`), `sizes` (the model's), `model` (adapted on `train`; RAD
      started near the identity).
    """
    import warnings

    from tfp_rad import data_files, dequantization, tabular_data, training
    from tfp_rad.models.initialization import start_near_identity

    for name, default in (("validation_split", VALIDATION_SPLIT), ("test_split", TEST_SPLIT)):
        if getattr(args, name) is None:
            setattr(args, name, default)
        if not 0 <= getattr(args, name) < 1:
            option = "--" + name.replace("_", "-")
            raise UserError(f"{option} must be in [0, 1), got {getattr(args, name)}.")
    if args.no_dequantize and args.dequantize_columns is not None:
        raise UserError("--no-dequantize and --dequantize-columns contradict each other.")
    try:
        x, c = split_contexts(args, data_files.load_points(args.data))
        columns = [] if args.no_dequantize else args.dequantize_columns
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            dequantizer = dequantization.detect(x, columns=columns)
        for warning in caught:
            print(f"Warning: {warning.message}")
        y = dequantizer(x, seed=args.seed)
        # Rows and their contexts side by side, so that one permutation splits both.
        parts = tabular_data.split(y if c is None else np.concatenate([y, c], axis=1),
                                   args.seed, args.validation_split, args.test_split)
        train, held, test = (None if part is None else part[:, : y.shape[1]] for part in parts)
        contexts = None if c is None else dict(zip(
            ("all", "train", "validation", "test"),
            (c, *(None if part is None else part[:, y.shape[1]:] for part in parts))))
        if args.patience is not None and (args.patience < 0 or (args.patience and held is None)):
            raise UserError(
                f"--patience must be 0 (no early stopping) or a number of checks with a "
                f"validation split > 0; got {args.patience} with split {args.validation_split}."
            )
        n, d = train.shape
        overrides = {
            "batch_size": args.batch_size, "max_steps": args.steps,
            "learning_rate": args.learning_rate, "validate_every": args.steps_per_epoch,
            "patience": args.patience or None, "weight_decay": args.weight_decay,
        }
        settings = training.data_defaults(
            n, d, args.model, **{k: v for k, v in overrides.items() if v is not None})
        sizes = training.data_architecture(args.model, d)
        for name in ("num_layers", "hidden_units", "gating_hidden_units"):
            if getattr(args, name) is not None:
                sizes[name] = getattr(args, name)
        if args.defensive_weight is not None:
            sizes["defensive_weight"] = args.defensive_weight or None
        if contexts is not None:
            if sizes.get("defensive_weight") is not None and args.defensive_weight:
                raise ValueError("--defensive-weight applies to unconditional models only, "
                                 "not with --context-columns.")
            sizes.update(defensive_weight=None, context_size=c.shape[1])
        if args.model != "rad" and args.gating_hidden_units is not None:
            raise ValueError(
                f"--gating-hidden-units applies to --model rad only, not {args.model}.")
        from tfp_rad.models import make_flow

        model = make_flow(args.model, d, whiten=True, **sizes)
        model.adapt(train, None if contexts is None else contexts["train"], ridge=args.ridge)
        if args.model == "rad":
            start_near_identity(model)
    except ValueError as error:
        raise UserError(str(error)) from None
    return dict(x=x, dequantizer=dequantizer, y=y, train=train, validation=held, test=test,
                contexts=contexts, settings=settings, sizes=sizes, model=model)


def split_contexts(args, table):
    """`(points, contexts)` of a data file's columns: contexts None without
    `--context-columns`.

    Raises:
      ValueError: for context columns that the file does not have.
    """
    from tfp_rad import data_files

    if not args.context_columns:
        return table, None
    columns = data_files.select_columns(
        args.context_columns, data_files.column_names(args.data), table.shape[1], args.data)
    others = [j for j in range(table.shape[1]) if j not in columns]
    return table[:, others], table[:, columns]


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
    table, contexts = None, None
    if args.data is None:
        data_only = ("validation_split", "test_split", "patience", "dequantize_columns",
                     "ridge", "defensive_weight", "context_columns")
        if any(getattr(args, name) is not None for name in data_only) or (
                args.no_dequantize or args.no_baselines):
            raise UserError(
                "--validation-split, --test-split, --patience, --no-dequantize, "
                "--dequantize-columns, --ridge, --defensive-weight, --no-baselines and "
                "--context-columns apply to --data only."
            )
        for name, default in PROBLEM_DEFAULTS.items():
            if getattr(args, name) is None:
                setattr(args, name, default)
        if args.model == "rad" and args.gating_hidden_units is None:
            args.gating_hidden_units = PROBLEM_GATING_HIDDEN_UNITS
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
        table = _user_data(args)
        x_train, x_validation = table["train"], table["validation"]
        model, contexts = table["model"], table["contexts"]
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
        fit_arguments = dict(
            steps=args.steps, batch_size=args.batch_size, learning_rate=args.learning_rate,
            steps_per_epoch=args.steps_per_epoch, weight_decay=args.weight_decay,
        )
        plan = f"{args.steps} steps of batch {args.batch_size}"
    else:
        source = _describe_table(args, table)
        fit_arguments = table["settings"].fit_steps_arguments()
        if x_validation is None or args.patience == 0:
            fit_arguments["early_stopping_patience"] = None
        plan = _describe_settings(table["settings"], fit_arguments)
    print(
        f"Training {type(model).__name__} ({model.count_params()} parameters) on "
        f"{source}: {plan}, "
        + (f"resuming from {checkpoint_dir}." if resuming else f"backed up to {checkpoint_dir}.")
    )
    try:
        history, seconds = training.fit_steps(
            model,
            x_train,
            decay=args.decay,
            seed=args.seed,
            jit_compile=not args.no_jit,
            verbose=args.verbose,
            callbacks=[backup],
            validation_data=x_validation,
            context=None if contexts is None else contexts["train"],
            validation_context=None if contexts is None else contexts["validation"],
            **fit_arguments,
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
        results.update(_data_results(args, table, history, fit_arguments))
    results.update(train_seconds=seconds, versions=versions())
    saving.save_model(model, os.path.join(output, "model.keras"))
    partial = os.path.join(output, ".results.partial.json")
    with open(partial, "w") as f:
        json.dump(results, f, indent=2)
    os.replace(partial, os.path.join(output, "results.json"))
    if args.data is None:
        plots = _plot_problem(args, model, x_test, results, output)
    else:
        plots = _plot_data(args, model, table["y"], output,
                           None if contexts is None else contexts["all"])
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


def _describe_table(args, table):
    """`FILE (n rows of dimension d: ... to train, ... to validate, ... to test; ...)`."""
    x, dequantizer = table["x"], table["dequantizer"]
    parts = [f"{len(table['train'])} to train"]
    for name in ("validation", "test"):
        if table[name] is not None:
            parts.append(f"{len(table[name])} to {'validate' if name == 'validation' else name}")
    eps = table["model"].defensive_weight
    mixture = "" if eps is None else f", mixed with {eps:g} of the whitening's Gaussian"
    contexts = table["contexts"]
    conditional = "" if contexts is None else (
        f" given a context of {contexts['all'].shape[1]} column(s)")
    return (
        f"{args.data} ({len(x)} rows of dimension {x.shape[1]}{conditional}: "
        f"{', '.join(parts)}; "
        f"{dequantizer.describe()}; whitened{mixture})"
    )


def _describe_settings(settings, fit_arguments):
    """The derived training settings in one phrase, as `fit_steps` will use them."""
    patience = fit_arguments["early_stopping_patience"]
    stopping = (f"stop after {patience} checks without improvement, keep the best weights"
                if patience else "no early stopping")
    return (
        f"at most {settings.max_steps} steps of batch {settings.batch_size} "
        f"({settings.steps_per_pass} steps per pass over the training rows), learning rate "
        f"{settings.learning_rate:g}, validation every {settings.validate_every} steps, "
        f"{stopping}"
    )


def _data_results(args, table, history, fit_arguments):
    """The entries of `results.json` particular to `train --data`.

    For a conditional model the log-likelihoods are the conditional `log p(x | c)`, and
    no baselines are fitted (they are unconditional densities of `x`).
    """
    from tfp_rad import baselines, training

    model, x, train, contexts = table["model"], table["x"], table["train"], table["contexts"]
    held, test, dequantizer = table["validation"], table["test"], table["dequantizer"]
    d = x.shape[1]
    steps_run = int(model.optimizer.iterations.numpy())
    results = {
        "data_file": args.data,
        "num_points": len(x),
        "num_train": len(train),
        "num_validation": 0 if held is None else len(held),
        "num_test": 0 if test is None else len(test),
        "dimensions": d,
        "training_settings": {**vars(table["settings"]),
                              "early_stopping": bool(fit_arguments["early_stopping_patience"])},
        "architecture": table["sizes"],
        "steps_requested": fit_arguments["steps"],
        "stopped_early": steps_run < fit_arguments["steps"],
        "dequantized_columns": list(dequantizer.columns),
        "dequantization_steps": list(dequantizer.steps),
        "log_cell_volume": dequantizer.log_cell_volume,
        "whitening_mean": np.asarray(model.whitening_mean).tolist(),
        "whitening_scale_tril": np.asarray(model.whitening_scale_tril).tolist(),
    }
    if contexts is not None:
        results.update(
            context_columns=list(args.context_columns),
            context_mean=np.asarray(model.context_mean).tolist(),
            context_scale=np.asarray(model.context_scale).tolist(),
        )
    parts = {"train": train, "validation": held, "test": test}
    for name, rows in parts.items():
        if rows is not None:
            value = training.mean_log_likelihood(
                model, rows, context=None if contexts is None else contexts[name])
            results[f"{name}_log_likelihood"] = value
            results[f"{name}_log_likelihood_per_dim"] = value / d
    if held is not None:
        losses = history.history["val_loss"]
        best = int(np.argmin(losses))
        results.update(
            validation_loss_by_epoch=[float(v) for v in losses],
            best_validation_step=(history.epoch[best] + 1) * history.params["steps"],
        )
    if not args.no_baselines and held is not None and contexts is None:
        fitted = baselines.fit_baselines(train, held, test, seed=args.seed, ridge=args.ridge)
        results["baselines"] = {r.name: r.as_dict() for r in fitted}
        results["comparison"] = baselines.comparison(results["validation_log_likelihood"],
                                                     fitted)
    return results


def _print_data_results(results):
    steps, requested = results["optimizer_steps"], results["steps_requested"]
    if results["stopped_early"]:
        print(f"Early stopping: ran {steps} of at most {requested} steps.")
    if "best_validation_step" in results and results["training_settings"]["early_stopping"]:
        print(
            f"Kept the weights of step {results['best_validation_step']}, the best on the "
            "validation rows."
        )
    names = [n for n in ("train", "validation", "test") if f"{n}_log_likelihood" in results]
    for unit, suffix in (("point", ""), ("dim", "_per_dim")):
        values = ", ".join(f"{n} {results[f'{n}_log_likelihood{suffix}']:.4f}" for n in names)
        print(f"log-likelihood (nats/{unit}): {values}")
    for name, figures in results.get("baselines", {}).items():
        values = ", ".join(
            f"{n} {figures[n]:.4f}" for n in ("train", "validation", "test")
            if figures[n] is not None)
        print(f"  baseline {name} (nats/point): {values}")
    if "comparison" in results:
        print(results["comparison"]["message"])
    if results["dequantized_columns"]:
        print(
            "The figures are for the dequantized table; add the log cell volume "
            f"{results['log_cell_volume']:.4f} for a lower bound on the recorded values'."
        )


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


def _plot_data(args, model, x, output, context=None):
    """`marginals.png` and, for 2 or more columns, `pairs.png`; returns their names.

    They show up to `MAX_PLOTTED` of the file's points (a seeded subset) and as many
    model samples: for a conditional model, one sample given each point's context.
    """
    from tfp_rad import plotting

    if len(x) > MAX_PLOTTED:
        chosen = np.random.default_rng(args.seed).choice(len(x), MAX_PLOTTED, replace=False)
        x = x[chosen]
        context = None if context is None else context[chosen]
    samples = model.sample(len(x), seed=args.seed, context=context).numpy()
    plotting.plot_marginals(x, samples, os.path.join(output, "marginals.png"))
    if x.shape[1] == 1:
        return ["marginals.png"]
    plotting.plot_pairs(x, samples, os.path.join(output, "pairs.png"))
    return ["marginals.png", "pairs.png"]
