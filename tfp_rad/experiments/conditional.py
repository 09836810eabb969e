"""Conditional density estimation: RAD against conditional Real NVP, with the oracle.

On each problem of `tfp_rad.conditional_datasets` (a 2-D mixture whose modes move, rotate
and split with a 1-D context; a four-mode simulation-based-inference posterior), a
conditional `RADFlow` and a conditional `RealNVPFlow` (TFP's `tfb.RealNVP` with its
`conditional_input`) of about the same parameter count learn `p(x | c)` from simulated
pairs; both are scored by the mean `log p(x | c)` of held-out pairs, beside the true
conditional density's (the oracle).

    python -m tfp_rad.experiments.conditional --output results/beyond/conditional

Each run (problem, model, seed) writes `runs/<problem>-<model>-seed<seed>.json` and its
model `models/<problem>-<model>-seed<seed>.keras`; a finished run is skipped when the
command is repeated with the same settings, an interrupted one resumes from its last
epoch (`training.backup_and_restore`). `--render` rewrites the table and figures from the
run files only.
"""

import argparse
import json
import os
import platform
import shlex
import sys

MODELS = ("rad", "real_nvp")
TITLES = {"rad": "RAD", "real_nvp": "Real NVP"}
TEST_SEED = 1_000_000
# Contexts of the figures: a 1-D context sweeping [-1, 1]; observations of the SBI problem
# with four, two and one posterior modes.
FIGURE_CONTEXTS = {
    "moving_mixture": [[-0.9], [-0.3], [0.3], [0.9]],
    "abs_posterior": [[1.6, 1.4], [1.6, 0.1], [0.1, 0.1], [2.2, 0.7]],
}
FIGURE_BOUNDS = (-3.5, 3.5)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m tfp_rad.experiments.conditional", description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default="results/beyond/conditional")
    parser.add_argument("--problems", nargs="+", default=["moving_mixture", "abs_posterior"])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--learning-rate", type=float, default=5e-3)
    parser.add_argument("--num-layers", type=int, default=6)
    parser.add_argument("--rad-hidden-units", type=int, default=16)
    parser.add_argument("--num-train", type=int, default=50000)
    parser.add_argument("--num-test", type=int, default=20000)
    parser.add_argument("--render", action="store_true", help="table and figures only")
    return parser.parse_args(argv)


def settings(args, problem, kind, seed):
    """What defines a run: a run file with other settings is not reused."""
    return dict(
        problem=problem, model=kind, seed=seed, steps=args.steps, batch_size=args.batch_size,
        learning_rate=args.learning_rate, num_layers=args.num_layers,
        rad_hidden_units=args.rad_hidden_units, num_train=args.num_train,
        num_test=args.num_test,
    )


def build(kind, problem, args):
    """The model of `kind` for `problem`; Real NVP's width matches RAD's parameter count."""
    from tfp_rad import conditional_datasets
    from tfp_rad.studies import build_model, matched_hidden_units

    def architecture(model_class, width):
        return {"class": model_class, "num_layers": args.num_layers, "hidden_units": width,
                "context_size": conditional_datasets.CONTEXT_SIZES[problem]}

    rad = build_model(architecture("RADFlow", args.rad_hidden_units))
    if kind == "rad":
        return rad
    width = matched_hidden_units(lambda h: architecture("RealNVPFlow", h), rad.count_params())
    return build_model(architecture("RealNVPFlow", width))


def run_name(problem, kind, seed):
    return f"{problem}-{kind}-seed{seed}"


def _write_json(path, value):
    partial = path + ".partial"
    with open(partial, "w") as f:
        json.dump(value, f, indent=2)
    os.replace(partial, path)


