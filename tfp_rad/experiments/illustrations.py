"""The journal paper's 1-D pictures of the fold (its Figures 2, 4, 6 and 8).

Each function builds a small one-dimensional RAD example from the library's own pieces, a
free-standing `PiecewiseFold(1)` with assigned raw parameters and, where a density is drawn,
a `RADDistribution` over a 1-D normal base, all in float64. It draws one PNG and returns
the numbers the picture shows, so that tests can check the mathematics behind it:

- `trimodal_fold` (Fig. 2): one fold turns a unimodal `p_Z` into a trimodal `p_X`.
- `sine_gating` (Fig. 4): a sine-wave gating `p(k | z)` makes `p_X` far from a mirrored
  copy of `p_Z`.
- `continuity` (Fig. 6): the boundary-conditioned gating makes `log p_X` continuous; a
  plain softmax gating makes it jump at the breakpoints.
- `smoothing_by_folding` (Fig. 8): repeated uniform 3-folds push any smooth density on
  `[-1, 1]` towards the uniform one (Theorem 1).

Piece indices follow the library (`k = 0, 1, 2` from left to right; the paper counts from
1) and each piece keeps one colour in every figure. The density of a fold is

    log p_X(x) = log p_Z(z) + log p(k | z) + log |f'(x)|,   z = f(x), k = f_K(x).
"""

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

from tfp_rad.fold import NUM_PIECES, PiecewiseFold  # noqa: E402
from tfp_rad.rad_distribution import RADDistribution  # noqa: E402

tfd = tfp.distributions

PIECE_COLOURS = ("tab:red", "tab:green", "tab:blue")

# Fig. 2: boundary logits (q+ then q-) of an asymmetric fold; a unimodal N(0, 0.3^2) base.
TRIMODAL_RAW = (0.0, 0.0, 0.0, 0.0, 0.6, 0.0, -0.3, 0.3, 0.0, -0.6)
TRIMODAL_BASE_SCALE = 0.3
# Figs. 4 and 6: pieces 1 and 2 dominate (piece 0 is tiny and steep), so that on [-1, 1]
# the fold is nearly the absolute value z = 2|x| - 1.
ABSOLUTE_RAW = (0.0, 0.0, 0.0, 0.0, -4.0, 0.0, 0.0, -4.0, 0.0, 0.0)
ABSOLUTE_BASE_SCALE = 0.7
# The sine wave s(z) of the gating: a constant SMALL_PIECE_LOGIT for the tiny piece 0,
# +-A sin(w pi z) for pieces 1 and 2.
SINE_AMPLITUDE = 2.0
SINE_FREQUENCY = 2.5
SMALL_PIECE_LOGIT = -4.0
# One-sided limits at a breakpoint c: linear extrapolation from c -+ h and c -+ 2h.
ONE_SIDED_STEP = 1e-7


