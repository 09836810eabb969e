"""The six 2-D density-estimation problems of the RAD paper, as exact TFP distributions.

Dinh, Sohl-Dickstein, Larochelle and Pascanu, "A RAD approach to deep mixture models",
Section 4.1 / Figure 9, compare RAD with Real NVP on 10,000-point samples of six toy
problems but give no parameters. The parameters below are our own, chosen so that the
curves and modes lie inside [-2.6, 2.6]^2 with a spread of order one (the models use a
standard-normal base) and so that each problem keeps the character the paper describes:

* grid and ring: the clustering hypothesis (ring: clusters not axis-aligned, tight modes);
* two moons, two circles, many moons: clustering and manifold hypotheses;
* spiral: the manifold hypothesis only (one connected curve).

Every problem is a `tfd.MixtureSameFamily` of `K` equally weighted
`tfd.MultivariateNormalDiag` components with one isotropic std `sigma`, so `log_prob` is
the true density. The curve problems place their centres along the curve, at most
`d = 0.063` apart, well under `sigma`: by Poisson summation the density then varies
along the curve by a relative `2 exp(-2 pi^2 sigma^2 / d^2) < 1e-20`, i.e. it is a
smooth band around the curve (away from the ends of arcs) whose cross-section is a
Gaussian of std `sigma`.

| name          | K       | centres                                                   | sigma |
|---------------|---------|-----------------------------------------------------------|-------|
| `grid`        | 16      | `(u, v)`, `u, v` in {-1.5, -0.5, 0.5, 1.5} (4 x 4)        | 0.1   |
| `ring`        | 8       | `2 (cos a_j, sin a_j)`, `a_j = 2 pi j / 8`                | 0.05  |
| `two_moons`   | 2 x 100 | `+-1.5 (cos t_j - 1/2, sin t_j - 1/4)`,                   | 0.1   |
|               |         | `t_j = pi (j + 1/2) / 100`                                |       |
| `two_circles` | 2 x 200 | `r (cos a_j, sin a_j)`, `r` in {2, 1}, `a_j = pi j / 100` | 0.1   |
| `spiral`      | 300     | `0.2 th_j (cos th_j, sin th_j)`, see below                | 0.1   |
| `many_moons`  | 9 x 40  | `c + 0.5 (cos t_j, s (sin t_j - 1/2))`, see below         | 0.08  |

`j` runs over `0, ..., n - 1` for the `n` centres of each piece (`n = 100` per moon,
200 per circle, 300 on the spiral, 40 per small moon).

* `two_moons` is scikit-learn's `make_moons` geometry (upper arc `(cos t, sin t)`, lower
  arc `(1 - cos t, 1/2 - sin t)`, `t` in `[0, pi]`), shifted by its centre `(1/2, 1/4)`
  and scaled by 1.5; the centred lower arc is minus the centred upper one. The moons are
  0.75 (7.5 sigma) apart at their closest.
* `two_circles` is `make_circles` with `factor=0.5`, scaled by 2: each circle holds half
  the mass (so the inner band is denser), and the circles are 10 sigma apart.
* `spiral` is the Archimedean spiral `r = 0.2 th` over 1.5 turns, `th` in `[pi, 4 pi]`.
  The centres are at `th_j = sqrt(pi^2 + (j + 1/2) / 300 * 15 pi^2)`, equally spaced in
  `th^2`, hence in arclength up to a factor `sqrt(1 + 1 / th^2)` (within 5 %). Successive
  turns are `2 pi * 0.2 = 1.26` (12.6 sigma) apart.
* `many_moons` has nine half-circle arcs of radius 0.5, one at each
  `c = (1.5 u, 1.5 v)`, `u, v` in {-1, 0, 1}, `t_j = pi (j + 1/2) / 40`; `s = +1` (arc
  opening downwards) when `u + v` is even and `s = -1` otherwise, a checkerboard. Each arc
  spans `c + [-0.5, 0.5] x [-0.25, 0.25]`, so neighbouring arcs are 0.5 (6.25 sigma)
  apart.

The oracle log-likelihood of points `x` is the mean of the true `log_prob(x)` (nats per
point, computed in float64). On points drawn from the problem its expectation is minus the
entropy of the problem, which no model's expected log-likelihood can exceed (Gibbs'
inequality): it is the ceiling for a model's held-out score, which on a finite sample may
still come out above it by sampling noise. The paper's reported numbers are not
comparable: its data scales are unknown, and scaling data by `c` shifts a 2-D
log-likelihood by `-2 log c`.
"""

