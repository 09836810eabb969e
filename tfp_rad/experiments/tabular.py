"""The tabular study: RAD, Real NVP and the classical baselines on real tables.

For each of scikit-learn's bundled tables (`tfp_rad.tabular_data.TABLES`) and each seed:

1. the discrete-looking columns are detected on the whole table and dequantized with
   seeded uniform noise of one grid step (`tfp_rad.dequantization`);
2. the rows are split by the seed into 65 % training, 15 % validation and 20 % test
   (`tabular_data.split`);
3. the Gaussian, the Gaussian mixture and the KDE are fitted (`tfp_rad.baselines`: their
   settings chosen on the validation rows);
4. RAD and Real NVP, whitened (`whiten=True`, adapted on the training rows), are trained
   with the derived defaults of `training.data_defaults` (early stopping on the
   validation rows, the best validation weights kept), with the sizes of
   `training.data_architecture` (with the defensive mixture `0.95 flow + 0.05 N(0, I)`
   in whitened space, `tfp_rad.models.defensive`, so no test row falls more than
   `log 20` nats below the Gaussian); RAD starts near the identity (at the Gaussian).

Every figure is a mean log-likelihood in nats per point of the dequantized data; the
table reports the test rows' mean ± std over the seeds. Each (table, seed, model) run is
a JSON file in the output directory, written whole once it is done, so an interrupted
study resumes where it stopped.

Run it as `tfp-rad study tabular` (the committed table: `results/tabular/`). The
architecture measurements behind the defaults are `python -m tfp_rad.experiments.tabular
--grid` (`run_grid`).
"""

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np

from tfp_rad import catalog
from tfp_rad.experiments import run_store
from tfp_rad.experiments import tables as markdown

MODELS = ("gaussian", "gaussian_mixture", "kde", "rad", "real_nvp")
DEFAULT_OUTPUT = os.path.join("results", "tabular")
COMMAND = "tfp-rad study tabular"
FLOWS = ("rad", "real_nvp")
VALIDATION_FRACTION, TEST_FRACTION = 0.15, 0.2


