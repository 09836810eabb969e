"""Matplotlib primitives for density models: panels of scatter plots, heat maps, histograms.

A figure is a grid of panels; each panel is `(title, draw)` where `draw(ax)` paints one
axis. The builders below return such `draw` functions.
"""

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


def scatter(points, colors=None, cmap="viridis", size=1.0):
    """A panel painter: the points `[n, 2]`, optionally coloured by values `[n]`."""

    numeric = colors is not None and np.issubdtype(np.asarray(colors).dtype, np.number)

    def draw(ax):
        ax.scatter(
            points[:, 0],
            points[:, 1],
            s=size,
            c=colors,
            cmap=cmap if numeric else None,
            alpha=0.5,
            rasterized=True,
        )

    return draw


def heat_map(density, bounds, vmax=None):
    """A panel painter: a density grid `[r, r]` (from `log_prob_grid`) over `bounds^2`."""

    def draw(ax):
        ax.imshow(
            density,
            origin="lower",
            extent=(bounds[0], bounds[1], bounds[0], bounds[1]),
            cmap="viridis",
            vmin=0.0,
            vmax=vmax,
            interpolation="nearest",
        )

    return draw


def on_standard_normal(points, colors=None):
    """A panel painter: points over the contours of `N(0, I_2)` (radii 1, 2, 3)."""

    def draw(ax):
        angle = np.linspace(0.0, 2.0 * np.pi, 200)
        for radius in (1.0, 2.0, 3.0):
            ax.plot(radius * np.cos(angle), radius * np.sin(angle), color="0.6", lw=0.8)
        scatter(points, colors)(ax)

    return draw


def save_panels(rows, path, bounds=None, title=None, size=3.2):
    """Draws a grid of panels and saves it as a PNG.

    Args:
      rows: a list of rows, each a list of `(title, draw)` panels.
      path: the PNG's path.
      bounds: `(low, high)` for every axis, or None for matplotlib's own.
      title: the figure's title.
      size: inches per panel.
    """
    num_rows, num_cols = len(rows), max(len(row) for row in rows)
    fig, axes = plt.subplots(
        num_rows, num_cols, figsize=(size * num_cols, size * num_rows), squeeze=False
    )
    for row_axes, row in zip(axes, rows):
        for ax, (name, draw) in zip(row_axes, row):
            draw(ax)
            ax.set_title(name, fontsize=10)
            if bounds is not None:
                ax.set_xlim(bounds)
                ax.set_ylim(bounds)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
        for ax in row_axes[len(row) :]:
            ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_samples(panels, path, bounds, title=None):
    """One row of scatter plots, one per `(name, points [n, 2])`, saved to `path`."""
    save_panels([[(name, scatter(points)) for name, points in panels]], path, bounds, title)


def plot_densities(panels, path, bounds, resolution=200, title=None):
    """One row of heat maps of `exp(log_prob)`, one per `(name, log_prob_fn)`.

    All panels share the colour scale of the first (put the true density first): a model's
    density spikes then saturate instead of washing out the picture.
    """
    densities = [np.exp(log_prob_grid(fn, bounds, resolution)[1]) for _, fn in panels]
    top = float(np.max(densities[0]))
    row = [(name, heat_map(d, bounds, top)) for (name, _), d in zip(panels, densities)]
    save_panels([row], path, bounds, title)


def plot_marginals(data, samples, path, max_dims=4, labels=("data", "model samples")):
    """Histograms of the first `max_dims` features, data against model samples, in a row.

    Both histograms of feature `j` share 50 bins over the data's `square_bounds`; bar
    heights are `count / (n * bin_width)` with `n` all of a set's points, so a model that
    puts mass outside the plotted range shows lower bars rather than being renormalized.

    Args:
      data: points `[n, d]`.
      samples: model samples `[m, d]`.
      path: the PNG's path.
      max_dims: at most this many features (the first ones) are drawn.
      labels: the legend's names of `data` and `samples`.
    """
    count = min(data.shape[1], max_dims)
    fig, axes = plt.subplots(1, count, figsize=(3.2 * count, 2.8), squeeze=False)
    for j, ax in enumerate(axes[0]):
        edges = np.linspace(*square_bounds(data[:, j]), 51)
        for points, label, style in [(data, labels[0], "stepfilled"), (samples, labels[1], "step")]:
            weight = 1.0 / (len(points) * (edges[1] - edges[0]))
            ax.hist(points[:, j], edges, weights=np.full(len(points), weight), histtype=style,
                    alpha=0.5 if style == "stepfilled" else 1.0, label=label)
        ax.set_title(f"x{j}", fontsize=10)
        ax.set_yticks([])
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_pairs(data, samples, path, max_dims=4, labels=("data", "model samples")):
    """Scatter plots of every pair of the first `max_dims` features: data | model samples.

    One row per pair `(i, j)`, `i < j`: the data's `(x_i, x_j)` on the left, the samples'
    on the right, both over the data's `square_bounds` of each feature.

    Args:
      data: points `[n, d]`, `d >= 2`.
      samples: model samples `[m, d]`.
      path: the PNG's path.
      max_dims: pairs among the first `max_dims` features only.
      labels: the panel titles of `data` and `samples`.
    """
    count = min(data.shape[1], max_dims)
    pairs = [(i, j) for i in range(count) for j in range(i + 1, count)]
    if not pairs:
        raise ValueError(f"plot_pairs needs at least 2 features; got data of shape {data.shape}.")
    fig, axes = plt.subplots(len(pairs), 2, figsize=(6.0, 3.0 * len(pairs)), squeeze=False)
    for (i, j), row in zip(pairs, axes):
        for ax, points, label in zip(row, (data, samples), labels):
            scatter(points[:, [i, j]])(ax)
            ax.set_xlim(square_bounds(data[:, i]))
            ax.set_ylim(square_bounds(data[:, j]))
            ax.set_xlabel(f"x{i}")
            ax.set_ylabel(f"x{j}")
            ax.set_title(label, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
