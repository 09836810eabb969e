"""`RealNVPFlow`: the paper's Real NVP baseline, built on TFP's own `tfb.RealNVP`."""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_rad.models.flow_model import FlowModel
from tfp_rad.models.layers import ScaledTanh, mlp
from tfp_rad.rad_distribution import LayerInference

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

    Even layers pass the first `d // 2` elements through and transform the rest, odd layers
    the reverse (TFP's negative `num_masked`): the same halves as `RADFlow`. Same Keras
    surface as `RADFlow`. Needs `event_size >= 2`.

    With `context_size = m > 0` it is a conditional density `p(x | c)` through TFP's own
    conditional input: each `tfb.RealNVP` gets `conditional_input=c` (TFP's
    `bijector_kwargs`, keyed by the couplings' names in the `tfb.Chain`), and its
    conditioner reads `concat([x_a, c])`, so `shift` and `log_scale` depend on `c`.

    #### References

    [1]: Laurent Dinh, Jascha Sohl-Dickstein, Samy Bengio. Density estimation using Real
         NVP. ICLR 2017.
    """

    def __init__(self, event_size, num_layers=6, hidden_units=56, **kwargs):
        super().__init__(event_size, num_layers, hidden_units, **kwargs)
        check_coupling_event_size(self.event_size, "RealNVPFlow")
        self.conditioners = [
            real_nvp_conditioner(
                self.event_size, self.hidden_units, i, self.dtype_policy, self.context_size)
            for i in range(self.num_layers)
        ]
        self.build((None, self.event_size))

    def build(self, input_shape):
        self.built = True

    def _couplings(self):
        """The `tfb.RealNVP` layers, data side first; odd layers mask the last half.

        `conditioner_0` drives the coupling next to the base and the last conditioner the
        one next to the data (the order of the first release, kept so saved models load
        with the same density).
        """
        return [
            real_nvp_coupling(self.event_size, i, conditioner, self.context_size)
            for i, conditioner in enumerate(reversed(self.conditioners))
        ]

    def _make_distribution(self):
        # Chain applies its last bijector first when sampling: list the data side first.
        return tfd.TransformedDistribution(self._base_distribution(), tfb.Chain(self._couplings()))

    def infer_layers(self, x, context=None):
        """Every coupling's `(x, z, k=None)`, data side first: `z = coupling.inverse(x)`.

        With `standardize=True` (`whiten=True`) the first coupling's `x` is the
        standardized (whitened) point. A conditional model needs the `context` of the points.
        """
        x = self._flow_points(x)
        condition = context_kwargs_of_coupling(self.flow_context(context))
        steps = []
        for coupling in self._couplings():
            z = coupling.inverse(x, **condition)
            steps.append(LayerInference(x=x, z=z, k=None))
            x = z
        return steps


def check_coupling_event_size(event_size, who):
    """Raises `ValueError` unless `event_size >= 2`: a coupling needs two halves."""
    if event_size < 2:
        raise ValueError(
            f"{who} couples two halves of a vector: event_size must be >= 2, got {event_size}."
        )


def real_nvp_conditioner(event_size, hidden_units, index, dtype_policy, context_size=0):
    """The `ShiftAndLogScale` network of a Real NVP coupling, named `conditioner_<index>`.

    It reads the `d // 2` masked elements (and the `context_size` entries of a context
    after them) and returns `(shift, log_scale)` for the other `d - d // 2`, whichever
    half a layer masks.
    """
    num_masked = event_size // 2
    return ShiftAndLogScale(
        hidden_units, event_size - num_masked, num_masked + context_size,
        name=f"conditioner_{index}", dtype=dtype_policy,
    )


def context_kwargs_of_coupling(context):
    """TFP's keyword arguments that give a conditional `tfb.RealNVP` its context."""
    return {} if context is None else {"conditional_input": context}


def real_nvp_coupling(event_size, index, conditioner, context_size=0):
    """The `tfb.RealNVP` coupling at position `index` of a stack, data side first.

    ```none
    forward:  y_a = x_a,   y_b = x_b * exp(log_scale(x_a)) + shift(x_a)
    ```

    with `a` the first `d // 2` elements when `index` is even (TFP's `num_masked = d // 2`)
    and the last `d // 2` when odd (`num_masked = -(d // 2)`): `b` is then the half that a
    RAD layer at the same position folds (`fold_masks`). With `context_size = m > 0` the
    coupling is conditional: its methods take TFP's `conditional_input=c`, `[..., m]`,
    and `shift`, `log_scale` are functions of `concat([x_a, c])`.
    """
    num_masked = event_size // 2
    return tfb.RealNVP(
        num_masked=num_masked if index % 2 == 0 else -num_masked,
        shift_and_log_scale_fn=_conditioner_fn(conditioner, context_size),
    )


def _conditioner_fn(layer, context_size=0):
    """Adapts a Keras layer to `tfb.RealNVP`'s `shift_and_log_scale_fn(x, units, **kw)`.

    A conditional layer (`context_size > 0`) reads `concat([x, c])` with `c` TFP's
    `conditional_input`, broadcast against `x`'s batch.
    """

    def shift_and_log_scale(x, output_units, conditional_input=None):
        del output_units  # fixed when the layer was built
        if not context_size:
            if conditional_input is not None:
                raise ValueError(
                    f"The Real NVP coupling of {layer.name!r} is unconditional but was given "
                    "a conditional_input."
                )
            return layer(x)
        if conditional_input is None:
            raise ValueError(
                f"The Real NVP coupling of {layer.name!r} is conditional (context size "
                f"{context_size}): pass conditional_input=c."
            )
        context = tf.cast(conditional_input, x.dtype)
        batch = tf.broadcast_dynamic_shape(tf.shape(x)[:-1], tf.shape(context)[:-1])
        x = tf.broadcast_to(x, tf.concat([batch, tf.shape(x)[-1:]], 0))
        context = tf.broadcast_to(context, tf.concat([batch, [context_size]], 0))
        return layer(tf.concat([x, context], axis=-1))

    return shift_and_log_scale
