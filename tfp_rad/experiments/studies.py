"""Studies beyond the paper, resumable like the paper protocol (`tfp-rad study`).

* `hybrid`: on every problem of `tfp_rad.datasets`, pure RAD (`RADFlow`, 6 layers of 8
  hidden units), pure Real NVP (`RealNVPFlow`, 6 layers) and a `HybridFlow` that
  alternates RAD and Real NVP layers (data side first: rad, real_nvp, rad, ...), at an
  equal parameter budget: the Real NVP conditioners' width is the one that brings each
  model's parameter count closest to RAD's (`matched_hidden_units`).
* `gating`: `RADFlow` (6 layers, conditioners of 8 hidden units) on two moons and the
  spiral with gating networks of 0 (none: `s(z) = 0`), 2, 8 and 32 hidden units.

A run is one (problem, model, seed): trained with `training.fit_steps` on the data of
`datasets.train_test_data` (by default 10,000 Adam steps of batch 500 at learning rate 5e-3 with
cosine decay, 10,000 training and 10,000 fresh test points) and written as
`<output>/runs/<problem>-<model>-seed<k>.json` (`run_store`, as the paper protocol writes
its runs, without the models), then `<output>/table.md` is rewritten from the JSONs: the command,
the machines, each model's architecture and parameter count, and the test and train
log-likelihoods as mean ± std over seeds (n seeds) next to the true density's. A killed
study resumes where it stopped; an output directory of other settings is refused.
"""

import functools
import os
import shlex
import time
from typing import Callable, NamedTuple

import numpy as np

from tfp_rad import catalog
from tfp_rad.experiments import protocol, run_store, tables

STEPS = 10_000
NUM_LAYERS = 6
RAD_HIDDEN_UNITS = 8
GATING_HIDDEN_UNITS = (0, 2, 8, 32)
PAPER_STEPS = 50_000  # those of `tfp-rad reproduce`


class Model(NamedTuple):
    """A model of a study.

    `name` names its runs' files; `label` heads its table column; `architecture` is
    `{"class": <a class of tfp_rad.models>, **its keyword arguments}` (`build_model`).
    """

    name: str
    label: str
    architecture: dict


class Study(NamedTuple):
    """A study: its models (a function, as some are sized by building others) and problems."""

    name: str
    title: str
    description: str
    problems: tuple
    models: Callable


def build_model(architecture):
    """The 2-D model of `architecture`: `models.<class>(2, **keyword arguments)`."""
    from tfp_rad import models

    keywords = dict(architecture)
    return getattr(models, keywords.pop("class"))(2, **keywords)


def matched_hidden_units(architecture_of, target):
    """The width `h >= 1` whose model's parameter count is closest to `target`.

    `architecture_of(h)` is an architecture whose parameter count `P(h)` increases with
    `h`; the result minimizes `|P(h) - target|` (the smaller `h` on a tie). `P` is found by
    building models: doubling `h` until `P(h) >= target`, then bisecting.
    """

    @functools.cache
    def count(h):
        return build_model(architecture_of(h)).count_params()

    high = 1
    while count(high) < target:
        high *= 2
    low = high // 2  # P(low) < target <= P(high), or high == 1
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if count(middle) < target else (low, middle)
    if low == 0 or abs(count(high) - target) < abs(count(low) - target):
        return high
    return low


def _rad_architecture(gating_hidden_units=None):
    architecture = {"class": "RADFlow", "num_layers": NUM_LAYERS, "hidden_units": RAD_HIDDEN_UNITS}
    if gating_hidden_units is not None:
        architecture["gating_hidden_units"] = gating_hidden_units
    return architecture


