"""RAD against Real NVP at equal parameter count and at RAD's cost, 16 and 64 dimensions.

`tfp-rad highdim`. On each problem of `tfp_rad.high_dimensional`, for each seed, a
`RADFlow` (`rad`), a `RADFlow(gating_hidden_units=0)` (`rad_nogating`: no gating network,
`s(z) = 0`, its conditioners wider for the same count) and a `RealNVPFlow` (`real_nvp`: 6
coupling layers alternating halves) whose parameter counts agree within 3 %; a
`RADFlow` with 4 wider layers (`rad_4_layers`, RAD's count within 5 %: a cheaper step);
and two larger Real NVPs that cost at least what RAD's step costs: `real_nvp_wide` (6
layers, about 4 times RAD's parameters) and `real_nvp_deep` (12 layers of `real_nvp`'s
width, about twice). All are `standardize=True`, adapted on the training points, trained with
`training.fit_steps`: Adam with cosine decay, early stopping on a validation split (the
weights of the best validation epoch are kept), then scored on held-out test points.
The classical baselines of `tfp_rad.baselines` (a full-covariance Gaussian, a Gaussian
mixture and a kernel density, their settings chosen on the validation points) are fitted
to the same training points of each (problem, seed) and scored on the same test points.

| problem     | d  | train / validation / test | RAD units (4 layers) | no-gating units | Real NVP units (wide, deep) | batch | lr   | steps (max) | epoch | patience |
|-------------|----|---------------------------|----------------------|-----------------|-----------------------------|-------|------|-------------|-------|----------|
| `mixture16` | 16 | 9,000 / 1,000 / 10,000    | 16 (24)              | 24              | 87 (350, 87)                | 500   | 5e-3 | 10,000      | 250   | 4        |
| `digits`    | 64 | 1,350 / 150 / 297         | 8 (12)               | 12              | 47 (188, 47)                | 100   | 1e-3 | 3,000       | 50    | 6        |

Seed `k` draws the mixture's training points with data seed `2k + 1` and its test points
with `2k + 2`; the digits' split and dequantization noise come from `digits(seed=k)`. The
validation points are the last 10 % of the training points. Reported: mean
log-likelihood (nats per point) of the training, validation and test points, the oracle's
on the test points (mixture), bits per dimension of the test digits, the steps run, the
parameter counts. One JSON per run in `<output>/runs/` and one per (problem, seed) of
baselines in `<output>/baselines/` (each skipped when it exists, so a killed invocation
resumes), then `<output>/table.md`.
"""

import functools
import json
import math
import os
import time

import numpy as np

from tfp_rad.experiments import protocol, run_store, tables

PROBLEMS = ("mixture16", "digits")
EQUAL_COUNT_MODELS = ("rad", "rad_nogating", "real_nvp")
SHALLOW_MODELS = ("rad_4_layers",)  # RAD's count in fewer, wider layers: a cheaper step
LARGER_MODELS = ("real_nvp_wide", "real_nvp_deep")  # Real NVP given RAD's cost
MODELS = EQUAL_COUNT_MODELS + SHALLOW_MODELS + LARGER_MODELS
RAD_MODELS = ("rad", "rad_nogating")
MODEL_NAMES = {"rad": "RAD", "rad_nogating": "RAD no gating", "real_nvp": "Real NVP",
               "rad_4_layers": "RAD 4 layers",
               "real_nvp_wide": "Real NVP wide", "real_nvp_deep": "Real NVP deep"}
BASELINES = ("gaussian", "gaussian_mixture", "kde")  # the names of `tfp_rad.baselines`
BASELINE_NAMES = {"gaussian": "Gaussian", "gaussian_mixture": "Gaussian mixture",
                  "kde": "KDE"}
