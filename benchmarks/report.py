"""Presenting a run: the printed table, the JSON file, and `docs/performance.md`.

Everything here reads the JSON-ready results dict of `suite.run`, so the documentation
can be regenerated from a saved JSON file (`python -m benchmarks --render FILE`).
"""

import json
import os

from benchmarks import settings, sweep_report

RAD, REAL_NVP = "rad", "real_nvp"
MAIN_FIGURES = (
    "step_eager", "step_tf_function", "step_xla", "fit_spe1", "fit_spe50", "floor",
    "protocol_projection", "log_prob_xla", "log_prob_tf_function", "sample_xla",
    "sample_tf_function",
)


def _fmt(value, unit):
    if value is None:
        return "—"
    if unit in ("ms/step", "×"):
        return f"{value:.1f}" if value >= 100 else f"{value:.2f}"
    if unit == "s":
        return f"{value:.0f}" if value >= 100 else f"{value:.1f}"
    if unit == "ns/point":
        return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"
    return f"{value:.2f}"


def _figures(results, keys=None):
    by_key = {f["key"]: f for f in results["figures"]}
    if keys is None:
        keys = [k for k in by_key if k not in MAIN_FIGURES]
    return [by_key[k] for k in keys if k in by_key]


def _profile_keys(results):
    return results.get("profile", {}).get("figures", [])


def _status(target):
    return {True: "met", False: "MISSED", None: "not measured"}[target["met"]]


def _value_with_unit(target):
    if target["value"] is None:
        return "—"
    return f"{_fmt(target['value'], target['unit'])} {target['unit']}".strip()


def _fit_phase_rows(results):
    """Rows (fit, model, set-up ms, loop ms/step, tear-down ms, per-step total)."""
    steps = results["settings"]["fit_steps"]
    rows = []
    for key, by_model in results.get("fit_phases", {}).items():
        for name, label in ((RAD, "RAD"), (REAL_NVP, "Real NVP")):
            p = by_model[name]
            total = p["loop_ms_per_step"] + (p["setup_ms"] + p["teardown_ms"]) / steps
            rows.append((key, label, f"{p['setup_ms']:.0f}", f"{p['loop_ms_per_step']:.2f}",
                         f"{p['teardown_ms']:.0f}", f"{total:.2f}"))
    return rows


_FIT_PHASE_HEADER = ("fit", "model", "set-up (ms)", "loop (ms/step)", "tear-down (ms)",
                     "sum per step (ms)")


# --- printed table -------------------------------------------------------------------


def _text_rows(figures):
    rows = []
    for f in figures:
        m = f["median"]
        rows.append((f["label"].replace("`", ""), f["unit"], _fmt(m[RAD], f["unit"]),
                     _fmt(m[REAL_NVP], f["unit"]), f"{f['ratio_rad_over_real_nvp']:.2f}"))
    return rows


