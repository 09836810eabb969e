"""The fold's and the gating's element-wise math, each pass with a hand-written gradient.

`PiecewiseFold` trains through two functions of `[N, n]` columns (one per folded
element of each point):

- `fused_fold(x, raw, ...)`: from the folded elements `x` and the raw parameters `raw`
  `[N, n, 10]` to `z`, `v = f(u)`, the log-det per element and the boundary
  log-probabilities `log q+-` that the gating needs;
- `fused_log_gating(v, k, s, log_q_plus, log_q_minus)`: `log p(k | z)` per element.

The forward passes compute the same formulas as `fold.fold_parameters_from_raw`,
`PiecewiseFold._fold` and `PiecewiseFold._log_gating_prob` (rad-math sections 2 and 3).
Their gradients are written out (`tf.custom_gradient`): one pass of products and sums
over quantities the forward already holds, where TensorFlow's own gradient goes through
the `tf.where` chains that select the pieces, the unstacked columns and the clips, and
under XLA compiles to several times the forward's work. `tests/test_fold_math.py` checks
them against TensorFlow's gradients of the unfused functions. The values many kernels read
(`u`, `v`, the gating's sine, logits and `G_v`) pass through `computed_once`, which keeps
XLA from recomputing them in each reader.

Gradient of the fold (per element; `G_y` is the gradient flowing into `y`). With
`v = v0 + sign alpha (u - u0)`, `u = x exp(r_in) + m_in`, `z = v exp(r_out) + m_out` and
the log-det `r_in + log alpha + r_out`:

```none
G_v'     = G_v + G_z exp(r_out)                 (v feeds z and the gating)
G_u      = G_v' sign alpha                       G_x = G_u exp(r_in),  G_m_in = G_u
G_r_in   = G_u (u - m_in) + G_logdet             G_r_out = G_z v exp(r_out) + G_logdet
G_logalpha = G_logdet + G_v' (v - v0)           G_a = -G_u in the middle piece (u0 = a)
```

`log alpha` of the selected piece is `log alpha2` plus a sum of `log q` terms (e.g.
`log alpha_minus = log alpha2 + log q+[1] - log q+[0] + log q-[0]`), `alpha2 = 1 + rp + rm`
with `rp = q+[0]/q+[1]`, `rm = q-[2]/q-[1]`, and `a = 2 rp / alpha2 - 1`; the gradients of
`log q_j = log(min_p/3 + (1 - min_p) softmax(c)_j)` with respect to the logits `c` are
`G_c_i = w_i G_i - sigma_i sum_j w_j G_j`, `w_j = (1 - min_p) sigma_j / q_j`. The soft
clips `r = B tanh(c / B)` have derivative `1 - (r / B)^2`.

Gradient of the gating (inside `|v| <= 1`): with `l_j = cos^2 s_j + (1 + sin)/2 log q+_j
+ (1 - sin)/2 log q-_j` (`sin = sin(pi v / 2)`) and `p = softmax(l)`,
`G_l_j = G ([j = k] - p_j)`; then `G_s_j = cos^2 G_l_j`, `G_logq+_j = (1 + sin)/2 G_l_j`,
`G_logq-_j = (1 - sin)/2 G_l_j` and
`G_v = (pi/2) cos(pi v / 2) sum_j G_l_j (-2 sin s_j + (log q+_j - log q-_j) / 2)`, with
`cos(pi v / 2) = sin(pi (1 - |v|) / 2)` on `[-1, 1]` (the same polynomial as the sine).
"""

import math

import numpy as np
import tensorflow as tf

# sin(pi v / 2) = sum_k c_k v^(2k+1), c_k = (-1)^k (pi/2)^(2k+1) / (2k+1)!, k = 0..10.
_SINE_COEFFICIENTS = tuple(
    (-1) ** k * (np.pi / 2) ** (2 * k + 1) / math.factorial(2 * k + 1) for k in range(11)
)


def sin_half_pi(v):
    """`sin(pi v / 2)` for `v` clipped to `[-1, 1]`, by its Taylor series to degree 21.

    ```none
    sin(pi v / 2) = v (c_0 + t (c_1 + t (c_2 + ... + t c_10))),  t = v^2
    ```

    On `[-1, 1]` the first omitted term, `(pi/2)^23 / 23! < 2e-18`, bounds the truncation
    error (an alternating series of decreasing terms), below float64's rounding. The
    gating only uses the sine where `|v| <= 1`. XLA's general `sin` (with range reduction
    for any argument) and its gradient took about 40 % of a RAD training step on a CPU.
    """
    v = tf.clip_by_value(v, -1.0, 1.0)
    t = tf.square(v)
    total = tf.fill(tf.shape(v), tf.constant(_SINE_COEFFICIENTS[-1], v.dtype))
    for coefficient in reversed(_SINE_COEFFICIENTS[:-1]):
        total = coefficient + t * total
    return v * total


