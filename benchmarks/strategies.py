"""Training under a `tf.distribute` strategy against the single-device paths (`--strategy`).

One process with the CPU split into two logical devices (configured before TensorFlow
starts) times `RADFlow(2)` (the paper's model) through `model.fit` (Adam, global batch
500), interleaved:

- `single_xla_spe50`: one device, XLA, steps_per_execution=50 (the CLI's path: the steps
  of an execution fused in one XLA program);
- `single_xla`: one device, XLA, steps_per_execution=1;
- `single_graph`: one device, `jit_compile=False`, steps_per_execution=1;
- `mirrored`: `MirroredStrategy` over the two logical CPUs, `jit_compile=False` (the
  default under a strategy), steps_per_execution=1 (more fails in Keras under a
  strategy, keras-team/keras#19246);
- `mirrored_xla`: the same with `jit_compile=True`, if Keras can build it (the error is
  recorded otherwise).

Two logical CPUs share the same two cores, so the strategy cannot gain speed here; the
figures give its cost (replica coordination, the all-reduce, no XLA).
"""

import time

VARIANTS = {  # name: (jit_compile, steps_per_execution)
    "single_xla_spe50": (True, 50),
    "single_xla": (True, 1),
    "single_graph": (False, 1),
    "mirrored": (False, 1),
    "mirrored_xla": (True, 1),
}


def configure_devices():
    """Splits the first CPU into two logical devices (before TensorFlow initializes)."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)


def run(config, log=print):
    configure_devices()
    import keras
    import tensorflow as tf

    from benchmarks import keras_fit, machine, settings, subjects
    from benchmarks.timing import first_calls, interleaved
    from tfp_rad.models import RADFlow

    start = time.perf_counter()
    results = {"machine": machine.info(), "load_average_start": machine.load_average()}
    other = machine.OtherLoad().start()
    points = subjects.training_points()
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    calls, errors, first = {}, {}, {}
    for name, (jit, spe) in VARIANTS.items():
        keras.utils.set_random_seed(0)
        scope = strategy.scope() if name.startswith("mirrored") else tf.device("/cpu:0")
        with scope:
            model = RADFlow(2)
            model.compile(optimizer=keras.optimizers.Adam(settings.LEARNING_RATE),
                          jit_compile=jit, steps_per_execution=spe)
        call = keras_fit.fit_call(model, subjects.training_dataset(points),
                                  config.fit_steps, keras_fit.PhaseClock())
        try:
            first[name] = first_calls({name: call})[name]
            calls[name] = call
        except Exception as error:  # noqa: BLE001 - recorded, not hidden
            errors[name] = f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
            log(f"  {name}: failed: {errors[name]}")
    seconds = interleaved(calls, config.fit_repeats, warmup=1)
    per_step = {name: sorted(v)[len(v) // 2] * 1e3 / config.fit_steps
                for name, v in seconds.items()}
    for name, ms in per_step.items():
        log(f"  {name}: {ms:.2f} ms per step; first call {first[name]:.1f} s")
    results.update(
        fit_ms_per_step=per_step, first_call_s=first, errors=errors,
        samples_s={name: v for name, v in seconds.items()},
        settings={"fit_steps": config.fit_steps, "fit_repeats": config.fit_repeats,
                  "batch_size": settings.BATCH_SIZE,
                  "variants": {k: list(v) for k, v in VARIANTS.items()}},
        load_average_end=machine.load_average(), other_processes_cores=other.stop(),
        wall_time_s=round(time.perf_counter() - start, 1))
    return results