def run(args, problem, kind, seed):
    """Trains and scores one model (or reuses its run file); returns the run's record."""
    from tfp_rad import conditional_datasets, saving, training

    name = run_name(problem, kind, seed)
    path = os.path.join(args.output, "runs", name + ".json")
    config = settings(args, problem, kind, seed)
    if os.path.exists(path):
        with open(path) as f:
            record = json.load(f)
        if record["settings"] == config:
            return record
        print(f"{name}: the run file has other settings; training again", flush=True)
    import keras

    keras.utils.set_random_seed(seed)
    x, c = conditional_datasets.load(problem, args.num_train, seed=seed)
    x_test, c_test = conditional_datasets.load(problem, args.num_test, seed=TEST_SEED)
    model = build(kind, problem, args)
    checkpoint = os.path.join(args.output, "checkpoints", name)
    _, seconds = training.fit_steps(
        model, x, args.steps, batch_size=args.batch_size, learning_rate=args.learning_rate,
        seed=seed, verbose=0, context=c,
        callbacks=[training.backup_and_restore(checkpoint, config)],
    )
    record = dict(
        settings=config,
        parameters=int(model.count_params()),
        architecture=f"{type(model).__name__}(num_layers={model.num_layers}, "
                     f"hidden_units={model.hidden_units}, context_size={model.context_size})",
        seconds=seconds,
        train_log_likelihood=training.mean_log_likelihood(model, x, context=c),
        test_log_likelihood=training.mean_log_likelihood(model, x_test, context=c_test),
        oracle_test_log_likelihood=conditional_datasets.oracle_log_likelihood(
            problem, x_test, c_test),
        oracle_train_log_likelihood=conditional_datasets.oracle_log_likelihood(problem, x, c),
    )
    os.makedirs(os.path.join(args.output, "models"), exist_ok=True)
    saving.save_model(model, os.path.join(args.output, "models", name + ".keras"))
    _write_json(path, record)
    training.remove_checkpoint(checkpoint)
    print(f"{name}: test {record['test_log_likelihood']:.3f} (oracle "
          f"{record['oracle_test_log_likelihood']:.3f}), {seconds:.0f} s", flush=True)
    return record


def _mean_std(values):
    import numpy as np

    if len(values) == 1:
        return f"{values[0]:.3f} (n=1)"
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f} (n={len(values)})"


def _records(args):
    records = {}
    for problem in args.problems:
        for kind in args.models:
            for seed in args.seeds:
                path = os.path.join(args.output, "runs", run_name(problem, kind, seed) + ".json")
                if os.path.exists(path):
                    with open(path) as f:
                        records[problem, kind, seed] = json.load(f)
    return records


