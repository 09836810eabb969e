"""The paper's 2-D figures, drawn from the saved models of the paper protocol (`tfp-rad plot`).

For each problem (journal paper, Figs. 11-14):

- `<problem>-samples.png`: data, RAD samples, Real NVP samples; the true density and
  both models' densities as heat maps on one colour scale;
- `<problem>-latent.png`: the test points mapped to the latent space by each model, over
  the contours of the standard normal base ("Gaussianized");
- `<problem>-inference.png`: the layer-by-layer inference of each model, every point
  keeping the colour of its data position;
- `<problem>-folding.png`: RAD's first layer: its input coloured by piece `k`, the fold
  `x2 -> z2` at a few values of the pass-through `x1`, and its output coloured by `k`.
"""

import os

import numpy as np

from tfp_rad import catalog, datasets, plotting
from tfp_rad.experiments import run_store

def draw_figures(runs, problems, seed, num_points, output):
    """Draws every figure of every problem whose models are saved under `runs`.

    Args:
      runs: an output directory of the paper protocol (`paper.run`), with `models/`.
      problems: names from `catalog.PROBLEMS`.
      seed: which seed's models to draw; the test points are that seed's.
      num_points: how many test points to draw.
      output: the figures' directory (created).

    Returns:
      `{problem: [paths written]}`; a problem without saved models maps to `[]`.

    Raises:
      ValueError: for an unknown problem.
    """
    for problem in problems:
        if problem not in catalog.PROBLEMS:
            raise ValueError(
                f"Unknown problem {problem!r}; valid problems are {', '.join(catalog.PROBLEMS)}."
            )
    written = {}
    for problem in problems:
        models = load_models(runs, problem, seed)
        if not models:
            written[problem] = []
            continue
        _, x_test = datasets.train_test_data(problem, 10, num_points, seed)
        written[problem] = draw_problem(problem, models, x_test, output, seed)
    return written


def load_models(runs, problem, seed):
    """`{model_name: model}` for the models of one problem and seed found under `runs`."""
    from tfp_rad.saving import load_model

    models = {}
    for name in catalog.MODEL_KINDS:
        path = os.path.join(runs, "models", run_store.run_name(problem, name, seed) + ".keras")
        if os.path.exists(path):
            models[name] = load_model(path)
    return models


def draw_problem(problem, models, x_test, output, seed=0):
    """Writes the four figures of one problem into `output` (created); returns their paths."""
    os.makedirs(output, exist_ok=True)
    bounds = plotting.square_bounds(x_test)
    colors = _position_colors(x_test)
    paths = [os.path.join(output, f"{problem}-{kind}.png") for kind in _KINDS]
    samples_figure(problem, models, x_test, bounds, paths[0], seed)
    latent_figure(problem, models, x_test, colors, paths[1])
    inference_figure(problem, models, x_test, colors, paths[2])
    if "rad" in models:
        folding_figure(problem, models["rad"], x_test, bounds, paths[3])
    else:
        paths.pop()
    return paths


_KINDS = ("samples", "latent", "inference", "folding")


def _position_colors(x):
    """A colour value per point from its angle around the data's centre (traceable)."""
    centred = x - x.mean(axis=0)
    return np.arctan2(centred[:, 1], centred[:, 0])


def samples_figure(problem, models, x_test, bounds, path, seed=0):
    """Data and samples (top row); true and model densities, one colour scale (bottom)."""
    n = len(x_test)
    top = [("data", plotting.scatter(x_test))]
    top += [
        (f"{catalog.MODEL_NAMES[name]} samples", plotting.scatter(model.sample(n, seed=seed).numpy()))
        for name, model in models.items()
    ]
    truth = datasets.get(problem, dtype="float64")
    grids = [("true density", truth.log_prob)] + [
        (f"{catalog.MODEL_NAMES[name]} density", model.log_prob) for name, model in models.items()
    ]
    densities = [np.exp(plotting.log_prob_grid(fn, bounds)[1]) for _, fn in grids]
    vmax = float(densities[0].max())
    bottom = [(t, plotting.heat_map(d, bounds, vmax)) for (t, _), d in zip(grids, densities)]
    plotting.save_panels([top, bottom], path, bounds, title=problem)


def latent_figure(problem, models, x_test, colors, path):
    """Test points pushed to the latent space by each model, on `N(0, I)` contours."""
    row = []
    for name, model in models.items():
        z = np.asarray(model.infer_layers(x_test)[-1].z)
        row.append((f"{catalog.MODEL_NAMES[name]} latent", plotting.on_standard_normal(z, colors)))
    plotting.save_panels([row], path, (-4.0, 4.0), title=f"{problem}: Gaussianized test points")


def inference_figure(problem, models, x_test, colors, path):
    """One row per model: the data, then the points after each layer's inference."""
    rows = []
    for name, model in models.items():
        steps = model.infer_layers(x_test)
        row = [(f"{catalog.MODEL_NAMES[name]}: data", plotting.scatter(x_test, colors))]
        for i, step in enumerate(steps):
            z = np.asarray(step.z)
            row.append((f"after layer {i + 1}", _autoscaled(plotting.scatter(z, colors), z)))
        rows.append(row)
    plotting.save_panels(rows, path, title=f"{problem}: inference, layer by layer", size=2.4)


def _autoscaled(draw, points):
    def draw_scaled(ax):
        draw(ax)
        low, high = plotting.square_bounds(points)
        ax.set_xlim(low, high)
        ax.set_ylim(low, high)

    return draw_scaled


def folding_figure(problem, rad_model, x_test, bounds, path):
    """RAD's first layer: input by piece, the fold at a few pass-through values, output."""
    fold = rad_model.folds[0]
    z, k, _ = (np.asarray(t) for t in fold.fold(x_test.astype(fold.compute_dtype)))
    piece = np.array(["C0", "C1", "C2"])[k[:, 0]]  # the colours of the fold's pieces
    passthrough = int(np.flatnonzero(~np.asarray(fold.fold_mask))[0])
    folded = int(np.flatnonzero(fold.fold_mask)[0])

    def draw_fold(ax):
        line = np.linspace(bounds[0], bounds[1], 400)
        for value in np.percentile(x_test[:, passthrough], [20, 50, 80]):
            points = np.zeros((len(line), fold.event_size), fold.compute_dtype)
            points[:, passthrough], points[:, folded] = value, line
            z_line, k_line, _ = (np.asarray(t) for t in fold.fold(points))
            for j in range(3):
                masked = np.where(k_line[:, 0] == j, z_line[:, folded], np.nan)
                ax.plot(line, masked, color=f"C{j}", lw=1)
        ax.set_xlabel(f"x{folded + 1}")
        ax.set_ylabel(f"z{folded + 1}")

    def draw_output(ax):
        plotting.scatter(z, piece, size=1.5)(ax)
        low, high = plotting.square_bounds(z)
        ax.set_xlim(low, high)
        ax.set_ylim(low, high)

    row = [
        ("input, coloured by piece k", plotting.scatter(x_test, piece, size=1.5)),
        (f"the fold of x{folded + 1} at 3 values of x{passthrough + 1}", draw_fold),
        ("output, coloured by piece k", draw_output),
    ]
    plotting.save_panels([row], path, title=f"{problem}: RAD's first layer")
