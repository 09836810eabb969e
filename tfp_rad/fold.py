"""The piecewise-linear fold of RAD and its boundary-conditioned gating.

A fold is a continuous surjection of the real line made of five linear pieces, applied
element-wise to the folded part of a vector. It runs in the *density* direction
(data -> latent), the reverse of a TFP bijector's `forward`, so its methods are named
`fold` and `unfold`. See `docs/` and rad-math sections 2-5 for the derivation.
"""

from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

from tfp_rad import validation
from tfp_rad.fold_math import fused_fold, fused_log_gating
from tfp_rad.fold_math import sin_half_pi as _sin_half_pi

# Whether `fold_with_gating` (the density's and training's path) runs the fused element-wise
# passes of `fold_math`, with their hand-written gradients (True), or the column-wise
# formulas below, differentiated by TensorFlow (False: the reference, for tests and A/Bs).
FUSED = True

NUM_PIECES = 3
PARAMETERS_PER_ELEMENT = 10


class FoldParameters(NamedTuple):
    """The fold's parameters for every folded element, each a tensor `[..., num_folded]`.

    `log_q_plus[j] = log p(k=j | v=+1)`, `log_q_minus[j] = log p(k=j | v=-1)`;
    `log_alpha*` are the log-slopes of the five pieces; `a < b` the inner breakpoints.
    `raw` is the `[..., num_folded, 10]` tensor they were computed from (None when built
    otherwise): the fold's fused path (`fold_math.fused_fold`) starts from it.
    """

    shift_in: tf.Tensor
    log_scale_in: tf.Tensor
    shift_out: tf.Tensor
    log_scale_out: tf.Tensor
    log_q_plus: tuple
    log_q_minus: tuple
    log_alpha1: tf.Tensor
    log_alpha2: tf.Tensor
    log_alpha3: tf.Tensor
    log_alpha_plus: tf.Tensor
    log_alpha_minus: tf.Tensor
    a: tf.Tensor
    b: tf.Tensor
    raw: tf.Tensor = None


def _boundary_probabilities(logits, min_probability):
    """`(q, log q)` for `q = min_p / 3 + (1 - min_p) softmax(logits)`, column-wise.

    Mixing in `min_p` keeps every `q_j >= min_p / 3`, so the slopes derived from `q` stay
    finite (at most about `(3 / min_p)^2`) and no `log(0)` can occur.
    """
    largest = tf.maximum(tf.maximum(logits[0], logits[1]), logits[2])
    exps = [tf.exp(l - largest) for l in logits]
    weight = (1.0 - min_probability) / (exps[0] + exps[1] + exps[2])
    q = tuple(min_probability / NUM_PIECES + weight * e for e in exps)
    return q, tuple(tf.math.log(q_j) for q_j in q)


def _logsumexp3(l0, l1, l2):
    """`log(exp(l0) + exp(l1) + exp(l2))` on same-shaped tensors, stable for large logits."""
    largest = tf.maximum(tf.maximum(l0, l1), l2)
    return largest + tf.math.log(tf.exp(l0 - largest) + tf.exp(l1 - largest) + tf.exp(l2 - largest))


