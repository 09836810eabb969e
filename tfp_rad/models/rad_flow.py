"""`RADFlow`: a deep RAD model as a Keras 3 model."""

import keras

from tfp_rad.fold import NUM_PIECES, PARAMETERS_PER_ELEMENT, PiecewiseFold
from tfp_rad.models.flow_model import FlowModel, alternating_masks
from tfp_rad.models.layers import mlp
from tfp_rad.rad_distribution import RADDistribution


@keras.saving.register_keras_serializable(package="tfp_rad")
class RADFlow(FlowModel):
    """A stack of `num_layers` RAD layers on a standard normal base.

    With `event_size == 1` each layer is a free-standing `PiecewiseFold`; with
    `event_size >= 2` a coupling fold whose conditioner reads one half of the vector and
    folds the other, alternating halves from layer to layer (rad-math section 5). Each
    layer's gating `s(z)` and each conditioner are one-hidden-layer ReLU MLPs of
    `hidden_units` units; the gating's output is linear, the conditioner's a tanh scaled by
    a learned scalar, as in the paper. Conditioners' output layers (and free-standing
    folds' parameters) start at zero, so every layer starts as the uniform 3-fold of
    `[-1, 1]` (slopes 3 inside, identity outside).

    The density is the nested `RADDistribution`

    ```none
    p = RAD(fold_1, gating_1, RAD(fold_2, gating_2, ... RAD(fold_L, gating_L, N(0, I))))
    ```

    where `fold_1` meets the data first.

    #### Examples

    ```python
    model = tfp_rad.models.RADFlow(event_size=2)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, batch_size=500, epochs=20)
    model.sample(1000, seed=0); model.log_prob(x)
    ```
    """

    def __init__(self, event_size, num_layers=6, hidden_units=8, **kwargs):
        super().__init__(event_size, num_layers, hidden_units, **kwargs)
        d = self.event_size
        masks = (
            [[True]] * self.num_layers if d == 1 else alternating_masks(d, self.num_layers)
        )
        self.folds = []
        self.gatings = []
        for i, mask in enumerate(masks):
            num_folded = sum(mask)
            conditioner = None
            if d > 1:
                conditioner = mlp(
                    self.hidden_units,
                    num_folded * PARAMETERS_PER_ELEMENT,
                    f"conditioner_{i}",
                    self.dtype_policy.name,
                    zero_output=True,
                    scaled_tanh=True,
                )
            self.folds.append(
                PiecewiseFold(
                    d,
                    fold_mask=mask,
                    conditioner=conditioner,
                    name=f"fold_{i}",
                    dtype=self.dtype_policy,
                )
            )
            self.gatings.append(
                mlp(
                    self.hidden_units,
                    num_folded * NUM_PIECES,
                    f"gating_{i}",
                    self.dtype_policy.name,
                )
            )
        self.build((None, d))

    def build(self, input_shape):
        if self.built:
            return
        for gating in self.gatings:
            gating.build((None, self.event_size))
        self.built = True

    def _make_distribution(self):
        distribution = self._base_distribution()
        for fold, gating in reversed(list(zip(self.folds, self.gatings))):
            distribution = RADDistribution(distribution, fold, gating)
        return distribution

    def infer_layers(self, x):
        """Every layer's `(x, z, k)`, data side first (see `RADDistribution.infer_layers`)."""
        return self.distribution.infer_layers(self._as_points(x))
