"""`RealNVPFlow`: the paper's Real NVP baseline, built on TFP's own `tfb.RealNVP`."""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_rad.models.flow_model import FlowModel
from tfp_rad.models.layers import ScaledTanh, mlp

tfb = tfp.bijectors
tfd = tfp.distributions


@keras.saving.register_keras_serializable(package="tfp_rad")
class ShiftAndLogScale(keras.layers.Layer):
    """Real NVP conditioner: `(shift, log_scale)` with `log_scale = c tanh(h)`.

    A one-hidden-layer ReLU MLP maps the masked half `x_a` to `(shift, h)`; the scalar `c`
    is learned (`ScaledTanh`, initialized to 1), as in the paper's baseline. The output
    layer starts at zero, so each coupling starts as the identity.
    """

    def __init__(self, hidden_units, output_units, input_units, **kwargs):
        kwargs.setdefault("dtype", keras.config.floatx())
        super().__init__(**kwargs)
        self.hidden_units = hidden_units
        self.output_units = output_units
        self.input_units = input_units
        self.network = mlp(
            hidden_units, 2 * output_units, "network", self.dtype_policy.name, zero_output=True
        )
        self.log_scale = ScaledTanh(name="log_scale", dtype=self.dtype_policy)
        self.build((None, input_units))

    def build(self, input_shape):
        if self.built:
            return
        self.network.build((None, self.input_units))
        self.built = True

    def call(self, x):
        shift, raw = tf.split(self.network(x), 2, axis=-1)
        return shift, self.log_scale(raw)

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_units=self.hidden_units,
            output_units=self.output_units,
            input_units=self.input_units,
        )
        return config


@keras.saving.register_keras_serializable(package="tfp_rad")
class RealNVPFlow(FlowModel):
    """A stack of `num_layers` TFP `tfb.RealNVP` affine couplings on a standard normal base.

    ```none
    y_b = x_b * exp(log_scale(x_a)) + shift(x_a),   log_scale = c tanh(h(x_a))
    ```

    Consecutive couplings are separated by a reversing `tfb.Permute`, so the halves
    alternate. Same Keras surface as `RADFlow`. Needs `event_size >= 2`.

    #### References

    [1]: Laurent Dinh, Jascha Sohl-Dickstein, Samy Bengio. Density estimation using Real
         NVP. ICLR 2017.
    """

    def __init__(self, event_size, num_layers=6, hidden_units=56, **kwargs):
        super().__init__(event_size, num_layers, hidden_units, **kwargs)
        if self.event_size < 2:
            raise ValueError(
                f"RealNVPFlow couples two halves of a vector: event_size must be >= 2, got "
                f"{self.event_size}."
            )
        self.num_masked = self.event_size // 2
        self.conditioners = [
            ShiftAndLogScale(
                self.hidden_units,
                self.event_size - self.num_masked,
                self.num_masked,
                name=f"conditioner_{i}",
                dtype=self.dtype_policy,
            )
            for i in range(self.num_layers)
        ]
        self.build((None, self.event_size))

    def build(self, input_shape):
        self.built = True

    def _make_distribution(self):
        reverse = tfb.Permute(list(reversed(range(self.event_size))))
        bijectors = []
        for i, conditioner in enumerate(self.conditioners):
            if i:
                bijectors.append(reverse)
            bijectors.append(
                tfb.RealNVP(
                    num_masked=self.num_masked,
                    shift_and_log_scale_fn=_conditioner_fn(conditioner),
                )
            )
        # Chain applies its last bijector first when sampling: list the data side first.
        return tfd.TransformedDistribution(
            self._base_distribution(), tfb.Chain(list(reversed(bijectors)))
        )


def _conditioner_fn(layer):
    """Adapts a Keras layer to `tfb.RealNVP`'s `shift_and_log_scale_fn(x, units)`."""

    def shift_and_log_scale(x, output_units):
        del output_units  # fixed when the layer was built
        return layer(x)

    return shift_and_log_scale
