"""`RADDistribution`: a base distribution pushed through a fold, with a gating network."""

from typing import NamedTuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.internal import parameter_properties

from tfp_rad import validation
from tfp_rad.philox_sampling import sample_categorical

tfb = tfp.bijectors
tfd = tfp.distributions
samplers = tfp.random

# TFP builds the non-CompositeTensor parents of `tfd.TransformedDistribution` and
# `tfb.Chain` (`_TransformedDistribution`, `_Chain`) when their arguments are not
# CompositeTensors, as they are not here (Keras layers): match those parents.
_TRANSFORMED_DISTRIBUTION = tfd.TransformedDistribution.__mro__[1]
_CHAIN = tfb.Chain.__mro__[1]

# The default of `RADDistribution(log_prob_block_size=...)`, at every dimension: a block's
# intermediates stay in a CPU core's cache, and a training batch (hundreds of points) stays
# below it. Blocks inside a training step cost a loop and its gradient: at 64-D, 256-point
# blocks made a 500-point step 1.5x slower and its compile 2x longer (issue 16).
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

    #### Conditional densities

    With a conditional fold (`fold.context_size = m > 0`) this is `p(x | c)`: the fold's
    conditioner and the gating `s(z, c) = gating(concat([z, c]))` read a context `c`,

    ```none
    log p(x | c) = log p_base(z | c) + log p(k | z, c) + log |det dz/dx (x, c)|
    ```

    Pass it as `log_prob(x, context=c)`, `prob(x, context=c)` and
    `sample(sample_shape, seed=..., context=c)`; `c` `[..., m]` broadcasts against the batch
    of `x` (against `sample_shape` when sampling: `sample(n, context=c)` with `c` `[m]`
    draws `n` points for one context, with `c` `[n, m]` one point per context). The base
    gets the context too (`context_kwargs`): a conditional `RADDistribution` as
    `context=c`, a `tfd.TransformedDistribution` through TFP's own `bijector_kwargs` (every
    `tfb.RealNVP` in its bijector, in a `tfb.Chain` too, gets `conditional_input=c`) and
    `distribution_kwargs`; any other base is unconditional.

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
          fold: a `PiecewiseFold` with `event_size == d` and the base's dtype. A
            conditional fold (`context_size > 0`) makes a conditional distribution.
          gating: a Keras model mapping `z` `[N, d]` to raw logits `[N, num_folded, 3]` (or
            `[N, num_folded * 3]`); None means `s = 0`. A conditional distribution's gating
            reads `concat([z, c])`, `[N, d + m]`.
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

    @property
    def context_size(self):
        """The size `m` of the context `c` of `p(x | c)`; 0 for an unconditional density."""
        return self._fold.context_size

    def _checked_context(self, context):
        return validation.check_context(
            context, self.context_size, self.dtype, f"RADDistribution {self.name!r}")

    def _event_shape(self):
        return self._base_distribution.event_shape

    def _event_shape_tensor(self):
        return self._base_distribution.event_shape_tensor()

    def _batch_shape(self):
        return self._base_distribution.batch_shape

    def _batch_shape_tensor(self):
        return self._base_distribution.batch_shape_tensor()

    def _gating_logits(self, z, context=None):
        if self._gating is None:
            return None
        return self._gating(z if context is None else tf.concat([z, context], axis=-1))

    def _flat_points(self, x):
        validation.check_event_size(x, self.event_size, f"The value of {self.name}")
        return tf.reshape(x, [-1, self.event_size])

    def _log_prob(self, x, context=None):
        context = self._checked_context(context)
        if context is not None:
            validation.check_event_size(x, self.event_size, f"The value of {self.name}")
            batch = _broadcast_shape(_shape(x)[:-1], _shape(context)[:-1])
            x = tf.broadcast_to(x, _concat(batch, [self.event_size]))
            context = tf.broadcast_to(context, _concat(batch, [self.context_size]))
        # A point with an infinite coordinate has density 0. The fold would make it NaN, so
        # it is replaced by 0 first: the NaN would otherwise leak into the gradients.
        at_infinity = tf.reduce_any(tf.math.is_inf(x), axis=-1)
        x = tf.where(at_infinity[..., None], tf.zeros_like(x), x)
        return tf.where(
            at_infinity, tf.constant(-np.inf, x.dtype), self._finite_log_prob(x, context))

    def _finite_log_prob(self, x, context=None):
        flat = self._flat_points(x)
        num_points = flat.shape[0]
        block_size = self._log_prob_block_size
        if (block_size is None or num_points is None or num_points <= block_size
                or self.batch_shape.rank != 0 or tf.executing_eagerly()):
            return self._points_log_prob(flat, tf.shape(x), context)
        if context is None:
            log_prob = in_blocks(
                lambda block: self._points_log_prob(block, tf.shape(block)), flat, block_size
            )
        else:  # each block's points carry their context: [x, c] side by side
            d = self.event_size
            log_prob = in_blocks(
                lambda block: self._points_log_prob(
                    block[:, :d], tf.shape(block[:, :d]), block[:, d:]),
                tf.concat([flat, tf.reshape(context, [-1, self.context_size])], axis=-1),
                block_size,
            )
        return tf.reshape(log_prob, tf.shape(x)[:-1])

    def _points_log_prob(self, flat, shape, context=None):
        """`log p` of the flat points `[N, d]` of a value of shape `shape`, `[...]`, given
        their contexts (`[..., m]` or `[N, m]`; None if unconditional)."""
        if context is None:
            z, _, log_det, log_gate = self._fold.fold_with_gating(flat, self._gating)
            base_log_prob = self._base_distribution.log_prob(tf.reshape(z, shape))
        else:
            flat_context = tf.reshape(context, [-1, self.context_size])
            z, _, log_det, log_gate = self._fold.fold_with_gating(
                flat, self._gating, context=flat_context)
            base_log_prob = self._base_distribution.log_prob(
                tf.reshape(z, shape),
                **context_kwargs(self._base_distribution, tf.reshape(
                    flat_context, tf.concat([shape[:-1], [self.context_size]], 0))))
        return base_log_prob + tf.reshape(log_gate + log_det, shape[:-1])

    def _sample_n(self, n, seed=None):
        base_seed, piece_seed = samplers.split_seed(seed, salt="RADDistribution")
        z = self._base_distribution.sample(n, seed=base_seed)
        return self._unfold_samples(z, piece_seed)

    def _unfold_samples(self, z, seed, context=None):
        """`x = unfold(z, k)` with `k ~ p(k | z, c)`, for latent samples `z` `[..., d]` and
        their contexts `[..., m]` (None if unconditional)."""
        flat = tf.reshape(z, [-1, self.event_size])
        flat_context = None if context is None else tf.reshape(context, [-1, self.context_size])
        fold = self._fold
        parameters = fold.fold_parameters(flat, flat_context)
        log_probs = fold.gating_log_probs(
            flat, self._gating_logits(flat, flat_context), parameters=parameters,
            normalized=False)
        k = sample_categorical(log_probs, seed)
        x = fold.unfold(flat, k, parameters=parameters)
        return tf.reshape(x, tf.shape(z))

    def _call_sample_n(self, sample_shape, seed, context=None, **kwargs):
        """TFP's sampling, and for a conditional distribution sampling given a context.

        The samples have shape `broadcast(sample_shape, c.shape[:-1]) + [d]`: the base is
        sampled with that sample shape and the context broadcast to it.
        """
        if context is None and not self.context_size:
            return super()._call_sample_n(sample_shape, seed, **kwargs)
        context = self._checked_context(context)
        if self.batch_shape.rank != 0:
            raise ValueError(
                f"{self.name} samples given a context only with a base of batch shape [], "
                f"got batch shape {self.batch_shape}."
            )
        static_shape = tf.get_static_value(sample_shape)
        if static_shape is not None:
            sample_shape = [int(n) for n in np.reshape(static_shape, [-1])]
        else:
            sample_shape = tf.reshape(tf.cast(sample_shape, tf.int32), [-1])
        shape = _broadcast_shape(sample_shape, _shape(context)[:-1])
        context = tf.broadcast_to(context, _concat(shape, [self.context_size]))
        base_seed, piece_seed = samplers.split_seed(
            seed() if callable(seed) else seed, salt="RADDistribution")
        z = self._base_distribution.sample(
            shape, seed=base_seed, **context_kwargs(self._base_distribution, context))
        return self._unfold_samples(z, piece_seed, context)

    def infer(self, x, context=None):
        """Exact inference through this layer's fold: returns `(z, k)`.

        Args:
          x: `[..., d]` points.
          context: the context `[..., m]` of a conditional distribution (broadcast to the
            points' batch); None otherwise.

        Returns:
          z: `[..., d]` latent points; k: `[..., num_folded]` int32 pieces.
        """
        x = tf.convert_to_tensor(x, dtype=self.dtype)
        flat = self._flat_points(x)
        context = self._checked_context(context)
        if context is not None:
            context = tf.reshape(
                tf.broadcast_to(context, tf.concat([tf.shape(x)[:-1], [self.context_size]], 0)),
                [-1, self.context_size])
        z, k, _ = self._fold.fold(flat, context=context)
        batch = tf.shape(x)[:-1]
        return tf.reshape(z, tf.shape(x)), tf.reshape(k, tf.concat([batch, [-1]], 0))

    def infer_layers(self, x, context=None):
        """Exact inference through every nested RAD layer, outermost (data side) first.

        Follows `base_distribution` while it is a `RADDistribution`; `context` (for a
        conditional distribution) goes to every conditional layer.

        Returns:
          A list of `LayerInference(x, z, k)`, one per layer; each layer's `z` is the next
          layer's `x`.
        """
        steps, distribution = [], self
        x = tf.convert_to_tensor(x, dtype=self.dtype)
        while isinstance(distribution, RADDistribution):
            z, k = distribution.infer(x, context if distribution.context_size else None)
            steps.append(LayerInference(x=x, z=z, k=k))
            distribution, x = distribution.base_distribution, z
        return steps

    def _default_event_space_bijector(self):
        return tfp.bijectors.Identity(validate_args=self.validate_args)