def fold_parameters_from_raw(raw, min_probability, log_scale_bound):
    """Turns unconstrained raw parameters `[..., n, 10]` into `FoldParameters`.

    Layout of the last axis: `m_in, r_in, m_out, r_out`, 3 logits of `q+`, 3 logits of `q-`.
    Log-scales are soft-clipped, `r = B tanh(r_raw / B)`. The slopes are rad-math section 2:

        alpha2 = 1 + q+[0]/q+[1] + q-[2]/q-[1]
        alpha1 = alpha2 q+[1]/q+[0],   alpha3 = alpha2 q-[1]/q-[2]
        alpha_plus = alpha3 q+[2],     alpha_minus = alpha1 q-[0]
        a = 2/alpha1 - 1,              b = 1 - 2/alpha3

    (`alpha2`, `a` and `b` from ratios of `q`, the other slopes in log space). They are the
    unique slopes that make the log-density continuous at the breakpoints (rad-math
    section 4), and satisfy `1/alpha1 + 1/alpha2 + 1/alpha3 = 1`.
    """
    columns = tf.unstack(raw, num=PARAMETERS_PER_ELEMENT, axis=-1)
    log_scale_in = log_scale_bound * tf.tanh(columns[1] / log_scale_bound)
    log_scale_out = log_scale_bound * tf.tanh(columns[3] / log_scale_bound)
    qp, lqp = _boundary_probabilities(columns[4:7], min_probability)
    qm, lqm = _boundary_probabilities(columns[7:10], min_probability)
    ratio_plus, ratio_minus = qp[0] / qp[1], qm[2] / qm[1]
    alpha2 = 1.0 + ratio_plus + ratio_minus
    log_alpha2 = tf.math.log(alpha2)
    log_alpha1 = log_alpha2 + lqp[1] - lqp[0]
    log_alpha3 = log_alpha2 + lqm[1] - lqm[2]
    return FoldParameters(
        shift_in=columns[0],
        log_scale_in=log_scale_in,
        shift_out=columns[2],
        log_scale_out=log_scale_out,
        log_q_plus=lqp,
        log_q_minus=lqm,
        log_alpha1=log_alpha1,
        log_alpha2=log_alpha2,
        log_alpha3=log_alpha3,
        log_alpha_plus=log_alpha3 + lqp[2],
        log_alpha_minus=log_alpha1 + lqm[0],
        a=(2.0 / alpha2) * ratio_plus - 1.0,  # 2 / alpha1 - 1
        b=1.0 - (2.0 / alpha2) * ratio_minus,  # 1 - 2 / alpha3
        raw=raw,
    )


def _as_run(indices):
    """`slice(start, stop)` when `indices` are `start, ..., stop - 1` (n >= 1), else None."""
    if len(indices) and np.array_equal(indices, indices[0] + np.arange(len(indices))):
        return slice(int(indices[0]), int(indices[0]) + len(indices))
    return None


def _columns(x, indices, run):
    """`x[..., indices]`: a slice when the indices are one contiguous run, else a gather.

    The coupling masks of `RADFlow` fold one contiguous half of the vector. A slice's
    gradient is a pad that XLA fuses with its neighbours; a gather's is a scatter through
    transposed copies, which cost a training step at d = 64 about a millisecond.
    """
    return tf.gather(x, indices, axis=-1) if run is None else x[..., run]


def _feasible(v):
    """Which pieces have a preimage of the normalized latent `v`: bool `[..., 3]`.

    All three where `|v| <= 1`; only `k = 2` above 1, only `k = 0` below -1.
    """
    return tf.stack([v <= 1.0, tf.abs(v) <= 1.0, v >= -1.0], axis=-1)


def _select_piece(k, left_tail, right_tail, p):
    """The affine piece `v = v0 + sign * alpha * (u - u0)` for index `k`.

    Piece 0 is anchored at `(u0, v0) = (-1, -1)`, piece 1 (reversed) at `(a, 1)`, piece 2 at
    `(1, 1)`; the outer slopes `alpha_minus`/`alpha_plus` replace `alpha1`/`alpha3` in the tails.
    Returns `(u0, v0, sign, log_alpha)`.
    """
    one = tf.ones_like(p.a)
    is_first, is_last = tf.equal(k, 0), tf.equal(k, 2)
    u0 = tf.where(is_first, -one, tf.where(is_last, one, p.a))
    v0 = tf.where(is_first, -one, one)
    sign = tf.where(tf.equal(k, 1), -one, one)
    log_alpha = tf.where(
        is_first,
        tf.where(left_tail, p.log_alpha_minus, p.log_alpha1),
        tf.where(is_last, tf.where(right_tail, p.log_alpha_plus, p.log_alpha3), p.log_alpha2),
    )
    return u0, v0, sign, log_alpha


