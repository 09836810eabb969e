"""The defensive mixture: a flow's density mixed with a small share of its standard normal base.

A flow trained on a few hundred rows can map a row far outside the training range to a
point so far out in its base that `log p` is thousands of nats below any simple model: a
conditioner that reads an outlying coordinate extrapolates, e.g. to a RAD fold whose
outer slope (`alpha_minus = alpha1 q-[1]`) stretches the row by a factor of 20, and the
stretches compound over the layers while the base charges `-z^2 / 2`. The defensive
mixture bounds the damage. In the flow's own
coordinates (the whitened ones, with `whiten=True`) the density is

```none
p(u) = (1 - eps) p_flow(u) + eps N(u; 0, I),    0 < eps < 1,
```

so that on every point

```none
log p(u) >= log eps + log N(u; 0, I)      (never more than log(1/eps) below the Gaussian)
log p(u) >= log(1 - eps) + log p_flow(u)  (never more than log(1/(1 - eps)) below the flow)
```

With `whiten=True`, `N(u; 0, I)` mapped by `x = mean + L u` is the maximum-likelihood
full-covariance Gaussian of the adapted rows, so the model's `log p(x)` is never more than
`log(1/eps)` nats below that Gaussian's on any row (3.0 nats for `eps = 0.05`), and at
most `log(1/(1 - eps))` (0.05 nats) below the flow alone.

It is TFP's `tfd.Mixture(tfd.Categorical(probs=[1 - eps, eps]), [flow, base])`: `log_prob`
is the log-sum-exp of the two weighted terms, and sampling is exact (TFP draws the
component index, then the point from that component).
"""

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_rad import validation

tfd = tfp.distributions


def check_weight(weight):
    """`weight` checked as the defensive share `eps`: None (no mixture) or a float in (0, 1).

    Raises:
      ValueError: for anything else (0 and 1 included, bools, NaN).
    """
    if weight is None:
        return None
    if not validation.is_positive_number(weight) or weight >= 1:
        raise ValueError(
            f"defensive_weight must be None (no defensive mixture) or a number in (0, 1), "
            f"the share of the standard normal; got {weight!r}."
        )
    return float(weight)


def defensive_mixture(flow, base, weight):
    """`(1 - weight) flow + weight base` as a `tfd.Mixture` (module docstring).

    Args:
      flow: the flow's `tfd.Distribution`, event shape `[d]`.
      base: the standard normal `N(0, I_d)` in the same dtype.
      weight: the share `eps` of `base`, in (0, 1).
    """
    probs = tf.constant([1.0 - weight, weight], dtype=flow.dtype)
    return tfd.Mixture(
        cat=tfd.Categorical(probs=probs), components=[flow, base], name="DefensiveMixture"
    )