def context_kwargs(distribution, context):
    """The keyword arguments that pass the context `c` to `distribution`'s methods.

    - a conditional `RADDistribution`: `{"context": c}`;
    - a `tfd.TransformedDistribution`: TFP's own `bijector_kwargs` (`conditional_input=c`
      for a `tfb.RealNVP`; inside a `tfb.Chain`, keyed by each `tfb.RealNVP`'s name, as
      `Chain` hands them on) and `distribution_kwargs` (its distribution's, recursively);
    - anything else, or `c = None`: `{}` (unconditional).

    Every `tfb.RealNVP` found is taken as conditional: its `shift_and_log_scale_fn` must
    accept `conditional_input`.
    """
    if context is None:
        return {}
    if isinstance(distribution, RADDistribution):
        return {"context": context} if distribution.context_size else {}
    if not isinstance(distribution, _TRANSFORMED_DISTRIBUTION):
        return {}
    kwargs = {}
    inner = context_kwargs(distribution.distribution, context)
    if inner:
        kwargs["distribution_kwargs"] = inner
    bijector = _bijector_context_kwargs(distribution.bijector, context)
    if bijector:
        kwargs["bijector_kwargs"] = bijector
    return kwargs


def _bijector_context_kwargs(bijector, context):
    """`conditional_input=c` for a `tfb.RealNVP`, per member name for a `tfb.Chain`, else {}."""
    if isinstance(bijector, tfb.RealNVP):
        return {"conditional_input": context}
    if isinstance(bijector, _CHAIN):
        members = {b.name: _bijector_context_kwargs(b, context) for b in bijector.bijectors}
        return {name: kwargs for name, kwargs in members.items() if kwargs}
    return {}


def _shape(x):
    """`x`'s shape as a list of ints when fully known, else a tensor."""
    return x.shape.as_list() if x.shape.is_fully_defined() else tf.shape(x)


def _broadcast_shape(a, b):
    """The broadcast of two shapes (lists of ints or tensors): a list when both are lists."""
    if isinstance(a, list) and isinstance(b, list):
        try:
            return list(np.broadcast_shapes(tuple(a), tuple(b)))
        except ValueError:
            raise ValueError(
                f"The context's batch shape {b} does not broadcast against the points' (or "
                f"the sample's) shape {a}: give one context [m], or one per point."
            ) from None
    return tf.broadcast_dynamic_shape(tf.cast(a, tf.int32), tf.cast(b, tf.int32))


def _concat(shape, tail):
    return shape + tail if isinstance(shape, list) else tf.concat([shape, tail], 0)


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