def _softmax_and_log(logits, min_probability):
    """`(sigma, q, log q)` column-wise, `q = min_p/3 + (1 - min_p) softmax(logits)`."""
    largest = tf.maximum(tf.maximum(logits[0], logits[1]), logits[2])
    exps = [tf.exp(c - largest) for c in logits]
    inverse_sum = 1.0 / (exps[0] + exps[1] + exps[2])
    sigma = [e * inverse_sum for e in exps]
    q = [min_probability / 3.0 + (1.0 - min_probability) * s for s in sigma]
    return sigma, q, [tf.math.log(q_j) for q_j in q]


def _softmax_logits_gradient(gradients, sigma, q, min_probability):
    """`G_c` for `log q_j = log(min_p/3 + (1 - min_p) softmax(c)_j)`, given `G_{log q}`."""
    weighted = [g * (1.0 - min_probability) * s / q_j for g, s, q_j in zip(gradients, sigma, q)]
    total = weighted[0] + weighted[1] + weighted[2]
    return [w - s * total for w, s in zip(weighted, sigma)]


def computed_once(t):
    """`t` itself, marked so that XLA computes it in one kernel instead of in each reader.

    XLA:CPU fuses a chain of cheap element-wise operations (additions, products, the
    sine polynomial) into every kernel that reads its result, so a value read by many
    kernels is recomputed, with all its inputs read again, in each of them (the fold's
    backward has eleven outputs, each a kernel that needs the gating's `G_v`). It does
    not duplicate a division. Dividing by `1 + 0 sign(t)`, a tensor of ones that XLA
    does not fold (`0 x` is not 0 for every float), makes `t` the last operation of a
    kernel of its own whose result the readers share. IEEE division by exactly 1 returns
    its argument, infinities and NaNs included, so the values do not change (subnormal
    numbers become 0, as in any arithmetic TensorFlow does on a CPU, which flushes them);
    the cost is one division per element. The compiled program around it is fused
    differently, so its float32 results can move by rounding, less than XLA's own result
    differs from eager execution's (`tests/test_fold_math.py` checks it).
    """
    return t / (1.0 + 0.0 * tf.sign(t))


def _zero_if_none(gradient, like):
    return tf.zeros_like(like) if gradient is None else gradient


def fused_fold(x, raw, min_probability, log_scale_bound):
    """The fold of the folded elements `x` `[N, n]` with raw parameters `raw` `[N, n, 10]`.

    Returns `(z, v, k, log_det, log_q_plus, log_q_minus)`: `z`, `v`, `k` (int32) and the
    per-element log-det `r_in + log alpha_k + r_out` are `[N, n]`; the boundary
    log-probabilities are `[N, n, 3]`. Differentiable in `x` and `raw` by the hand-written
    gradient of the module docstring (`k` has none).
    """
    bound = log_scale_bound

    @tf.custom_gradient
    def fold(x, raw):
        c = tf.unstack(raw, num=10, axis=-1)
        tanh_in, tanh_out = tf.tanh(c[1] / bound), tf.tanh(c[3] / bound)
        exp_in, exp_out = tf.exp(bound * tanh_in), tf.exp(bound * tanh_out)
        sigma_p, q_p, log_q_p = _softmax_and_log(c[4:7], min_probability)
        sigma_m, q_m, log_q_m = _softmax_and_log(c[7:10], min_probability)
        ratio_plus, ratio_minus = q_p[0] / q_p[1], q_m[2] / q_m[1]
        alpha2 = 1.0 + ratio_plus + ratio_minus
        log_alpha2 = tf.math.log(alpha2)
        a = (2.0 / alpha2) * ratio_plus - 1.0
        b = 1.0 - (2.0 / alpha2) * ratio_minus
        u = computed_once(x * exp_in + c[0])
        first, last = u < a, u > b
        middle = tf.logical_not(tf.logical_or(first, last))
        left_tail, right_tail = first & (u < -1.0), last & (u > 1.0)
        zero = tf.zeros_like(u)
        # log alpha_k = log alpha2 + (log q terms of piece k and its tail); masks as 0/1.
        f_first, f_last = tf.cast(first, u.dtype), tf.cast(last, u.dtype)
        f_left, f_right = tf.cast(left_tail, u.dtype), tf.cast(right_tail, u.dtype)
        log_alpha = (log_alpha2 + f_first * (log_q_p[1] - log_q_p[0] + f_left * log_q_m[0])
                     + f_last * (log_q_m[1] - log_q_m[2] + f_right * log_q_p[2]))
        alpha = tf.exp(log_alpha)
        sign = 1.0 - 2.0 * tf.cast(middle, u.dtype)
        u0 = tf.where(middle, a, f_last - f_first)
        v0 = 1.0 - 2.0 * f_first
        v = computed_once(v0 + sign * alpha * (u - u0))
        z = v * exp_out + c[2]
        log_det = bound * (tanh_in + tanh_out) + log_alpha
        k = tf.where(first, 0, tf.where(last, 2, 1))

        def gradient(g_z, g_v, g_k, g_log_det, g_log_q_p, g_log_q_m):
            del g_k
            g_z, g_v, g_log_det = (_zero_if_none(g, u) for g in (g_z, g_v, g_log_det))
            g_log_q_p = tf.unstack(_zero_if_none(g_log_q_p, raw[..., :3]), 3, axis=-1)
            g_log_q_m = tf.unstack(_zero_if_none(g_log_q_m, raw[..., :3]), 3, axis=-1)
            g_v = g_v + g_z * exp_out
            g_u = g_v * sign * alpha
            g_log_alpha = g_log_det + g_v * (v - v0)
            g_a = tf.where(middle, -g_u, zero)
            along_first, along_last = f_first * g_log_alpha, f_last * g_log_alpha
            g_lp = [g_log_q_p[0] - along_first, g_log_q_p[1] + along_first,
                    g_log_q_p[2] + f_right * along_last]
            g_lm = [g_log_q_m[0] + f_left * along_first, g_log_q_m[1] + along_last,
                    g_log_q_m[2] - along_last]
            inverse_alpha2 = 1.0 / alpha2
            g_a_scaled = 2.0 * g_a * tf.square(inverse_alpha2)
            g_ratio_plus = (g_log_alpha * inverse_alpha2 + g_a_scaled * (1.0 + ratio_minus)) * ratio_plus
            g_ratio_minus = (g_log_alpha * inverse_alpha2 - g_a_scaled * ratio_plus) * ratio_minus
            g_lp[0], g_lp[1] = g_lp[0] + g_ratio_plus, g_lp[1] - g_ratio_plus
            g_lm[2], g_lm[1] = g_lm[2] + g_ratio_minus, g_lm[1] - g_ratio_minus
            g_r_in = g_u * (u - c[0]) + g_log_det
            g_r_out = g_z * v * exp_out + g_log_det
            g_raw = tf.stack(
                [g_u, g_r_in * (1.0 - tf.square(tanh_in)), g_z,
                 g_r_out * (1.0 - tf.square(tanh_out)),
                 *_softmax_logits_gradient(g_lp, sigma_p, q_p, min_probability),
                 *_softmax_logits_gradient(g_lm, sigma_m, q_m, min_probability)],
                axis=-1,
            )
            return g_u * exp_in, g_raw

        return (z, v, k, log_det, tf.stack(log_q_p, axis=-1), tf.stack(log_q_m, axis=-1)), gradient

    return fold(x, raw)


