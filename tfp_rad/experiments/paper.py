"""The paper's comparison of RAD and Real NVP, resumable (`tfp-rad reproduce`).

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
Seed `k` draws its data as `tfp-rad train --seed k` does (`datasets.train_test_data`).

The output directory holds

* `runs/<problem>-<model>-seed<k>.json`, one per finished run: its `config`, the train
  and test log-likelihoods, the true density's on the same points (`oracle_*`), the
  parameter count, the wall times and `versions()`;
* `models/<problem>-<model>-seed<k>.keras`, the trained model
  (`keras.saving.load_model`);
* `table.md`, the results, built from the JSON files alone (`write_table`,
  `tfp-rad reproduce --table-only`).

Resuming is that of `run_store`: a run writes its model, then its JSON, each whole;
finished runs are skipped. An output directory holds one protocol: if a JSON there was
made with other settings (steps, batch size, learning rate or schedule, data sizes or
architecture, RAD's gating width included), `run` refuses to start and names the file and
the settings that differ, rather than mix or overwrite results.
"""

import os
import shlex
import time

import numpy as np

from tfp_rad import catalog, validation
from tfp_rad.experiments import protocol, run_store, tables

NUM_LAYERS = 6
HIDDEN_UNITS = {"rad": 8, "real_nvp": 56}


