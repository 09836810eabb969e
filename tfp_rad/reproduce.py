"""`tfp-rad reproduce`: the paper's comparison of RAD and Real NVP, resumable.

The protocol is that of rad-math §6, after Dinh, Sohl-Dickstein, Larochelle and Pascanu,
"A RAD approach to deep mixture models" (Section 4.1): on each 2-D problem of
`tfp_rad.datasets`, train

* RAD (`RADFlow`): 6 coupling layers whose conditioner and gating networks have 8 hidden
  units (`--gating-hidden-units` sets another gating width, 0 for none), and
* Real NVP (`RealNVPFlow`, TFP's `tfb.RealNVP`): 6 coupling layers of 56 hidden units,

both on a standard normal base, with Adam for 50,000 steps of batch 500 on 10,000
training points (learning rate and schedule by default those of `tfp-rad train`); report
the mean log-likelihood of the training points and of 10,000 fresh test points, as mean
and std over 3 seeds, and both models' parameter counts.
Seed `k` draws its data as `tfp-rad train --seed k` does (`cli.train_test_data`).

The output directory holds

* `runs/<problem>-<model>-seed<k>.json`, one per finished run: its `config`, the train
  and test log-likelihoods, the true density's on the same points (`oracle_*`), the
  parameter count, the wall times and `cli.versions()`;
* `models/<problem>-<model>-seed<k>.keras`, the trained model
  (`keras.saving.load_model`);
* `table.md`, the results, built from the JSON files alone (`write_table`,
  `tfp-rad reproduce --table-only`).

Resuming: a run writes its model, then its JSON, each to a hidden `.<name>.partial.<ext>`
file that `os.replace` then renames, so a JSON appears whole and only once its run is
finished. Every invocation deletes leftover partial files and skips the runs whose JSON
exists, so a killed invocation loses at most the run in progress. An output directory
holds one protocol: if a JSON there was made with other settings (steps, batch size,
learning rate or schedule, data sizes or architecture, RAD's gating width included),
`reproduce` refuses to start and names the file and the settings that differ, rather than
mix or overwrite results; use another `--output`, or delete those runs to redo them. Run
one invocation per directory at a time.

The public helpers (`protocol_settings`, `train_pending`, `train_and_evaluate`,
`write_record`, `load_runs`, `check_config`, the table and argument helpers) also run
`tfp-rad study` (`tfp_rad.studies`) the same way.
"""

import argparse
import functools
import json
import os
import shlex
import time

import keras
import numpy as np

from tfp_rad import cli, datasets, training, validation

NUM_LAYERS = 6
HIDDEN_UNITS = {"rad": 8, "real_nvp": 56}
MAX_SEED = 2**30 - 2  # the largest seed whose data seed 2 seed + 2 is a valid dataset seed
SETTINGS = ("steps", "batch_size", "learning_rate", "decay", "num_train", "num_test")
_RESULTS = (
    "parameters",
    "train_log_likelihood",
    "test_log_likelihood",
    "oracle_train_log_likelihood",
    "oracle_test_log_likelihood",
    "versions",
)
LOG_LIKELIHOOD_NOTE = (
    "Log-likelihoods in nats per point: mean ± sample std over seeds (n seeds; no std for "
    "one seed). Oracle: the true density's, on the same points, mean over seeds."
)
_PARTIAL = ".partial"
_TABLE = "table.md"


class ReproduceError(ValueError):
    """A request that `reproduce` refuses, with a message that says why."""


def run_name(problem, model, seed):
    """`<problem>-<model>-seed<k>`: the name of a run's JSON and model files."""
    return f"{problem}-{model}-seed{seed}"