def fused_log_gating(v, k, gating_logits, log_q_plus, log_q_minus):
    """`log p(k | z)` per element `[N, n]`, 0 outside `|v| <= 1` (rad-math section 3).

    Args:
      v: `[N, n]` normalized latents; k: `[N, n]` int32 pieces (feasible at `v`).
      gating_logits: `[N, n, 3]` raw logits `s(z)`.
      log_q_plus, log_q_minus: `[N, n, 3]` boundary log-probabilities.

    Differentiable in `v`, the logits and the boundary log-probabilities by the
    hand-written gradient of the module docstring.
    """

    @tf.custom_gradient
    def log_gating(v, gating_logits, log_q_plus, log_q_minus):
        s = tf.unstack(gating_logits, 3, axis=-1)
        lp = tf.unstack(log_q_plus, 3, axis=-1)
        lm = tf.unstack(log_q_minus, 3, axis=-1)
        inside = tf.abs(v) <= 1.0
        sine = computed_once(sin_half_pi(v))
        free = 1.0 - tf.square(sine)  # cos^2(pi v / 2)
        plus, minus = 0.5 * (1.0 + sine), 0.5 * (1.0 - sine)
        logits = [computed_once(free * s[j] + plus * lp[j] + minus * lm[j]) for j in range(3)]
        largest = tf.maximum(tf.maximum(logits[0], logits[1]), logits[2])
        exps = [tf.exp(l - largest) for l in logits]
        total = exps[0] + exps[1] + exps[2]
        is_piece = [tf.equal(k, j) for j in range(3)]
        chosen = tf.where(is_piece[0], logits[0], tf.where(is_piece[1], logits[1], logits[2]))
        zero = tf.zeros_like(v)
        log_prob = tf.where(inside, chosen - largest - tf.math.log(total), zero)

        def gradient(g):
            g = tf.where(inside, g, zero)
            inverse_total = 1.0 / total
            g_logits = [g * (tf.cast(is_piece[j], v.dtype) - exps[j] * inverse_total)
                        for j in range(3)]
            g_sine = tf.add_n([
                g_logits[j] * (0.5 * (lp[j] - lm[j]) - 2.0 * sine * s[j]) for j in range(3)])
            # cos(pi v / 2) = sin(pi (1 - |v|) / 2): accurate near |v| = 1, where
            # sqrt(1 - sin^2) would lose float32's digits to cancellation.
            cosine = sin_half_pi(1.0 - tf.abs(v))
            g_v = computed_once(g_sine * (0.5 * np.pi) * cosine)
            return (
                g_v,
                tf.stack([free * g_l for g_l in g_logits], axis=-1),
                tf.stack([plus * g_l for g_l in g_logits], axis=-1),
                tf.stack([minus * g_l for g_l in g_logits], axis=-1),
            )

        return log_prob, gradient

    return log_gating(v, gating_logits, log_q_plus, log_q_minus)