def trimodal_fold(path, latent=0.5):
    """Fig. 2: one fold turns a unimodal `p_Z` into a trimodal `p_X`.

    The base is `p_Z = N(0, 0.3^2)`; the fold maps each of its three pieces `A_k` onto
    `[-1, 1]` (and the outer tails beyond), so each piece holds one copy of the mode:

        p_X(x) = p_Z(f(x)) p(k | f(x)) |f'(x)|   for x in A_k,

    with the slopes and the gating `p(k | z)` (no free logits, `s = 0`) derived from the
    boundary probabilities `q+ != q-`, so the copies differ in width and weight. Panels:
    the fold `z = f(x)` coloured by piece, `p_Z`, and `p_X` (the library's `log_prob`),
    with the three preimages of the point `latent` marked in each.

    Args:
      path: where the PNG is written.
      latent: the point `z` whose three preimages are marked; must lie in `(-1, 1)`.

    Returns:
      dict with `integral` (trapezoid mass of `p_X`), `latent`, `preimages` (the three `x`
      with `f(x) = latent`, one per piece), `piece_masses` (mass of `p_X` on each piece)
      and `breakpoints` (the fold's four breakpoints in `x`).

    Raises:
      ValueError: if `latent` is outside `(-1, 1)`, where not every piece has a preimage.
    """
    if not -1.0 < latent < 1.0:
        raise ValueError(f"latent must lie in (-1, 1) to have three preimages, got {latent!r}.")
    fold = _fold(TRIMODAL_RAW)
    rad = RADDistribution(_normal_base(TRIMODAL_BASE_SCALE), fold)
    x = np.linspace(-1.6, 1.6, 2001)
    z, k = _fold_curve(fold, x)
    density = _density(rad, x)
    preimages = _preimages(fold, latent)
    wide = np.linspace(-8.0, 8.0, 64001)
    _, wide_k = _fold_curve(fold, wide)
    wide_density = _density(rad, wide)
    piece_masses = [float(np.trapezoid(np.where(wide_k == j, wide_density, 0.0), wide))
                    for j in range(NUM_PIECES)]

    fig, (ax_fold, ax_base, ax_data) = plt.subplots(1, 3, figsize=(15, 4.2))
    _plot_by_piece(ax_fold, x, z, k)
    ax_fold.axhline(latent, color="black", linestyle="--", linewidth=1,
                    label=f"z = {latent:g}")
    ax_fold.scatter(preimages, [latent] * NUM_PIECES, color=PIECE_COLOURS, zorder=3,
                    edgecolors="black")
    _finish(ax_fold, "(a) the fold z = f(x), coloured by piece k", "x", "z = f(x)")

    z_axis = np.linspace(-1.6, 1.6, 801)
    ax_base.plot(z_axis, _density(rad.base_distribution, z_axis), color="black",
                 label=f"p_Z = N(0, {TRIMODAL_BASE_SCALE:g}²)")
    ax_base.axvline(latent, color="black", linestyle="--", linewidth=1,
                    label=f"z = {latent:g}")
    _finish(ax_base, "(b) the unimodal base p_Z", "z", "density")

    _plot_by_piece(ax_data, x, density, k, fill=True,
                   labels=[f"k = {j}: mass {m:.3f}" for j, m in enumerate(piece_masses)])
    for j, point in enumerate(preimages):
        ax_data.axvline(point, color=PIECE_COLOURS[j], linestyle="--", linewidth=1)
    _finish(ax_data, f"(c) the trimodal p_X; dashed: preimages of z = {latent:g}", "x",
            "density")
    _save(fig, path, "One fold turns a unimodal p_Z into a trimodal p_X (journal Fig. 2)")
    return {
        "integral": float(np.trapezoid(wide_density, wide)),
        "latent": float(latent),
        "preimages": [float(p) for p in preimages],
        "piece_masses": piece_masses,
        "breakpoints": [float(b) for b in _breakpoints(fold)],
    }