def write_table(args):
    """`table.md`: test and train conditional log-likelihoods, mean ± std over seeds."""
    import numpy as np

    from tfp_rad.cli import versions  # tfp_rad.versions.versions after the restructure

    records = _records(args)
    with open(os.path.join(args.output, "command.txt")) as f:
        command = f.read().strip()
    machine = ", ".join(f"{k} {v}" for k, v in versions().items())
    lines = [
        "# Conditional densities: RAD against conditional Real NVP",
        "",
        "Each model learns `p(x | c)` from simulated pairs `(x, c)` of a problem whose true "
        "conditional density is known (`tfp_rad.conditional_datasets`): `moving_mixture` "
        "(2-D, three modes that move, rotate and split with a context `c` in [-1, 1]) and "
        "`abs_posterior` (the posterior `p(theta | x)` of a simulator `x = |R theta| + "
        "0.2 eps`, four modes). Real NVP is TFP's `tfb.RealNVP` with its "
        "`conditional_input`, its width chosen to bring its parameter count closest to RAD's.",
        "",
        f"- Command: `{command}`",
        f"- Machine: {machine}; shared by four agents while it ran (timings are rough)",
        f"- Steps: {args.steps} Adam steps of batch {args.batch_size} (learning rate "
        f"{args.learning_rate:g}, cosine decay) on {args.num_train} training pairs (drawn "
        f"per seed); {args.num_test} test pairs (the same for every seed).",
        "",
        "## Models",
        "",
        "| problem | model | architecture | parameters | training seconds (mean) |",
        "|---|---|---|---:|---:|",
    ]
    for problem in args.problems:
        for kind in args.models:
            runs = [records[k] for k in records if k[:2] == (problem, kind)]
            if runs:
                lines.append(
                    f"| {problem} | {TITLES[kind]} | `{runs[0]['architecture']}` | "
                    f"{runs[0]['parameters']} | {np.mean([r['seconds'] for r in runs]):.0f} |")
    lines += [
        "",
        "Conditional log-likelihoods `mean_i log p(x_i | c_i)` in nats per pair: mean ± "
        "sample std over seeds. Oracle: the true conditional density's on the same pairs. "
        "Higher is better.",
    ]
    for split in ("test", "train"):
        lines += ["", f"## {split.capitalize()} conditional log-likelihood", "",
                  "| problem | " + " | ".join(TITLES[k] for k in args.models) + " | oracle |",
                  "|---|" + "---:|" * (len(args.models) + 1)]
        for problem in args.problems:
            cells, oracle = [], []
            for kind in args.models:
                runs = [records[k] for k in records if k[:2] == (problem, kind)]
                cells.append(_mean_std([r[f"{split}_log_likelihood"] for r in runs])
                             if runs else "-")
                oracle += [r[f"oracle_{split}_log_likelihood"] for r in runs]
            oracle_cell = f"{np.mean(oracle):.3f}" if oracle else "-"
            lines.append(f"| {problem} | " + " | ".join(cells) + f" | {oracle_cell} |")
    lines += ["", "## Figures", ""]
    for problem in args.problems:
        lines.append(f"![{problem}](figures/{problem}.png)")
        lines.append("")
    with open(os.path.join(args.output, "table.md"), "w") as f:
        f.write("\n".join(lines))


def write_figures(args, seed=None):
    """`figures/<problem>.png`: rows of contexts; data, RAD, Real NVP, truth per row.

    "data" are the training points whose contexts are the 400 nearest to the row's; the
    three densities share the colour scale of the truth.
    """
    import numpy as np

    from tfp_rad import conditional_datasets, plotting, saving

    seed = args.seeds[0] if seed is None else seed
    os.makedirs(os.path.join(args.output, "figures"), exist_ok=True)
    for problem in args.problems:
        models = {}
        for kind in args.models:
            path = os.path.join(args.output, "models", run_name(problem, kind, seed) + ".keras")
            if os.path.exists(path):
                models[kind] = saving.load_model(path)
        if not models:
            continue
        x, c = conditional_datasets.load(problem, args.num_train, seed=seed)
        rows = []
        for context in FIGURE_CONTEXTS[problem]:
            context = np.asarray(context)
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
                row.append((f"{TITLES[kind]} p(x | c)", plotting.heat_map(
                    np.exp(density), FIGURE_BOUNDS, top)))
            row.append(("true p(x | c)", plotting.heat_map(np.exp(true_density),
                                                            FIGURE_BOUNDS, top)))
            rows.append(row)
        plotting.save_panels(
            rows, os.path.join(args.output, "figures", f"{problem}.png"), FIGURE_BOUNDS,
            title=f"{problem}: p(x | c) for {len(rows)} contexts (seed {seed})")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    os.makedirs(os.path.join(args.output, "runs"), exist_ok=True)
    if not args.render:
        command = shlex.join(["python", "-m", "tfp_rad.experiments.conditional", *argv])
        with open(os.path.join(args.output, "command.txt"), "w") as f:
            f.write(command + "\n")
        for seed in args.seeds:
            for problem in args.problems:
                for kind in args.models:
                    run(args, problem, kind, seed)
                    write_table(args)
    write_table(args)
    write_figures(args)
    print(f"wrote {os.path.join(args.output, 'table.md')} ({platform.node()})")


if __name__ == "__main__":
    main()