def run(
    output="results/paper",
    problems=datasets.NAMES,
    models=cli.MODELS,
    seeds=(0, 1, 2),
    steps=50_000,
    batch_size=500,
    learning_rate=cli.LEARNING_RATE,
    decay="cosine",
    num_train=10_000,
    num_test=10_000,
    gating_hidden_units=HIDDEN_UNITS["rad"],
    jit_compile=True,
    verbose=1,
):
    """Trains the protocol's unfinished runs one by one, keeping `<output>/table.md` current.

    Runs go seed by seed (all problems and models of seed 0 first), so an interrupted
    reproduction already has a full table with fewer seeds. Each finished run is written
    at once; runs already finished in `output` are skipped.

    Args:
      output: the output directory (created if needed).
      problems: names from `datasets.NAMES`.
      models: names from `cli.MODELS` (`"rad"`, `"real_nvp"`).
      seeds: non-empty integers in `[0, MAX_SEED]`.
      steps: Adam steps per run (`training.fit_steps`).
      batch_size: points per step.
      learning_rate: Adam's initial learning rate, by default that of `tfp-rad train`.
      decay: the learning-rate schedule, `"cosine"` or `"none"`.
      num_train: points in each seed's training set.
      num_test: points in each seed's test set.
      gating_hidden_units: the width of RAD's gating networks (`RADFlow`'s
        `gating_hidden_units`; 0: none, only the boundary interpolation of the gating
        logits), by default the paper's 8. Part of each RAD run's config; RAD runs
        written before it was recorded had the paper's width.
      jit_compile: train with XLA.
      verbose: 0 silent, 1 or 2 for Keras progress bars (over runs, and within each run).

    Returns:
      The names (`run_name`) of the runs this call trained, in order: `[]` when all were
      already finished.

    Raises:
      ValueError: for non-positive sizes or learning rate, or a negative gating width;
        `ReproduceError` (a `ValueError`) for unknown or no problems or models, bad or no
        seeds, or an output directory with runs of another protocol or unreadable run
        files. Nothing is trained or written then.
    """
    problems = unique_names(problems, datasets.NAMES, "problem")
    models = unique_names(models, cli.MODELS, "model")
    seeds = unique_seeds(seeds)
    settings = protocol_settings(steps, batch_size, learning_rate, decay, num_train, num_test)
    gating = validation.non_negative_int(gating_hidden_units, "gating_hidden_units")
    for path, record in load_runs(output).items():
        _check_protocol(path, record, settings, gating, "this invocation")
    prepare_directories(output, "runs", "models")
    plan = [
        _config(problem, model, seed, settings, gating)
        for seed in seeds
        for problem in problems
        for model in models
    ]
    return train_pending(
        output,
        plan,
        lambda config, machine: _train(config, output, machine, jit_compile, verbose),
        write_table,
        "tfp-rad reproduce",
        verbose,
    )


def protocol_settings(
    steps,
    batch_size=500,
    learning_rate=cli.LEARNING_RATE,
    decay="cosine",
    num_train=10_000,
    num_test=10_000,
):
    """The settings that every run of a protocol shares, checked: a dict.

    The arguments are those of `run`, with the same defaults.

    Raises:
      ValueError: for a non-positive size, a learning rate that is not a positive number,
        or an unknown decay.
    """
    settings = {
        "steps": validation.positive_int(steps, "steps"),
        "batch_size": validation.positive_int(batch_size, "batch_size"),
        "learning_rate": float(learning_rate),
        "decay": decay,
        "num_train": validation.positive_int(num_train, "num_train"),
        "num_test": validation.positive_int(num_test, "num_test"),
    }
    if not np.isfinite(settings["learning_rate"]) or settings["learning_rate"] <= 0:
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}.")
    if decay not in training.DECAYS:
        raise ValueError(f"decay must be one of {', '.join(training.DECAYS)}, got {decay!r}.")
    return settings


def prepare_directories(output, *subdirectories):
    """Creates `output` and its `subdirectories`, deleting a killed invocation's partials."""
    for directory in (output, *(os.path.join(output, name) for name in subdirectories)):
        os.makedirs(directory, exist_ok=True)
        _remove_partials(directory)


