"""Conditional density estimation: RAD against conditional Real NVP, with the oracle.

On each problem of `tfp_rad.conditional_datasets` (a 2-D mixture whose modes move, rotate
and split with a 1-D context; a four-mode simulation-based-inference posterior), a
conditional `RADFlow` and a conditional `RealNVPFlow` (TFP's `tfb.RealNVP` with its
`conditional_input`) of about the same parameter count (`studies.matched_hidden_units`)
learn `p(x | c)` from simulated pairs; both are scored by the mean `log p(x | c)` of
held-out pairs, beside the true conditional density's (the oracle).

    python -m tfp_rad.experiments.conditional --output results/beyond/conditional

A run is one (problem, model, seed), written as `<output>/runs/<run>.json` with its model
`<output>/models/<run>.keras` (`run_store`); a finished run is skipped when the command is
repeated, an interrupted one resumes from its last epoch (`training.backup_and_restore`),
and an output directory of other settings is refused. `table.md` and
`figures/<problem>.png` are rewritten from the run files (`--render`: from them alone).
"""

import argparse
import os
import shlex
import sys

from tfp_rad import catalog
from tfp_rad.experiments import run_store, tables

MODELS = ("rad", "real_nvp")
TITLES = {"rad": "RAD", "real_nvp": "Real NVP"}
PROBLEMS = catalog.CONDITIONAL_PROBLEMS
TEST_SEED = 1_000_000
COMMAND = "python -m tfp_rad.experiments.conditional"
COMMAND_FILE = "command.txt"
# Contexts of the figures: a 1-D context sweeping [-1, 1]; observations of the SBI problem
# with four, two and one posterior modes.
FIGURE_CONTEXTS = {
    "moving_mixture": [[-0.9], [-0.3], [0.3], [0.9]],
    "abs_posterior": [[1.6, 1.4], [1.6, 0.1], [0.1, 0.1], [2.2, 0.7]],
}
FIGURE_BOUNDS = (-3.5, 3.5)
# The settings that every run of an output directory shares.
SETTINGS = ("steps", "batch_size", "learning_rate", "num_layers", "rad_hidden_units",
            "num_train", "num_test")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default="results/beyond/conditional")
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=PROBLEMS)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--learning-rate", type=float, default=5e-3)
    parser.add_argument("--num-layers", type=int, default=6)
    parser.add_argument("--rad-hidden-units", type=int, default=16)
    parser.add_argument("--num-train", type=int, default=50000)
    parser.add_argument("--num-test", type=int, default=20000)
    parser.add_argument("--render", action="store_true",
                        help="rewrite the table and figures from the run files only")
    return parser.parse_args(argv)


def _config(args, problem, kind, seed):
    return dict(problem=problem, model=kind, seed=seed,
                **{key: getattr(args, key) for key in SETTINGS})


def build(kind, problem, num_layers, rad_hidden_units):
    """The model of `kind` for `problem`; Real NVP's width matches RAD's parameter count."""
    from tfp_rad import conditional_datasets
    from tfp_rad.experiments.studies import build_model, matched_hidden_units

    def architecture(model_class, width):
        return {"class": model_class, "num_layers": num_layers, "hidden_units": width,
                "context_size": conditional_datasets.CONTEXT_SIZES[problem]}

    rad = build_model(architecture("RADFlow", rad_hidden_units))
    if kind == "rad":
        return rad
    width = matched_hidden_units(lambda h: architecture("RealNVPFlow", h), rad.count_params())
    return build_model(architecture("RealNVPFlow", width))


