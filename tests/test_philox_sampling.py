"""The Philox samplers draw exactly the distributions they stand for."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from scipy import stats

from tfp_rad.philox_sampling import PhiloxMultivariateNormalDiag, sample_categorical

tfd = tfp.distributions


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sample_categorical_draws_the_categorical_exactly(dtype):
    probs = np.array([[0.2, 0.0, 0.8], [0.5, 0.3, 0.2], [0.0, 0.6, 0.4], [0.7, 0.3, 0.0]])
    with np.errstate(divide="ignore"):
        log_probs = np.log(np.repeat(probs[None], 100_000, axis=0)).astype(dtype)
    log_probs += 2.0  # not normalized: a constant offset does not change the draw
    k = sample_categorical(tf.constant(log_probs), tf.constant([4, 2])).numpy()
    assert k.shape == (100_000, 4) and k.dtype == np.int32
    for row in range(len(probs)):
        frequencies = np.bincount(k[:, row], minlength=3) / len(k)
        # 4.5 standard errors of a binomial proportion with n = 100,000
        np.testing.assert_allclose(frequencies, probs[row], atol=4.5 * np.sqrt(0.25 / 1e5))
        assert not np.any(probs[row, k[:, row]] == 0)  # probability 0 is never drawn
    np.testing.assert_array_equal(k, sample_categorical(log_probs, tf.constant([4, 2])))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("jit_compile", [False, True])
def test_normal_samples_follow_the_density(dtype, jit_compile):
    loc = np.array([[1.5, -2.0, 0.0], [0.0, 3.0, -1.0]], dtype)  # batch shape [2]
    scale = np.array([0.5, 2.0, 1.0], dtype)
    distribution = PhiloxMultivariateNormalDiag(loc=loc, scale_diag=scale)
    draw = tf.function(lambda seed: distribution.sample(100_000, seed=seed),
                       jit_compile=jit_compile)
    x = draw(tf.constant([3, 7])).numpy()
    assert x.shape == (100_000, 2, 3) and x.dtype == dtype
    standardized = ((x - loc) / scale).reshape(100_000, -1)
    p_values = [stats.kstest(column, "norm").pvalue for column in standardized.T]
    assert min(p_values) > 1e-3 / len(p_values), p_values
    # Coordinates and batch members are independent.
    correlation = np.corrcoef(standardized.T) - np.eye(6)
    assert np.max(np.abs(correlation)) < 5 / np.sqrt(100_000)
    # Control: the same test rejects samples with a scale 5 % too large.
    assert stats.kstest(standardized[:, 0] * 1.05, "norm").pvalue < 1e-3 / len(p_values)


def test_normal_is_its_parent_except_for_the_random_stream():
    loc, scale = tf.constant([0.5, -1.0]), tf.constant([2.0, 0.25])
    philox = PhiloxMultivariateNormalDiag(loc=loc, scale_diag=scale)
    parent = tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale)
    x = parent.sample(50, seed=(1, 2))
    np.testing.assert_array_equal(philox.log_prob(x), parent.log_prob(x))
    np.testing.assert_array_equal(philox.mean(), parent.mean())
    np.testing.assert_array_equal(philox.stddev(), parent.stddev())
    assert philox.event_shape == [2] and philox.batch_shape == []
    assert isinstance(philox.copy(), PhiloxMultivariateNormalDiag)


def test_normal_sample_shapes_and_seeds():
    distribution = PhiloxMultivariateNormalDiag(loc=tf.zeros(2))
    assert distribution.sample(seed=1).shape == (2,)
    assert distribution.sample(5, seed=1).shape == (5, 2)
    assert distribution.sample([3, 4], seed=1).shape == (3, 4, 2)
    np.testing.assert_array_equal(distribution.sample(5, seed=(4, 2)),
                                  distribution.sample(5, seed=(4, 2)))
    assert not np.array_equal(distribution.sample(5, seed=(4, 2)),
                              distribution.sample(5, seed=(4, 3)))
    assert not np.array_equal(distribution.sample(5), distribution.sample(5))  # fresh