def train_pending(output, plan, train, write_table, command, verbose):
    """Trains the runs of `plan` whose JSON is not in `<output>/runs` yet, in order.

    The table is rewritten from the JSONs before (when some runs are finished) and after
    every run, so it always shows every finished run.

    Args:
      output: the output directory.
      plan: the runs' configs (`problem`, `model`, `seed`, `steps`, `batch_size`, ...).
      train: `train(config, machine) -> record`, which trains a run and writes its JSON.
      write_table: `write_table(output)`.
      command: the command's name, for the progress messages.
      verbose: 0 silent, 1 or 2 for Keras progress bars.

    Returns:
      The names (`run_name`) of the runs trained, in order.
    """
    pending = [config for config in plan if not os.path.exists(run_path(output, config))]
    if verbose:
        print(
            f"{command}: {len(plan)} runs, {len(plan) - len(pending)} already "
            f"finished in {os.path.join(output, 'runs')}, {len(pending)} to train."
        )
    if len(pending) < len(plan):
        write_table(output)
    machine = cli.versions()
    progress = keras.utils.Progbar(
        len(pending), verbose=verbose, unit_name="run", stateful_metrics=["test_ll"]
    )
    executed = []
    for config in pending:
        name = run_name(config["problem"], config["model"], config["seed"])
        if verbose:
            print(f"\n{name}: {config['steps']} steps of batch {config['batch_size']}")
        record = train(config, machine)
        executed.append(name)
        write_table(output)
        progress.add(1, values=[("test_ll", record["test_log_likelihood"])])
    return executed


def load_runs(output, models=cli.MODELS, command="tfp-rad reproduce"):
    """The finished runs in `<output>/runs`: a dict from each JSON's path to its contents.

    Args:
      output: the output directory.
      models: the model names that a run may have.
      command: the command whose runs these are, for the error messages.

    Raises:
      ReproduceError: for a JSON file that is not a run of `command`.
    """
    directory = os.path.join(output, "runs")
    if not os.path.isdir(directory):
        return {}
    paths = [
        os.path.join(directory, name)
        for name in sorted(os.listdir(directory))
        if name.endswith(".json") and not name.startswith(".")
    ]
    return {path: _read_run(path, models, command) for path in paths}


def write_table(output):
    """Writes `<output>/table.md` from the run JSONs alone and returns its path.

    Raises:
      ReproduceError: when there are no finished runs, or they are not of one protocol.
    """
    records = list(load_runs(output).values())
    if not records:
        raise ReproduceError(
            f"No finished runs in {os.path.join(output, 'runs')}: nothing to tabulate. "
            "Run `tfp-rad reproduce` first."
        )
    text = _format_table(records, output)
    path = os.path.join(output, _TABLE)
    write_text_atomically(path, text)
    return path


def _format_table(records, output):
    """The markdown of `table.md` for run records (as in the JSON files) from `output`.

    A header (the command that reproduces the table, the machines, the steps), then a table
    of test and one of train log-likelihoods with a row per problem: each model's mean ±
    sample std over seeds (n seeds), the true density's log-likelihood on the same points
    (the oracle, mean over seeds), RAD minus Real NVP (mean ± std of the per-seed
    differences: the two models of a seed see the same data) and both parameter counts.
    """
    settings = {key: records[0]["config"][key] for key in SETTINGS}
    rad = [record for record in records if record["config"]["model"] == "rad"]
    gating = _gating_width(rad[0]["config"]) if rad else HIDDEN_UNITS["rad"]
    reference = run_path(output, (rad or records)[0]["config"])
    for record in records:
        _check_protocol(run_path(output, record["config"]), record, settings, gating, reference)
    problems = present(records, "problem", datasets.NAMES)
    seeds = sorted({record["config"]["seed"] for record in records})
    command = ["tfp-rad", "reproduce", "--problems", *problems]
    command += ["--models", *present(records, "model", cli.MODELS)]
    command += ["--steps", str(settings["steps"])]
    command += ["--seeds", *map(str, seeds), "--output", output, *settings_arguments(settings)]
    command += ["--gating-hidden-units", str(gating)]
    lines = [
        "# RAD vs Real NVP on the paper's 2-D problems",
        "",
        "Protocol of rad-math §6 (Dinh et al., \"A RAD approach to deep mixture models\", "
        f"§4.1): {NUM_LAYERS} coupling layers, {_rad_widths(gating)}, "
        f"{HIDDEN_UNITS['real_nvp']} in Real NVP's, standard normal base.",
        "",
        f"- Command: `{shlex.join(command)}`",
        *(f"- Machine: {machine}" for machine in machines(records)),
        f"- Steps: {steps_description(settings)}",
        "",
        f"{LOG_LIKELIHOOD_NOTE} RAD − Real NVP: mean ± std of the per-seed differences.",
    ]
    lines += log_likelihood_tables(
        [
            "problem",
            "RAD",
            "Real NVP",
            "oracle",
            "RAD − Real NVP",
            "RAD parameters",
            "Real NVP parameters",
        ],
        lambda split: [_row(records, problem, split) for problem in problems],
    )
    return "\n".join(lines) + "\n"


