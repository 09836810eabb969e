"""The small Keras networks of the paper's experiments: MLPs and a scaled tanh output."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfp_rad")
class ScaledTanh(keras.layers.Layer):
    """`y = c tanh(x)` with one learned scalar `c` (initialized to 1).

    The output activation of the paper's coupling networks (Dinh et al. 2017, section 4.1 of
    the RAD paper): it bounds what a conditioner can emit while `c` learns the range.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", keras.config.floatx())
        super().__init__(**kwargs)
        self.scale = self.add_weight(shape=(), initializer="ones", name="scale")

    def call(self, x):
        return self.scale * tf.tanh(x)


def mlp(hidden_units, output_units, name, dtype=None, zero_output=False, scaled_tanh=False):
    """A one-hidden-layer ReLU MLP, as in the paper's experiments.

    Args:
      hidden_units: width of the hidden layer.
      output_units: width of the output.
      name: the model's name.
      dtype: the layers' dtype (default `keras.config.floatx()`).
      zero_output: start the output layer at zero. A conditioner then starts every layer
        at the same fixed map (the uniform 3-fold for RAD, the identity for Real NVP), which
        keeps a deep stack from amplifying its inputs layer after layer at initialization.
      scaled_tanh: end with `ScaledTanh` (else the output is linear).
    """
    dtype = dtype or keras.config.floatx()
    output_initializer = "zeros" if zero_output else "glorot_uniform"
    layers = [
        keras.layers.Dense(hidden_units, activation="relu", name="hidden", dtype=dtype),
        keras.layers.Dense(
            output_units, kernel_initializer=output_initializer, name="output", dtype=dtype
        ),
    ]
    if scaled_tanh:
        layers.append(ScaledTanh(name="scaled_tanh", dtype=dtype))
    return keras.Sequential(layers, name=name)
