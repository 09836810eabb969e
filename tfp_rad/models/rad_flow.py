"""`RADFlow`: a deep RAD model as a Keras 3 model, and the RAD layer it stacks."""

import numbers

import keras

from tfp_rad.fold import NUM_PIECES, PARAMETERS_PER_ELEMENT, PiecewiseFold
from tfp_rad.models.flow_model import FlowModel, alternating_masks
from tfp_rad.models.layers import StackedMLP, mlp
from tfp_rad.rad_distribution import RADDistribution


# How `RADFlow` keeps its weights: "stacked", one `StackedMLP` for the conditioners and one
# for the gatings. Files saved before (no `weights_layout` in their config) kept them per
# layer; `tfp_rad.saving.load_model` converts them.
WEIGHTS_LAYOUT = "stacked"


class RADStack(FlowModel):
    """A `FlowModel` with RAD layers: `folds[j]` and `gatings[j]`, data side first.

    Subclasses fill `folds` and `gatings` in their `__init__`: `HybridFlow` with
    `add_rad_layer` (one MLP per network; `self.build` then builds the gatings), `RADFlow`
    with views of its stacked networks (`StackedNetwork`).
    """

    def __init__(self, event_size, num_layers, hidden_units, **kwargs):
        super().__init__(event_size, num_layers, hidden_units, **kwargs)
        self.folds = []
        self.gatings = []

    def add_rad_layer(self, fold_mask, index, hidden_units, gating_hidden_units):
        """Appends the RAD layer `rad_layer(...)` to `folds` and `gatings`."""
        fold, gating = rad_layer(
            self.event_size, fold_mask, index, hidden_units, gating_hidden_units,
            self.dtype_policy, self.context_size,
        )
        self.folds.append(fold)
        self.gatings.append(gating)

    def build(self, input_shape):
        if self.built:
            return
        for gating in self.gatings:
            if gating is not None:  # gating_hidden_units = 0: none
                gating.build((None, self.event_size + self.context_size))
        self.built = True


@keras.saving.register_keras_serializable(package="tfp_rad")
class RADFlow(RADStack):
    """A stack of `num_layers` RAD layers on a standard normal base.

    With `event_size == 1` each layer is a free-standing `PiecewiseFold`; with
    `event_size >= 2` a coupling fold whose conditioner reads one half of the vector and
    folds the other, alternating halves from layer to layer (rad-math section 5). Each
    conditioner is a one-hidden-layer ReLU MLP of `hidden_units` units ending in a tanh
    scaled by a learned scalar, and each layer's gating `s(z)` a one-hidden-layer ReLU MLP
    of `gating_hidden_units` units with a linear output, as in the paper. Conditioners'
    output layers (and free-standing folds' parameters) start at zero, so every layer
    starts as the uniform 3-fold of `[-1, 1]` (slopes 3 inside, identity outside).

    The layers' networks keep their weights stacked: `conditioners` and `gating_networks`
    are `StackedMLP`s holding network `j` of every layer in slice `j`, and `folds[j]`'s
    conditioner and `gatings[j]` are that slice's `StackedNetwork`. A training step then
    hands Keras's optimizer 9 variables instead of 9 per layer, which made RAD's step
    faster (issue 16; `benchmarks/layer_loop.py`). Files saved when the weights were kept
    per layer load through `tfp_rad.load_model`, which moves them into the stacks.

    The density is the nested `RADDistribution`

    ```none
    p = RAD(fold_1, gating_1, RAD(fold_2, gating_2, ... RAD(fold_L, gating_L, N(0, I))))
    ```

    where `fold_1` meets the data first. With `context_size = m > 0` it is the
    conditional density `p(x | c)`: every conditioner reads its pass-through half and `c`
    (with `event_size == 1`, `c` alone), every gating `concat([z, c])`, and each layer's
    `RADDistribution` hands `c` to the next (see `FlowModel` for the Keras surface).
    With `gating_hidden_units=0` there is no gating
    network (`s(z) = 0`): inside `[-1, 1]` the gating is then only the interpolation
    between the boundary probabilities of the fold,

    ```none
    logits(v) = (1 + sin(pi v / 2))/2 log q+ + (1 - sin(pi v / 2))/2 log q-
    ```

    #### Examples

    ```python
    model = tfp_rad.models.RADFlow(event_size=2)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, batch_size=500, epochs=20)
    model.sample(1000, seed=0); model.log_prob(x)
    ```
    """

    def __init__(self, event_size, num_layers=6, hidden_units=8, gating_hidden_units=None,
                 **kwargs):
        """Builds the layers.

        Args:
          event_size: positive int, the dimension `d`.
          num_layers: positive int, the number of RAD layers.
          hidden_units: positive int, the width of the conditioners (and by default of the
            gatings).
          gating_hidden_units: the width of the gating networks: None means `hidden_units`,
            0 means no gating network (`s(z) = 0`).
          **kwargs: passed to `FlowModel` (and on to `keras.Model`): `standardize`,
            `context_size` (the size `m` of a context `c`; 0, the default, for `p(x)`).

        Raises:
          ValueError: for a non-positive size or a negative `gating_hidden_units`.
        """
        super().__init__(event_size, num_layers, hidden_units, **kwargs)
        self.gating_hidden_units = _gating_width(gating_hidden_units, self.hidden_units)
        masks = fold_masks(self.event_size, self.num_layers)
        num_folded = sum(masks[0])
        self.conditioners = None
        if self.event_size > 1 or self.context_size:
            self.conditioners = StackedMLP(
                self.num_layers, self.event_size - num_folded + self.context_size,
                self.hidden_units, num_folded * PARAMETERS_PER_ELEMENT, zero_output=True,
                scaled_tanh=True, name="conditioners", dtype=self.dtype_policy)
        self.gating_networks = None
        if self.gating_hidden_units:
            self.gating_networks = StackedMLP(
                self.num_layers, self.event_size + self.context_size, self.gating_hidden_units,
                num_folded * NUM_PIECES, name="gating_networks", dtype=self.dtype_policy)
        for i, mask in enumerate(masks):
            conditioner = None if self.conditioners is None else self.conditioners.network(i)
            self.folds.append(PiecewiseFold(
                self.event_size, fold_mask=mask, conditioner=conditioner, name=f"fold_{i}",
                dtype=self.dtype_policy, context_size=self.context_size))
            self.gatings.append(
                None if self.gating_networks is None else self.gating_networks.network(i))
        self.built = True

    def _make_distribution(self):
        distribution = self._base_distribution()
        for fold, gating in reversed(list(zip(self.folds, self.gatings))):
            distribution = RADDistribution(distribution, fold, gating)
        return distribution

    def infer_layers(self, x, context=None):
        """Every layer's `(x, z, k)`, data side first (see `RADDistribution.infer_layers`).

        With `standardize=True` (`whiten=True`) the first layer's `x` is the standardized
        (whitened) point. A conditional model needs the `context` of the points.
        """
        return self._make_distribution().infer_layers(
            self._flow_points(x), self.flow_context(context))

    def get_config(self):
        config = super().get_config()
        config.update(gating_hidden_units=self.gating_hidden_units,
                      weights_layout=WEIGHTS_LAYOUT)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        layout = config.pop("weights_layout", None)
        if layout != WEIGHTS_LAYOUT:
            raise ValueError(
                f"This RADFlow was saved with its weights per layer (weights_layout "
                f"{layout!r}); tfp_rad.load_model converts such files.")
        return cls(**config)