def log_likelihood_tables(header, rows):
    """The markdown lines of the `## Test log-likelihood` and `## Train log-likelihood`
    sections: a table each, of `header` and `rows(split)` (`split` "test" or "train")."""
    lines = []
    for title, split in (("Test", "test"), ("Train", "train")):
        lines += ["", f"## {title} log-likelihood", ""]
        lines += markdown_table(header, rows(split))
    return lines


def settings_arguments(settings):
    """The command-line options that give a protocol's `settings` (after `--output`)."""
    return [
        "--learning-rate", repr(settings["learning_rate"]), "--decay", settings["decay"],
        "--batch-size", str(settings["batch_size"]),
        "--num-train", str(settings["num_train"]), "--num-test", str(settings["num_test"]),
    ]


def steps_description(settings):
    """One sentence on a protocol's training: steps, batch, learning rate, data sizes."""
    return (
        f"{settings['steps']} Adam steps of batch {settings['batch_size']} "
        f"(learning rate {settings['learning_rate']}, decay {settings['decay']}) on "
        f"{settings['num_train']} training points; {settings['num_test']} fresh test points "
        "per seed."
    )


def machines(records):
    """The distinct machines (`versions` of the records) as lines, in order of appearance."""
    lines = []
    for record in records:
        machine = ", ".join(f"{name} {value}" for name, value in record["versions"].items())
        if machine not in lines:
            lines.append(machine)
    return lines


def add_parser(subparsers):
    """Adds the `reproduce` subcommand to the `tfp-rad` parser's `subparsers`."""
    parser = subparsers.add_parser(
        "reproduce",
        help="the paper's RAD vs Real NVP comparison (rad-math §6), resumable",
        description=(
            "Trains RAD and Real NVP on the 2-D problems with the paper's protocol "
            "(rad-math §6), one JSON and one .keras model per run under OUTPUT/runs and "
            "OUTPUT/models, and writes OUTPUT/table.md. Finished runs are skipped, so a "
            "killed reproduction resumes where it stopped; an OUTPUT with runs of other "
            "settings is refused."
        ),
    )
    parser.add_argument(
        "--problems", nargs="+", default=list(datasets.NAMES), choices=datasets.NAMES,
        metavar="PROBLEM", help=f"default: all of {' '.join(datasets.NAMES)}",
    )
    parser.add_argument(
        "--models", nargs="+", default=list(cli.MODELS), choices=cli.MODELS, metavar="MODEL",
        help=f"default: {' '.join(cli.MODELS)}",
    )
    parser.add_argument(
        "--gating-hidden-units", type=_non_negative_int_argument, default=HIDDEN_UNITS["rad"],
        help=f"width of RAD's gating networks (default {HIDDEN_UNITS['rad']}, the paper's; "
        "0: none, the gating logits only interpolate the boundary probabilities)",
    )
    add_protocol_arguments(parser, 50_000, "results/paper", "default results/paper")
    parser.set_defaults(run=functools.partial(_command, parser))