def sine_gating(path):
    """Fig. 4: a sine-wave gating makes `p_X` more than a mirrored copy of `p_Z`.

    The fold is nearly the absolute value `z = 2|x| - 1` on `[-1, 1]` (pieces 1 and 2;
    piece 0 is tiny and steep), the base `p_Z = N(0, 0.7^2)`. Every `z` in `(-1, 1)` has a
    preimage on each side of 0, and the gating decides how its mass is shared between
    them. The free logits are a sine wave, `s(z) = (c, A sin(w pi z), -A sin(w pi z))`,
    fed through the boundary-conditioned gating, so `p(k | z)` oscillates and

        p_X(x) = p_Z(f(x)) p(k | f(x)) |f'(x)|

    has bumps that `p_Z` does not. Panels: the fold, `p_Z` with `p(k | z)`, and `p_X`
    beside the same model with `s = 0` (dashed: a copy of `p_Z` on each piece).

    Args:
      path: where the PNG is written.

    Returns:
      dict with `integral` (trapezoid mass of `p_X`), `integral_without_wave` (the same
      with `s = 0`), and `gating_crossings` (how often `p(1 | z) - p(2 | z)` changes sign
      on `(-1, 1)`).
    """
    fold = _fold(ABSOLUTE_RAW)
    base = _normal_base(ABSOLUTE_BASE_SCALE)
    rad = RADDistribution(base, fold, gating=_sine_wave_logits)
    flat = RADDistribution(base, fold)
    x = np.linspace(-2.0, 2.0, 4001)
    z, k = _fold_curve(fold, x)
    z_axis = np.linspace(-1.0, 1.0, 801)
    gates = _gating_probs(fold, z_axis, _sine_wave_logits)
    wide = np.linspace(-8.0, 8.0, 64001)
    difference = np.sign(gates[1:-1, 1] - gates[1:-1, 2])

    fig, (ax_fold, ax_gate, ax_data) = plt.subplots(1, 3, figsize=(15, 4.2))
    _plot_by_piece(ax_fold, x, z, k)
    _finish(ax_fold, "(a) a fold like z = 2|x| - 1; piece 0 is tiny", "x", "z = f(x)")

    for j in range(NUM_PIECES):
        ax_gate.plot(z_axis, gates[:, j], color=PIECE_COLOURS[j], label=f"p(k = {j} | z)")
    ax_gate.plot(z_axis, _density(base, z_axis), color="black", linestyle=":",
                 label=f"p_Z = N(0, {ABSOLUTE_BASE_SCALE:g}²)")
    ax_gate.set_ylim(-0.02, 1.35)
    ax_gate.legend(fontsize=8, ncol=2, loc="upper center")
    _finish(ax_gate, "(b) the sine-wave gating p(k | z) and p_Z", "z", "probability, density")

    ax_data.plot(x, _density(flat, x), color="grey", linestyle="--",
                 label="p_X with s = 0: a copy of p_Z per piece")
    density = _density(rad, x)
    _plot_by_piece(ax_data, x, density, k, fill=True)
    ax_data.set_ylim(0.0, 1.4 * density.max())
    ax_data.legend(fontsize=8, ncol=2, loc="upper center")
    _finish(ax_data, "(c) p_X with the sine-wave gating", "x", "density")
    _save(fig, path, "A gating p(k | z) shaped like a sine wave (journal Fig. 4)")
    return {
        "integral": float(np.trapezoid(_density(rad, wide), wide)),
        "integral_without_wave": float(np.trapezoid(_density(flat, wide), wide)),
        "gating_crossings": int(np.count_nonzero(difference[1:] != difference[:-1])),
    }


