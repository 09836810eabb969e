"""Two problems beyond the paper's 2-D ones: a 16-D Gaussian mixture and handwritten digits.

* `mixture16`: an 8-component Gaussian mixture in 16 dimensions with a known density, so a
  model's test log-likelihood can be set against the oracle's, as for the 2-D problems.
  Its parameters are drawn once from numpy's `Generator(PCG64(MIXTURE_SEED))`:

  ```none
  weights  = softmax(w),                 w_j   ~ N(0, 0.5^2)
  means    m_j ~ N(0, 2^2 I_16)
  stds     s_jd = 0.5 exp(e_jd),          e_jd  ~ U(-0.5, 0.5)
  ```

  (`j` = 1..8 components, `d` = 1..16 dimensions; diagonal covariances).
* `digits`: scikit-learn's bundled handwritten digits (1,797 images of 8 x 8 pixels with
  17 grey levels `v` in {0, ..., 16}: 64 dimensions, no download). They are dequantized
  with uniform noise and scaled to the unit cube, `y = (v + u) / 17`, `u ~ U(0, 1)^64`,
  so a continuous density `p(y)` bounds the discrete log-probability from below:

  ```none
  log P(v) >= E_u[log p(y)] - 64 log 17
  ```

  `bits_per_dim` turns a mean `log p(y)` into bits per pixel of `v` (lower is better).
"""

import numbers

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_rad import validation
from tfp_rad.datasets import GatheringMixture

tfd = tfp.distributions

MIXTURE_SEED = 2026
MIXTURE_DIMS = 16
MIXTURE_COMPONENTS = 8
DIGITS_DIMS = 64
DIGITS_LEVELS = 17
DIGITS_TEST = 297  # of 1,797 images; the other 1,500 are for training (and validation)
_MAX_SEED = 2**31 - 1


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not (
        0 <= seed <= _MAX_SEED
    ):
        raise ValueError(f"seed must be an integer in [0, {_MAX_SEED}], got {seed!r}.")
    return int(seed)


def mixture16(dtype=tf.float32):
    """The 16-D Gaussian mixture (parameters in the module docstring), an exact TFP law.

    Returns:
      A `tfd.MixtureSameFamily` of `tfd.MultivariateNormalDiag` components, event shape
      `[16]`, in `dtype` (float32 or float64).
    """
    dtype = tf.as_dtype(dtype)
    if dtype not in (tf.float32, tf.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype.name}.")
    rng = np.random.Generator(np.random.PCG64(MIXTURE_SEED))
    logits = rng.normal(0.0, 0.5, MIXTURE_COMPONENTS)
    means = rng.normal(0.0, 2.0, (MIXTURE_COMPONENTS, MIXTURE_DIMS))
    stds = 0.5 * np.exp(rng.uniform(-0.5, 0.5, (MIXTURE_COMPONENTS, MIXTURE_DIMS)))
    return GatheringMixture(
        mixture_distribution=tfd.Categorical(logits=tf.constant(logits, dtype)),
        components_distribution=tfd.MultivariateNormalDiag(
            loc=tf.constant(means, dtype), scale_diag=tf.constant(stds, dtype)
        ),
        name="mixture16",
    )


def load_mixture16(num_samples, seed=0, dtype=np.float32):
    """`num_samples` points `[n, 16]` of `mixture16`, drawn in float64 with seed `(1, seed)`."""
    num_samples = validation.positive_int(num_samples, "num_samples")
    samples = mixture16(tf.float64).sample(num_samples, seed=(1, _check_seed(seed)))
    return samples.numpy().astype(dtype)


def mixture16_oracle_log_likelihood(x):
    """Mean true `log p(x)` of points `[n, 16]` under `mixture16`, nats per point (float64)."""
    points = validation.points_array(x, MIXTURE_DIMS, np.float64, what="x")
    return float(tf.reduce_mean(mixture16(tf.float64).log_prob(points)))


def digits(seed=0, dtype=np.float32):
    """Dequantized digits, split into `(train [1500, 64], test [297, 64])`.

    The split (a permutation of the 1,797 images) and the dequantization noise are drawn
    with numpy's `Generator(PCG64(seed))`: each seed gives its own split and noise.
    `floor(17 y) = v` for every pixel.
    """
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    rng = np.random.Generator(np.random.PCG64(_check_seed(seed)))
    levels = load_digits().data  # [1797, 64] floats in {0, ..., 16}
    order = rng.permutation(len(levels))
    noise = rng.uniform(0.0, 1.0, levels.shape)
    y = ((levels + noise) / DIGITS_LEVELS)[order].astype(dtype)
    return y[DIGITS_TEST:], y[:DIGITS_TEST]


def bits_per_dim(mean_log_likelihood, dims=DIGITS_DIMS, levels=DIGITS_LEVELS):
    """Bits per dimension of the quantized data from a mean `log p(y)` of `y = (v + u) / L`.

    ```none
    bits/dim = -(E[log p(y)] - D log L) / (D log 2)
    ```

    an upper bound on `-log2 P(v) / D` (the dequantization bound of the module docstring).
    """
    return -(mean_log_likelihood - dims * np.log(levels)) / (dims * np.log(2.0))