def train(config, output, machine):
    """Trains, scores and saves one run; writes its JSON last. Returns its record."""
    import keras

    from tfp_rad import conditional_datasets, saving, training

    name = run_store.run_name(config["problem"], config["model"], config["seed"])
    keras.utils.set_random_seed(config["seed"])
    problem = config["problem"]
    x, c = conditional_datasets.load(problem, config["num_train"], seed=config["seed"])
    x_test, c_test = conditional_datasets.load(problem, config["num_test"], seed=TEST_SEED)
    model = build(config["model"], problem, config["num_layers"], config["rad_hidden_units"])
    checkpoint = os.path.join(output, "checkpoints", name)
    _, seconds = training.fit_steps(
        model, x, config["steps"], batch_size=config["batch_size"],
        learning_rate=config["learning_rate"], seed=config["seed"], verbose=0, context=c,
        callbacks=[training.backup_and_restore(checkpoint, config)],
    )
    record = dict(
        config=config,
        versions=machine,
        parameters=int(model.count_params()),
        architecture=f"{type(model).__name__}(num_layers={model.num_layers}, "
                     f"hidden_units={model.hidden_units}, context_size={model.context_size})",
        seconds=seconds,
        train_log_likelihood=training.mean_log_likelihood(model, x, context=c),
        test_log_likelihood=training.mean_log_likelihood(model, x_test, context=c_test),
        oracle_train_log_likelihood=conditional_datasets.oracle_log_likelihood(problem, x, c),
        oracle_test_log_likelihood=conditional_datasets.oracle_log_likelihood(
            problem, x_test, c_test),
    )
    saving.save_model(model, os.path.join(output, "models", name + ".keras"))
    run_store.write_record(output, record)
    training.remove_checkpoint(checkpoint)
    return record


def _load_runs(output):
    return run_store.load_runs(output, PROBLEMS, MODELS, COMMAND, required=(
        "versions", "parameters", "architecture", "seconds", "test_log_likelihood",
        "train_log_likelihood", "oracle_test_log_likelihood", "oracle_train_log_likelihood"))


def write_table(output):
    """Writes `<output>/table.md` from the run JSONs alone; returns its path."""
    import numpy as np

    records = list(_load_runs(output).values())
    if not records:
        raise run_store.RunStoreError(f"No finished runs in {output}: nothing to tabulate.")
    settings = {key: records[0]["config"][key] for key in SETTINGS}
    for record in records[1:]:
        run_store.check_config(run_store.run_path(output, record["config"]), record["config"],
                               settings, run_store.run_path(output, records[0]["config"]))
    with open(os.path.join(output, COMMAND_FILE)) as f:
        command = f.read().strip()
    problems = tables.present(records, "problem", PROBLEMS)
    kinds = tables.present(records, "model", MODELS)

    def runs(problem, kind):
        return [r for r in records if (r["config"]["problem"], r["config"]["model"])
                == (problem, kind)]

    lines = [
        "# Conditional densities: RAD against conditional Real NVP",
        "",
        "Each model learns `p(x | c)` from simulated pairs `(x, c)` of a problem whose true "
        "conditional density is known (`tfp_rad.conditional_datasets`): `moving_mixture` "
        "(2-D, three modes that move, rotate and split with a context `c` in [-1, 1]) and "
        "`abs_posterior` (the posterior `p(theta | x)` of the simulator `x = |R theta| + "
        "0.2 eps`, up to four modes). Real NVP is TFP's `tfb.RealNVP` with its "
        "`conditional_input`, its width chosen to bring its parameter count closest to RAD's.",
        "",
        f"- Command: `{command}`",
        *[f"- Machine: {line}; shared with three other jobs while it ran (timings are rough)"
          for line in tables.machines(records)],
        f"- Steps: {settings['steps']} Adam steps of batch {settings['batch_size']} "
        f"(learning rate {settings['learning_rate']:g}, cosine decay) on "
        f"{settings['num_train']} training pairs drawn per seed; {settings['num_test']} test "
        "pairs, the same for every seed.",
        "",
        "## Models",
        "",
    ]
    lines += tables.markdown_table(
        ["problem", "model", "architecture", "parameters", "training seconds per run (mean)"],
        [[problem, TITLES[kind], f"`{runs(problem, kind)[0]['architecture']}`",
          str(runs(problem, kind)[0]["parameters"]),
          f"{np.mean([r['seconds'] for r in runs(problem, kind)]):.0f}"]
         for problem in problems for kind in kinds if runs(problem, kind)])
    lines += [
        "",
        "Conditional log-likelihoods `mean_i log p(x_i | c_i)` in nats per pair: mean ± "
        "sample std over seeds (n seeds). Oracle: the true conditional density's on the same "
        "pairs, mean over seeds. Higher is better.",
    ]

    def rows(split):
        table = []
        for problem in problems:
            scores = [tables.mean_std([r[f"{split}_log_likelihood"] for r in runs(problem, k)])
                      for k in kinds]
            oracle = [r[f"oracle_{split}_log_likelihood"] for r in records
                      if r["config"]["problem"] == problem]
            table.append([problem, *scores, f"{np.mean(oracle):.3f}"])
        return table

    lines += tables.log_likelihood_tables(
        ["problem", *[TITLES[k] for k in kinds], "oracle"], rows)
    lines += ["", "## Figures", "",
              "Rows: contexts; columns: the training points whose contexts are the 400 "
              "nearest to the row's, each model's `p(x | c)` (seed 0), the true `p(x | c)`; "
              "the densities share the truth's colour scale.", ""]
    lines += [f"![{problem}](figures/{problem}.png)\n" for problem in problems]
    path = os.path.join(output, tables.TABLE_FILE)
    run_store.write_text_atomically(path, "\n".join(lines))
    return path


