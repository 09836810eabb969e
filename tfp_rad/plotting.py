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
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4), squeeze=False)
    for ax, (name, points) in zip(axes[0], panels):
        ax.scatter(points[:, 0], points[:, 1], s=1, alpha=0.4, rasterized=True)
        _style(ax, name, bounds)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_densities(panels, path, bounds, resolution=200, title=None):
    """Heat maps of `exp(log_prob)`, one per `(name, log_prob_fn)` panel, saved to `path`."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4), squeeze=False)
    for ax, (name, log_prob) in zip(axes[0], panels):
        _, log_density = log_prob_grid(log_prob, bounds, resolution)
        ax.imshow(
            np.exp(log_density),
            origin="lower",
            extent=(bounds[0], bounds[1], bounds[0], bounds[1]),
            cmap="viridis",
            interpolation="nearest",
        )
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