def _text_table(header, rows):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(  # noqa: E731
        str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def text(results):
    """The printed summary: figures, profile (if any) and targets."""
    header = ("figure (median)", "unit", "RAD", "Real NVP", "RAD/RNVP")
    parts = [_text_table(header, _text_rows(_figures(results, MAIN_FIGURES)))]
    if results.get("fit_phases"):
        parts.append(f"Inside a fit call of {results['settings']['fit_steps']} steps (medians)\n"
                     + _text_table(_FIT_PHASE_HEADER, _fit_phase_rows(results)))
    if _profile_keys(results):
        parts.append("Profile (where the time goes)\n" + _text_table(
            header, _text_rows(_figures(results, _profile_keys(results)))))
        parts.append("\n".join(_profile_lines(results)))
    target_rows = [(_status(t), t["target"].replace("`", ""), t["requirement"],
                    _value_with_unit(t)) for t in results["targets"]]
    parts.append("Targets\n" + _text_table(("", "target", "required", "measured"), target_rows))
    m = results["machine"]
    parts.append(
        f"{m['cpu_model']}, {m['usable_cores']} cores; load average "
        f"{results['load_average_start']} at start, {results['load_average_end']} at end; "
        f"other processes used {results['other_processes_cores']} cores on average; "
        f"wall time {results['wall_time_s']:.0f} s"
    )
    return "\n\n".join(parts)


# --- derived profile statements ------------------------------------------------------


def _median(results, key, name=RAD):
    for f in results["figures"]:
        if f["key"] == key:
            return f["median"][name]
    return None


def _profile_lines(results):
    """Derived statements on where the time goes (each computed from the figures)."""
    lines = []
    for name, label in ((RAD, "RAD"), (REAL_NVP, "Real NVP")):
        for batch in (settings.BATCH_SIZE, settings.LARGE_BATCH):
            f = _median(results, f"profile_forward_{batch}", name)
            fb = _median(results, f"profile_forward_backward_{batch}", name)
            if f and fb:
                lines.append(
                    f"{label}, batch {batch:,}: forward {_fmt(f, 'ns/point')} ns/point, "
                    f"forward+backward {_fmt(fb, 'ns/point')} ns/point; the backward pass "
                    f"costs {(fb - f) / f:.1f}× the forward")
        one = _median(results, "profile_step_xla_1", name)
        full = _median(results, f"profile_step_xla_{settings.BATCH_SIZE}", name)
        if one and full:
            lines.append(
                f"{label}: an XLA step at batch 1 costs {one:.2f} ms, {one / full:.0%} of the "
                f"{full:.2f} ms step at batch {settings.BATCH_SIZE} (fixed per-call cost; "
                "timed interleaved)")
        fit, floor = _median(results, "fit_spe50", name), _median(results, "floor", name)
        if fit and floor:
            lines.append(
                f"{label}: `fit` (steps_per_execution=50) spends {fit - floor:.2f} ms per step "
                f"more than the fused floor ({fit:.2f} vs {floor:.2f} ms)")
    rng = results.get("profile", {}).get("random_numbers_ms")
    if rng:
        normal, philox = rng["stateless_normal_default_alg"], rng["stateless_normal_philox"]
        lines.append(
            f"sampling at batch {settings.LARGE_BATCH:,} under XLA (timed interleaved): "
            f"RAD's sample call {rng['rad_sample']:.1f} ms, Real NVP's "
            f"{rng['real_nvp_sample']:.1f} ms; on their own, the base normals (`stateless_normal` "
            f"[n, 2] with alg='philox', as both models draw them) take {philox:.1f} ms against "
            f"{normal:.1f} ms with TF's default algorithm, which TFP's samplers use "
            f"({normal / philox:.0f}×), and one layer's piece draw (`sample_categorical`, one "
            f"Philox uniform per point; RAD draws one per layer) {rng['piece_draw']:.1f} ms")
    fusions = results.get("profile", {}).get("log_prob_fusions")
    if fusions:
        line = (
            f"`log_prob` under XLA compiles to {fusions['rad']} fused loops for RAD and "
            f"{fusions['real_nvp']} for Real NVP (optimized HLO), each a pass over the batch "
            f"(for RAD, over one block of the batch, block after block). "
            f"RAD's fold and gating work on per-element columns ([n, 1] tensors: the "
            f"probabilities of q+ and q-, the slopes, the gating logits), and XLA keeps an "
            f"exponential or logarithm with several users in a loop of its own")
        counts = results["profile"].get("log_prob_transcendentals")
        if counts:
            line += (
                f". The program holds {counts['rad']} transcendental instructions (exp, log, "
                f"tanh, ...) for RAD and {counts['real_nvp']} for Real NVP, each applied "
                f"element-wise over the batch: per RAD layer the conditioner's scaled tanh "
                f"outputs and the soft clips of the log-scales, the softmaxes and logarithms of "
                f"the boundary probabilities, the fold's exponentials and the gating's "
                f"log-sum-exp; per Real NVP layer its log-scale's tanh and exponential")
        lines.append(line)
    parts = results.get("profile", {}).get("log_prob_parts_ms")
    if parts:
        rad, nvp = parts["rad_log_prob"], parts["real_nvp_log_prob"]
        networks = parts["rad_conditioners"] + parts["rad_gatings"]
        lines.append(
            f"`log_prob` at batch {settings.LARGE_BATCH:,} under XLA (timed interleaved): "
            f"RAD {rad:.1f} ms, of which its networks alone take {networks:.1f} ms "
            f"(conditioners {parts['rad_conditioners']:.1f}, gatings "
            f"{parts['rad_gatings']:.1f}), leaving {rad - networks:.1f} ms for the fold, the "
            f"gating arithmetic and the base; Real NVP {nvp:.1f} ms, its conditioners alone "
            f"{parts['real_nvp_conditioners']:.1f} ms")
    return lines


# --- JSON ----------------------------------------------------------------------------


def write_json(results, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")


def write_results(results, name, other_load=None):
    """Ends a study: its end load (and `other_load.stop()`), `benchmarks/results/<name>`.

    Writes `results` there (`write_json`), prints the path and returns it.
    """
    from benchmarks import machine

    results["load_average_end"] = machine.load_average()
    if other_load is not None:
        results["other_processes_cores"] = other_load.stop()
    path = os.path.join("benchmarks", "results", name)
    write_json(results, path)
    print(f"results: {path}")
    return path


def read_json(path):
    with open(path) as f:
        return json.load(f)


# --- Markdown ------------------------------------------------------------------------


def _md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def _md_figure_rows(figures):
    rows = []
    for f in figures:
        m, iqr, reps = f["median"], f["relative_iqr"], f["repetitions"]
        rows.append((
            f["label"], f["unit"], _fmt(m[RAD], f["unit"]), _fmt(m[REAL_NVP], f["unit"]),
            f"**{f['ratio_rad_over_real_nvp']:.2f}**", f"{f['paired_ratio_median']:.2f}",
            f"{iqr[RAD]:.0%} / {iqr[REAL_NVP]:.0%}", f"{reps[RAD]}",
        ))
    return rows


def _load_warning(results):
    """A warning paragraph when other processes were busy during the run (computed)."""
    other = results.get("other_processes_cores")
    cores = results["machine"]["usable_cores"]
    if other is None or other < 0.25:
        return []
    return [
        f"> **Busy machine**: other processes kept {other} of the {cores} cores busy on "
        "average during this run (load averages below). Absolute times are inflated and "
        "even the ratios are noisier than on a quiet machine: see the spread columns.",
        "",
    ]


def _target_rows(results):
    protocol = results.get("protocol_run_s", {}).get(RAD)
    rows = []
    for t in results["targets"]:
        how = t["how"]
        if t["key"] == "protocol" and protocol:
            how += f"; run for real with `--protocol`: {protocol['fit_s']:.0f} s"
        rows.append((t["target"], t["requirement"], _value_with_unit(t), how,
                     f"**{_status(t)}**"))
    return rows


def markdown(results, json_path):
    """`docs/performance.md` for a run."""
    m, s = results["machine"], results["settings"]
    figures_header = ("figure", "unit", "RAD", "Real NVP", "RAD / Real NVP",
                      "paired ratio", "IQR / median (RAD / RNVP)", "repetitions")
    target_rows = _target_rows(results)
    first = results["first_call_s"]
    first_rows = [(key, f"{v[RAD]:.1f}", f"{v[REAL_NVP]:.1f}") for key, v in first.items()]
    overhead_rows = [(key, f"{v[RAD]:.1f}", f"{v[REAL_NVP]:.1f}")
                     for key, v in results["fit_overhead_s"].items()]
    section_rows = [(x["name"], f"{x['wall_s']:.0f}", x["load_average_end"],
                     x["other_processes_cores"]) for x in results["sections"]]
    models = results["models"]
    quick = " (a `--quick` smoke run: few repetitions, indicative only)" if results.get(
        "quick") else ""
    cached = "tf_xla_persistent_cache_directory" in (results.get("tf_xla_flags") or "")

    doc = [
        "# Performance",
        "",
        "<!-- Generated by `python -m benchmarks` (benchmarks/report.py); do not edit by "
        "hand: re-run the command, or `python -m benchmarks --render "
        f"{json_path}` to rebuild this page from the JSON. -->",
        "",
        "Speed of `RADFlow` against the TFP Real NVP baseline (`RealNVPFlow`), measured in "
        "one process, interleaved, on the paper's architectures (float32, two-moons data). "
        "Every figure is a median over repetitions after warm-up; compare the **ratios** "
        "rather than absolute times, which drift with the machine's load.",
        "",
        f"## Latest run{quick}",
        "",
        *_load_warning(results),
        f"- Command (from the repository root): `{results['command']}`",
        f"- Date: {m['date']}; wall time of the run: {results['wall_time_s']:.0f} s; "
        f"commit {m['git_commit']}",
        f"- Machine: {m['cpu_model']}, {m['usable_cores']} usable cores "
        f"({m['logical_cores']} logical), {m['platform']}",
        f"- Load average (1, 5, 15 min): {results['load_average_start']} at start, "
        f"{results['load_average_end']} at end; other processes kept "
        f"{results['other_processes_cores']} cores busy on average during the run",
        f"- Software: Python {m['python']}, TensorFlow {m['tensorflow']}, TensorFlow "
        f"Probability {m['tensorflow_probability']}, Keras {m['keras']}, NumPy {m['numpy']}",
        f"- Models: {models[RAD]['architecture']} ({models[RAD]['parameters']} parameters); "
        f"{models[REAL_NVP]['architecture']} ({models[REAL_NVP]['parameters']} parameters)",
        f"- Raw results: `{json_path}`",
        "",
        "## Targets",
        "",
        _md_table(("target", "required", "measured", "how", "status"), target_rows),
        "",
        "## Figures",
        "",
        _md_table(figures_header, _md_figure_rows(_figures(results, MAIN_FIGURES))),
        "",
    ]
    doc += [
        "## Inside a `fit` call",
        "",
        f"Each timed `fit` call of {s['fit_steps']} steps split into set-up (from the call "
        "to `on_train_begin`), the training loop (to "
        "`on_epoch_end`, after the last step's results are fetched) and tear-down (to the "
        "return: callbacks' end, iterator destruction); medians of the timed calls:",
        "",
        _md_table(_FIT_PHASE_HEADER, _fit_phase_rows(results)),
        "",
        "## Where RAD's time goes (`--profile`)",
        "",
    ]
    if _profile_keys(results):
        doc += [
            _md_table(figures_header, _md_figure_rows(_figures(results, _profile_keys(results)))),
            "",
            *[f"- {line}" for line in _profile_lines(results)],
            "",
        ]
    else:
        doc += ["Not measured in this run; add `--profile`.", ""]
    protocol = results.get("protocol_run_s")
    doc += [f"## The {settings.PROTOCOL_STEPS:,}-step protocol, run for real (`--protocol`)", ""]
    if protocol:
        doc += [
            "`tfp_rad.training.fit_steps(model, x, 50_000)` as the CLI runs it (one `fit` "
            "call, 100 epochs of 500 steps, steps_per_execution=50, XLA), one model after "
            "the other (not interleaved), checking the projection; the loop includes tracing "
            "and compiling the step at its first call:",
            "",
            _md_table(
                ("model", "fit wall time (s)", "projected (s)", "set-up (s)", "loop (s)",
                 "tear-down (s)"),
                [(label, f"{protocol[name]['fit_s']:.0f}",
                  _fmt(_median(results, "protocol_projection", name), "s"),
                  f"{protocol[name]['setup_s']:.1f}", f"{protocol[name]['loop_s']:.0f}",
                  f"{protocol[name]['teardown_s']:.1f}")
                 for name, label in ((RAD, "RAD"), (REAL_NVP, "Real NVP"))]),
            "",
        ]
    else:
        doc += ["Not run this time (only projected); add `--protocol` (several minutes).", ""]
    doc += [
        "## Compile and warm-up",
        "",
        "Wall time of the first call of each timed function (tracing, XLA compilation and "
        "one run; for `fit`, the first call of S steps), in seconds"
        + (" (this run used XLA's persistent compilation cache, `TF_XLA_FLAGS="
           f"{results['tf_xla_flags']}`: compile times are lower than a fresh process's)"
           if cached else "") + ":",
        "",
        _md_table(("first call", "RAD (s)", "Real NVP (s)"), first_rows),
        "",
        "Overhead of the first `fit` call beyond S steps at the measured rate (added to the "
        "projection of the 50,000-step protocol), in seconds:",
        "",
        _md_table(("fit", "RAD (s)", "Real NVP (s)"), overhead_rows),
        "",
        "Machine load per section:",
        "",
        _md_table(("section", "wall (s)", "load average at end", "cores used by others"),
                  section_rows),
        "",
        "## How the figures are measured",
        "",
        f"- **Interleaving**: each repetition times RAD and Real NVP one after the other, "
        f"alternating which goes first; a figure is the median of {s['repeats']} repetitions "
        f"per model ({s['eager_repeats']} for eager steps, {s['fit_repeats']} `fit` calls) "
        f"after the first call and {s['warmup']} warm-up round(s). The ratio is median RAD / "
        "median Real NVP; the *paired ratio* is the median of the per-repetition ratios "
        "(neighbouring measurements); when the two disagree, the machine's load moved during "
        "the figure. The JSON keeps every sample.",
        f"- **Training step** (batch {settings.BATCH_SIZE}): forward (mean NLL), "
        "`tf.GradientTape` backward and `model.optimizer.apply_gradients` (Adam, built "
        "beforehand), written by hand and run eagerly, as `tf.function`, and as "
        f"`tf.function(jit_compile=True)`; {s['steps_per_sample']} steps are timed together "
        f"per repetition, cycling over {settings.BATCH_SIZE}-point batches of the "
        f"{settings.TRAIN_POINTS:,} training points.",
        f"- **`model.fit`**: Keras's own `fit` as a user calls it: `compile(Adam("
        f"{settings.LEARNING_RATE:g}), jit_compile=True, steps_per_execution=...)`, no "
        f"callbacks, on the CLI's input pipeline (a shuffled, repeated `tf.data` dataset, "
        f"batch {settings.BATCH_SIZE}); each repetition is one `fit` call of "
        f"`steps_per_epoch={s['fit_steps']}` steps timed end to end (set-up and tear-down "
        "included), divided by the number of steps. Keras runs `steps_per_execution` steps "
        "per call of a (non-XLA) `tf.while_loop`, each step being one XLA call. The CLI's "
        "`tfp_rad.training.fit_steps` adds a cosine learning-rate decay and Keras's "
        "`TerminateOnNaN`; `--protocol` times that path.",
        f"- **Floor**: {s['fused_steps']} steps fused inside one XLA program (a "
        "`tf.while_loop` over batches pre-sliced from one tensor, in one "
        "`tf.function(jit_compile=True)`), per step: what the step costs once the per-call "
        "overhead is gone.",
        f"- **Projection** of the {settings.PROTOCOL_STEPS:,}-step protocol: `fit` time per "
        f"step (steps_per_execution=50, as the CLI) × {settings.PROTOCOL_STEPS:,} + the "
        "measured compile/warm-up overhead of the first `fit` call. It counts training "
        "only: Python start-up, imports, data generation and plots are not included.",
        f"- **Throughput** at batch {settings.LARGE_BATCH:,}: `model.log_prob` on a fixed "
        "batch, and `model.distribution.sample(n, seed=seed)` with the stateless seed as a "
        "tensor argument (a new value each call), each as `tf.function` with and without "
        "XLA. Targets use the faster of the two paths (named in the table). RAD's "
        "`log_prob` runs in blocks, one after another inside the one call "
        "(`RADDistribution`'s default `log_prob_block_size`, see the API page); TFP's Real "
        "NVP takes the batch whole.",
        "- **Profile** (`--profile`): XLA forward-only vs forward+backward (no optimizer "
        f"update) at batch {settings.BATCH_SIZE} and {settings.LARGE_BATCH:,} in ns per "
        "point; the XLA step at batch 1 (the fixed cost of a call); the random-number "
        "primitives of sampling; the fused loops of the compiled `log_prob`, and its time "
        "next to that of the model's networks alone on the same batch (RAD's in the same "
        "blocks as its `log_prob`).",
        "",
        "## Caveats",
        "",
        "- The baseline is TFP's own `tfb.RealNVP`, which calls its conditioner twice per "
        "`log_prob` (once for the inverse, once for the log-determinant): XLA can merge "
        "the duplicate work, plain `tf.function` cannot, so the baseline is weaker without "
        "XLA.",
        "- The machine is shared: absolute times drift with other processes' load (see "
        "the load figures above); RAD and Real NVP are affected alike, so ratios are the "
        "reliable figures. Eager steps are dispatch-bound and only shown for orientation.",
        "- Eager, `tf.function` and XLA steps share one pair of models (and optimizers); "
        "the floor and each `fit` setting use fresh models. Speed does not depend on the "
        "parameter values (the fold selects its pieces with `tf.where`, not branches).",
        "",
    ]
    return "\n".join(doc)


def write_markdown(results, path, json_path, sweep_json=None, levers_json=None,
                   strategy_json=None, depth_sweep_jsons=()):
    """Writes the page; the sweeps', the levers' and the strategy sections appended if given."""
    page = markdown(results, json_path)
    extra = []
    if sweep_json:
        extra += sweep_report.markdown_lines(read_json(sweep_json), sweep_json)
    if levers_json:  # a subsection of the sweep's
        extra += sweep_report.levers_lines(read_json(levers_json), levers_json)
    for depth_json in depth_sweep_jsons:
        extra += sweep_report.depth_lines(read_json(depth_json), depth_json)
    if strategy_json:
        extra += sweep_report.strategy_lines(read_json(strategy_json), strategy_json)
    if extra:
        page = page.rstrip("\n") + "\n\n" + "\n".join(extra).rstrip("\n") + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(page)


def sweep_text(results):
    return sweep_report.text(results)


def levers_text(results):
    return "\n".join(sweep_report.levers_lines(results, "(this run)"))
