"""Problems with a known conditional density `p(x | c)`, as exact TFP distributions.

Each problem has a context law `p(c)` and, for every context, an exact distribution
`p(x | c)` whose `log_prob` is the true conditional density. Data are pairs
`(x_i, c_i)`, `c_i ~ p(c)`, `x_i ~ p(x | c_i)`; the oracle conditional log-likelihood of
held-out pairs is `mean_i log p(x_i | c_i)`, the ceiling (in expectation, Gibbs'
inequality) of any model's score on them.

* `moving_mixture`: `x` in R^2 given `c` in [-1, 1] (`c ~ U(-1, 1)`). With
  `t = (c + 1) / 2`, a pair of modes at `m(c) +- R(pi c / 2) (2 t, 0)` that is one mode at
  `c = -1` and splits, the pair rotating by 180 degrees as `c` goes from -1 to 1, around a
  centre moving on a parabola `m(c) = (0.8 c, 0.6 c^2 - 0.5)`; and a third mode that
  travels on the circle of radius 2, at `2 (cos(pi c), sin(pi c))`:

  ```none
  p(x | c) = 0.35 N(x; m + R u, 0.25^2 I) + 0.35 N(x; m - R u, 0.25^2 I)
           + 0.3 N(x; 2 (cos pi c, sin pi c), 0.2^2 I),     u = (2 t, 0)
  ```

* `abs_posterior`: simulation-based inference. A parameter `theta ~ N(0, I_2)`, a
  simulator `x = |R theta| + sigma eps` (element-wise absolute value, `R` the rotation
  by `pi / 6`, `sigma = 0.2`, `eps ~ N(0, I_2)`). The model learns the posterior
  `p(theta | x)` from simulated pairs: the "points" are `theta`, the context is `x`. The
  prior is rotation invariant, so `phi = R theta` has the prior `N(0, I)` and, element by
  element,

  ```none
  p(phi_j | x_j) ∝ N(phi_j; 0, 1) N(x_j; |phi_j|, sigma^2)
               = 1/2 TN(phi_j; mu_j, tau^2, (0, inf)) + 1/2 TN(phi_j; -mu_j, tau^2, (-inf, 0)),
  mu_j = x_j / (1 + sigma^2),  tau^2 = sigma^2 / (1 + sigma^2)
  ```

  (`TN` a normal truncated to the interval; the two halves have equal mass because the
  prior and `|.|` are symmetric). So `p(theta | x)` is that product pushed through
  `theta = R^T phi`: four modes at `R^T (+-mu_1, +-mu_2)` when both `x_j` are well above 0,
  merging in pairs as an `x_j` nears 0.
"""

import numbers

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_rad import catalog, validation

tfb = tfp.bijectors
tfd = tfp.distributions

NAMES = catalog.CONDITIONAL_PROBLEMS
EVENT_SIZE = 2
CONTEXT_SIZES = {"moving_mixture": 1, "abs_posterior": 2}
_MAX_SEED = 2**31 - 1
_ROTATION = np.pi / 6
_NOISE = 0.2


def _check_name(name):
    if name not in NAMES:
        raise ValueError(f"Unknown conditional problem {name!r}; valid names are {', '.join(NAMES)}.")


def _rotation(angle):
    """`R(angle)` `[..., 2, 2]` for an angle tensor `[...]`."""
    cos, sin = tf.cos(angle), tf.sin(angle)
    return tf.stack([tf.stack([cos, -sin], -1), tf.stack([sin, cos], -1)], -2)


def _moving_mixture(context):
    c = context[..., 0]
    t = 0.5 * (c + 1.0)
    centre = tf.stack([0.8 * c, 0.6 * tf.square(c) - 0.5], -1)
    offset = tf.linalg.matvec(_rotation(np.pi * c / 2.0), tf.stack([2.0 * t, tf.zeros_like(t)], -1))
    circle = 2.0 * tf.stack([tf.cos(np.pi * c), tf.sin(np.pi * c)], -1)
    loc = tf.stack([centre + offset, centre - offset, circle], -2)  # [..., 3, 2]
    one = tf.ones_like(c)[..., None]
    scale = tf.concat([0.25 * one, 0.25 * one, 0.2 * one], -1)[..., None] * tf.ones_like(loc)
    weights = tf.constant([0.35, 0.35, 0.3], context.dtype) * one
    return tfd.MixtureSameFamily(
        tfd.Categorical(probs=weights), tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale))


def _abs_posterior(context):
    sigma2 = _NOISE**2
    mu = context / (1.0 + sigma2)  # [..., 2]
    tau = np.sqrt(sigma2 / (1.0 + sigma2))
    inf = tf.constant(np.inf, context.dtype)
    zeros = tf.zeros_like(mu)
    halves = tfd.TruncatedNormal(
        loc=tf.stack([mu, -mu], -1),
        scale=tf.cast(tau, context.dtype),
        low=tf.stack([zeros, zeros - inf], -1),
        high=tf.stack([zeros + inf, zeros], -1),
    )  # batch [..., 2 (element), 2 (half)]
    phi = tfd.Independent(
        tfd.MixtureSameFamily(tfd.Categorical(probs=0.5 * tf.ones_like(halves.loc)), halves),
        reinterpreted_batch_ndims=1,
    )
    return tfd.TransformedDistribution(phi, _inverse_rotation(context.dtype))