import numbers

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_rad import catalog, validation

tfd = tfp.distributions

_MAX_SEED = 2**31 - 1
_ORACLE_CHUNK = 8192


class GatheringMixture(tfd.MixtureSameFamily):
    """`MixtureSameFamily` of `MultivariateNormalDiag` that samples one component per draw.

    TFP's generic sampler draws from all `K` components and masks, which needs `n * K`
    memory; this one draws the component index, gathers its location and std, and adds
    standard-normal noise. The law, and `log_prob`, are those of `MixtureSameFamily`.
    """

    def _sample_n(self, n, seed=None):
        index_seed, noise_seed = tfp.random.split_seed(seed, salt="GatheringMixture")
        index = self.mixture_distribution.sample(n, seed=index_seed)
        components = self.components_distribution
        loc = tf.gather(components.loc, index)
        scale = tf.gather(components.stddev(), index)
        noise = tf.random.stateless_normal(tf.shape(loc), seed=noise_seed, dtype=self.dtype)
        return loc + scale * noise


def _grid():
    """4 x 4 grid of modes with spacing 1, centred at the origin."""
    axis = np.arange(4.0) - 1.5
    u, v = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([u.ravel(), v.ravel()], axis=-1), 0.1


def _ring():
    """8 modes on the circle of radius 2."""
    angle = 2.0 * np.pi * np.arange(8) / 8
    return 2.0 * np.stack([np.cos(angle), np.sin(angle)], axis=-1), 0.05


def _two_moons(centres_per_moon=100, sigma=0.1):
    """scikit-learn's two moons, centred and scaled by 1.5: `centres_per_moon` centres on
    each moon and components of std `sigma` (the problem's are 100 and 0.1)."""
    t = np.pi * (np.arange(centres_per_moon) + 0.5) / centres_per_moon
    upper = np.stack([np.cos(t) - 0.5, np.sin(t) - 0.25], axis=-1)
    return 1.5 * np.concatenate([upper, -upper]), sigma


def _two_circles():
    """Concentric circles of radii 2 and 1, half of the mass on each."""
    angle = 2.0 * np.pi * np.arange(200) / 200
    circle = np.stack([np.cos(angle), np.sin(angle)], axis=-1)
    return np.concatenate([2.0 * circle, circle]), 0.1


def _spiral():
    """Archimedean spiral r = 0.2 theta, theta in [pi, 4 pi], centres equally spaced in theta^2."""
    start, stop = np.pi**2, (4.0 * np.pi) ** 2
    theta = np.sqrt(start + (np.arange(300) + 0.5) / 300 * (stop - start))
    return 0.2 * theta[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=-1), 0.1


def _many_moons():
    """Nine half-circle arcs of radius 0.5 on a 3 x 3 grid, alternately facing up and down."""
    t = np.pi * (np.arange(40) + 0.5) / 40
    arcs = []
    for u in (-1, 0, 1):
        for v in (-1, 0, 1):
            side = 1.0 if (u + v) % 2 == 0 else -1.0
            arc = 0.5 * np.stack([np.cos(t), side * (np.sin(t) - 0.5)], axis=-1)
            arcs.append(arc + 1.5 * np.array([u, v]))
    return np.concatenate(arcs), 0.08


NAMES = catalog.PROBLEMS
_BUILDERS = dict(zip(NAMES, (_grid, _ring, _two_moons, _two_circles, _spiral, _many_moons)))