@keras.saving.register_keras_serializable(package="tfp_rad")
class PiecewiseFold(keras.layers.Layer):
    """RAD's 5-piece linear fold of the folded elements of a vector, with its gating.

    #### Mathematical Details

    Each folded element `x_i` is normalized, folded and de-normalized:

    ```none
    u = x_i exp(r_in) + m_in
    v = f(u)               (5 linear pieces, below)
    z_i = v exp(r_out) + m_out
    ```

    with breakpoints `-1 < a < b < 1` and `k = 0` for `u < a`, `k = 1` for `a <= u <= b`,
    `k = 2` for `u > b`:

    ```none
    f(u) = alpha_minus (u + 1) - 1   u <= -1       (k = 0)
           alpha1      (u + 1) - 1   -1 <= u <= a  (k = 0)
          -alpha2      (u - a) + 1   a <= u <= b   (k = 1)
           alpha3      (u - 1) + 1   b <= u <= 1   (k = 2)
           alpha_plus  (u - 1) + 1   u >= 1        (k = 2)
    ```

    `f(-1) = f(b) = -1` and `f(a) = f(1) = 1`: inside `[-1, 1]` every piece is feasible,
    above 1 only `k = 2`, below -1 only `k = 0`. The slopes derive from the boundary
    gating probabilities `q+ = p(k | v = 1)` and `q- = p(k | v = -1)` (see
    `fold_parameters_from_raw`). The gating given raw logits `s(z)` is, for `|v| <= 1`,

    ```none
    logits(v) = cos^2(pi v / 2) s(z) + (1 + sin(pi v / 2))/2 log q+ + (1 - sin(pi v / 2))/2 log q-
    ```

    (so `p(. | v = +-1) = q+-` whatever `s` is) and one-hot on the feasible piece outside.
    With it, `log p(x) = log p(z) + log p(k | z) + log |det dz/dx|` is continuous in `x`.

    #### Modes

    - *free-standing* (`conditioner=None`): the layer owns a trainable `[num_folded, 10]`
      matrix of raw parameters.
    - *coupling* (`conditioner` a Keras layer): the conditioner reads the pass-through
      elements (`fold_mask` False) and returns `[N, num_folded * 10]` (or
      `[N, num_folded, 10]`) raw parameters; pass-through elements are copied unchanged.
    - *conditional* (`context_size = m > 0`, with a conditioner): every method takes a
      context `c`, `[N, m]` or `[m]`; the conditioner reads `concat([x_pass, c])` (`c`
      alone when every element is folded) and a gating network reads `concat([z, c])`.
      The fold of `x` given `c` is the fold above with the parameters of `c`, so the
      log-density `log p(x | c)` is continuous in `x` for every `c`.

    Raw parameter layout: `m_in, r_in, m_out, r_out`, 3 logits of `q+`, 3 logits of `q-`.

    #### References

    [1]: Laurent Dinh, Jascha Sohl-Dickstein, Hugo Larochelle, Razvan Pascanu. A RAD
         approach to deep mixture models. ICLR 2019 workshop; journal version 2021.
    """

    def __init__(
        self,
        event_size,
        fold_mask=None,
        conditioner=None,
        boundary_conditioned_gating=True,
        min_boundary_probability=1e-3,
        log_scale_bound=8.0,
        validate_args=False,
        context_size=0,
        **kwargs,
    ):
        """Creates the fold.

        Args:
          event_size: int, the size `d` of the vectors folded.
          fold_mask: optional sequence of `d` booleans, True for the folded elements. Default:
            all folded (free-standing) or, with a conditioner, the last `d - d // 2`.
          conditioner: optional Keras layer mapping the pass-through elements `[N, d_pass]`
            to raw fold parameters `[N, num_folded * 10]`. None: free-standing mode.
          boundary_conditioned_gating: if False, the gating inside `[-1, 1]` is the plain
            `softmax(s(z))`: the log-density then jumps at the breakpoints (for study only).
          min_boundary_probability: `min_p` in `(0, 1)`; every boundary probability is at
            least `min_p / 3`, which bounds the slopes.
          log_scale_bound: positive `B`; the affine log-scales are `B tanh(raw / B)`.
          validate_args: if True, piece indices are checked at run time too.
          context_size: non-negative int `m`; with `m > 0` the fold is conditional: its
            conditioner (required) reads the pass-through elements and a context `[N, m]`,
            `[N, d_pass + m]` in all (the context alone if every element is folded).
          **kwargs: passed to `keras.layers.Layer`; `dtype` defaults to
            `keras.config.floatx()` at construction.

        Raises:
          ValueError: for impossible hyper-parameters.
        """
        kwargs.setdefault("dtype", keras.config.floatx())
        super().__init__(**kwargs)
        self.event_size = validation.positive_int(event_size, "event_size")
        self.context_size = validation.non_negative_int(context_size, "context_size")
        if self.context_size and conditioner is None:
            raise ValueError(
                f"A conditional fold (context_size={self.context_size}) needs a conditioner "
                "to read its context."
            )
        if fold_mask is None:
            split = self.event_size // 2 if conditioner is not None else 0
            fold_mask = [i >= split for i in range(self.event_size)]
        fold_mask = [bool(m) for m in fold_mask]
        if len(fold_mask) != self.event_size:
            raise ValueError(
                f"fold_mask must have event_size={self.event_size} entries, got {len(fold_mask)}."
            )
        if not any(fold_mask):
            raise ValueError("fold_mask folds no element: at least one entry must be True.")
        if conditioner is not None and all(fold_mask) and not self.context_size:
            raise ValueError(
                "A coupling fold needs at least one pass-through element (a False in fold_mask) "
                "for its conditioner to read."
            )
        if not 0.0 < min_boundary_probability < 1.0:
            raise ValueError(
                f"min_boundary_probability must lie in (0, 1), got {min_boundary_probability}."
            )
        if not log_scale_bound > 0.0:
            raise ValueError(f"log_scale_bound must be positive, got {log_scale_bound}.")
        self.fold_mask = fold_mask
        self.conditioner = conditioner
        self.boundary_conditioned_gating = bool(boundary_conditioned_gating)
        self.min_boundary_probability = float(min_boundary_probability)
        self.log_scale_bound = float(log_scale_bound)
        self.validate_args = bool(validate_args)
        self._folded = np.flatnonzero(fold_mask).astype(np.int32)
        self._passthrough = np.flatnonzero(~np.asarray(fold_mask)).astype(np.int32)
        # Position of each element of concat([passthrough, folded]) in the original vector.
        self._restore = np.argsort(np.concatenate([self._passthrough, self._folded])).astype(
            np.int32
        )
        self._passthrough_run, self._folded_run = _as_run(self._passthrough), _as_run(self._folded)
        self.build((None, self.event_size))

    @property
    def num_folded(self):
        return len(self._folded)

    @property
    def num_passthrough(self):
        return len(self._passthrough)

    def build(self, input_shape):
        if self.built:
            return
        if self.conditioner is None:
            self.raw_parameters = self.add_weight(
                shape=(self.num_folded, PARAMETERS_PER_ELEMENT),
                initializer="zeros",
                name="raw_parameters",
            )
        elif not self.conditioner.built:
            self.conditioner.build((None, self.num_passthrough + self.context_size))
        self.built = True

    # ----------------------------------------------------------------------------------------
    # Splitting a vector into pass-through and folded parts.

    def _split(self, x):
        return (_columns(x, self._passthrough, self._passthrough_run),
                _columns(x, self._folded, self._folded_run))

    def _merge(self, passthrough, folded):
        """The inverse of `_split`: a concatenation when each part is one contiguous run."""
        if not self.num_passthrough:
            return folded
        if self._passthrough_run is not None and self._folded_run is not None:
            first = self._passthrough_run.start == 0
            return tf.concat([passthrough, folded] if first else [folded, passthrough], axis=-1)
        return tf.gather(tf.concat([passthrough, folded], axis=-1), self._restore, axis=-1)

    def _convert(self, x, name):
        x = tf.convert_to_tensor(x, dtype_hint=self.compute_dtype, name=name)
        if x.dtype != self.compute_dtype:
            raise ValueError(
                f"PiecewiseFold {self.name!r} computes in {self.compute_dtype}; `{name}` has "
                f"dtype {x.dtype.name}. Cast it first."
            )
        validation.check_event_size(x, self.event_size, f"`{name}` of PiecewiseFold {self.name!r}")
        return x

    def _context(self, context, x):
        """The checked context broadcast to the points `x`: `[N, m]`, or None if unconditional."""
        context = validation.check_context(
            context, self.context_size, self.compute_dtype, f"PiecewiseFold {self.name!r}")
        if context is None:
            return None
        return tf.broadcast_to(context, tf.concat([tf.shape(x)[:-1], [self.context_size]], 0))

    @staticmethod
    def _with_context(inputs, context):
        """`concat([inputs, context])` on the last axis, or `inputs` without a context."""
        return inputs if context is None else tf.concat([inputs, context], axis=-1)

    # ----------------------------------------------------------------------------------------
    # Parameters.

    def fold_parameters(self, x, context=None):
        """The fold's parameters for a batch of points (of either side of the fold).

        In coupling mode they depend only on the pass-through elements (and the context),
        which `fold` leaves unchanged, so `fold_parameters(x) == fold_parameters(z)`.

        Args:
          x: `[N, d]` points (data `x` or latent `z`).
          context: the context `[N, m]` or `[m]` of a conditional fold; None otherwise.

        Returns:
          `FoldParameters` whose tensors are `[N, num_folded]` (coupling) or `[num_folded]`
          (free-standing; they broadcast against the batch).
        """
        return self._parameters(x, self._context(context, x))

    def _parameters(self, x, context):
        """`fold_parameters` given the checked, broadcast context (None if unconditional)."""
        if self.conditioner is None:
            raw = tf.convert_to_tensor(self.raw_parameters)
        else:
            passthrough = _columns(x, self._passthrough, self._passthrough_run)
            raw = self.conditioner(self._with_context(passthrough, context))
            raw = tf.reshape(raw, [-1, self.num_folded, PARAMETERS_PER_ELEMENT])
        return fold_parameters_from_raw(raw, self.min_boundary_probability, self.log_scale_bound)

    # ----------------------------------------------------------------------------------------
    # Density direction and its inverse.

    def call(self, x):
        return self.fold(x)

    def fold(self, x, parameters=None, context=None):
        """Folds `x` into `(z, k, log_det_jacobian)`.

        Args:
          x: `[N, d]` points.
          parameters: optional `FoldParameters` of `x` (computed if None).
          context: the context `[N, m]` or `[m]` of a conditional fold; None otherwise.

        Returns:
          z: `[N, d]`, the folded points (pass-through elements unchanged).
          k: `[N, num_folded]` int32 piece indices in {0, 1, 2}.
          log_det_jacobian: `[N]`, `sum_i r_in + log|f'(u_i)| + r_out`.
        """
        z, _, k, log_det, _, _ = self._fold(x, parameters, context)
        return z, k, log_det

    def fold_with_gating(self, x, gating=None, parameters=None, context=None):
        """`fold` and `log_gating_prob` in one pass: `(z, k, log_det_jacobian, log_gate)`.

        Equal to `z, k, log_det = fold(x)` and `log_gate = log_gating_prob(z, k,
        gating(z))`, but the gating reads the normalized fold output `v` that the fold has
        just computed instead of recovering it from `z`, `v = (z_i - m_out) exp(-r_out)`.

        Args:
          x: `[N, d]` points.
          gating: optional callable mapping `z` `[N, d]` to the raw gating logits `s(z)`,
            `[N, num_folded, 3]` (or flattened); None means `s = 0`. A conditional fold's
            gating reads `concat([z, c])`, `[N, d + m]`.
          parameters: optional `FoldParameters` of `x` (computed if None).
          context: the context `[N, m]` or `[m]` of a conditional fold; None otherwise.

        Returns:
          z: `[N, d]`; k: `[N, num_folded]` int32; log_det_jacobian: `[N]`;
          log_gate: `[N]`, `log p(k | z)` summed over the folded elements.
        """
        z, v, k, log_det, p, context = self._fold(x, parameters, context, gating is not None)
        logits = None if gating is None else gating(self._with_context(z, context))
        log_gate = self._log_gating_prob(v, k, logits, p)
        return z, k, log_det, log_gate

    def _fold(self, x, parameters, context, gated=False):
        """`fold` with more outputs: `(z, v, k, log_det_jacobian, parameters, context)`.

        `v = f(u)`, `[N, num_folded]`, is the folded elements' value before the output
        affine map `z_i = v exp(r_out) + m_out`, with `u = x_i exp(r_in) + m_in`. The context
        is checked when the parameters or a gating (`gated`) need it, and returned too.
        """
        x = self._convert(x, "x")
        if parameters is None or gated:
            context = self._context(context, x)
        p = self._parameters(x, context) if parameters is None else parameters
        passthrough, folded = self._split(x)
        if FUSED and p.raw is not None:
            raw = tf.broadcast_to(
                p.raw, tf.concat([tf.shape(folded), [PARAMETERS_PER_ELEMENT]], axis=0))
            z_folded, v, k, log_det, log_q_plus, log_q_minus = fused_fold(
                folded, raw, self.min_boundary_probability, self.log_scale_bound)
            p = p._replace(log_q_plus=tuple(tf.unstack(log_q_plus, NUM_PIECES, axis=-1)),
                           log_q_minus=tuple(tf.unstack(log_q_minus, NUM_PIECES, axis=-1)))
            z = self._merge(passthrough, z_folded)
            return z, v, k, tf.reduce_sum(log_det, axis=-1), p, context
        u = folded * tf.exp(p.log_scale_in) + p.shift_in
        k = tf.where(u < p.a, 0, tf.where(u > p.b, 2, 1))
        u0, v0, sign, log_alpha = _select_piece(k, u < -1.0, u > 1.0, p)
        v = v0 + sign * tf.exp(log_alpha) * (u - u0)
        z = self._merge(passthrough, v * tf.exp(p.log_scale_out) + p.shift_out)
        log_det = tf.reduce_sum(p.log_scale_in + log_alpha + p.log_scale_out, axis=-1)
        return z, v, k, log_det, p, context

    def unfold(self, z, k, parameters=None, context=None):
        """The preimage of `z` in pieces `k`: `x` with `fold(x)[:2] == (z, k)`.

        Args:
          z: `[N, d]` latent points.
          k: `[N, num_folded]` integer piece indices in {0, 1, 2}. Where piece `k` is not
            feasible at `z` (see `feasible_pieces`) the piece's affine map is extended and
            the result does not fold back to `(z, k)`.
          parameters: optional `FoldParameters` of `z` (computed if None).
          context: the context `[N, m]` or `[m]` of a conditional fold; None otherwise.

        Returns:
          `[N, d]` points `x`.

        Raises:
          ValueError: if `k` is known to hold values outside {0, 1, 2} or has the wrong shape.
        """
        z = self._convert(z, "z")
        k = self._check_piece_indices(k)
        p = self.fold_parameters(z, context) if parameters is None else parameters
        passthrough, z_folded = self._split(z)
        v = (z_folded - p.shift_out) * tf.exp(-p.log_scale_out)
        u0, v0, sign, log_alpha = _select_piece(k, v < -1.0, v > 1.0, p)
        u = u0 + sign * (v - v0) * tf.exp(-log_alpha)
        x_folded = (u - p.shift_in) * tf.exp(-p.log_scale_in)
        return self._merge(passthrough, x_folded)

    def _check_piece_indices(self, k):
        k = tf.convert_to_tensor(k)
        if not k.dtype.is_integer:
            raise ValueError(f"Piece indices k must be integers, got dtype {k.dtype.name}.")
        if k.shape.rank is not None and k.shape.rank >= 1 and k.shape[-1] is not None:
            if k.shape[-1] != self.num_folded:
                raise ValueError(
                    f"Piece indices k must have {self.num_folded} entries on their last axis "
                    f"(one per folded element), got shape {k.shape}."
                )
        value = tf.get_static_value(k)
        if value is not None and np.any((value < 0) | (value >= NUM_PIECES)):
            bad = np.unique(value[(value < 0) | (value >= NUM_PIECES)])
            raise ValueError(f"Piece indices k must lie in {{0, 1, 2}}; got values {bad.tolist()}.")
        k = tf.cast(k, tf.int32)
        if self.validate_args:
            tf.debugging.assert_less(k, NUM_PIECES, message="Piece indices k must be < 3.")
            tf.debugging.assert_non_negative(k, message="Piece indices k must be >= 0.")
        return k

    # ----------------------------------------------------------------------------------------
    # Gating.

    def _normalized_latent(self, z, p):
        return (_columns(z, self._folded, self._folded_run) - p.shift_out) * tf.exp(
            -p.log_scale_out)

    def feasible_pieces(self, z, parameters=None, context=None):
        """Which pieces have a preimage of `z`: bool `[N, num_folded, 3]`.

        All three inside `|v| <= 1`; only `k = 2` above, only `k = 0` below.
        """
        z = self._convert(z, "z")
        p = self.fold_parameters(z, context) if parameters is None else parameters
        return _feasible(self._normalized_latent(z, p))

    def _check_gating_logits(self, gating_logits):
        """Raises `ValueError` if the logits' known shape is not `[N, n, 3]` or `[N, 3 n]`."""
        shape = tf.TensorShape(gating_logits.shape)
        per_point = shape[1:].num_elements() if shape.rank is not None else None
        if per_point is not None and per_point != self.num_folded * NUM_PIECES:
            raise ValueError(
                f"PiecewiseFold {self.name!r} folds {self.num_folded} element(s) and needs "
                f"{NUM_PIECES} gating logits for each: shape [N, {self.num_folded}, "
                f"{NUM_PIECES}] or [N, {self.num_folded * NUM_PIECES}]; the gating returned "
                f"shape {shape}."
            )

    def _inner_logits(self, v, gating_logits, p):
        """The three gating logits inside `[-1, 1]`, column-wise (rad-math section 3)."""
        if gating_logits is None:
            s = (tf.zeros_like(v),) * NUM_PIECES
        else:
            self._check_gating_logits(gating_logits)
            s = tf.unstack(
                tf.reshape(gating_logits, [-1, self.num_folded, NUM_PIECES]), NUM_PIECES, axis=-1
            )
        if not self.boundary_conditioned_gating:
            return s
        sine = _sin_half_pi(v)
        free = 1.0 - tf.square(sine)  # cos^2(pi v / 2): 1 at v = 0, 0 at v = +-1
        plus, minus = 0.5 * (1.0 + sine), 0.5 * (1.0 - sine)
        return tuple(
            free * s[j] + plus * p.log_q_plus[j] + minus * p.log_q_minus[j]
            for j in range(NUM_PIECES)
        )

    def gating_log_probs(self, z, gating_logits=None, parameters=None, normalized=True,
                         context=None):
        """`log p(k | z)` for every piece: `[N, num_folded, 3]`, `-inf` where infeasible.

        Args:
          z: `[N, d]` latent points.
          gating_logits: raw logits `s(z)`, `[N, num_folded, 3]` (or flattened); None is 0.
          parameters: optional `FoldParameters` of `z`.
          normalized: if False, skip the log-sum-exp: each element's three values are then
            `log p(k | z) + c` with `c` such that the largest is 0, enough to draw `k`
            (`sample_categorical` takes unnormalized log-probabilities).
          context: the context of a conditional fold, for its parameters (see `fold`).
        """
        z = self._convert(z, "z")
        p = self.fold_parameters(z, context) if parameters is None else parameters
        v = self._normalized_latent(z, p)
        logits = self._inner_logits(v, gating_logits, p)
        if normalized:
            normalizer = _logsumexp3(*logits)
        else:
            normalizer = tf.maximum(tf.maximum(logits[0], logits[1]), logits[2])
        inner = tf.stack([l - normalizer for l in logits], axis=-1)
        feasible = _feasible(v)
        impossible = tf.fill(tf.shape(inner), tf.constant(-np.inf, inner.dtype))
        one_hot = tf.where(feasible, tf.zeros_like(inner), impossible)
        return tf.where(tf.abs(v)[..., None] <= 1.0, inner, one_hot)

    def log_gating_prob(self, z, k, gating_logits=None, parameters=None, context=None):
        """`log p(k | z)` summed over the folded elements: `[N]`.

        `k` must be feasible at `z` (as `fold` returns it); outside `[-1, 1]` the only
        feasible piece has probability 1. A conditional fold takes its `context` (see `fold`).
        """
        z = self._convert(z, "z")
        p = self.fold_parameters(z, context) if parameters is None else parameters
        return self._log_gating_prob(self._normalized_latent(z, p), k, gating_logits, p)

    def _log_gating_prob(self, v, k, gating_logits, p):
        """`log p(k | z)` summed over the folded elements, from the normalized latent `v`."""
        if FUSED and self.boundary_conditioned_gating:
            if gating_logits is None:
                s = tf.zeros(tf.concat([tf.shape(v), [NUM_PIECES]], axis=0), v.dtype)
            else:
                self._check_gating_logits(gating_logits)
                s = tf.reshape(gating_logits, [-1, self.num_folded, NUM_PIECES])
            log_q_plus, log_q_minus = (
                tf.broadcast_to(tf.stack(log_q, axis=-1), tf.shape(s))
                for log_q in (p.log_q_plus, p.log_q_minus))
            return tf.reduce_sum(
                fused_log_gating(v, k, s, log_q_plus, log_q_minus), axis=-1)
        logits = self._inner_logits(v, gating_logits, p)
        chosen = tf.where(
            tf.equal(k, 0), logits[0], tf.where(tf.equal(k, 1), logits[1], logits[2])
        )
        log_prob = chosen - _logsumexp3(*logits)
        return tf.reduce_sum(tf.where(tf.abs(v) <= 1.0, log_prob, tf.zeros_like(v)), axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update(
            event_size=self.event_size,
            fold_mask=self.fold_mask,
            conditioner=(
                None
                if self.conditioner is None
                else keras.saving.serialize_keras_object(self.conditioner)
            ),
            boundary_conditioned_gating=self.boundary_conditioned_gating,
            min_boundary_probability=self.min_boundary_probability,
            log_scale_bound=self.log_scale_bound,
            validate_args=self.validate_args,
            context_size=self.context_size,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("conditioner") is not None:
            config["conditioner"] = keras.saving.deserialize_keras_object(config["conditioner"])
        return cls(**config)