def add_protocol_arguments(parser, steps, output, output_help):
    """Adds the options shared by protocol commands, from `--steps` to `--verbose`.

    Args:
      parser: an `argparse` parser.
      steps: the default of `--steps`.
      output: the default of `--output`.
      output_help: the help of `--output`.
    """
    parser.add_argument("--steps", type=positive_int_argument, default=steps,
                        help=f"default {steps}")
    parser.add_argument(
        "--seeds", nargs="+", type=seed_argument, default=[0, 1, 2], metavar="SEED",
        help="default 0 1 2",
    )
    parser.add_argument("--output", default=output, help=output_help)
    parser.add_argument(
        "--learning-rate", type=_positive_float, default=cli.LEARNING_RATE,
        help=f"Adam's learning rate (default {cli.LEARNING_RATE}, as `train`)",
    )
    parser.add_argument(
        "--decay", default="cosine", choices=training.DECAYS,
        help="learning-rate schedule (default cosine, as `train`)",
    )
    parser.add_argument("--batch-size", type=positive_int_argument, default=500)
    parser.add_argument("--num-train", type=positive_int_argument, default=10_000)
    parser.add_argument("--num-test", type=positive_int_argument, default=10_000)
    parser.add_argument("--no-jit", action="store_true", help="train without XLA")
    parser.add_argument(
        "--table-only", action="store_true",
        help="only rewrite OUTPUT/table.md from the run JSONs",
    )
    parser.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])


def run_command(parser, args, run, write_table, **selection):
    """Runs a protocol command from its parsed `args`: the table only, or the runs.

    `run(output, seeds=..., steps=..., ..., **selection)` trains; `write_table(output)`
    rewrites the table. A `ReproduceError` becomes an argparse error (exit 2).
    """
    try:
        if args.table_only:
            write_table(args.output)
        else:
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
    except ReproduceError as error:
        parser.error(str(error))
    print(f"Wrote {os.path.join(args.output, _TABLE)}")
    return 0


def _command(parser, args):
    """Runs `tfp-rad reproduce`; a `ReproduceError` becomes an argparse error (exit 2)."""
    return run_command(
        parser, args, run, write_table, problems=args.problems, models=args.models,
        gating_hidden_units=args.gating_hidden_units,
    )


def _train(config, output, machine, jit_compile, verbose):
    """Trains and evaluates one run, then saves its model and its JSON; returns the record."""
    start = time.perf_counter()
    model, record = train_and_evaluate(
        config,
        lambda: cli.make_model(
            config["model"], 2, config["num_layers"], config["hidden_units"],
            gating_hidden_units=config.get("gating_hidden_units"),
        ),
        machine,
        jit_compile,
        verbose,
    )
    name = run_name(config["problem"], config["model"], config["seed"])
    write_atomically(os.path.join(output, "models", f"{name}.keras"), model.save)
    record["wall_seconds"] = time.perf_counter() - start
    write_record(output, record)
    return record


def train_and_evaluate(config, make_model, machine, jit_compile, verbose):
    """Trains `make_model()` as `config` says and evaluates it: `(model, record)`.

    The Keras session is cleared and seeded with `config["seed"]` first, the data are
    those of `cli.train_test_data`, training is `training.fit_steps`. The record holds
    the config, the parameter count, the train and test mean log-likelihoods and the true
    density's on the same points (`oracle_*`), the training time, `jit_compile` and the
    `machine`.
    """
    problem, seed = config["problem"], config["seed"]
    keras.backend.clear_session()  # Keras's advice for models built in a loop
    keras.utils.set_random_seed(seed)
    x_train, x_test = cli.train_test_data(problem, config["num_train"], config["num_test"], seed)
    model = make_model()
    _, train_seconds = training.fit_steps(
        model,
        x_train,
        config["steps"],
        batch_size=config["batch_size"],
        learning_rate=config["learning_rate"],
        decay=config["decay"],
        seed=seed,
        jit_compile=jit_compile,
        verbose=verbose,
    )
    record = {
        "config": config,
        "parameters": model.count_params(),
        "train_log_likelihood": training.mean_log_likelihood(model, x_train),
        "test_log_likelihood": training.mean_log_likelihood(model, x_test),
        "oracle_train_log_likelihood": datasets.oracle_log_likelihood(problem, x_train),
        "oracle_test_log_likelihood": datasets.oracle_log_likelihood(problem, x_test),
        "train_seconds": train_seconds,
        "jit_compile": jit_compile,
        "versions": machine,
    }
    return model, record


