"""Matplotlib figures of 2-D density models: samples against data, density heat maps."""

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def square_bounds(points, margin=0.1):
    """A square `(low, high)` that holds the points' 0.5-99.5 percentiles plus a margin."""
    low, high = np.percentile(points, [0.5, 99.5])
    pad = margin * (high - low)
    return float(low - pad), float(high + pad)


def log_prob_grid(log_prob, bounds, resolution=200):
    """Evaluates `log_prob` on a `resolution x resolution` grid over `bounds^2`.

    Returns `(axis, log_density)` with `log_density[i, j] = log p(axis[j], axis[i])` (rows
    are y, as `imshow` expects).
    """
    axis = np.linspace(bounds[0], bounds[1], resolution)
    xx, yy = np.meshgrid(axis, axis)
    points = np.stack([xx.ravel(), yy.ravel()], axis=1)
    return axis, np.asarray(log_prob(points)).reshape(resolution, resolution)


def plot_samples(panels, path, bounds, title=None):
    """Side-by-side scatter plots, one per `(name, points [n, 2])` panel, saved to `path`."""

    def draw(ax, points):
        ax.scatter(points[:, 0], points[:, 1], s=1, alpha=0.4, rasterized=True)

    _save_panels(panels, path, bounds, draw, title)


def plot_densities(panels, path, bounds, resolution=200, title=None):
    """Heat maps of `exp(log_prob)`, one per `(name, log_prob_fn)` panel, saved to `path`.

    All panels share the colour scale of the first (put the true density first): a model's
    density spikes then saturate instead of washing out the picture.
    """
    densities = [np.exp(log_prob_grid(fn, bounds, resolution)[1]) for _, fn in panels]
    top = float(np.max(densities[0]))

    def draw(ax, density):
        ax.imshow(
            density,
            origin="lower",
            extent=(bounds[0], bounds[1], bounds[0], bounds[1]),
            cmap="viridis",
            vmin=0.0,
            vmax=top,
            interpolation="nearest",
        )

    _save_panels([(name, d) for (name, _), d in zip(panels, densities)], path, bounds, draw, title)


def _save_panels(panels, path, bounds, draw, title):
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4), squeeze=False)
    for ax, (name, item) in zip(axes[0], panels):
        draw(ax, item)
        _style(ax, name, bounds)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _style(ax, name, bounds):
    ax.set_title(name)
    ax.set_xlim(bounds)
    ax.set_ylim(bounds)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
