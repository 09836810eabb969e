"""Swap a RAD layer into an existing TFP flow.

A user's model is a `tfd.TransformedDistribution` of a standard normal through a chain of
`tfb.RealNVP` bijectors. Because `RADDistribution` is a `tfd.Distribution` with event shape
`[d]`, one coupling can be replaced by a RAD layer without touching the rest:

    before: TransformedDistribution(N(0, I), Chain([nvp_data, nvp_2, nvp_base]))
    after:  TransformedDistribution(RAD(TransformedDistribution(N(0, I), nvp_base),
                                        fold, gating),
                                    Chain([nvp_data, nvp_2]))

Both are trained for the same number of steps on the ring problem and scored on fresh
test points. Runs in under a minute on a laptop CPU.
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_rad
from tfp_rad.models.layers import mlp

tfb, tfd = tfp.bijectors, tfp.distributions
STEPS, BATCH = 1500, 500


def real_nvp(conditioner, mask_first):
    """A TFP Real NVP coupling driven by a Keras MLP emitting `(shift, log_scale)`."""

    def shift_and_log_scale(x, units):
        shift, log_scale = tf.split(conditioner(x), 2, axis=-1)
        return shift, tf.tanh(log_scale)

    return tfb.RealNVP(num_masked=1 if mask_first else -1, shift_and_log_scale_fn=shift_and_log_scale)


def built_mlp(hidden, outputs, name, inputs):
    network = mlp(hidden, outputs, name, zero_output=True)
    network.build((None, inputs))
    return network


def users_flow(networks):
    """The user's flow: three Real NVP couplings, data side first."""
    couplings = [real_nvp(net, i % 2 == 0) for i, net in enumerate(networks)]
    return tfd.TransformedDistribution(tfd.MultivariateNormalDiag(tf.zeros(2)), tfb.Chain(couplings))


def flow_with_rad(networks, fold, gating):
    """The same flow with its base-side coupling replaced by a RAD layer."""
    base = tfd.MultivariateNormalDiag(tf.zeros(2))
    rad = tfp_rad.RADDistribution(base, fold, gating)
    couplings = [real_nvp(net, i % 2 == 0) for i, net in enumerate(networks)]
    return tfd.TransformedDistribution(rad, tfb.Chain(couplings))


def train(make_distribution, variables, x):
    optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(5e-3, STEPS))
    optimizer.build(variables)
    data = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=0).repeat().batch(BATCH)

    @tf.function(jit_compile=True)
    def step(batch):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(make_distribution().log_prob(batch))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    for batch in data.take(STEPS):
        step(batch)


def main():
    keras.utils.set_random_seed(0)
    x_train = tfp_rad.datasets.load("ring", 10_000, seed=1)
    x_test = tfp_rad.datasets.load("ring", 10_000, seed=2)

    networks = [built_mlp(24, 2, f"nvp_{i}", 1) for i in range(3)]
    variables = [v for net in networks for v in net.trainable_variables]
    train(lambda: users_flow(networks), variables, x_train)
    pure = float(np.mean(users_flow(networks).log_prob(x_test)))

    networks = [built_mlp(24, 2, f"nvp_{i}", 1) for i in range(2)]
    fold = tfp_rad.PiecewiseFold(2, fold_mask=[False, True], conditioner=built_mlp(8, 10, "c", 1))
    gating = built_mlp(8, 3, "gating", 2)
    variables = [v for layer in (*networks, fold, gating) for v in layer.trainable_variables]
    train(lambda: flow_with_rad(networks, fold, gating), variables, x_train)
    hybrid = float(np.mean(flow_with_rad(networks, fold, gating).log_prob(x_test)))

    oracle = tfp_rad.datasets.oracle_log_likelihood("ring", x_test)
    print(f"test log-likelihood on ring (nats/point), {STEPS} steps each:")
    print(f"  three Real NVP couplings:               {pure:.3f}")
    print(f"  two Real NVP couplings + one RAD layer: {hybrid:.3f}")
    print(f"  oracle (true density):                  {oracle:.3f}")


if __name__ == "__main__":
    main()