def write_record(output, record):
    """Writes a run's record, atomically, to its JSON in `<output>/runs` (`run_path`)."""
    write_text_atomically(run_path(output, record["config"]), json.dumps(record, indent=2) + "\n")


def _config(problem, model, seed, settings, gating_hidden_units):
    """The full configuration of one run of the protocol (a RAD run's has its gating width)."""
    config = {
        "problem": problem,
        "model": model,
        "seed": seed,
        "num_layers": NUM_LAYERS,
        "hidden_units": HIDDEN_UNITS[model],
        **settings,
    }
    if model == "rad":
        config["gating_hidden_units"] = gating_hidden_units
    return config


def run_path(output, config):
    """`<output>/runs/<run_name>.json`, the JSON of the run with `config`."""
    return os.path.join(
        output, "runs", run_name(config["problem"], config["model"], config["seed"]) + ".json"
    )


def _read_run(path, models, command):
    """Loads a run JSON, checking that it has a run's keys and is named after its run."""
    try:
        with open(path) as f:
            record = json.load(f)
    except (OSError, ValueError) as error:
        raise ReproduceError(f"Cannot read the run {path}: {error}.") from error
    record = record if isinstance(record, dict) else {}
    config = record.get("config") if isinstance(record.get("config"), dict) else {}
    missing = [key for key in ("config", *_RESULTS) if key not in record]
    missing += [
        f"config.{key}" for key in ("problem", "model", "seed", *SETTINGS) if key not in config
    ]
    if missing:
        raise ReproduceError(
            f"{path} is not a run of `{command}`: it lacks {', '.join(missing)}. "
            "Move it out of the runs directory."
        )
    name = run_name(config["problem"], config["model"], config["seed"])
    if (
        config["problem"] not in datasets.NAMES
        or config["model"] not in models
        or os.path.basename(path) != f"{name}.json"
    ):
        raise ReproduceError(
            f"{path} holds the run {name!r}, which does not match its file name or is not "
            "a problem and model of the protocol; move it out of the runs directory."
        )
    return record


def _check_protocol(path, record, settings, gating_hidden_units, reference):
    """Raises `ReproduceError` unless the run at `path` used `settings` and the protocol
    (with gating networks of `gating_hidden_units` units, if it is a RAD run)."""
    config = dict(record["config"])
    if config["model"] == "rad":
        config["gating_hidden_units"] = _gating_width(config)
    expected = _config(
        config["problem"], config["model"], config["seed"], settings, gating_hidden_units
    )
    check_config(path, config, expected, reference)


def _gating_width(config):
    """The gating width of a RAD run's `config`: runs written before the width was
    recorded had the paper's, that of their conditioners."""
    return config.get("gating_hidden_units", config["hidden_units"])


def _rad_widths(gating_hidden_units):
    """How a table's header gives the widths of RAD's conditioners and gatings."""
    paper = HIDDEN_UNITS["rad"]
    conditioners = f"{paper} hidden units in RAD's conditioners"
    if gating_hidden_units == paper:
        return f"{conditioners} and gatings"
    if gating_hidden_units == 0:
        return (
            f"{conditioners} and no gating networks (the gating logits only interpolate the "
            f"boundary probabilities; the paper's gatings have {paper} hidden units)"
        )
    return f"{conditioners} and {gating_hidden_units} in its gatings (the paper's have {paper})"


def check_config(path, config, expected, reference):
    """Raises `ReproduceError` unless the run at `path` has `expected` in its `config`.

    `reference` names where the expected values come from (another run, this invocation).
    """
    differences = [
        f"{key}={config.get(key)!r} where {reference} has {value!r}"
        for key, value in expected.items()
        if config.get(key) != value
    ]
    if differences:
        raise ReproduceError(
            f"{path} was made with {'; '.join(differences)}. An output directory holds the "
            "runs of one protocol: use another --output, or delete the runs that differ "
            "to redo them."
        )


