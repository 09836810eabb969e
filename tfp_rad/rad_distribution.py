"""`RADDistribution`: a base distribution pushed through a fold, with a gating network."""

from typing import NamedTuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.internal import parameter_properties

from tfp_rad import validation
from tfp_rad.philox_sampling import sample_categorical

tfd = tfp.distributions
samplers = tfp.random

# The default of `RADDistribution(log_prob_block_size=...)`: a block's intermediates (a few
# hundred KB for the paper's networks) stay in a CPU core's cache.
DEFAULT_LOG_PROB_BLOCK_SIZE = 4096


class LayerInference(NamedTuple):
    """One layer of exact inference: the layer's input `x`, latent `z` and pieces `k`."""

    x: tf.Tensor
    z: tf.Tensor
    k: tf.Tensor


class RADDistribution(tfd.distribution.AutoCompositeTensorDistribution):
    """The distribution of `x` when `z ~ base`, `k ~ p(k | z)`, `x = unfold(z, k)`.

    #### Mathematical Details

    The fold `(z, k) = (f_Z(x), f_K(x))` is a surjection invertible on each piece, and the
    piece `k` is a function of `x`, so the density is exact with no sum over pieces:

    ```none
    log p(x) = log p_base(z) + log p(k | z) + log |det dz/dx|
    ```

    `p(k | z)` is the boundary-conditioned gating of `PiecewiseFold` driven by the raw
    logits `s(z) = gating(z)`. Sampling is ancestral and exact: `z ~ p_base`,
    `k ~ p(k | z)` (feasible pieces only), `x = unfold(z, k)`.

    The base may be any distribution with event shape `[d]`; another `RADDistribution`
    as base gives deep RAD, a mixture with a number of components exponential in depth.

    #### Examples

    ```python
    fold = tfp_rad.PiecewiseFold(event_size=2, conditioner=conditioner)
    rad = tfp_rad.RADDistribution(
        tfd.MultivariateNormalDiag(loc=tf.zeros(2)), fold, gating=gating_model)
    rad.log_prob(x)
    rad.sample(1000, seed=(1, 2))
    ```

    #### References

    [1]: Laurent Dinh, Jascha Sohl-Dickstein, Hugo Larochelle, Razvan Pascanu. A RAD
         approach to deep mixture models. ICLR 2019 workshop; journal version 2021.
    """

    def __init__(
        self,
        base_distribution,
        fold,
        gating=None,
        log_prob_block_size=DEFAULT_LOG_PROB_BLOCK_SIZE,
        validate_args=False,
        name="RADDistribution",
    ):
        """Builds the distribution (a cheap view: it owns no variables).

        Args:
          base_distribution: a `tfd.Distribution` with event shape `[d]`, the latent's law.
          fold: a `PiecewiseFold` with `event_size == d` and the base's dtype.
          gating: a Keras model mapping `z` `[N, d]` to raw logits `[N, num_folded, 3]` (or
            `[N, num_folded * 3]`); None means `s = 0`.
          log_prob_block_size: positive int or None. In a `tf.function`, `log_prob` of
            more points than this (a number known when traced) runs block by block
            (`in_blocks`), at most this many points at a time: the same values, faster
            for large batches on a CPU (`docs/performance.md`). Eagerly, or with None,
            all points go at once. Gradients pass through the blocks in graphs and
            inside an XLA-compiled function; TensorFlow cannot take them from outside an
            XLA-compiled `log_prob` (its loop cannot hand TensorLists across the XLA
            boundary): use None for that.
          validate_args: Python bool, check arguments at run time.
          name: name prefixed to ops.

        Raises:
          ValueError: if the base's event shape or dtype does not match the fold, or for a
            `log_prob_block_size` that is not a positive int or None.
        """
        parameters = dict(locals())
        if log_prob_block_size is not None:
            log_prob_block_size = validation.positive_int(
                log_prob_block_size, "log_prob_block_size")
        event_shape = base_distribution.event_shape
        if event_shape.rank != 1 or event_shape[0] != fold.event_size:
            raise ValueError(
                f"The base distribution must have event shape [{fold.event_size}] to match the "
                f"fold's event_size; got {event_shape}."
            )
        if base_distribution.dtype != tf.as_dtype(fold.compute_dtype):
            raise ValueError(
                f"The base distribution's dtype {base_distribution.dtype.name} differs from the "
                f"fold's {fold.compute_dtype}."
            )
        with tf.name_scope(name) as name:
            self._base_distribution = base_distribution
            self._fold = fold
            self._gating = gating
            self._log_prob_block_size = log_prob_block_size
            super().__init__(
                dtype=base_distribution.dtype,
                reparameterization_type=tfd.NOT_REPARAMETERIZED,
                validate_args=validate_args,
                allow_nan_stats=base_distribution.allow_nan_stats,
                parameters=parameters,
                name=name,
            )

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        # The base carries the batch shape; the fold and the gating are shared by every
        # batch member, so slicing (`rad[1:3]`) slices the base alone.
        return dict(base_distribution=parameter_properties.BatchedComponentProperties())

    @property
    def base_distribution(self):
        return self._base_distribution

    @property
    def fold(self):
        return self._fold

    @property
    def gating(self):
        return self._gating

    @property
    def log_prob_block_size(self):
        return self._log_prob_block_size

    @property
    def event_size(self):
        return self._fold.event_size

    def _event_shape(self):
        return self._base_distribution.event_shape

    def _event_shape_tensor(self):
        return self._base_distribution.event_shape_tensor()

    def _batch_shape(self):
        return self._base_distribution.batch_shape

    def _batch_shape_tensor(self):
        return self._base_distribution.batch_shape_tensor()

    def _gating_logits(self, z):
        return None if self._gating is None else self._gating(z)

    def _flat_points(self, x):
        validation.check_event_size(x, self.event_size, f"The value of {self.name}")
        return tf.reshape(x, [-1, self.event_size])

    def _log_prob(self, x):
        # A point with an infinite coordinate has density 0. The fold would make it NaN, so
        # it is replaced by 0 first: the NaN would otherwise leak into the gradients.
        at_infinity = tf.reduce_any(tf.math.is_inf(x), axis=-1)
        x = tf.where(at_infinity[..., None], tf.zeros_like(x), x)
        return tf.where(at_infinity, tf.constant(-np.inf, x.dtype), self._finite_log_prob(x))

    def _finite_log_prob(self, x):
        flat = self._flat_points(x)
        num_points = flat.shape[0]
        block_size = self._log_prob_block_size
        if (block_size is None or num_points is None or num_points <= block_size
                or self.batch_shape.rank != 0 or tf.executing_eagerly()):
            return self._points_log_prob(flat, tf.shape(x))
        log_prob = in_blocks(
            lambda block: self._points_log_prob(block, tf.shape(block)), flat, block_size
        )
        return tf.reshape(log_prob, tf.shape(x)[:-1])

    def _points_log_prob(self, flat, shape):
        """`log p` of the flat points `[N, d]` of a value of shape `shape`, `[...]`."""
        z, _, log_det, log_gate = self._fold.fold_with_gating(flat, self._gating)
        base_log_prob = self._base_distribution.log_prob(tf.reshape(z, shape))
        return base_log_prob + tf.reshape(log_gate + log_det, shape[:-1])

    def _sample_n(self, n, seed=None):
        base_seed, piece_seed = samplers.split_seed(seed, salt="RADDistribution")
        z = self._base_distribution.sample(n, seed=base_seed)
        flat = tf.reshape(z, [-1, self.event_size])
        fold = self._fold
        parameters = fold.fold_parameters(flat)
        log_probs = fold.gating_log_probs(
            flat, self._gating_logits(flat), parameters=parameters, normalized=False)
        k = sample_categorical(log_probs, piece_seed)
        x = fold.unfold(flat, k, parameters=parameters)
        return tf.reshape(x, tf.shape(z))

    def infer(self, x):
        """Exact inference through this layer's fold: returns `(z, k)`.

        Args:
          x: `[..., d]` points.

        Returns:
          z: `[..., d]` latent points; k: `[..., num_folded]` int32 pieces.
        """
        x = tf.convert_to_tensor(x, dtype=self.dtype)
        flat = self._flat_points(x)
        z, k, _ = self._fold.fold(flat)
        batch = tf.shape(x)[:-1]
        return tf.reshape(z, tf.shape(x)), tf.reshape(k, tf.concat([batch, [-1]], 0))

    def infer_layers(self, x):
        """Exact inference through every nested RAD layer, outermost (data side) first.

        Follows `base_distribution` while it is a `RADDistribution`.

        Returns:
          A list of `LayerInference(x, z, k)`, one per layer; each layer's `z` is the next
          layer's `x`.
        """
        steps, distribution = [], self
        x = tf.convert_to_tensor(x, dtype=self.dtype)
        while isinstance(distribution, RADDistribution):
            z, k = distribution.infer(x)
            steps.append(LayerInference(x=x, z=z, k=k))
            distribution, x = distribution.base_distribution, z
        return steps

    def _default_event_space_bijector(self):
        return tfp.bijectors.Identity(validate_args=self.validate_args)


def in_blocks(log_prob_fn, points, max_block_size):
    """`log_prob_fn(points)` for points `[N, d]` (`N` static), computed block by block.

    The points are cut into `B = ceil(N / max_block_size)` blocks of `ceil(N / B)` points
    (the last one zero-padded) and `log_prob_fn` maps each block `[n, d] -> [n]` in a
    `tf.map_fn`. The result is the same as one call on all points; the gain is speed: the
    narrow networks and the fold make many passes over `[N, width]` intermediates, and for
    a block these stay in the processor's cache.
    """
    num_points, event_size = points.shape
    num_blocks = -(-num_points // max_block_size)
    block_size = -(-num_points // num_blocks)
    padded = tf.pad(points, [[0, num_blocks * block_size - num_points], [0, 0]])
    blocks = tf.reshape(padded, [num_blocks, block_size, event_size])
    log_probs = tf.map_fn(log_prob_fn, blocks, fn_output_signature=points.dtype)
    return tf.reshape(log_probs, [-1])[:num_points]
