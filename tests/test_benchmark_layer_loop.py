"""`benchmarks.layer_loop`: RAD's layers run by one loop give RAD's density and gradients."""

import numpy as np
import pytest
import tensorflow as tf

from benchmarks import layer_loop
from tfp_rad.models import RADFlow

# |looped - RAD| <= TOLERANCE (1 + |RAD|): the same operations in another order.
TOLERANCE = {"float32": 2e-5, "float64": 1e-12}


def _model(event_size, dtype, **kwargs):
    return layer_loop.perturbed(RADFlow(event_size, num_layers=5, hidden_units=6, dtype=dtype,
                                        **kwargs), seed=event_size)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("event_size", [2, 6])
def test_the_looped_log_prob_is_rads(event_size, dtype):
    model = _model(event_size, dtype)
    x = tf.constant(np.random.default_rng(0).normal(scale=1.5, size=(400, event_size)), dtype)
    pieces = np.concatenate([k.numpy().ravel() for _, _, k in model.infer_layers(x)])
    assert {0, 1, 2} <= set(pieces)  # every piece of the folds is reached
    assert layer_loop.largest_relative_difference(model, x) <= TOLERANCE[dtype]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_looped_gradients_are_rads(dtype):
    model = _model(4, dtype)
    x = tf.constant(np.random.default_rng(1).normal(size=(200, 4)), dtype)
    variables = model.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        expected = tf.reduce_mean(model.log_prob(x))
        looped = -layer_loop.looped_loss(model)(x)
    for want, got in zip(tape.gradient(expected, variables), tape.gradient(looped, variables)):
        assert np.all(np.isfinite(got.numpy()))
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=10 * TOLERANCE[dtype],
                                   atol=10 * TOLERANCE[dtype])


def test_a_looped_adam_step_lowers_the_loss():
    model = _model(4, "float32")
    x = tf.constant(np.random.default_rng(2).normal(size=(256, 4)), tf.float32)
    step = layer_loop.compiled_programs(layer_loop.looped_loss(model),
                                        model.trainable_variables)["step"]
    losses = [float(step(x)) for _ in range(30)]
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("kwargs, message", [
    ({"event_size": 3}, "even event_size"),
    ({"event_size": 2, "context_size": 1}, "no context"),
    ({"event_size": 2, "gating_hidden_units": 0}, "gating networks"),
    ({"event_size": 2, "standardize": True}, "no standardization"),
])
def test_models_the_loop_does_not_cover_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        layer_loop.stacks(RADFlow(num_layers=2, hidden_units=4, **kwargs))


def test_the_page_shows_each_variant_against_real_nvp(tmp_path):
    import json

    from benchmarks import sweep_report

    def program(trace, first, compile_s, ms):
        return {"trace_s": trace, "first_call_s": first, "compile_s": compile_s, "ms": ms,
                "hlo_instructions": 4711, "optimized_hlo_instructions": 3890}

    record = {
        "command": "python -m benchmarks.layer_loop", "batch": 500, "log_prob_batch": 20000,
        "log_prob_ms": {"16": {"RAD": 46.0, "RAD, one loop": 50.5, "Real NVP": 8.0}},
        "machine": {"git_commit": "abc1234", "date": "2026-12-01"},
        "load_average_start": [1.0], "load_average_end": [1.1], "other_processes_cores": 0.0,
        "relative_difference": {"16": {"float32": 3.4e-7, "float64": 5.6e-16}},
        "programs": {"16": {
            "RAD": {"step": program(3.0, 8.0, 11.0, 11.0),
                    "forward+backward": program(2.5, 6.0, 8.4, 9.0)},
            "Real NVP": {"step": program(1.5, 2.9, 4.4, 5.5),
                         "forward+backward": program(1.0, 1.8, 2.8, 4.5)}}},
    }
    (tmp_path / "layer_loop.json").write_text(json.dumps(record))
    lines = sweep_report.layer_loop_lines(str(tmp_path / "sweep.json"))
    assert ("| 16 | RAD | 11.0 s (2.50×) | 8.4 s (3.00×) | 3.00 / 8.00 s | 4,711 → 3,890 "
            "| 11.00 ms (2.00×) | 9.00 ms (2.00×) |") in lines
    assert ("- d=16: `log_prob` at batch 20,000 (XLA, in RAD's blocks of points): RAD 46.00 ms "
            "(5.75×), RAD, one loop 50.50 ms (6.31×), Real NVP 8.00 ms (1.00×)") in lines
    assert "commit abc1234" in lines[0] and "d=16 3e-07 / 6e-16" in lines[0]
    assert sweep_report.layer_loop_lines(str(tmp_path / "elsewhere" / "sweep.json")) == []