HIDDEN_UNITS = {"mixture16": {"rad": 16, "rad_nogating": 24, "real_nvp": 87, "rad_4_layers": 24,
                              "real_nvp_wide": 350, "real_nvp_deep": 87},
                "digits": {"rad": 8, "rad_nogating": 12, "real_nvp": 47, "rad_4_layers": 12,
                           "real_nvp_wide": 188, "real_nvp_deep": 47}}
SETTINGS = {
    "mixture16": {"batch_size": 500, "learning_rate": 5e-3, "steps": 10_000,
                  "steps_per_epoch": 250, "patience": 4},
    "digits": {"batch_size": 100, "learning_rate": 1e-3, "steps": 3_000,
               "steps_per_epoch": 50, "patience": 6},
}
NUM_LAYERS = {"rad_4_layers": 4, "real_nvp_deep": 12}  # the others: 6
VALIDATION_FRACTION = 0.1
DEFAULT_OUTPUT = os.path.join("results", "beyond", "highdim")


def problem_data(problem, seed):
    """`(train, validation, test, event_size)` of a problem for seed `seed` (float32)."""
    from tfp_rad import high_dimensional

    if problem == "mixture16":
        train = high_dimensional.load_mixture16(10_000, seed=2 * seed + 1)
        test = high_dimensional.load_mixture16(10_000, seed=2 * seed + 2)
    elif problem == "digits":
        train, test = high_dimensional.digits(seed)
    else:
        raise ValueError(f"Unknown problem {problem!r}; valid problems are {PROBLEMS}.")
    split = len(train) - int(round(VALIDATION_FRACTION * len(train)))
    return train[:split], train[split:], test, train.shape[1]


def make_model(problem, model, event_size):
    """The `standardize=True` flow of `model`, its width `HIDDEN_UNITS`, depth `num_layers`."""
    from tfp_rad.models import RADFlow, RealNVPFlow

    kind = {"rad": RADFlow, "rad_nogating": functools.partial(RADFlow, gating_hidden_units=0),
            "rad_4_layers": RADFlow, "real_nvp": RealNVPFlow, "real_nvp_wide": RealNVPFlow,
            "real_nvp_deep": RealNVPFlow}[model]
    return kind(event_size, num_layers=num_layers(model),
                hidden_units=HIDDEN_UNITS[problem][model], standardize=True)


def num_layers(model):
    """The number of coupling layers of `model`: 6, 4 for `rad_4_layers`, 12 for `real_nvp_deep`."""
    return NUM_LAYERS.get(model, 6)


def train_one(problem, model_name, seed, steps=None, verbose=0):
    """Trains and scores one run (at most `steps` steps; default the problem's); its record."""
    import keras

    from tfp_rad import high_dimensional, training
    from tfp_rad.versions import versions

    train, validation, test, event_size = problem_data(problem, seed)
    settings = dict(SETTINGS[problem])
    if steps is not None:
        settings["steps"] = steps
        # Keras runs whole epochs: the epoch length must divide the steps.
        settings["steps_per_epoch"] = math.gcd(settings["steps_per_epoch"], steps)
    keras.utils.set_random_seed(seed)
    model = make_model(problem, model_name, event_size)
    model.adapt(train)
    start = time.perf_counter()
    training.fit_steps(
        model, train, settings["steps"], batch_size=settings["batch_size"],
        learning_rate=settings["learning_rate"], seed=seed,
        steps_per_epoch=settings["steps_per_epoch"], verbose=verbose,
        validation_data=validation, early_stopping_patience=settings["patience"],
    )
    seconds = time.perf_counter() - start
    test_points = training.log_likelihoods(model, test)
    record = {
        "config": {"problem": problem, "model": model_name, "seed": seed,
                   "hidden_units": HIDDEN_UNITS[problem][model_name],
                   "num_layers": num_layers(model_name), **settings},
        "event_size": event_size,
        "parameters": model.count_params(),
        "steps_run": int(model.optimizer.iterations.numpy()),
        "train_log_likelihood": training.mean_log_likelihood(model, train),
        "validation_log_likelihood": training.mean_log_likelihood(model, validation),
        "test_log_likelihood": float(np.mean(test_points)),
        "test_log_likelihood_median": float(np.median(test_points)),
        "test_log_likelihood_lowest": float(np.min(test_points)),
        "wall_seconds": seconds,
        "versions": versions(),
    }
    if problem == "mixture16":
        record["oracle_test_log_likelihood"] = high_dimensional.mixture16_oracle_log_likelihood(
            test)
    else:
        record["test_bits_per_dim"] = high_dimensional.bits_per_dim(
            record["test_log_likelihood"])
    return record