def prepared_table(name, seed):
    """`(train, validation, test, dequantizer)` of a bundled table for one seed."""
    from tfp_rad import dequantization, tabular_data

    x, _ = tabular_data.load(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # iris's duplicated row: dequantized anyway
        dequantizer = dequantization.detect(x)
    y = dequantizer(x, seed=seed)
    train, held, test = tabular_data.split(y, seed, VALIDATION_FRACTION, TEST_FRACTION)
    return train, held, test, dequantizer


def train_flow(kind, x_train, x_validation, x_test=None, seed=0, sizes=None, verbose=0,
               jit_compile=None, near_identity=True, **overrides):
    """Trains a whitened flow with the derived defaults; returns its figures as a dict.

    Args:
      kind: "rad" or "real_nvp".
      x_train, x_validation, x_test: tables (float64).
      seed: Keras's seed (initialization) and the data shuffling's.
      sizes: the flow's sizes (default `data_architecture`).
      verbose: Keras's progress output.
      jit_compile: XLA for training (None: `FlowModel.compile`'s choice).
      near_identity: RAD starts near the identity (`start_near_identity`), hence at the
        Gaussian of the training rows.
      **overrides: fields of `training.DataDefaults` to override.
    """
    import keras

    from tfp_rad import training
    from tfp_rad.models import RADFlow, RealNVPFlow
    from tfp_rad.models.initialization import start_near_identity

    n, d = x_train.shape
    sizes = dict(sizes or training.data_architecture(kind, d))
    defaults = training.data_defaults(n, d, kind, **overrides)
    keras.utils.set_random_seed(seed)
    model = (RADFlow if kind == "rad" else RealNVPFlow)(d, whiten=True, **sizes)
    model.adapt(x_train)
    if kind == "rad" and near_identity:
        start_near_identity(model)
    history, seconds = training.fit_steps(
        model, x_train, seed=seed, validation_data=x_validation, verbose=verbose,
        jit_compile=jit_compile, **defaults.fit_steps_arguments(),
    )
    losses = history.history["val_loss"]
    best = int(np.argmin(losses))
    figures = {
        "validation_loss_by_check": [float(v) for v in losses],
        "model": kind,
        "sizes": sizes,
        "parameters": model.count_params(),
        "defaults": {k: v for k, v in vars(defaults).items()},
        "steps_run": int(model.optimizer.iterations.numpy()),
        "best_validation_step": (best + 1) * defaults.validate_every,
        "train_seconds": seconds,
        "train": training.mean_log_likelihood(model, x_train),
        "validation": training.mean_log_likelihood(model, x_validation),
    }
    if x_test is not None:
        figures["test"] = training.mean_log_likelihood(model, x_test)
    return figures


def run_one(table, seed, model):
    """The figures of one model on one table and seed (a dict, JSON-serializable)."""
    from tfp_rad import baselines

    train, held, test, dequantizer = prepared_table(table, seed)
    start = time.perf_counter()
    if model in FLOWS:
        # Without XLA: these runs are short, and tracing dominates (XLA adds compiling).
        figures = train_flow(model, train, held, test, seed=seed, jit_compile=False)
    else:
        fitted = {
            "gaussian": lambda: baselines.Gaussian(train),
            "gaussian_mixture": lambda: baselines.GaussianMixture(train, held, seed=seed),
            "kde": lambda: baselines.KernelDensity(train, held),
        }[model]()
        figures = {"model": model, **baselines.result(fitted, train, held, test).as_dict()}
        figures.pop("name")
    figures.update(
        table=table, seed=seed, rows=[len(train), len(held), len(test)],
        columns=train.shape[1], dequantized_columns=list(dequantizer.columns),
        log_cell_volume=dequantizer.log_cell_volume,
        seconds=time.perf_counter() - start,
    )
    return figures


def run_path(output, table, seed, model):
    """`<output>/runs/<table>-<model>-seed<k>.json` (`run_store.run_name`)."""
    return os.path.join(output, "runs", run_store.run_name(table, model, seed) + ".json")


def run_study(output, tables, seeds, models, log=print):
    """Runs every missing (table, seed, model) and rewrites the table after each run."""
    run_store.prepare_directories(output, "runs")
    for table in tables:
        for seed in seeds:
            for model in models:
                path = run_path(output, table, seed, model)
                if os.path.exists(path):
                    continue
                figures = run_one(table, seed, model)
                run_store.write_text_atomically(path, json.dumps(figures, indent=2) + "\n")
                log(f"{table} seed {seed} {model}: test {figures['test']:.3f} "
                    f"({figures['seconds']:.0f} s)")
                write_table(output, tables, seeds, models)


def collect(output, tables, seeds, models):
    """`{(table, model): [run dicts]}` of the runs found in `output`."""
    found = {}
    for table in tables:
        for model in models:
            runs = []
            for seed in seeds:
                path = run_path(output, table, seed, model)
                if os.path.exists(path):
                    with open(path) as f:
                        runs.append(json.load(f))
            found[table, model] = runs
    return found


def write_table(output, tables=catalog.TABLES, seeds=(0, 1, 2), models=MODELS):
    """Writes `<output>/table.md`: test log-likelihood, mean ± std over seeds; its path.

    Besides each model's column: RAD minus the Gaussian and RAD minus the best of the
    mixture and the KDE, paired by seed, with the number of seeds where RAD is ahead.
    """
    found = collect(output, tables, seeds, models)
    header = ["table", "rows × columns", *(NAMES[m] for m in models)]
    pairs = [(other, f"RAD − {NAMES[other]}") for other in ("gaussian", "best_classical")
             if "rad" in models]
    header += [title for _, title in pairs]
    rows = []
    for table in tables:
        runs = [r for m in models for r in found[table, m]]
        shape = f"{sum(runs[0]['rows'])} × {runs[0]['columns']}" if runs else ""
        cells = [markdown.mean_std([r["test"] for r in found[table, m]]) for m in models]
        for other, _ in pairs:
            cells.append(_paired_gap(found, table, other))
        rows.append([table, shape, *cells])
    lines = ["# Tabular study: test log-likelihood (nats/point, dequantized data)", "",
             f"Command: `{COMMAND} --seeds {' '.join(map(str, seeds))}`", ""]
    lines += markdown.markdown_table(header, rows)
    lines += ["", markdown.LOG_LIKELIHOOD_NOTE.split(" Oracle")[0],
              "Best classical: per seed, the better of the Gaussian mixture and the KDE on "
              "the validation rows; its test figure."]
    path = os.path.join(output, markdown.TABLE_FILE)
    run_store.write_text_atomically(path, "\n".join(lines) + "\n")
    return path


NAMES = {"gaussian": "Gaussian", "gaussian_mixture": "Gaussian mixture", "kde": "KDE",
         "rad": "RAD", "real_nvp": "Real NVP", "best_classical": "best of mixture and KDE"}


def _paired_gap(found, table, other):
    """`RAD - other` on the test rows, paired by seed: mean ± std, and seeds RAD leads."""
    by_seed = {}
    for seed_runs in _by_seed(found, table).values():
        if "rad" not in seed_runs:
            continue
        if other == "best_classical":
            candidates = [seed_runs[m] for m in ("gaussian_mixture", "kde") if m in seed_runs]
            if len(candidates) < 2:
                continue
            reference = max(candidates, key=lambda r: r["validation"])
        elif other in seed_runs:
            reference = seed_runs[other]
        else:
            continue
        by_seed[seed_runs["rad"]["seed"]] = seed_runs["rad"]["test"] - reference["test"]
    if not by_seed:
        return "—"
    ahead = sum(g > 0 for g in by_seed.values())
    return f"{markdown.mean_std(list(by_seed.values()))}, ahead {ahead}/{len(by_seed)}"


def _by_seed(found, table):
    seeds = {}
    for (name, model), runs in found.items():
        if name == table:
            for run in runs:
                seeds.setdefault(run["seed"], {})[model] = run
    return seeds


def _width(d):
    return min(128, max(32, 2 * d))


GRID = {
    # name: (sizes as a function of d, overrides of the training defaults, RAD near identity);
    # without "eps" in the name, no defensive mixture
    "L6-H2d": (lambda d: {"num_layers": 6, "hidden_units": _width(d)}, {}, True),
    "L6-H2d-uniform": (lambda d: {"num_layers": 6, "hidden_units": _width(d)}, {}, False),
    "L4-H16": (lambda d: {"num_layers": 4, "hidden_units": 16}, {}, True),
    "L8-H2d": (lambda d: {"num_layers": 8, "hidden_units": _width(d)}, {}, True),
    "L6-H2d-wd": (lambda d: {"num_layers": 6, "hidden_units": _width(d)},
                  {"weight_decay": 0.1}, True),
    "L6-H2d-lr2e-4": (lambda d: {"num_layers": 6, "hidden_units": _width(d)},
                      {"learning_rate": 2e-4}, True),
    "L6-H2d-lr1e-4": (lambda d: {"num_layers": 6, "hidden_units": _width(d)},
                      {"learning_rate": 1e-4}, True),
    "L6-H2d-uniform-lr1e-4": (lambda d: {"num_layers": 6, "hidden_units": _width(d)},
                              {"learning_rate": 1e-4}, False),
    "L6-H2d-uniform-lr1e-3": (lambda d: {"num_layers": 6, "hidden_units": _width(d)},
                              {"learning_rate": 1e-3}, False),
    **{f"L6-H2d-lr1e-4-eps{eps:g}": (
        lambda d, eps=eps: {"num_layers": 6, "hidden_units": _width(d), "defensive_weight": eps},
        {"learning_rate": 1e-4}, True) for eps in (0.01, 0.2)},
    # Training settings with the table architecture (defensive mixture, eps 0.05); overrides
    # given as a function of the table's derived `DataDefaults` ("pass": a check per pass
    # over the training rows, so the patience counts passes)
    **{f"data-lr{name}": (lambda d: _table_sizes(d), {"learning_rate": lr}, True)
       for name, lr in (("3e-4", 3e-4), ("1e-3", 1e-3))},
    **{f"data-lr{name}-pass": (
        lambda d: _table_sizes(d),
        lambda dd, lr=lr: {"learning_rate": lr, "validate_every": dd.steps_per_pass}, True)
       for name, lr in (("1e-4", 1e-4), ("3e-4", 3e-4), ("1e-3", 1e-3))},
    # Keras's decoupled decay shrinks each weight by lr * w per step: 3e-3 here
    "data-lr3e-4-pass-wd10": (
        lambda d: _table_sizes(d),
        lambda dd: {"learning_rate": 3e-4, "validate_every": dd.steps_per_pass,
                    "weight_decay": 10.0}, True),
    "data-lr1e-4-pass-wd30": (
        lambda d: _table_sizes(d),
        lambda dd: {"learning_rate": 1e-4, "validate_every": dd.steps_per_pass,
                    "weight_decay": 30.0}, True),
    "data-L4-H16-lr1e-4-pass": (
        lambda d: {"num_layers": 4, "hidden_units": 16, "defensive_weight": 0.05},
        lambda dd: {"learning_rate": 1e-4, "validate_every": dd.steps_per_pass}, True),
}


def _table_sizes(d):
    return {"num_layers": 6, "hidden_units": _width(d), "defensive_weight": 0.05}


def run_grid(output, tables, seeds, kinds, names, log=print):
    """The architecture measurements: each `GRID` setting on each table, seed and flow.

    RAD runs without gating networks. Lines of JSON are appended to `grid.jsonl`; a run
    already there is skipped.
    """
    from tfp_rad import training

    os.makedirs(output, exist_ok=True)
    path = os.path.join(output, "grid.jsonl")
    done = set()
    if os.path.exists(path):
        with open(path) as f:
            done = {(r["table"], r["seed"], r["model"], r["setting"])
                    for r in map(json.loads, f)}
    for table in tables:
        for seed in seeds:
            train, held, test, _ = prepared_table(table, seed)
            d = train.shape[1]
            for name in names:
                for kind in kinds:
                    size_of, overrides, near_identity = GRID[name]
                    if (table, seed, kind, name) in done or (
                            kind != "rad" and not near_identity):
                        continue
                    sizes = size_of(d)
                    if kind == "rad":
                        sizes["gating_hidden_units"] = 0
                    if callable(overrides):
                        overrides = overrides(training.data_defaults(len(train), d, kind))
                    start = time.perf_counter()
                    try:
                        figures = train_flow(kind, train, held, test, seed=seed, sizes=sizes,
                                             jit_compile=False, near_identity=near_identity,
                                             **overrides)
                    except training.TrainingDivergedError as error:
                        log(f"{table} {seed} {kind} {name}: diverged ({error})")
                        figures = {"model": kind, "diverged": str(error),
                                   "validation": float("-inf"), "test": float("-inf")}
                    figures.update(table=table, seed=seed, setting=name,
                                   seconds=time.perf_counter() - start)
                    with open(path, "a") as f:
                        f.write(json.dumps(figures) + "\n")
                    log(f"{table} {seed} {kind} {name}: val {figures['validation']:.3f} "
                        f"test {figures['test']:.3f} best step "
                        f"{figures.get('best_validation_step')} ({figures['seconds']:.0f} s)")


def main(argv=None):
    """`python -m tfp_rad.experiments.tabular --grid ...`: the architecture measurements."""
    parser = argparse.ArgumentParser(prog="python -m tfp_rad.experiments.tabular",
                                     description=run_grid.__doc__.splitlines()[0])
    parser.add_argument("--output", default=os.path.join(DEFAULT_OUTPUT, "sizes"))
    parser.add_argument("--tables", nargs="+", default=list(catalog.TABLES),
                        choices=catalog.TABLES)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--models", nargs="+", default=list(FLOWS), choices=FLOWS)
    parser.add_argument("--grid", nargs="*", choices=sorted(GRID), default=[],
                        help="the settings measured (default: all)")
    args = parser.parse_args(argv)
    run_grid(args.output, args.tables, args.seeds, args.models, args.grid or sorted(GRID))
    return 0


if __name__ == "__main__":
    sys.exit(main())