def _check_name(name):
    """Raises `ValueError`, listing `NAMES`, unless `name` is one of them."""
    if name not in NAMES:
        raise ValueError(f"Unknown problem {name!r}; valid names are {', '.join(NAMES)}.")


def get(name, dtype=tf.float32):
    """Returns the exact distribution of a problem.

    Args:
      name: one of `NAMES`.
      dtype: `tf.float32` or `tf.float64` (or the numpy equivalents); the dtype of the
        parameters, samples and `log_prob`.

    Returns:
      A `tfd.MixtureSameFamily` with event shape `[2]` and batch shape `[]` whose
      `log_prob` is the true density; `sample(n, seed=...)` accepts TFP seeds.

    Raises:
      ValueError: for an unknown name or a dtype other than float32 or float64.
    """
    _check_name(name)
    dtype = tf.as_dtype(dtype)
    if dtype not in (tf.float32, tf.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype.name}.")
    centres, std = _BUILDERS[name]()
    return GatheringMixture(
        mixture_distribution=tfd.Categorical(logits=tf.zeros([len(centres)], dtype)),
        components_distribution=tfd.MultivariateNormalDiag(
            loc=tf.constant(centres, dtype),
            scale_diag=tf.fill([len(centres), 2], tf.constant(std, dtype)),
        ),
        name=name,
    )


def load(name, num_samples=10000, seed=0, dtype=np.float32):
    """Draws a dataset from a problem.

    The points are drawn in float64 with the stateless seed `(0, seed)` and then cast, so
    they depend only on `name`, `num_samples` and `seed`.

    Args:
      name: one of `NAMES`.
      num_samples: positive integer, the number of points.
      seed: integer in `[0, 2**31 - 1]`; different seeds give different points.
      dtype: numpy floating dtype of the result.

    Returns:
      A numpy array of shape `[num_samples, 2]` and dtype `dtype`.

    Raises:
      ValueError: for an unknown name, a non-positive or non-integer `num_samples`, a seed
        outside `[0, 2**31 - 1]` or a non-floating dtype.
    """
    _check_name(name)
    num_samples = validation.positive_int(num_samples, "num_samples")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not (
        0 <= seed <= _MAX_SEED
    ):
        raise ValueError(f"seed must be an integer in [0, {_MAX_SEED}], got {seed!r}.")
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise ValueError(f"dtype must be a floating dtype, got {np.dtype(dtype).name}.")
    samples = get(name, tf.float64).sample(num_samples, seed=(0, seed))
    return samples.numpy().astype(dtype)


def oracle_log_likelihood(name, x):
    """Mean true log-density of points under a problem, in nats per point.

    Args:
      name: one of `NAMES`.
      x: array-like of shape `[num_points, 2]` with finite values.

    Returns:
      The float64 mean of `get(name, tf.float64).log_prob(x)`, as a Python float. The
      points are evaluated in chunks, so large `x` does not need `num_points * K` memory.

    Raises:
      ValueError: for an unknown name, or `x` that is empty, non-finite or not of shape
        `[num_points, 2]`.
    """
    _check_name(name)
    points = validation.points_array(x, 2, np.float64, what="x")
    distribution = get(name, tf.float64)
    total = 0.0
    for start in range(0, len(points), _ORACLE_CHUNK):
        total += float(tf.reduce_sum(distribution.log_prob(points[start:start + _ORACLE_CHUNK])))
    return total / len(points)


def train_test_data(name, num_train, num_test, seed):
    """The training and test sets of run seed `seed` of a problem: `(x_train, x_test)`.

    They are drawn (`load`) with data seeds `2 seed + 1` and `2 seed + 2`: the test set is
    fresh points, and different run seeds never share a dataset. `tfp-rad train --seed`,
    the paper protocol and the studies all draw their data so.
    """
    return load(name, num_train, seed=2 * seed + 1), load(name, num_test, seed=2 * seed + 2)