def fold_masks(event_size, num_layers):
    """The fold masks of a stack of RAD layers, data side first (True: folded).

    One element folds everything (free-standing folds); otherwise the halves alternate as
    in `alternating_masks`.
    """
    if event_size == 1:
        return [[True]] * num_layers
    return alternating_masks(event_size, num_layers)


def rad_layer(event_size, fold_mask, index, hidden_units, gating_hidden_units, dtype_policy,
              context_size=0):
    """One RAD layer of the paper's architecture: `(fold, gating)`.

    The fold is free-standing for `event_size == 1`, else a coupling fold whose conditioner,
    from the pass-through elements `[N, d - n]` to the raw parameters `[N, 10 n]` of the
    `n` folded ones, is the MLP `c tanh(W2 relu(W1 x + b1) + b2)` of `hidden_units`
    units, its output layer at zero. The gating `s(z)`, `[N, d] -> [N, 3 n]`, is the MLP
    `W2 relu(W1 z + b1) + b2` of `gating_hidden_units` units, or None (`s = 0`) when
    `gating_hidden_units == 0`. With `context_size = m > 0` the layer is conditional: the
    conditioner reads `[N, d - n + m]` (the context appended; for `event_size == 1` the
    context alone, `[N, m]`) and the gating `concat([z, c])`, `[N, d + m]`.

    Args:
      event_size: the dimension `d`.
      fold_mask: `d` booleans, True for the folded elements.
      index: the layer's position in its stack (names the layers `fold_<index>`,
        `conditioner_<index>` and `gating_<index>`).
      hidden_units: positive int, the conditioner's width.
      gating_hidden_units: non-negative int, the gating's width.
      dtype_policy: the Keras dtype policy of the layers.
      context_size: non-negative int, the size `m` of the context (0: unconditional).

    Returns:
      `(PiecewiseFold, keras.Sequential or None)`, the gating unbuilt (`RADStack.build`
      builds it).
    """
    num_folded = sum(fold_mask)
    conditioner = None
    if event_size > 1 or context_size:
        conditioner = mlp(
            hidden_units,
            num_folded * PARAMETERS_PER_ELEMENT,
            f"conditioner_{index}",
            dtype_policy.name,
            zero_output=True,
            scaled_tanh=True,
        )
    fold = PiecewiseFold(
        event_size, fold_mask=fold_mask, conditioner=conditioner, name=f"fold_{index}",
        dtype=dtype_policy, context_size=context_size,
    )
    gating = None
    if gating_hidden_units:
        gating = mlp(gating_hidden_units, num_folded * NUM_PIECES, f"gating_{index}",
                     dtype_policy.name)
    return fold, gating


def _gating_width(value, hidden_units):
    """`gating_hidden_units` checked: None means `hidden_units`; else an integer >= 0."""
    if value is None:
        return hidden_units
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(
            f"gating_hidden_units must be a non-negative integer (0: no gating network) or "
            f"None (the conditioners' hidden_units), got {value!r}."
        )
    return int(value)