def baselines_path(output, problem, seed):
    """`<output>/baselines/<problem>-seed<k>.json`, the baselines' record of a split."""
    return os.path.join(output, "baselines", f"{problem}-seed{seed}.json")


def fit_baselines(problem, seed):
    """The baselines' record of one split: `tfp_rad.baselines.fit_baselines` on it.

    Fitted to the training points, settings chosen on the validation points, scored on
    the test points of `problem_data(problem, seed)` (the flows' split), with `seed` as
    the mixtures' `random_state`. Returns `{"problem", "seed", "results": {name:
    BaselineResult as a dict}, "wall_seconds", "versions"}`.
    """
    from tfp_rad import baselines
    from tfp_rad.versions import versions

    train, validation, test, _ = problem_data(problem, seed)
    start = time.perf_counter()
    results = baselines.fit_baselines(train, validation, test, seed=seed)
    return {"problem": problem, "seed": seed,
            "results": {r.name: r.as_dict() for r in results},
            "wall_seconds": time.perf_counter() - start, "versions": versions()}


def run(output=DEFAULT_OUTPUT, problems=PROBLEMS, seeds=(0, 1, 2), steps=None, command=None,
        verbose=0, models=MODELS):
    """Runs every missing (problem, model, seed) and rewrites the table; returns its path.

    `models` are names of `MODELS` (default all). `steps` (a smoke test's) replaces every
    problem's maximum number of steps; the runs record their settings, so a table never
    silently mixes runs of other settings: runs of another `steps` in `output` raise
    `RunStoreError`. `verbose` is Keras's, per run; the progress over runs is always
    shown (`run_store.train_pending`).

    Raises:
      RunStoreError (a `ValueError`): for no or an unknown problem or model name, a bad
        seed, or runs of another `steps` in `output`.
    """
    problems = protocol.unique_names(problems, PROBLEMS, "problem")
    models = protocol.unique_names(models, MODELS, "model")
    seeds = protocol.unique_seeds(seeds)
    plan = [
        {"problem": p, "model": m, "seed": s, "batch_size": SETTINGS[p]["batch_size"],
         "steps": SETTINGS[p]["steps"] if steps is None else steps}
        for p in problems for s in seeds for m in models
    ]
    for config in plan:
        _check_steps(run_store.run_path(output, config), config)
    run_store.prepare_directories(output, "runs", "baselines")
    for problem in problems:
        for seed in seeds:
            path = baselines_path(output, problem, seed)
            if not os.path.exists(path):
                print(f"{problem} seed {seed}: fitting the baselines "
                      f"({', '.join(BASELINE_NAMES.values())})", flush=True)
                record = fit_baselines(problem, seed)
                run_store.write_text_atomically(path, json.dumps(record, indent=2) + "\n")

    def train(config, machine):
        import keras

        del machine  # each record holds `versions()`
        record = train_one(config["problem"], config["model"], config["seed"],
                           config["steps"], verbose)
        run_store.write_record(output, record)
        keras.backend.clear_session()
        return record

    run_store.train_pending(
        output, plan, train, lambda out: write_table(out, command), "tfp-rad highdim", 1)
    return os.path.join(output, tables.TABLE_FILE)


