"""`benchmarks.arithmetic`'s count of transcendental evaluations in a compiled program."""

import tensorflow as tf

from benchmarks import arithmetic


def test_count_per_point_counts_every_evaluation_fused_or_not():
    @tf.function(jit_compile=True)
    def program(x):
        # Per point: 3 exp and 3 divisions (one per column), 1 log, 2 tanh.
        ratio = tf.exp(x[:, :3]) / (1.0 + tf.math.log(x[:, 3:4] + 2.0))
        return tf.reduce_sum(ratio, axis=1) + tf.reduce_sum(tf.tanh(x[:, :2]), axis=1)

    x = tf.random.stateless_uniform([10, 4], seed=[0, 1])
    hlo = program.experimental_get_compiler_ir(x)(stage="optimized_hlo")
    assert arithmetic.count_per_point(hlo, 10) == {
        "exponential": 3.0, "log": 1.0, "tanh": 2.0, "divide": 3.0}


def test_memory_traffic_counts_each_kernel_and_the_bytes_it_reads_and_writes():
    @tf.function(jit_compile=True)
    def program(x):
        return tf.exp(x) * 2.0  # one fused loop: reads x, writes the result

    x = tf.random.stateless_uniform([10, 4], seed=[0, 1])
    hlo = program.experimental_get_compiler_ir(x)(stage="optimized_hlo")
    # 4 float32 in, 4 out per point.
    assert arithmetic.memory_traffic(hlo, 10) == (1, 32.0)


def test_memory_traffic_reads_tuple_shaped_kernels():
    hlo = (
        "ENTRY %main (p: f32[10,4]) -> f32[10,4] {\n"
        "  %p = f32[10,4]{1,0} parameter(0)\n"
        "  %fusion = (f32[10,4]{1,0}, f32[10,4]{1,0}, f32[10,4]{1,0}, f32[10,4]{1,0}, "
        "f32[10,4]{1,0}, /*index=5*/f32[10,4]{1,0}) fusion(%p), kind=kLoop, calls=%fused\n"
        "  ROOT %gte = f32[10,4]{1,0} get-tuple-element(%fusion), index=5\n"
        "}\n"
    )
    # One kernel: reads p (16 bytes per point) and writes six arrays (96 bytes per point).
    assert arithmetic.memory_traffic(hlo, 10) == (1, 112.0)