def write_figures(output, seed=0):
    """`figures/<problem>.png`: rows of contexts; data, RAD, Real NVP, truth per row."""
    import numpy as np

    from tfp_rad import conditional_datasets, plotting, saving

    records = list(_load_runs(output).values())
    os.makedirs(os.path.join(output, "figures"), exist_ok=True)
    for problem in tables.present(records, "problem", PROBLEMS):
        models = {}
        for kind in MODELS:
            path = os.path.join(output, "models", run_store.run_name(problem, kind, seed)
                                + ".keras")
            if os.path.exists(path):
                models[kind] = saving.load_model(path)
        if not models:
            continue
        num_train = records[0]["config"]["num_train"]
        x, c = conditional_datasets.load(problem, num_train, seed=seed)
        rows = []
        for context in np.asarray(FIGURE_CONTEXTS[problem]):
            label = ", ".join(f"{v:g}" for v in context)
            nearest = np.argsort(np.sum((c - context) ** 2, axis=1))[:400]
            truth = conditional_datasets.conditional(problem, context)
            _, true_density = plotting.log_prob_grid(truth.log_prob, FIGURE_BOUNDS)
            top = float(np.exp(true_density).max())
            row = [(f"data, c near ({label})", plotting.scatter(x[nearest], size=3.0))]
            for kind, model in models.items():
                _, density = plotting.log_prob_grid(
                    lambda points, m=model: m.log_prob(
                        points.astype(m.compute_dtype), context.astype(m.compute_dtype)),
                    FIGURE_BOUNDS)
                row.append((f"{TITLES[kind]} p(x | c)",
                            plotting.heat_map(np.exp(density), FIGURE_BOUNDS, top)))
            row.append(("true p(x | c)",
                        plotting.heat_map(np.exp(true_density), FIGURE_BOUNDS, top)))
            rows.append(row)
        plotting.save_panels(
            rows, os.path.join(output, "figures", f"{problem}.png"), FIGURE_BOUNDS,
            title=f"{problem}: p(x | c) for {len(rows)} contexts (seed {seed})")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    output = args.output
    if not args.render:
        expected = {key: getattr(args, key) for key in SETTINGS}
        for path, record in _load_runs(output).items():
            run_store.check_config(path, record["config"], expected, "this invocation")
        run_store.prepare_directories(output, "runs", "models")
        run_store.write_text_atomically(
            os.path.join(output, COMMAND_FILE), shlex.join([*COMMAND.split(), *argv]) + "\n")
        plan = [_config(args, problem, kind, seed)
                for seed in args.seeds for problem in args.problems for kind in args.models]
        run_store.train_pending(output, plan, lambda config, machine: train(
            config, output, machine), write_table, COMMAND, verbose=1)
    print(write_table(output))
    write_figures(output, seed=args.seeds[0])


if __name__ == "__main__":
    main()