def present(records, key, names):
    """The `names` that some record's `config[key]` has, in the order of `names`."""
    return [name for name in names if any(r["config"][key] == name for r in records)]


def _row(records, problem, split):
    """A table row: `split` ("test" or "train") log-likelihoods of one problem."""
    key = f"{split}_log_likelihood"
    runs = {
        (record["config"]["model"], record["config"]["seed"]): record
        for record in records
        if record["config"]["problem"] == problem
    }
    by_seed = {
        model: {seed: record[key] for (name, seed), record in runs.items() if name == model}
        for model in cli.MODELS
    }
    oracle = {seed: record[f"oracle_{key}"] for (_, seed), record in runs.items()}
    differences = [
        value - by_seed["real_nvp"][seed]
        for seed, value in by_seed["rad"].items()
        if seed in by_seed["real_nvp"]
    ]
    parameters = [
        next((str(r["parameters"]) for (name, _), r in runs.items() if name == model), "—")
        for model in cli.MODELS
    ]
    return [
        problem,
        mean_std(list(by_seed["rad"].values())),
        mean_std(list(by_seed["real_nvp"].values())),
        f"{np.mean(list(oracle.values())):.3f}",
        mean_std(differences),
        *parameters,
    ]


def mean_std(values):
    """`mean ± std (n=k)` with the sample std; `mean (n=1)` for one value; `—` for none."""
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.3f} (n=1)"
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f} (n={len(values)})"


def markdown_table(header, rows):
    """Markdown lines of a table; the columns after the first are right-aligned."""
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def unique_names(values, valid, what):
    """`values` as a list without repeats, or `ReproduceError` for none or an unknown one."""
    values = list(dict.fromkeys([values] if isinstance(values, str) else values))
    if not values:
        raise ReproduceError(f"No {what}s given: name at least one of {', '.join(valid)}.")
    for value in values:
        if value not in valid:
            raise ReproduceError(f"Unknown {what} {value!r}; valid {what}s are {', '.join(valid)}.")
    return values


def unique_seeds(seeds):
    """`seeds` as a list without repeats, or `ReproduceError` for none or a bad one."""
    seeds = list(dict.fromkeys(seeds))
    if not seeds:
        raise ReproduceError("No seeds given: give at least one, e.g. 0 1 2.")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not (
            0 <= seed <= MAX_SEED
        ):
            raise ReproduceError(f"Seeds must be integers in [0, {MAX_SEED}], got {seed!r}.")
    return [int(seed) for seed in seeds]


def write_atomically(path, write):
    """Calls `write` on a hidden partial file next to `path`, then renames it to `path`."""
    directory, name = os.path.split(path)
    stem, extension = os.path.splitext(name)
    partial = os.path.join(directory, f".{stem}{_PARTIAL}{extension}")
    write(partial)
    os.replace(partial, path)


def write_text_atomically(path, text):
    """Writes `text` to the file `path` whole (`write_atomically`)."""

    def write(partial):
        with open(partial, "w") as f:
            f.write(text)

    write_atomically(path, write)


def _remove_partials(directory):
    """Deletes the partial files that a killed invocation left in `directory`."""
    for name in os.listdir(directory):
        if name.startswith(".") and f"{_PARTIAL}." in name:
            os.remove(os.path.join(directory, name))


def positive_int_argument(text):
    """argparse type: a positive integer."""
    value = _parse(text, int, "an integer")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _non_negative_int_argument(text):
    """argparse type: an integer >= 0."""
    value = _parse(text, int, "an integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text}")
    return value


def _positive_float(text):
    """argparse type: a positive finite number."""
    value = _parse(text, float, "a number")
    if not (np.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def seed_argument(text):
    """argparse type: a seed, an integer in `[0, MAX_SEED]`."""
    value = _parse(text, int, "an integer")
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"seeds must be integers in [0, {MAX_SEED}], got {text}")
    return value


def _parse(text, kind, what):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
