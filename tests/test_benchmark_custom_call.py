"""`benchmarks.custom_call`: its kernels compute what `fold_math` computes, under XLA."""

import shutil

import numpy as np
import pytest
import tensorflow as tf

from tfp_rad import fold_math

pytestmark = pytest.mark.skipif(shutil.which("g++") is None,
                                reason="benchmarks.custom_call builds its kernels with g++")

# |custom - fold_math| <= TOLERANCE (1 + |fold_math|): the kernel's exp and log (glibc's
# vector functions, -ffast-math) and XLA's differ by rounding, which the fold's slopes
# (up to hundreds here) amplify; measured up to 7e-6 in float32. A wrong formula or a
# wrong piece differs by more than 1e-2.
TOLERANCE = {"float32": 3e-5, "float64": 1e-12}


def _both(fn_name, *args):
    from benchmarks import custom_call

    reference = tf.function(lambda: getattr(fold_math, "fused_" + fn_name)(*args),
                            jit_compile=True)()
    custom = tf.function(lambda: getattr(custom_call, fn_name)(*args), jit_compile=True)()
    return reference, custom


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_fold_kernel_matches_fold_math_on_every_piece(dtype):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(scale=2.0, size=(300, 7)), dtype)
    raw = tf.constant(rng.normal(size=(300, 7, 10)), dtype)
    reference, custom = _both("fold", x, raw, 0.01, 3.0)
    k = reference[2].numpy()
    assert {0, 1, 2} <= set(np.unique(k))  # every piece is checked
    v = reference[1].numpy()
    assert np.any(v < -1) and np.any(v > 1)  # and both tails
    np.testing.assert_array_equal(custom[2].numpy(), k)
    for want, got in zip(reference, custom):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=TOLERANCE[dtype],
                                   atol=TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_gating_kernel_matches_fold_math_inside_and_outside(dtype):
    rng = np.random.default_rng(1)
    v = tf.constant(rng.uniform(-1.5, 1.5, size=(300, 7)), dtype)
    k = tf.constant(rng.integers(0, 3, size=(300, 7)), tf.int32)
    logits, log_q_plus, log_q_minus = (
        tf.constant(rng.normal(size=(300, 7, 3)), dtype) for _ in range(3))
    reference, custom = _both("log_gating", v, k, logits, log_q_plus, log_q_minus)
    assert np.any(reference.numpy() == 0) and np.all(reference.numpy()[np.abs(v) <= 1] < 0)
    np.testing.assert_allclose(custom.numpy(), reference.numpy(), rtol=TOLERANCE[dtype],
                               atol=TOLERANCE[dtype])


def test_rads_log_prob_with_the_kernels_is_rads_log_prob():
    from benchmarks import custom_call, sweep

    rad = sweep.make_models(4)[sweep.RAD]
    x = tf.constant(sweep.points(4, 500, seed=1) * 2.0)
    assert custom_call.largest_relative_difference(rad, x) < 1e-5


def test_other_dtypes_are_refused():
    from benchmarks import custom_call

    with pytest.raises(TypeError, match="float32 or float64 only"):
        custom_call.log_gating(*(tf.zeros((2, 1), tf.float16) for _ in range(5)))


def test_loading_the_kernels_leaves_subnormal_numbers_alone():
    from benchmarks import custom_call

    custom_call.load()
    tiny = np.float64(np.finfo(np.float64).tiny)
    assert tiny / 2 > 0  # a library linked with -ffast-math would flush it to 0


def test_the_performance_page_renders_the_measured_figures(tmp_path):
    import json

    from benchmarks import sweep_report

    results = {
        "command": "python -m benchmarks.custom_call", "log_prob_batch": 20000,
        "block_points": 4096, "machine": {"git_commit": "abc1234", "date": "today"},
        "load_average_start": [1.0], "load_average_end": [1.1], "other_processes_cores": 0.0,
        "relative_difference": {"16": {"float32": 1.5e-06, "float64": 2.2e-15}},
        "log_prob_ms": {"16": {"RAD": 42.0, "RAD, custom calls": 36.0,
                               "RAD, fold and gating arithmetic removed": 20.0,
                               "Real NVP": 8.0}},
        "layer_ns_per_element": {"16": {"one block, XLA": 44.6, "one block, custom calls": 26.0,
                                        "in log_prob, XLA": 23.3,
                                        "in log_prob, custom calls": 18.2}},
        "kernel_ms": {"16": {"RAD": {"fusion": 51.5, "dot": 16.0}}},
    }
    (tmp_path / sweep_report.CUSTOM_CALL_NAME).write_text(json.dumps(results))
    lines = sweep_report.custom_call_lines(str(tmp_path / "sweep.json"))
    assert ("| 16 | 42.00 ms (5.25×) | 36.00 ms (4.50×) | 20.00 ms (2.50×) | 8.00 ms (1.00×) "
            "| 2e-06 / 2e-15 | 44.6 | 26.0 | 23.3 | 18.2 |") in lines
    assert "(4,096 points)" in lines[0] and "commit abc1234" in lines[0]
    assert any(line.startswith("- d=16: kernel time") and "RAD fusion 51.5, dot 16.0 (67.5 in all)"
               in line for line in lines)
    assert sweep_report.custom_call_lines(str(tmp_path / "elsewhere" / "sweep.json")) == []


def test_hlo_instructions_reads_tuple_shaped_instructions():
    from benchmarks import xla_trace

    hlo = (
        "ENTRY %main {\n"
        "  %p = f32[4,8]{1,0} parameter(0)\n"
        "  %XlaCustomCallV2.56 = (f32[4,8]{1,0}, s32[4,8]{1,0}, /*index=5*/f32[4,8,3]{2,1,0}) "
        "custom-call(%p), custom_call_target=\"rad_fold_f32\"\n"
        "  ROOT %fusion.1 = (f32[4]{0}, f32[4]{0}) fusion(%p), kind=kLoop, "
        "metadata={op_name=\"rad/conditioner/dense\"}\n"
        "}\n")
    assert xla_trace.hlo_instructions(hlo) == {
        "p": ("parameter", ""), "XlaCustomCallV2.56": ("custom-call", ""),
        "fusion.1": ("fusion", "rad/conditioner/dense")}
