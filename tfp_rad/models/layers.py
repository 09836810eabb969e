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


@keras.saving.register_keras_serializable(package="tfp_rad")
class StackedMLP(keras.layers.Layer):
    """`count` one-hidden-layer ReLU MLPs of the same shape, their weights stacked.

    Network `j` maps `x` `[N, input_units]` to

    ```none
    y_j(x) = relu(x W1[j] + b1[j]) W2[j] + b2[j]        (times c[j] tanh(.) with scaled_tanh)
    ```

    with `W1` `[count, input_units, hidden_units]`, `W2` `[count, hidden_units,
    output_units]`: the MLP of `mlp(...)` for each `j`, initialized alike (Glorot-uniform
    kernels per network, zero biases, `c = 1`), its weights in 4 or 5 variables instead of
    4 or 5 per network. A training step hands Keras's optimizer, and each compiled call,
    those few variables (issue 16: RAD's six layers have 54 otherwise). `network(j)` is
    network `j` as a callable.
    """

    def __init__(self, count, input_units, hidden_units, output_units, zero_output=False,
                 scaled_tanh=False, **kwargs):
        kwargs.setdefault("dtype", keras.config.floatx())
        super().__init__(**kwargs)
        self.count, self.input_units = int(count), int(input_units)
        self.hidden_units, self.output_units = int(hidden_units), int(output_units)
        self.zero_output, self.scaled_tanh = bool(zero_output), bool(scaled_tanh)
        self.hidden_kernel = self.add_weight(
            shape=(self.count, self.input_units, self.hidden_units),
            initializer=_glorot_uniform(self.input_units, self.hidden_units),
            name="hidden_kernel")
        self.hidden_bias = self.add_weight(
            shape=(self.count, self.hidden_units), initializer="zeros", name="hidden_bias")
        self.output_kernel = self.add_weight(
            shape=(self.count, self.hidden_units, self.output_units),
            initializer=("zeros" if self.zero_output
                         else _glorot_uniform(self.hidden_units, self.output_units)),
            name="output_kernel")
        self.output_bias = self.add_weight(
            shape=(self.count, self.output_units), initializer="zeros", name="output_bias")
        if self.scaled_tanh:
            self.scale = self.add_weight(shape=(self.count,), initializer="ones", name="scale")
        self.built = True

    def apply(self, x, index):
        """Network `index`'s output for `x` `[N, input_units]`: `[N, output_units]`.

        `x` is cast to the layer's compute dtype, as Keras layers cast their inputs.
        """
        x = tf.cast(tf.convert_to_tensor(x), self.compute_dtype)
        hidden = tf.nn.relu(tf.matmul(x, self.hidden_kernel[index]) + self.hidden_bias[index])
        y = tf.matmul(hidden, self.output_kernel[index]) + self.output_bias[index]
        return self.scale[index] * tf.tanh(y) if self.scaled_tanh else y

    def network(self, index):
        """Network `index` as a callable `x -> apply(x, index)` (`StackedNetwork`)."""
        if not 0 <= index < self.count:
            raise ValueError(f"{self.name} holds {self.count} networks, got index {index}.")
        return StackedNetwork(self, index)

    def assign_network(self, index, name, value):
        """Sets network `index`'s slice of the weight `name` (e.g. "output_bias") to `value`."""
        variable = getattr(self, name)
        variable.assign(tf.tensor_scatter_nd_update(
            variable, [[index]], tf.cast(tf.expand_dims(value, 0), variable.dtype)))

    def get_config(self):
        config = super().get_config()
        config.update(count=self.count, input_units=self.input_units,
                      hidden_units=self.hidden_units, output_units=self.output_units,
                      zero_output=self.zero_output, scaled_tanh=self.scaled_tanh)
        return config


class StackedNetwork:
    """Network `index` of a `StackedMLP`: a callable `x -> y` holding no weights of its own.

    It stands where a per-layer Keras MLP would (a `PiecewiseFold`'s conditioner, a
    `RADDistribution`'s gating); the weights stay in the stack, which Keras tracks and saves.
    """

    built = True

    def __init__(self, stack, index):
        self.stack, self.index = stack, index

    def __call__(self, x):
        return self.stack.apply(x, self.index)

    def weight(self, name):
        """This network's slice of the stack's weight `name`."""
        return getattr(self.stack, name)[self.index]

    def assign(self, name, value):
        """Sets this network's slice of the stack's weight `name` to `value`."""
        self.stack.assign_network(self.index, name, value)


def _glorot_uniform(fan_in, fan_out):
    """Keras's Glorot-uniform limits for one network's `[fan_in, fan_out]` kernel (Keras's
    own initializer would count the stacking axis into the fans)."""
    limit = (6.0 / (fan_in + fan_out)) ** 0.5
    return keras.initializers.RandomUniform(-limit, limit)
