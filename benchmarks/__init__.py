"""Speed benchmarks of `tfp_rad`: RAD against TFP's Real NVP, measured in one process.

Run `python -m benchmarks` from the repository root (`--help` for the options). Every
figure is the median of many repetitions after warm-up; RAD and Real NVP are timed
interleaved (alternating order, repetition by repetition) so that drifting machine load
hits both alike, and each figure comes with the ratio RAD / Real NVP.

Modules, one concept each:

- `settings`: how many repetitions, steps and points each figure uses (full or quick run).
- `subjects`: the two models under test, with the paper's architectures, and their data.
- `timing`: interleaved timing, medians, and the `Figure` that holds one result.
- `steps`: hand-written training steps (eager, `tf.function`, XLA) and the fused floor.
- `keras_fit`: training steps timed through `model.fit`, and the 50,000-step projection.
- `throughput`: `log_prob` and sampling throughput at a large batch.
- `profiling`: where RAD's step time goes (forward vs forward+backward, per-call cost,
  sampling's random-number cost).
- `xla_trace`: where a compiled training step's time goes, kernel by kernel, from
  TensorFlow's profiler (`python -m benchmarks.xla_trace`).
- `ablation`: what RAD's fold and gating arithmetic cost in a step and in `log_prob`, by
  replacing them with transcendental-free stand-ins (`python -m benchmarks.ablation`).
- `targets`: the issue's speed targets, evaluated on the figures.
- `machine`: CPU, cores, load and library versions of the machine that ran the figures.
- `report`: the printed table, the JSON file and `docs/performance.md`.
- `suite`: runs the sections in order and collects the results.
- `conditional`: the cost of a context (`--conditional`): conditional RAD against the
  unconditional RAD of the same widths and conditional Real NVP.
"""
