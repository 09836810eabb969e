"""The `tfp-rad` command line (also `python -m tfp_rad`).

`tfp-rad` alone runs `tfp-rad train` with its defaults: a RADFlow on two moons.
"""

import argparse
import json
import os
import platform
import sys

from tfp_rad import datasets, training

MODELS = ("rad", "real_nvp")
LEARNING_RATE = 5e-3  # Adam's learning rate in `train` and `reproduce`


def _train_parser(subparsers):
    parser = subparsers.add_parser(
        "train",
        help="train a RAD (or Real NVP) flow on a built-in 2-D problem",
        description="Trains a flow, prints train/test log-likelihood, writes results and plots.",
    )
    parser.add_argument("--dataset", default="two_moons", choices=datasets.NAMES)
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
    parser.add_argument("--num-train", type=int, default=10_000)
    parser.add_argument("--num-test", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None, help="default: outputs/<dataset>-<model>")
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
    from tfp_rad import figures, reproduce  # here, not at the top: they import this module

    reproduce.add_parser(subparsers)
    figures.add_parser(subparsers)
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


def make_model(kind, event_size, num_layers, hidden_units):
    from tfp_rad.models import RADFlow, RealNVPFlow

    if kind == "rad":
        return RADFlow(event_size, num_layers=num_layers, hidden_units=hidden_units or 8)
    return RealNVPFlow(event_size, num_layers=num_layers, hidden_units=hidden_units or 56)


def train_test_data(dataset, num_train, num_test, seed):
    """The training and test sets of the run with seed `seed`: `(x_train, x_test)`.

    They are drawn with data seeds `2 seed + 1` and `2 seed + 2`: the test set is fresh
    points, and different seeds never share a dataset.
    """
    return (
        datasets.load(dataset, num_train, seed=2 * seed + 1),
        datasets.load(dataset, num_test, seed=2 * seed + 2),
    )


def run_train(args):
    """Runs `tfp-rad train`: trains, evaluates, writes the model, results and plots.

    Training is backed up to the checkpoint directory every epoch; the same command run
    again after an interruption resumes from the last backup and runs only the remaining
    steps (a checkpoint of other settings is refused). `model.keras` and `results.json`
    are each written whole (to a partial file, then renamed), after training; the
    checkpoint is removed once everything is written.

    Returns:
      0 on success; 1 if training diverged (nothing is written, the checkpoint is
      removed); 2 if the checkpoint directory holds a run of other settings.
    """
    import keras

    from tfp_rad import plotting, saving

    output = args.output or os.path.join("outputs", f"{args.dataset}-{args.model}")
    checkpoint_dir = args.checkpoint_dir or os.path.join(output, "checkpoint")
    os.makedirs(output, exist_ok=True)
    keras.utils.set_random_seed(args.seed)
    x_train, x_test = train_test_data(args.dataset, args.num_train, args.num_test, args.seed)
    model = make_model(args.model, 2, args.num_layers, args.hidden_units)
    ignored = ("run", "output", "checkpoint_dir", "no_jit", "verbose")
    settings = {k: v for k, v in vars(args).items() if k not in ignored}
    resuming = training.has_checkpoint(checkpoint_dir)
    try:
        backup = training.backup_and_restore(checkpoint_dir, settings)
    except ValueError as error:
        print(f"tfp-rad train: {error}", file=sys.stderr)
        return 2
    print(
        f"Training {type(model).__name__} ({model.count_params()} parameters) on "
        f"{args.dataset}: {args.steps} steps of batch {args.batch_size}, "
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
        "train_log_likelihood": training.mean_log_likelihood(model, x_train),
        "test_log_likelihood": training.mean_log_likelihood(model, x_test),
        "oracle_test_log_likelihood": datasets.oracle_log_likelihood(args.dataset, x_test),
        "train_seconds": seconds,
        "versions": versions(),
    }
    saving.save_model(model, os.path.join(output, "model.keras"))
    partial = os.path.join(output, ".results.partial.json")
    with open(partial, "w") as f:
        json.dump(results, f, indent=2)
    os.replace(partial, os.path.join(output, "results.json"))
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
    training.remove_checkpoint(checkpoint_dir)
    print(
        f"log-likelihood (nats/point): train {results['train_log_likelihood']:.3f}, "
        f"test {results['test_log_likelihood']:.3f}, "
        f"oracle {results['oracle_test_log_likelihood']:.3f}"
    )
    print(f"Wrote model.keras, results.json, samples.png, density.png to {output}/")
    return 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    if not argv or (argv[0] not in commands and argv[0] not in ("-h", "--help")):
        argv = ["train", *argv]  # `tfp-rad [options]` means `tfp-rad train [options]`
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
