"""`HybridFlow`: a stack that mixes RAD layers and TFP's Real NVP couplings."""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_rad import validation
from tfp_rad.models.rad_flow import RADStack, fold_masks
from tfp_rad.models.real_nvp_flow import (
    check_coupling_event_size,
    context_kwargs_of_coupling,
    real_nvp_conditioner,
    real_nvp_coupling,
)
from tfp_rad.rad_distribution import LayerInference, RADDistribution

tfb = tfp.bijectors
tfd = tfp.distributions

LAYER_KINDS = ("rad", "real_nvp")
DEFAULT_LAYERS = ("rad", "real_nvp", "rad", "real_nvp", "rad", "real_nvp")


@keras.saving.register_keras_serializable(package="tfp_rad")
class HybridFlow(RADStack):
    """A stack of RAD layers and Real NVP couplings on a standard normal base.

    `layers` lists the layers' kinds, data side first: `"rad"` is a RAD coupling layer as
    `RADFlow` builds it (a `PiecewiseFold` with its conditioner, and a gating network,
    each of `rad_hidden_units`), `"real_nvp"` a `tfb.RealNVP` affine coupling as
    `RealNVPFlow` builds it (a `ShiftAndLogScale` conditioner of `real_nvp_hidden_units`).
    Layer `i` transforms the last `d - d // 2` elements when `i` is even and the first
    `d - d // 2` when odd, whatever its kind. The density nests the layers from the data
    down to the base; for the default `("rad", "real_nvp", ...)`

    ```none
    p = RAD(fold_0, gating_0, T(RealNVP_1, RAD(fold_2, gating_2, T(RealNVP_3, ... N(0, I)))))
    ```

    where `T(B, q)` is `tfd.TransformedDistribution(q, B)`, the law of `B(y)` for
    `y ~ q`, and `RAD(f, s, q)` is `RADDistribution(q, f, s)`. So

    ```none
    log p(x) = sum over RAD layers   [log p(k_i | z_i) + log |det dz_i/dx_i|]
             + sum over Real NVP layers  log |det dz_i/dx_i|  +  log N(z_L; 0, I)
    ```

    with `x_0 = x`, `z_i = x_{i+1}` the layer-by-layer latents (`infer_layers`); sampling is
    exact and ancestral. Every conditioner's output layer starts at zero, so at
    initialization the Real NVP layers are the identity and the RAD layers the uniform
    3-fold of `[-1, 1]`.

    With `context_size = m > 0` every layer is conditional (`RADFlow`'s and
    `RealNVPFlow`'s conditional layers) and the density is `p(x | c)`.

    #### Examples

    ```python
    model = tfp_rad.models.HybridFlow(2, layers=("rad", "real_nvp") * 3,
                                      rad_hidden_units=8, real_nvp_hidden_units=39)
    model.compile(optimizer=keras.optimizers.Adam(5e-3))
    model.fit(x, batch_size=500, epochs=20)
    ```
    """

    def __init__(
        self,
        event_size,
        layers=DEFAULT_LAYERS,
        rad_hidden_units=8,
        real_nvp_hidden_units=56,
        **kwargs,
    ):
        """Builds the layers.

        Args:
          event_size: positive int, the dimension `d` (at least 2 if there is a Real NVP
            layer; with `d == 1` RAD layers are free-standing folds).
          layers: a non-empty sequence of `"rad"` and `"real_nvp"`, data side first.
          rad_hidden_units: positive int, the width of the RAD layers' conditioners and
            gatings (also the model's `hidden_units`).
          real_nvp_hidden_units: positive int, the width of the Real NVP conditioners.
          **kwargs: passed to `FlowModel` (and on to `keras.Model`): `standardize`,
            `context_size` (the size `m` of a context `c`; 0, the default, for `p(x)`).

        Raises:
          ValueError: for an empty or unknown list of layers, a Real NVP layer with
            `event_size < 2`, or non-positive sizes.
        """
        kinds = _layer_kinds(layers)
        super().__init__(event_size, len(kinds), rad_hidden_units, **kwargs)
        self.layer_kinds = kinds
        self.rad_hidden_units = self.hidden_units
        self.real_nvp_hidden_units = validation.positive_int(
            real_nvp_hidden_units, "real_nvp_hidden_units"
        )
        if "real_nvp" in kinds:
            check_coupling_event_size(self.event_size, "A Real NVP layer of HybridFlow")
        self.conditioners = []
        masks = fold_masks(self.event_size, self.num_layers)
        for i, kind in enumerate(kinds):
            if kind == "rad":
                self.add_rad_layer(masks[i], i, self.rad_hidden_units, self.rad_hidden_units)
            else:
                self.conditioners.append(
                    real_nvp_conditioner(
                        self.event_size, self.real_nvp_hidden_units, i, self.dtype_policy,
                        self.context_size,
                    )
                )
        self.build((None, self.event_size))

    def _blocks(self):
        """Each layer, data side first: `(fold, gating)` if RAD, a `tfb.RealNVP` if not."""
        rad_layers = iter(zip(self.folds, self.gatings))
        conditioners = iter(self.conditioners)
        return [
            next(rad_layers)
            if kind == "rad"
            else real_nvp_coupling(self.event_size, i, next(conditioners), self.context_size)
            for i, kind in enumerate(self.layer_kinds)
        ]

    def _make_distribution(self):
        distribution = self._base_distribution()
        for block in reversed(self._blocks()):
            if isinstance(block, tfb.Bijector):
                distribution = tfd.TransformedDistribution(distribution, block)
            else:
                distribution = RADDistribution(distribution, *block)
        return distribution

    def infer_layers(self, x, context=None):
        """Every layer's `(x, z, k)`, data side first; `k` is None for a Real NVP layer.

        With `standardize=True` (`whiten=True`) the first layer's `x` is the standardized
        (whitened) point. A conditional model needs the `context` of the points.

        A RAD layer's `(z, k)` is its fold of `x`; a Real NVP layer's `z` is its
        coupling's inverse of `x`. Each layer's `z` is the next layer's `x`.
        """
        x = self._flow_points(x)
        context = self.flow_context(context)
        if context is not None:
            context = tf.broadcast_to(
                context, tf.concat([tf.shape(x)[:-1], [self.context_size]], 0))
        steps = []
        for block in self._blocks():
            if isinstance(block, tfb.Bijector):
                z, k = block.inverse(x, **context_kwargs_of_coupling(context)), None
            else:
                z, k, _ = block[0].fold(x, context=context)
            steps.append(LayerInference(x=x, z=z, k=k))
            x = z
        return steps

    def get_config(self):
        config = super().get_config()
        del config["num_layers"], config["hidden_units"]  # given by the two below
        config.update(
            layers=list(self.layer_kinds),
            rad_hidden_units=self.rad_hidden_units,
            real_nvp_hidden_units=self.real_nvp_hidden_units,
        )
        return config


def _layer_kinds(layers):
    """`layers` as a tuple of kinds, or `ValueError` for a string, none, or an unknown one."""
    if isinstance(layers, str):
        raise ValueError(
            f"layers must be a sequence of layer kinds such as ('rad', 'real_nvp'), not the "
            f"string {layers!r}."
        )
    kinds = tuple(layers)
    if not kinds:
        raise ValueError(f"layers is empty: list at least one of {', '.join(LAYER_KINDS)}.")
    unknown = [kind for kind in kinds if kind not in LAYER_KINDS]
    if unknown:
        raise ValueError(
            f"Unknown layer kind(s) {', '.join(map(repr, unknown))} in layers; the kinds are "
            f"{', '.join(map(repr, LAYER_KINDS))}."
        )
    return kinds