def continuity(path):
    """Fig. 6: boundary conditions make `log p_X` continuous at the breakpoints.

    The fold, base and sine-wave logits `s(z)` of `sine_gating`, with two gatings inside
    `[-1, 1]`: the boundary-conditioned one (`p(. | z = +-1) = q+-` whatever `s` is,
    matching the slopes) and a plain `softmax(s(z))`. At a breakpoint `c` between pieces
    `j` and `k` the density is continuous if and only if

        log p(j | f(c)) + log |f'_j| = log p(k | f(c)) + log |f'_k|,

    which the boundary-conditioned gating satisfies and the plain softmax does not. The
    jump `|log p_X(c+) - log p_X(c-)|` is measured at each breakpoint from one-sided
    limits (linear extrapolation from the side). Panels: the fold, both gatings, and
    both log-densities drawn piece by piece with the breakpoints marked.

    Args:
      path: where the PNG is written.

    Returns:
      dict with `breakpoints` (four `x`), `jumps_boundary_conditioned` and
      `jumps_plain_softmax` (one jump per breakpoint), their maxima
      `max_jump_boundary_conditioned` and `max_jump_plain_softmax`, and the trapezoid
      masses `integral_boundary_conditioned` and `integral_plain_softmax`.
    """
    base = _normal_base(ABSOLUTE_BASE_SCALE)
    folds = {"boundary_conditioned": _fold(ABSOLUTE_RAW),
             "plain_softmax": _fold(ABSOLUTE_RAW, boundary_conditioned_gating=False)}
    rads = {name: RADDistribution(base, fold, gating=_sine_wave_logits)
            for name, fold in folds.items()}
    breakpoints = _breakpoints(folds["boundary_conditioned"])
    x = np.linspace(-2.0, 2.0, 4001)
    z_axis = np.linspace(-1.0, 1.0, 801)
    wide = np.linspace(-8.0, 8.0, 64001)
    styles = {"boundary_conditioned": ("-", "black", "boundary-conditioned gating"),
              "plain_softmax": ("--", "tab:orange", "plain softmax(s(z))")}
    results = {"breakpoints": [float(c) for c in breakpoints]}

    fig, ((ax_fold, ax_gate), (ax_log, ax_zoom)) = plt.subplots(2, 2, figsize=(12, 8.5))
    z, k = _fold_curve(folds["boundary_conditioned"], x)
    _plot_by_piece(ax_fold, x, z, k)
    for ax in (ax_fold, ax_log, ax_zoom):
        for c in breakpoints:
            ax.axvline(c, color="grey", linestyle=":", linewidth=1)
    _finish(ax_fold, "(a) the fold; dotted: its breakpoints", "x", "z = f(x)")

    zoom = (breakpoints[0] - 0.01, breakpoints[1] + 0.01)  # around the tiny piece 0
    for name, rad in rads.items():
        linestyle, colour, label = styles[name]
        gates = _gating_probs(folds[name], z_axis, _sine_wave_logits)
        for j in range(NUM_PIECES):
            ax_gate.plot(z_axis, gates[:, j], color=PIECE_COLOURS[j], linestyle=linestyle)
        jumps = [_jump(rad, c) for c in breakpoints]
        results[f"jumps_{name}"] = jumps
        results[f"max_jump_{name}"] = max(jumps)
        results[f"integral_{name}"] = float(np.trapezoid(_density(rad, wide), wide))
        for ax, bounds in ((ax_log, (x[0], x[-1])), (ax_zoom, zoom)):
            inside = breakpoints[(breakpoints > bounds[0]) & (breakpoints < bounds[1])]
            for i, (low, high) in enumerate(_segments(bounds, inside)):
                segment = np.linspace(low, high, 400)
                ax.plot(segment, _log_density(rad, segment), color=colour,
                        linestyle=linestyle,
                        label=f"{label}: largest jump {max(jumps):.2g} nats" if i == 0 else None)
    ax_gate.set_ylim(-0.02, 1.3)
    ax_gate.legend(
        handles=[Line2D([], [], color=PIECE_COLOURS[j], label=f"p(k = {j} | z)")
                 for j in range(NUM_PIECES)]
        + [Line2D([], [], color="black", linestyle=style, label=label)
           for style, _, label in styles.values()],
        fontsize=8, ncol=2, loc="upper center")
    _finish(ax_gate, "(b) the gating: boundary-conditioned (solid) meets q± at z = ±1,\n"
            "the plain softmax (dashed) does not", "z", "probability")
    _finish(ax_log, "(c) log p_X, drawn piece by piece; (d) zooms on the tiny piece 0", "x",
            "log density")
    ax_zoom.set_xlim(zoom)
    low, high = ax_zoom.get_ylim()
    ax_zoom.set_ylim(low - 0.3 * (high - low), high)  # room for the legend
    ax_zoom.legend(fontsize=8, loc="lower right")
    _finish(ax_zoom, "(d) zoom on the tiny piece 0 between the first two breakpoints", "x",
            "log density")
    _save(fig, path, "Continuity of log p_X with and without boundary conditions "
          "(journal Fig. 6)")
    return results