def _check_steps(path, config):
    """Raises `RunStoreError` if the run at `path` exists with other steps than `config`'s."""
    if not os.path.exists(path):
        return
    with open(path) as f:
        recorded = json.load(f)["config"]["steps"]
    if recorded != config["steps"]:
        raise run_store.RunStoreError(
            f"{path} is a run of {recorded} steps, this invocation asks for "
            f"{config['steps']}: use another --output, or delete that run to redo it.")


def _load(output):
    """The finished runs' records in `output` (`run_store.load_runs`)."""
    return list(run_store.load_runs(
        output, PROBLEMS, MODELS, "tfp-rad highdim",
        required=("parameters", "steps_run", "test_log_likelihood", "test_log_likelihood_median",
                  "test_log_likelihood_lowest", "wall_seconds", "versions"),
    ).values())


def write_table(output=DEFAULT_OUTPUT, command=None):
    """Writes `<output>/table.md` from the run and baselines JSONs; returns its path."""
    records = _load(output)
    baseline_records = _load_baselines(output)
    lines = [
        "# RAD vs Real NVP beyond 2-D: a 16-D Gaussian mixture and 64-D digits",
        "",
        "Settings: `tfp_rad/experiments/highdim.py` (its docstring). Both models "
        "`standardize=True`, early stopping on a 10 % validation split (best validation "
        "epoch kept). Log-likelihoods in nats per point in the data's units, mean ± sample "
        "std over seeds; RAD − Real NVP: mean ± std of the per-seed differences on the same "
        "test points. RAD no gating: `RADFlow(gating_hidden_units=0)`, wider. Bits per "
        "dimension: of the 17-level pixels (dequantization bound).",
        "",
        f"- Command: `{command or 'tfp-rad highdim --output ' + output}`",
        *[f"- Machine: {m}" for m in tables.machines(records)],
        "- Wall time per run (s, on a machine shared with other work): "
        + ", ".join(f"{r['config']['problem']}/{r['config']['model']}/seed{r['config']['seed']}"
                    f" {r['wall_seconds']:.0f}" for r in records),
        "",
        *_equal_count_lines(records),
        *_cost_lines(records),
        *_spread_lines(records),
        *_baselines_lines(records, baseline_records),
    ]
    path = os.path.join(output, tables.TABLE_FILE)
    run_store.write_text_atomically(path, "\n".join(lines))
    return path


def _equal_count_lines(records):
    """The markdown lines of the table of the equal-count models with runs (none without).

    A column per such model, a row per problem with runs of them: test log-likelihoods,
    each RAD model's minus Real NVP's (per seed; when both have runs), the oracle's (per
    seed, on the test points that every model of the seed shares), bits per dimension,
    parameter counts and steps run; `—` where a model has no runs on the problem.
    """
    models = tables.present(records, "model", EQUAL_COUNT_MODELS)
    if not models:
        return []
    differenced = [m for m in RAD_MODELS if m in models and "real_nvp" in models]
    rows = []
    for problem in PROBLEMS:
        by_model = _by_model(records, problem, models)
        if not any(by_model.values()):
            continue

        def column(key):
            return [tables.mean_std([r[key] for r in by_model[m] if key in r]) for m in models]

        def joined(cells):
            """`cells(runs)` of each model, joined; `—` for a model without runs."""
            return " / ".join(", ".join(cells(by_model[m])) or "—" for m in models)

        oracle = {r["config"]["seed"]: r["oracle_test_log_likelihood"]
                  for runs in by_model.values() for r in runs
                  if "oracle_test_log_likelihood" in r}
        rows.append([
            problem,
            *column("test_log_likelihood"),
            *(tables.mean_std(_paired_differences(by_model, m)) for m in differenced),
            tables.mean_std([oracle[seed] for seed in sorted(oracle)]),
            *column("test_bits_per_dim"),
            joined(lambda runs: sorted({str(r["parameters"]) for r in runs})),
            joined(lambda runs: [str(r["steps_run"]) for r in runs]),
        ])
    names = [MODEL_NAMES[m] for m in models]
    header = ["problem", *(f"{n} test LL" for n in names),
              *(f"{MODEL_NAMES[m]} − Real NVP" for m in differenced), "oracle test LL",
              *(f"{n} bits/dim" for n in names), "parameters " + " / ".join(names),
              "steps run (per seed) " + " / ".join(names)]
    return [*tables.markdown_table(header, rows), ""]