@functools.cache
def _hybrid_models():
    rad = _rad_architecture()
    target = build_model(rad).count_params()

    def real_nvp(h):
        return {"class": "RealNVPFlow", "num_layers": NUM_LAYERS, "hidden_units": h}

    def hybrid(h):
        return {
            "class": "HybridFlow",
            "layers": ["rad", "real_nvp"] * (NUM_LAYERS // 2),
            "rad_hidden_units": RAD_HIDDEN_UNITS,
            "real_nvp_hidden_units": h,
        }

    return (
        Model("rad", "RAD", rad),
        Model("real_nvp", "Real NVP", real_nvp(matched_hidden_units(real_nvp, target))),
        Model("hybrid", "hybrid", hybrid(matched_hidden_units(hybrid, target))),
    )


def _gating_models():
    return tuple(
        Model(f"gating{g}", f"gating {g}" + (" (none)" if g == 0 else ""), _rad_architecture(g))
        for g in GATING_HIDDEN_UNITS
    )


STUDIES = {
    "hybrid": Study(
        "hybrid",
        "Hybrid stacks: RAD, Real NVP and RAD/Real NVP at an equal parameter budget",
        f"{NUM_LAYERS} layers each on a standard normal base. RAD: `RADFlow`, conditioners "
        f"and gatings of {RAD_HIDDEN_UNITS} hidden units. Real NVP: `RealNVPFlow` (TFP's "
        "`tfb.RealNVP`). Hybrid: `HybridFlow`, RAD and Real NVP layers alternating from the "
        "data side (rad, real_nvp, rad, ...), the RAD layers as in RAD. The Real NVP "
        "conditioners' width is chosen to bring each model's parameter count closest to "
        "RAD's.",
        catalog.PROBLEMS,
        _hybrid_models,
    ),
    "gating": Study(
        "gating",
        "Gating capacity: RAD with gating networks of 0 to 32 hidden units",
        f"`RADFlow`, {NUM_LAYERS} layers on a standard normal base, conditioners of "
        f"{RAD_HIDDEN_UNITS} hidden units; gating networks `s(z)` of "
        f"{', '.join(map(str, GATING_HIDDEN_UNITS))} hidden units. Gating 0 has no gating "
        "network (`s = 0`): inside [-1, 1] the gating is then only the interpolation "
        "between the boundary probabilities q+ and q- that fix the fold's slopes.",
        ("two_moons", "spiral"),
        _gating_models,
    ),
}


def default_output(study):
    """`results/beyond/<study>`."""
    return os.path.join("results", "beyond", study)


def run(
    study,
    output=None,
    problems=None,
    models=None,
    seeds=(0, 1, 2),
    steps=STEPS,
    jit_compile=True,
    verbose=1,
    **training_settings,
):
    """Trains the study's unfinished runs one by one, keeping `<output>/table.md` current.

    Runs go seed by seed, then problem by problem, then model by model; runs whose JSON
    is in `<output>/runs` are skipped.

    Args:
      study: `"hybrid"` or `"gating"`.
      output: the output directory; None means `default_output(study)`.
      problems: names from `catalog.PROBLEMS`; None means the study's.
      models: names of the study's models; None means all of them.
      seeds: non-empty integers in `[0, protocol.MAX_SEED]`.
      steps: Adam steps per run (`training.fit_steps`).
      jit_compile: train with XLA.
      verbose: 0 silent, 1 or 2 for Keras progress bars.
      **training_settings: `batch_size`, `learning_rate`, `decay`, `num_train`, `num_test`, as
        in `paper.run` and with its defaults.

    Returns:
      The names of the runs this call trained, in order.

    Raises:
      ValueError: for bad sizes or learning rate; `run_store.RunStoreError` (a
        `ValueError`) for an unknown study, problem or model, bad seeds, or an output
        directory with runs of other settings. Nothing is trained or written then.
      TypeError: for another keyword argument.
    """
    study = _study(study)
    output = output or default_output(study.name)
    default_problems = study.problems if problems is None else problems
    problems = protocol.unique_names(default_problems, catalog.PROBLEMS, "problem")
    chosen = _models(study, models)
    seeds = protocol.unique_seeds(seeds)
    settings = protocol.protocol_settings(steps, **training_settings)
    for path, record in _load_runs(study, output).items():
        _check(study, path, record["config"], settings, "this invocation")
    run_store.prepare_directories(output, "runs")
    plan = [
        _config(study, problem, model, seed, settings)
        for seed in seeds
        for problem in problems
        for model in chosen
    ]
    return run_store.train_pending(
        output,
        plan,
        lambda config, machine: _train(config, output, machine, jit_compile, verbose),
        functools.partial(write_table, study.name),
        f"tfp-rad study {study.name}",
        verbose,
    )


def write_table(study, output=None):
    """Writes `<output>/table.md` from the study's run JSONs alone; returns its path.

    Raises:
      run_store.RunStoreError: when there are no finished runs, or they are not of one
        protocol.
    """
    study = _study(study)
    output = output or default_output(study.name)
    records = list(_load_runs(study, output).values())
    if not records:
        raise run_store.RunStoreError(
            f"No finished runs in {os.path.join(output, 'runs')}: nothing to tabulate. "
            f"Run `tfp-rad study {study.name}` first."
        )
    path = os.path.join(output, tables.TABLE_FILE)
    run_store.write_text_atomically(path, _format_table(study, records, output))
    return path


def _format_table(study, records, output):
    """The markdown of a study's `table.md` for its run records from `output`.

    A header (the command that reproduces the table, the machines, the training), a table
    of the models (architecture, parameters, mean training time), then one table of test
    and one of train log-likelihoods with a row per problem: each model's mean ± sample
    std over seeds (n seeds), and the true density's log-likelihood on the same points
    (the oracle, mean over seeds; every model of a seed sees the same data).
    """
    settings = {key: records[0]["config"][key] for key in protocol.SETTINGS}
    reference = run_store.run_path(output, records[0]["config"])
    for record in records[1:]:
        path = run_store.run_path(output, record["config"])
        _check(study, path, record["config"], settings, reference)
    names = [model.name for model in study.models()]
    problems = tables.present(records, "problem", catalog.PROBLEMS)
    present = [m for m in study.models() if m.name in tables.present(records, "model", names)]
    seeds = sorted({record["config"]["seed"] for record in records})
    command = ["tfp-rad", "study", study.name, "--problems", *problems]
    command += ["--models", *(m.name for m in present), "--steps", str(settings["steps"])]
    command += ["--seeds", *map(str, seeds), "--output", output]
    command += protocol.settings_arguments(settings)
    lines = [
        f"# {study.title}",
        "",
        study.description,
        "",
        f"- Command: `{shlex.join(command)}`",
        *(f"- Machine: {machine}" for machine in tables.machines(records)),
        f"- Steps: {protocol.steps_description(settings)} The paper protocol "
        f"(`tfp-rad reproduce`, `results/paper/`) trains for {PAPER_STEPS} steps.",
        "",
        "## Models",
        "",
    ]
    lines += tables.markdown_table(
        ["model", "architecture", "parameters", "training seconds per run (mean)"],
        [_model_row(model, records) for model in present],
    )
    lines += ["", f"{tables.LOG_LIKELIHOOD_NOTE} Higher is better."]
    lines += tables.log_likelihood_tables(
        ["problem", *(m.label for m in present), "oracle"],
        lambda split: [_row(records, problem, present, split) for problem in problems],
    )
    return "\n".join(lines) + "\n"


def _model_row(model, records):
    """A row of the models table: name, architecture, parameters, mean training time."""
    runs = [r for r in records if r["config"]["model"] == model.name]
    arguments = ", ".join(f"{k}={v!r}" for k, v in model.architecture.items() if k != "class")
    counts = sorted({r["parameters"] for r in runs})
    return [
        model.label,
        f"`{model.architecture['class']}({arguments})`",
        ", ".join(map(str, counts)),
        f"{np.mean([r['train_seconds'] for r in runs]):.0f}",
    ]


def _row(records, problem, present, split):
    """A row of log-likelihoods of `split` ("test" or "train") for one problem."""
    key = f"{split}_log_likelihood"
    runs = [r for r in records if r["config"]["problem"] == problem]
    oracle = {r["config"]["seed"]: r[f"oracle_{key}"] for r in runs}
    return [
        problem,
        *(
            tables.mean_std([r[key] for r in runs if r["config"]["model"] == model.name])
            for model in present
        ),
        f"{np.mean(list(oracle.values())):.3f}",
    ]


def _study(study):
    if isinstance(study, Study):
        return study
    if study not in STUDIES:
        raise run_store.RunStoreError(
            f"Unknown study {study!r}; the studies are {', '.join(sorted(STUDIES))}."
        )
    return STUDIES[study]


def _models(study, names):
    """The study's models named in `names` (all for None), in the study's order."""
    everything = study.models()
    valid = [model.name for model in everything]
    chosen = protocol.unique_names(valid if names is None else names, valid, "model")
    return [model for model in everything if model.name in chosen]


def _load_runs(study, output):
    names = [model.name for model in study.models()]
    return run_store.load_runs(
        output, catalog.PROBLEMS, names, f"tfp-rad study {study.name}",
        required=protocol.RESULTS,
        required_config=protocol.SETTINGS,
    )


def _config(study, problem, model, seed, settings):
    """The full configuration of one run of a study."""
    return {
        "study": study.name,
        "problem": problem,
        "model": model.name,
        "seed": seed,
        "architecture": model.architecture,
        **settings,
    }


def _check(study, path, config, settings, reference):
    """Raises `RunStoreError` unless the run at `path` is of this study and `settings`."""
    model = next(m for m in study.models() if m.name == config["model"])
    expected = _config(study, config["problem"], model, config["seed"], settings)
    run_store.check_config(path, config, expected, reference)


def _train(config, output, machine, jit_compile, verbose):
    """Trains and evaluates one run, then writes its JSON; returns the record."""
    start = time.perf_counter()
    _, record = protocol.train_and_evaluate(
        config, lambda: build_model(config["architecture"]), machine, jit_compile, verbose
    )
    record["wall_seconds"] = time.perf_counter() - start
    run_store.write_record(output, record)
    return record
