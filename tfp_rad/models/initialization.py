"""Starting a RAD flow near the identity, so that a whitened RAD starts at the Gaussian.

A `RADFlow` is built with every fold at the uniform 3-fold of `[-1, 1]` (boundary
probabilities `q+ = q- = (1/3, 1/3, 1/3)`, inner slopes 3): a fine start on the paper's
2-D problems, but on whitened data it starts below the full-covariance Gaussian that the
whitening alone gives. `start_near_identity` moves each fold's boundary probabilities to
`q+ = q- = softmax(-beta, beta, -beta)`, i.e. almost all of the mass on the middle piece
(the affine maps stay the identity). With `q[1] -> 1` the slopes of rad-math section 2 become

```none
alpha2 -> 1,  alpha_plus, alpha_minus -> 1,  a -> -1,  b -> 1   (alpha1, alpha3 -> inf)
```

so the fold is `v = u` outside `[-1, 1]` and the reflection `v = -u` inside, with gating
probability `q[1] -> 1` for the middle piece: a map that leaves any density symmetric in
each folded element, the standard normal base in particular, unchanged. A stack of such
layers on `N(0, I)` is (to `O(exp(-2 beta))` and `min_boundary_probability`) the standard
normal, and with `whiten=True` the model is the maximum-likelihood Gaussian of the adapted
data, from which training departs.

For a coupling fold the conditioner's output is `c tanh(W h + b)` (`ScaledTanh`); the
output bias `b` of the 6 logit columns of each folded element is set to
`+- atanh(beta / c)` with the scale `c` raised to `TANH_SCALE`. A free-standing fold's raw
parameters are set directly. Gating networks (if any) are left as they are; their
contribution vanishes as `q[1] -> 1` only at the boundary, so use this with
`gating_hidden_units=0` for an exact start.
"""

import numpy as np

from tfp_rad.fold import NUM_PIECES, PARAMETERS_PER_ELEMENT
from tfp_rad.models.layers import StackedNetwork

BOUNDARY_LOGIT = 4.0
TANH_SCALE = 6.0
_LOGITS = slice(4, 4 + 2 * NUM_PIECES)


def _logit_pattern(beta):
    """`(-beta, beta, -beta)` for `q+` and for `q-`: the 6 logit columns of an element."""
    return np.array([-beta, beta, -beta] * 2)


def start_near_identity(model, beta=BOUNDARY_LOGIT):
    """Sets every fold of a `RADFlow` (or `HybridFlow`) to the near-identity start above.

    Args:
      model: a built RAD stack (`model.folds`).
      beta: positive float, the middle piece's logit margin (`q[1] = 1 / (1 + 2 exp(-2
        beta))` before `min_boundary_probability`); below `TANH_SCALE`.

    Raises:
      ValueError: for a model without folds or `beta` out of `(0, TANH_SCALE)`.
    """
    if not getattr(model, "folds", None):
        raise ValueError(f"{type(model).__name__} has no RAD folds to start near the identity.")
    if not 0 < beta < TANH_SCALE:
        raise ValueError(f"beta must be in (0, {TANH_SCALE}), got {beta!r}.")
    for fold in model.folds:
        if fold.conditioner is None:
            raw = np.zeros(fold.raw_parameters.shape)
            raw[..., _LOGITS] = _logit_pattern(beta)
            fold.raw_parameters.assign(raw.astype(fold.raw_parameters.dtype))
            continue
        conditioner = fold.conditioner
        if isinstance(conditioner, StackedNetwork):  # RADFlow's
            bias = np.array(conditioner.weight("output_bias"))
            conditioner.assign("output_bias", _with_logit_biases(bias, beta))
            conditioner.assign("scale", TANH_SCALE)
        else:  # a per-layer MLP (HybridFlow's)
            output = conditioner.get_layer("output")
            bias = _with_logit_biases(output.bias.numpy(), beta)
            output.bias.assign(bias.astype(output.bias.dtype))
            conditioner.get_layer("scaled_tanh").scale.assign(TANH_SCALE)


def _with_logit_biases(bias, beta):
    """A conditioner's output bias `[n * 10]` with each element's logit columns set so that
    `TANH_SCALE * tanh(bias)` is `_logit_pattern(beta)` (the other columns unchanged)."""
    bias = np.array(bias).reshape(-1, PARAMETERS_PER_ELEMENT)
    bias[:, _LOGITS] = np.arctanh(_logit_pattern(beta) / TANH_SCALE)
    return bias.reshape(-1)