def _by_model(records, problem, models):
    """`{model: [its runs' records on problem]}` for each of `models`, in that order."""
    return {m: [r for r in records if r["config"]["problem"] == problem
                and r["config"]["model"] == m] for m in models}


def _paired_differences(by_model, model, reference="real_nvp"):
    """Per seed, `model`'s test log-likelihood minus `reference`'s on the same test points."""
    tested = {r["config"]["seed"]: r["test_log_likelihood"] for r in by_model[model]}
    other = {r["config"]["seed"]: r["test_log_likelihood"] for r in by_model[reference]}
    return [tested[s] - other[s] for s in sorted(set(tested) & set(other))]


def _cost_lines(records):
    """The markdown lines of the section on the other sizes (none without their runs).

    Per problem and model: parameters, test log-likelihood, RAD's minus the model's (per
    seed), and what a run cost: wall seconds per run and per step run (training with its
    validation passes, trace and compile included).
    """
    compared = ("rad", *SHALLOW_MODELS, "real_nvp", *LARGER_MODELS)
    rows = []
    for problem in PROBLEMS:
        by_model = _by_model(records, problem, compared)
        if not any(by_model[m] for m in SHALLOW_MODELS + LARGER_MODELS):
            continue
        for m in compared:
            runs = by_model[m]
            if not runs:
                continue
            rows.append([
                problem, MODEL_NAMES[m],
                f"{runs[0]['config']['num_layers']} × {runs[0]['config']['hidden_units']}",
                ", ".join(sorted({str(r["parameters"]) for r in runs})),
                tables.mean_std([r["test_log_likelihood"] for r in runs]),
                "—" if m == "rad" else tables.mean_std(_paired_differences(by_model, "rad", m)),
                f"{np.mean([r['wall_seconds'] for r in runs]):.0f}",
                f"{1e3 * np.mean([r['wall_seconds'] / r['steps_run'] for r in runs]):.1f}",
                ", ".join(str(r["steps_run"]) for r in runs),
            ])
    if not rows:
        return []
    header = ["problem", "model", "layers × units", "parameters", "test LL",
              "RAD − model", "wall s per run (mean)", "wall ms per step run (mean)",
              "steps run (per seed)"]
    return [
        "## Other sizes: RAD with 4 layers, Real NVP given RAD's cost",
        "",
        "RAD's training step costs about twice Real NVP's at equal parameter count. RAD 4 "
        "layers spends RAD's count on 4 wider layers instead of 6 (a cheaper step: the "
        "fold's and the gating's arithmetic is per layer). Real NVP wide has 4 times RAD's "
        "parameters (6 layers), Real NVP deep twice (12 layers of Real NVP's width). All "
        "are trained and scored as the others. RAD − model: mean ± std of the per-seed "
        "differences of test log-likelihood. Wall times are the runs' own (trace, compile "
        "and validation passes included, on a shared machine).",
        "",
        *tables.markdown_table(header, rows),
        "",
    ]


def _spread_lines(records):
    """The markdown lines of the section on the test points' spread (none without runs).

    Per problem and model: the mean and the median over the test points of `log p(x)`
    (each mean ± std over seeds) and, per seed, the lowest test point's `log p(x)`.
    """
    rows = []
    for problem in PROBLEMS:
        for m, runs in _by_model(records, problem, MODELS).items():
            if runs:
                rows.append([
                    problem, MODEL_NAMES[m],
                    tables.mean_std([r["test_log_likelihood"] for r in runs]),
                    tables.mean_std([r["test_log_likelihood_median"] for r in runs]),
                    ", ".join(f"{r['test_log_likelihood_lowest']:.1f}" for r in runs),
                ])
    if not rows:
        return []
    header = ["problem", "model", "test LL (mean over points)", "median over points",
              "lowest point (per seed)"]
    return [
        "## The test points' spread",
        "",
        "The mean log-likelihood over the test points (the tables above) against their "
        "median, and the lowest test point's `log p(x)`: one point far below the others "
        "moves a mean of 297 digits by its deficit / 297.",
        "",
        *tables.markdown_table(header, rows),
        "",
    ]