def run(
    output="results/paper",
    problems=catalog.PROBLEMS,
    models=catalog.MODEL_KINDS,
    seeds=(0, 1, 2),
    steps=50_000,
    batch_size=500,
    learning_rate=catalog.LEARNING_RATE,
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
      problems: names from `catalog.PROBLEMS`.
      models: names from `catalog.MODEL_KINDS` (`"rad"`, `"real_nvp"`).
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
        `run_store.RunStoreError` (a `ValueError`) for unknown or no problems or models, bad or no
        seeds, or an output directory with runs of another protocol or unreadable run
        files. Nothing is trained or written then.
    """
    problems = protocol.unique_names(problems, catalog.PROBLEMS, "problem")
    models = protocol.unique_names(models, catalog.MODEL_KINDS, "model")
    seeds = protocol.unique_seeds(seeds)
    settings = protocol.protocol_settings(steps, batch_size, learning_rate, decay, num_train, num_test)
    gating = validation.non_negative_int(gating_hidden_units, "gating_hidden_units")
    for path, record in _load_runs(output).items():
        _check_protocol(path, record, settings, gating, "this invocation")
    run_store.prepare_directories(output, "runs", "models")
    plan = [
        _config(problem, model, seed, settings, gating)
        for seed in seeds
        for problem in problems
        for model in models
    ]
    return run_store.train_pending(
        output,
        plan,
        lambda config, machine: _train(config, output, machine, jit_compile, verbose),
        write_table,
        "tfp-rad reproduce",
        verbose,
    )


def write_table(output):
    """Writes `<output>/table.md` from the run JSONs alone and returns its path.

    Raises:
      RunStoreError: when there are no finished runs, or they are not of one protocol.
    """
    records = list(_load_runs(output).values())
    if not records:
        raise run_store.RunStoreError(
            f"No finished runs in {os.path.join(output, 'runs')}: nothing to tabulate. "
            "Run `tfp-rad reproduce` first."
        )
    text = _format_table(records, output)
    path = os.path.join(output, tables.TABLE_FILE)
    run_store.write_text_atomically(path, text)
    return path


def _format_table(records, output):
    """The markdown of `table.md` for run records (as in the JSON files) from `output`.

    A header (the command that reproduces the table, the machines, the steps), then a table
    of test and one of train log-likelihoods with a row per problem: each model's mean ±
    sample std over seeds (n seeds), the true density's log-likelihood on the same points
    (the oracle, mean over seeds), RAD minus Real NVP (mean ± std of the per-seed
    differences: the two models of a seed see the same data) and both parameter counts.
    """
    settings = {key: records[0]["config"][key] for key in protocol.SETTINGS}
    rad = [record for record in records if record["config"]["model"] == "rad"]
    gating = _gating_width(rad[0]["config"]) if rad else HIDDEN_UNITS["rad"]
    reference = run_store.run_path(output, (rad or records)[0]["config"])
    for record in records:
        _check_protocol(run_store.run_path(output, record["config"]), record, settings, gating, reference)
    problems = tables.present(records, "problem", catalog.PROBLEMS)
    seeds = sorted({record["config"]["seed"] for record in records})
    command = ["tfp-rad", "reproduce", "--problems", *problems]
    command += ["--models", *tables.present(records, "model", catalog.MODEL_KINDS)]
    command += ["--steps", str(settings["steps"])]
    command += ["--seeds", *map(str, seeds), "--output", output, *protocol.settings_arguments(settings)]
    command += ["--gating-hidden-units", str(gating)]
    lines = [
        "# RAD vs Real NVP on the paper's 2-D problems",
        "",
        "Protocol of rad-math §6 (Dinh et al., \"A RAD approach to deep mixture models\", "
        f"§4.1): {NUM_LAYERS} coupling layers, {_rad_widths(gating)}, "
        f"{HIDDEN_UNITS['real_nvp']} in Real NVP's, standard normal base.",
        "",
        f"- Command: `{shlex.join(command)}`",
        *(f"- Machine: {machine}" for machine in tables.machines(records)),
        f"- Steps: {protocol.steps_description(settings)}",
        "",
        f"{tables.LOG_LIKELIHOOD_NOTE} RAD − Real NVP: mean ± std of the per-seed differences.",
    ]
    lines += tables.log_likelihood_tables(
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


def _train(config, output, machine, jit_compile, verbose):
    """Trains and evaluates one run, then saves its model and its JSON; returns the record."""
    from tfp_rad.models import make_flow

    start = time.perf_counter()
    model, record = protocol.train_and_evaluate(
        config,
        lambda: make_flow(
            config["model"], 2, config["num_layers"], config["hidden_units"],
            gating_hidden_units=config.get("gating_hidden_units"),
        ),
        machine,
        jit_compile,
        verbose,
    )
    name = run_store.run_name(config["problem"], config["model"], config["seed"])
    run_store.write_atomically(os.path.join(output, "models", f"{name}.keras"), model.save)
    record["wall_seconds"] = time.perf_counter() - start
    run_store.write_record(output, record)
    return record


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


def _check_protocol(path, record, settings, gating_hidden_units, reference):
    """Raises `RunStoreError` unless the run at `path` used `settings` and the protocol
    (with gating networks of `gating_hidden_units` units, if it is a RAD run)."""
    config = dict(record["config"])
    if config["model"] == "rad":
        config["gating_hidden_units"] = _gating_width(config)
    expected = _config(
        config["problem"], config["model"], config["seed"], settings, gating_hidden_units
    )
    run_store.check_config(path, config, expected, reference)


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
        for model in catalog.MODEL_KINDS
    }
    oracle = {seed: record[f"oracle_{key}"] for (_, seed), record in runs.items()}
    differences = [
        value - by_seed["real_nvp"][seed]
        for seed, value in by_seed["rad"].items()
        if seed in by_seed["real_nvp"]
    ]
    parameters = [
        next((str(r["parameters"]) for (name, _), r in runs.items() if name == model), "—")
        for model in catalog.MODEL_KINDS
    ]
    return [
        problem,
        tables.mean_std(list(by_seed["rad"].values())),
        tables.mean_std(list(by_seed["real_nvp"].values())),
        f"{np.mean(list(oracle.values())):.3f}",
        tables.mean_std(differences),
        *parameters,
    ]


def _load_runs(output):
    """The paper protocol's finished runs in `output` (`run_store.load_runs`)."""
    return run_store.load_runs(
        output, catalog.PROBLEMS, catalog.MODEL_KINDS, "tfp-rad reproduce",
        required=protocol.RESULTS, required_config=protocol.SETTINGS,
    )