def smoothing_by_folding(path, num_folds=4):
    """Fig. 8 and Theorem 1: repeated uniform folds smooth a density towards uniform.

    `p_0` is Beta(2, 5) rescaled to `[-1, 1]`. The uniform 3-fold (raw parameters all
    zero: `q+ = q- = (1/3, 1/3, 1/3)`, inner slopes 3) maps each third of `[-1, 1]` onto
    `[-1, 1]`, so the push-forward of a density `p_n` on `[-1, 1]` is

        p_{n+1}(z) = sum_k p_n(unfold(z, k)) / 3,

    three shrunk copies averaged: the Lipschitz constant `L_n` divides by 3 at every fold
    and, since `p_n` integrates to 1 and so equals 1/2 somewhere on `[-1, 1]`,

        sup_z |p_n(z) - 1/2| <= 2 L_n <= 2 L_0 / 3^n:

    `p_n` tends to the uniform density 1/2. `p_n(z)` is evaluated exactly as the mean of
    `p_0` over the `3^n` preimages of `z` (the fold's `unfold`, each `k`, `n` times).
    The gating that recovers `p_0` from `p_1` is `p(k | z) = p_0(unfold(z, k)) / (3 p_1(z))`.
    Panels: `p_0` cut into the fold's three pieces, the densities after 0..num_folds
    folds, that gating, and the sup distance to uniform per fold against the bound.

    Args:
      path: where the PNG is written.
      num_folds: positive int, how many times to fold.

    Returns:
      dict with `sup_distance` (`max_z |p_n(z) - 1/2|` on a grid, for n = 0..num_folds),
      `bound` (`2 L_0 / 3^n`, with `L_0` the largest slope of `p_0` on the grid) and
      `integrals` (trapezoid mass of each `p_n`).
    """
    if num_folds < 1:
        raise ValueError(f"num_folds must be a positive integer, got {num_folds!r}.")
    fold = _fold((0.0,) * 10)
    grid = np.linspace(-1.0, 1.0, 801)
    preimages = grid[:, None]  # [grid, 3^n]: the preimages of each grid point after n folds
    densities = [_beta_2_5(grid)]
    for _ in range(num_folds):
        preimages = np.concatenate([_unfold(fold, preimages, j) for j in range(NUM_PIECES)],
                                   axis=1)
        densities.append(_beta_2_5(preimages).mean(axis=1))
    sup_distance = [float(np.max(np.abs(d - 0.5))) for d in densities]
    lipschitz = np.max(np.abs(np.diff(densities[0]) / np.diff(grid)))
    bound = [float(2.0 * lipschitz / 3.0**n) for n in range(num_folds + 1)]
    _, pieces = _fold_curve(fold, grid)
    recovering = np.stack([_beta_2_5(_unfold(fold, grid[:, None], j)[:, 0])
                           for j in range(NUM_PIECES)], axis=1) / (3.0 * densities[1][:, None])

    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    (ax_data, ax_steps), (ax_gate, ax_sup) = axes
    _plot_by_piece(ax_data, grid, densities[0], pieces, fill=True)
    _finish(ax_data, "(a) p_0 = Beta(2, 5) on [-1, 1], cut into the fold's pieces", "x",
            "density")
    colours = plt.cm.viridis(np.linspace(0.0, 0.85, num_folds + 1))
    for n, (density, colour) in enumerate(zip(densities, colours)):
        ax_steps.plot(grid, density, color=colour,
                      label=f"{n} fold{'s' * (n != 1)}: sup |p - 1/2| = {sup_distance[n]:.3g}")
    ax_steps.axhline(0.5, color="black", linestyle=":", label="uniform, 1/2")
    _finish(ax_steps, "(b) p_n(z) = Σ_k p_{n-1}(unfold(z, k)) / 3", "z", "density")
    for j in range(NUM_PIECES):
        ax_gate.plot(grid, recovering[:, j], color=PIECE_COLOURS[j], label=f"p(k = {j} | z)")
    _finish(ax_gate, "(c) the gating that recovers p_0 from p_1", "z", "probability")
    ax_sup.semilogy(range(num_folds + 1), sup_distance, "o-", color="black",
                    label="sup |p_n - 1/2|")
    ax_sup.semilogy(range(num_folds + 1), bound, color="grey", linestyle="--",
                    label="Theorem 1 bound 2 sup|p_0'| / 3^n")
    ax_sup.set_xticks(range(num_folds + 1))
    _finish(ax_sup, "(d) distance to uniform after n folds", "n (folds)", "sup distance")
    _save(fig, path, "Smoothing by folding: the uniform 3-fold pushes p_0 towards uniform "
          "(journal Fig. 8, Theorem 1)")
    return {
        "sup_distance": sup_distance,
        "bound": bound,
        "integrals": [float(np.trapezoid(d, grid)) for d in densities],
    }


# ------------------------------------------------------------------------------------------
# The model pieces.


def _fold(raw, boundary_conditioned_gating=True):
    """A free-standing float64 `PiecewiseFold(1)` with raw parameters `raw` (10 numbers)."""
    fold = PiecewiseFold(1, boundary_conditioned_gating=boundary_conditioned_gating,
                         dtype="float64")
    fold.raw_parameters.assign(np.asarray(raw, np.float64)[None, :])
    return fold