def _inverse_rotation(dtype):
    """`theta = R^T phi` as a bijector: the rotation by `-pi / 6`, log|det| = 0.

    Written as two reflections (across the lines at angles 0 and `-pi / 12`), whose
    determinants TF knows in closed form.
    """
    def reflection(angle):
        normal = tf.constant([-np.sin(angle), np.cos(angle)], dtype)
        return tf.linalg.LinearOperatorHouseholder(normal)

    rotation = tf.linalg.LinearOperatorComposition(
        [reflection(-_ROTATION / 2), reflection(0.0)])
    return tfb.ScaleMatvecLinearOperator(rotation)


_CONDITIONALS = {"moving_mixture": _moving_mixture, "abs_posterior": _abs_posterior}


def conditional(name, context, dtype=tf.float64):
    """The exact `p(x | c)` of a problem for contexts `c` `[..., m]`.

    Args:
      name: one of `NAMES`.
      context: array-like `[..., m]`, `m = CONTEXT_SIZES[name]`, finite.
      dtype: float32 or float64.

    Returns:
      A `tfd.Distribution` of batch shape `[...]` and event shape `[2]`: `log_prob(x)`
      of `x` `[..., 2]` is `log p(x | c)`, `sample()` draws one `x` per context.

    Raises:
      ValueError: for an unknown name, a bad dtype, or a context of the wrong size or with
        NaN/inf.
    """
    _check_name(name)
    dtype = tf.as_dtype(dtype)
    if dtype not in (tf.float32, tf.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype.name}.")
    context = validation.check_context(
        context, CONTEXT_SIZES[name], dtype, f"The conditional problem {name!r}")
    return _CONDITIONALS[name](context)


def sample_contexts(name, num_samples, seed, dtype=tf.float64):
    """`num_samples` contexts `[n, m]` from the problem's context law `p(c)`."""
    _check_name(name)
    seed = tfp.random.sanitize_seed(seed)
    if name == "moving_mixture":
        return tf.random.stateless_uniform([num_samples, 1], seed, -1.0, 1.0, dtype=dtype)
    theta_seed, noise_seed = tfp.random.split_seed(seed, salt="abs_posterior")
    theta = tf.random.stateless_normal([num_samples, 2], theta_seed, dtype=dtype)
    return simulate(theta, noise_seed)


def simulate(theta, seed):
    """`abs_posterior`'s simulator: `x = |R theta| + sigma eps`, for `theta` `[..., 2]`."""
    theta = tf.convert_to_tensor(theta)
    rotated = tf.linalg.matvec(_rotation(tf.constant(_ROTATION, theta.dtype)), theta)
    noise = tf.random.stateless_normal(tf.shape(theta), tfp.random.sanitize_seed(seed),
                                       dtype=theta.dtype)
    return tf.abs(rotated) + _NOISE * noise


def load(name, num_samples=10000, seed=0, dtype=np.float32):
    """Draws pairs `(x, c)` of a problem: `c ~ p(c)`, `x ~ p(x | c)`.

    For `abs_posterior` this is the simulation: `theta ~ N(0, I)`, `x = simulator(theta)`,
    returned as points `theta` with contexts `x`. Drawn in float64 from the stateless seed
    `(1, seed)`, then cast, so the pairs depend only on `name`, `num_samples` and `seed`.

    Returns:
      `(points [n, 2], contexts [n, m])` numpy arrays of `dtype`.

    Raises:
      ValueError: for an unknown name, a non-positive `num_samples` or a seed outside
        `[0, 2**31 - 1]`.
    """
    _check_name(name)
    num_samples = validation.positive_int(num_samples, "num_samples")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not (
        0 <= seed <= _MAX_SEED
    ):
        raise ValueError(f"seed must be an integer in [0, {_MAX_SEED}], got {seed!r}.")
    context_seed, point_seed = tfp.random.split_seed((1, seed), salt=name)
    if name == "abs_posterior":
        theta = tf.random.stateless_normal([num_samples, 2], context_seed, dtype=tf.float64)
        points, contexts = theta, simulate(theta, point_seed)
    else:
        contexts = sample_contexts(name, num_samples, context_seed)
        points = conditional(name, contexts).sample(seed=point_seed)
    return points.numpy().astype(dtype), contexts.numpy().astype(dtype)


def oracle_log_likelihood(name, x, context):
    """Mean true `log p(x_i | c_i)` of pairs, in nats per point (float64)."""
    _check_name(name)
    x = validation.points_array(x, EVENT_SIZE, np.float64, "x")
    context = validation.points_array(context, CONTEXT_SIZES[name], np.float64, "context")
    if len(x) != len(context):
        raise ValueError(f"{len(x)} points but {len(context)} contexts: give one per point.")
    return float(np.mean(conditional(name, context).log_prob(x)))