def _load_baselines(output):
    """The baselines' records in `<output>/baselines` (`fit_baselines`), in name order.

    Raises:
      RunStoreError: for a JSON file there that is not such a record.
    """
    directory = os.path.join(output, "baselines")
    if not os.path.isdir(directory):
        return []
    records = []
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".json") or name.startswith("."):
            continue
        path = os.path.join(directory, name)
        try:
            with open(path) as f:
                record = json.load(f)
            valid = (record["problem"] in PROBLEMS and set(record["results"]) == set(BASELINES)
                     and name == os.path.basename(
                         baselines_path(output, record["problem"], record["seed"])))
        except (OSError, ValueError, KeyError, TypeError):
            valid = False
        if not valid:
            raise run_store.RunStoreError(
                f"{path} is not a baselines record of tfp-rad highdim; move it out of "
                f"{directory} or delete it to refit.")
        records.append(record)
    return records


def _baselines_lines(records, baseline_records):
    """The markdown lines of the baselines' section (none without baseline records)."""
    from tfp_rad.high_dimensional import bits_per_dim

    rows = []
    for problem in PROBLEMS:
        fitted = [b for b in baseline_records if b["problem"] == problem]
        if not fitted:
            continue
        rad = {r["config"]["seed"]: r["test_log_likelihood"]
               for r in _by_model(records, problem, ["rad"])["rad"]}
        best = [max(b["results"].values(), key=lambda result: result["validation"])
                for b in fitted]

        def mean_test(name):
            return float(np.mean([b["results"][name]["test"] for b in fitted]))

        def chosen(name, *keys):
            """Per seed, the settings `keys` that validation chose for baseline `name`."""
            return ", ".join(" ".join(str(b["results"][name]["settings"][key]) for key in keys)
                             for b in fitted)

        rows.append([
            problem,
            *(tables.mean_std([b["results"][name]["test"] for b in fitted])
              for name in BASELINES),
            ", ".join(BASELINE_NAMES[result["name"]] for result in best),
            tables.mean_std([rad[b["seed"]] - result["test"] for b, result in zip(fitted, best)
                             if b["seed"] in rad]),
            " / ".join(f"{bits_per_dim(mean_test(name)):.3f}" for name in BASELINES)
            if problem == "digits" else "—",
            chosen("gaussian_mixture", "components", "covariance_type"),
            chosen("kde", "bandwidth_factor"),
        ])
    if not rows:
        return []
    header = ["problem", *(f"{BASELINE_NAMES[name]} test LL" for name in BASELINES),
              "best on validation (per seed)", "RAD − best on validation",
              "bits/dim " + " / ".join(BASELINE_NAMES[name] for name in BASELINES),
              "mixture chosen (per seed)", "KDE bandwidth factor (per seed)"]
    return [
        "## Classical baselines on the same splits",
        "",
        "`tfp_rad.baselines` (as `tfp-rad train --data` prints them): fitted to each seed's "
        "training points, settings chosen on its validation points, scored on its test "
        "points. RAD − best on validation: per seed, RAD's test log-likelihood minus that "
        "of the baseline with the highest validation log-likelihood; mean ± std. Bits per "
        "dimension of the mean test log-likelihood.",
        "",
        "- Wall time per fit of the three (s): " + ", ".join(
            f"{b['problem']}/seed{b['seed']} {b['wall_seconds']:.0f}" for b in baseline_records),
        "",
        *tables.markdown_table(header, rows),
        "",
    ]