def _normal_base(scale):
    return tfd.MultivariateNormalDiag(loc=np.zeros(1), scale_diag=np.full(1, float(scale)))


def _sine_wave_logits(z):
    """Raw gating logits `s(z)` `[N, 1, 3]`: `(c, A sin(w pi z), -A sin(w pi z))`."""
    wave = SINE_AMPLITUDE * tf.sin(SINE_FREQUENCY * np.pi * z)
    small = tf.fill(tf.shape(wave), tf.constant(SMALL_PIECE_LOGIT, wave.dtype))
    return tf.stack([small, wave, -wave], axis=-1)


def _beta_2_5(x):
    """The Beta(2, 5) density moved to `[-1, 1]`: `15 t (1 - t)^4`, `t = (x + 1) / 2`."""
    t = np.clip((x + 1.0) / 2.0, 0.0, 1.0)
    return 15.0 * t * (1.0 - t) ** 4


# ------------------------------------------------------------------------------------------
# Evaluating them on grids (1-D arrays of points in, 1-D arrays out).


def _fold_curve(fold, x):
    z, k, _ = fold.fold(x[:, None])
    return np.asarray(z)[:, 0], np.asarray(k)[:, 0]


def _unfold(fold, z, piece):
    """`unfold` of every entry of the array `z` in the same piece."""
    flat = z.reshape(-1, 1)
    x = fold.unfold(flat, np.full(flat.shape, piece, np.int32))
    return np.asarray(x).reshape(z.shape)


def _preimages(fold, latent):
    z = np.full((NUM_PIECES, 1), float(latent))
    return np.asarray(fold.unfold(z, np.arange(NUM_PIECES, dtype=np.int32)[:, None]))[:, 0]


def _breakpoints(fold):
    """The `x` where `u = x exp(r_in) + m_in` is -1, a, b, 1."""
    p = fold.fold_parameters(None)
    u = np.array([-1.0, float(p.a[0]), float(p.b[0]), 1.0])
    return (u - float(p.shift_in[0])) * np.exp(-float(p.log_scale_in[0]))


def _log_density(distribution, x):
    return np.asarray(distribution.log_prob(x[:, None]))


def _density(distribution, x):
    return np.exp(_log_density(distribution, x))


def _gating_probs(fold, z, gating):
    """`p(k | z)` `[N, 3]` for the 1-D points `z`."""
    points = tf.constant(z[:, None])
    return np.exp(np.asarray(fold.gating_log_probs(points, gating(points))))[:, 0, :]


def _jump(distribution, c, step=ONE_SIDED_STEP):
    """`|log p(c+) - log p(c-)|`, each one-sided limit extrapolated linearly from its side."""
    left, right = _log_density(distribution, np.array([c - 2 * step, c - step,
                                                       c + step, c + 2 * step])).reshape(2, 2)
    return float(abs((2 * right[0] - right[1]) - (2 * left[1] - left[0])))


def _segments(bounds, breakpoints, gap=1e-9):
    """The intervals of `bounds = (low, high)` between breakpoints, each just inside its ends."""
    edges = np.concatenate([[bounds[0]], breakpoints, [bounds[1]]])
    return [(low + gap, high - gap) for low, high in zip(edges[:-1], edges[1:])]


# ------------------------------------------------------------------------------------------
# Drawing.


def _plot_by_piece(ax, x, y, k, fill=False, labels=None):
    """Draws `y(x)` in the colour of each point's piece `k`, optionally filled below."""
    for j in range(NUM_PIECES):
        inside = k == j
        label = labels[j] if labels else f"piece k = {j}"
        ax.plot(x, np.where(inside, y, np.nan), color=PIECE_COLOURS[j], label=label)
        if fill:
            ax.fill_between(x, 0.0, y, where=inside, color=PIECE_COLOURS[j], alpha=0.25,
                            linewidth=0)


def _finish(ax, title, xlabel, ylabel):
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if not ax.get_legend():
        ax.legend(fontsize=8)


def _save(fig, path, title):
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
