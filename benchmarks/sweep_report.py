"""The dimension sweep's printed table and its section of `docs/performance.md`.

Reads the JSON-ready results of `sweep.run` only (no TensorFlow), so the page can be
re-rendered from saved files. A sweep measured before a change (`sweep_before.json` next
to the sweep's JSON, when present) is shown next to it.
"""

import json
import os

RAD, REAL_NVP = "rad", "real_nvp"
BEFORE_NAME = "sweep_before.json"
ABLATION_NAME = "ablation.json"  # written by `python -m benchmarks.ablation`
ARITHMETIC_NAME = "arithmetic.json"  # written by `python -m benchmarks.arithmetic`
CUSTOM_CALL_NAME = "custom_call.json"  # written by `python -m benchmarks.custom_call`
LAYER_LOOP_NAME = "layer_loop.json"  # written by `python -m benchmarks.layer_loop`
FUSED_KEY, UNFUSED_KEY, RNVP_KEY = "rad_fused", "rad_unfused", REAL_NVP  # levers.py's keys


def _median(figure, name):
    return figure["median"][name]


def rows(results):
    """One dict of headline numbers per dimension (all derived from the figures)."""
    out = []
    for d, entry in results["dimensions"].items():
        row = {"d": int(d), "parameters": entry["parameters"],
               "hidden_units": entry["hidden_units"]}
        for spe, fit in entry["fit"].items():
            f = fit["figure"]
            row[f"fit_{spe}"] = (_median(f, RAD), _median(f, REAL_NVP),
                                 f["ratio_rad_over_real_nvp"])
            row[f"compile_{spe}"] = (fit["compile_s"][RAD], fit["compile_s"][REAL_NVP])
        for kind, t in entry["throughput"].items():
            f = t["figure"]
            row[kind] = (_median(f, RAD), _median(f, REAL_NVP),
                         _median(f, REAL_NVP) / _median(f, RAD))
        out.append(row)
    return out


def targets(row):
    """`[(text, value, met)]`: the issue's targets at one dimension."""
    d, result = row["d"], []
    fit_limit = 1.3 if d <= 2 else 1.5
    for spe in ("spe50", "spe1"):
        if f"fit_{spe}" in row:
            ratio = row[f"fit_{spe}"][2]
            result.append((f"fit {spe} RAD / Real NVP ≤ {fit_limit}", ratio,
                           ratio <= fit_limit))
    if d > 2 and "log_prob" in row:
        ratio = row["log_prob"][2]
        result.append(("log_prob Real NVP / RAD ≤ 2.5", ratio, ratio <= 2.5))
    for spe in ("spe50", "spe1"):
        if f"compile_{spe}" in row:
            rad, nvp = row[f"compile_{spe}"]
            result.append((f"first fit call ({spe}) compile RAD / Real NVP ≤ 2", rad / nvp,
                           rad / nvp <= 2.0))
    return result


def _pair(values, digits=2):
    rad, nvp, ratio = values
    return f"{rad:.{digits}f} / {nvp:.{digits}f} = {ratio:.2f}×"


def _table_rows(results):
    table = []
    for row in rows(results):
        compile_rad, compile_nvp = row.get("compile_spe50", (float("nan"),) * 2)
        table.append((
            row["d"],
            f"{row['parameters'][RAD]} / {row['parameters'][REAL_NVP]} "
            f"({row['hidden_units'][RAD]} / {row['hidden_units'][REAL_NVP]} units)",
            _pair(row["fit_spe50"]) if "fit_spe50" in row else "—",
            _pair(row["fit_spe1"]) if "fit_spe1" in row else "—",
            f"{row['log_prob'][0]:.3f} / {row['log_prob'][1]:.3f}" if "log_prob" in row else "—",
            f"{row['log_prob'][2]:.2f}×" if "log_prob" in row else "—",
            f"{row['sample'][2]:.2f}×" if "sample" in row else "—",
            f"{compile_rad:.1f} / {compile_nvp:.1f} s = {compile_rad / compile_nvp:.2f}×",
        ))
    return table


HEADER = ("d", "parameters RAD / Real NVP", "fit step spe=50, ms RAD / RNVP",
          "fit step spe=1, ms RAD / RNVP", "log_prob M points/s RAD / RNVP",
          "log_prob RNVP / RAD", "sampling RNVP / RAD", "compile (first fit, spe=50)")


def _md_table(header, table):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in table]
    return out


def _profile_lines(results):
    lines = []
    for d, entry in results["dimensions"].items():
        profile = entry.get("profile")
        if not profile:
            continue
        passes = {f["key"].split("_")[1] + ("" if "backward" not in f["key"] else "_backward"):
                  f for f in profile["passes"]}
        fw, fb = passes.get("forward"), passes.get("forward_backward")
        if fw and fb:
            for name, label in ((RAD, "RAD"), (REAL_NVP, "Real NVP")):
                f, b = _median(fw, name), _median(fb, name)
                lines.append(f"- d={d}, {label}, batch 500 (XLA): forward {f:,.0f} ns/point, "
                             f"forward+backward {b:,.0f} ns/point (backward {(b - f) / f:.1f}× "
                             "the forward)")
        fusions, trans = profile["log_prob_fusions"], profile["log_prob_transcendentals"]
        lines.append(f"- d={d}, compiled `log_prob` (optimized HLO): {fusions[RAD]} fused loops "
                     f"for RAD, {fusions[REAL_NVP]} for Real NVP; {trans[RAD]} transcendental "
                     f"instructions for RAD, {trans[REAL_NVP]} for Real NVP")
        parts = profile["log_prob_parts_ms"]
        rad_nets = sum(v for k, v in parts.items() if k.startswith("rad_") and k != "rad_log_prob")
        lines.append(
            f"- d={d}, `log_prob` at batch {results['settings']['throughput_batch']:,} (XLA, "
            f"interleaved): RAD {parts['rad_log_prob']:.1f} ms, of which its networks alone "
            f"{rad_nets:.1f} ms (conditioners {parts.get('rad_conditioners', 0):.1f}, gatings "
            f"{parts.get('rad_gatings', 0):.1f}), leaving {parts['rad_log_prob'] - rad_nets:.1f} "
            f"ms for the fold, the gating arithmetic and the base; Real NVP "
            f"{parts['real_nvp_log_prob']:.1f} ms, its conditioners alone "
            f"{parts.get('real_nvp_conditioners', 0):.1f} ms")
    return lines


def _target_lines(results):
    out = []
    for row in rows(results):
        for text, value, met in targets(row):
            out.append((row["d"], text, f"{value:.2f}", "**met**" if met else "**MISSED**"))
    return out


def _read_next_to(sweep_json, name):
    path = os.path.join(os.path.dirname(sweep_json), name)
    if not os.path.exists(path):
        return None, path
    with open(path) as f:
        return json.load(f), path


def ablation_lines(sweep_json):
    """The ablation's tables (`benchmarks/results/ablation.json`), if it was run."""
    results, path = _read_next_to(sweep_json, ABLATION_NAME)
    if not results:
        return []
    m = results["machine"]
    variants = list(next(iter(results["steps_ms"].values())))
    lines = [
        "Where the gap is, by ablation: the same program with RAD's fold and gating "
        "arithmetic replaced by transcendental-free stand-ins (`benchmarks/ablation.py`; "
        "not densities, they measure what the arithmetic costs), timed interleaved in one "
        f"process. Command `{results['command']}`, commit {m['git_commit']}, date "
        f"{m['date']}, load average {results['load_average_start']} at start, "
        f"{results['load_average_end']} at end, other processes "
        f"{results['other_processes_cores']} cores; raw results `{path}`.",
        "",
    ]
    ungated = "RAD, no gating network"
    if ungated in variants:
        lines += [
            f"*{ungated}* is a density, not a stand-in: `RADFlow(gating_hidden_units=0)` "
            "(`s(z) = 0`: the gating is the interpolation between the boundary probabilities), "
            "its conditioners widened to RAD's parameter count: "
            + "; ".join(f"d={d}: {c[ungated][1]} units, {c[ungated][0]:,} parameters (RAD "
                        f"{c['rad'][0]:,}, Real NVP {c['real_nvp'][0]:,})"
                        for d, c in results.get("parameters", {}).items())
            + ". Its accuracy against RAD's is in [Higher dimensions](high-dimensional.md).",
            "",
        ]
    shallow = "RAD, 4 layers"
    if shallow in variants:
        lines += [
            f"*{shallow}* is a density too: RAD's parameter count in 4 layers instead of 6 "
            "(`--sweep --rad-layers 4`'s model): "
            + "; ".join(f"d={d}: {c[shallow][1]} units, {c[shallow][0]:,} parameters"
                        for d, c in results.get("parameters", {}).items())
            + ". Its accuracy is in [Higher dimensions](high-dimensional.md).",
            "",
        ]
    if "RAD, shared values recomputed" in variants:
        lines += [
            "*RAD, shared values recomputed* is RAD as it was before `fold_math.computed_once`: "
            "the same density, with XLA left to recompute `u`, `v` and the gating's sine, "
            "logits and `G_v` in every kernel that reads them.",
            "",
        ]
    table = []
    for key, label in (("steps_ms", f"forward+backward, batch {results['batch']}"),
                       ("log_prob_ms", f"`log_prob`, batch {results['log_prob_batch']:,}")):
        for d, ms in results[key].items():
            base = ms[variants[-1]]
            table.append((d, label, *(f"{ms[v]:.2f} ms ({ms[v] / base:.2f}×)" for v in variants)))
    lines += [*_md_table(("d", "program", *variants), table), ""]
    layer = results["layer_ms"]
    lines += [
        "One layer's fold and gating alone (`fold_math`, forward+backward, XLA, batch 500): "
        + ", ".join(f"{t:.2f} ms at n = {n}" for n, t in layer.items())
        + f" folded elements, i.e. {results['layer_fixed_ms']:.2f} ms per layer plus "
        f"{results['layer_ns_per_element']:.0f} ns per folded element (least squares).",
        "",
    ]
    for d, o in results.get("optimizer_ms", {}).items():
        rad, real_nvp = o["rad"], o["real_nvp"]
        lines += [
            f"At d={d}, what Keras's Adam update adds (XLA, batch {results['batch']}, one "
            f"step per call): RAD's forward+backward {rad['forward+backward']:.2f} ms and whole "
            f"step {rad['step']:.2f} ms ({rad['variables']} variables), of which kernels "
            f"{rad['step_kernels_ms']:.2f} ms under the profiler; Real NVP's "
            f"{real_nvp['forward+backward']:.2f} and {real_nvp['step']:.2f} ms "
            f"({real_nvp['variables']} variables), kernels {real_nvp['step_kernels_ms']:.2f} ms.",
            "",
        ]
    for d, c in results.get("polynomial_copies", {}).items():
        lines.append(f"- d={d}: {c['with_polynomial']} of RAD's {c['fused_loops']} fused loops "
                     "(forward+backward, batch 500) hold a copy of the gating's sine "
                     f"polynomial; they took {c['with_polynomial_ms']:.2f} of "
                     f"{c['all_thunks_ms']:.2f} ms of kernel time under the profiler")
    return lines + [""]


def arithmetic_lines(sweep_json, num_layers):
    """The transcendental counts and floors (`benchmarks/results/arithmetic.json`), if run.

    `num_layers`: the sweep models' depth, which `benchmarks.arithmetic` measures too.
    """
    results, path = _read_next_to(sweep_json, ARITHMETIC_NAME)
    if not results:
        return []
    m = results["machine"]
    rates = results["ns_per_element"]
    names = {"exponential": "exp", "log": "log", "tanh": "tanh", "divide": "divide"}
    table, per_element = [], {}
    for d, by_model in results["dimensions"].items():
        # Folded (RAD) or transformed (Real NVP) elements per point, over the layers.
        element_layers = (int(d) - int(d) // 2) * num_layers
        for model, f in by_model.items():
            counts = f["per_point"]
            per_element[model] = " / ".join(
                f"{counts[op] / element_layers:.0f}" for op in names)
            table.append((d, model, " / ".join(f"{counts[op]:.0f}" for op in names),
                          per_element[model], f"{f['floor_us']:.3f}",
                          f"{f['measured_us']:.3f}", f"{f['floor_share']:.0%}",
                          str(f["kernels"]), f"{f['bytes_per_point'] / 1e3:.1f}"))
    largest = max(results["dimensions"], key=int)
    shares = {model: f["floor_share"] for model, f in results["dimensions"][largest].items()}
    traffic = ", ".join(
        f"{by_model['rad']['bytes_per_point'] / by_model['real_nvp']['bytes_per_point']:.1f}× "
        f"at d = {d}" for d, by_model in results["dimensions"].items())
    return [
        "What a `log_prob` evaluates, counted in XLA's optimized program "
        "(`benchmarks/arithmetic.py`): per point, the elements computed by `exp`, `log`, "
        "`tanh` and divisions, fused or not; their cost at this machine's throughput for "
        "each (in cache, one thread: " + ", ".join(
            f"{names[op]} {ns:.2f} ns" for op, ns in rates.items())
        + "); and the measured `log_prob` time per point on the same thread "
        f"({results['points']:,} points, XLA). Command `{results['command']}`, commit "
        f"{m['git_commit']}, date {m['date']}, load average {results['load_average_start']} "
        f"at start, {results['load_average_end']} at end, other processes "
        f"{results['other_processes_cores']} cores; raw results `{path}`.",
        "",
        *_md_table(("d", "model", "exp / log / tanh / divide per point",
                    "the same per folded (RAD) or transformed (Real NVP) element and layer",
                    "floor, µs per point", "measured, µs per point", "floor share",
                    f"kernels per {results['points']:,} points",
                    "kB read and written per point"), table),
        "",
        f"RAD evaluates {per_element['rad']} (exp / log / tanh / divide) per folded element "
        f"and layer, Real NVP {per_element['real_nvp']} per transformed element and layer: "
        "the scaled tanh on each of the conditioner's 10 outputs per element and the fold's "
        "two soft clips, two softmaxes of three with their logarithms and the scales' "
        "exponentials, the slope's exponential, the gating's softmax; six of the 11 "
        "divisions are `fold_math.computed_once`'s (by one). At full throughput "
        f"they are {shares['rad']:.0%} of RAD's measured `log_prob` at d = {largest} "
        f"(Real NVP's: {shares['real_nvp']:.0%}), so they bound it from below but are not "
        "most of it. The rest is the other arithmetic and the passes over memory: RAD's "
        f"kernels read and write {traffic} Real NVP's bytes per point, each of its kernels "
        "a pass over `[points, folded elements]` arrays. One kernel per layer for the fold "
        "and the gating (below) does not remove most of them: the networks' outputs and the "
        "fold's results still go through memory between the layers' parts.",
        "",
    ]


def read_before(sweep_json):
    path = os.path.join(os.path.dirname(sweep_json), BEFORE_NAME)
    if os.path.abspath(path) == os.path.abspath(sweep_json):
        return None, path
    return _read_next_to(sweep_json, BEFORE_NAME)


def _measured_lines(results, json_path):
    """How a sweep was measured, its table and its targets (markdown lines)."""
    m = results["machine"]
    s = results["settings"]
    rad_layers = s.get("rad_layers", s["num_layers"])
    if rad_layers == s["num_layers"]:
        models = (f"RAD ({s['num_layers']} layers, {s['rad_hidden_units']} hidden units in "
                  "conditioners and gatings) against Real NVP (the same depth, the width "
                  "whose parameter count is closest to RAD's)")
    else:
        models = (f"RAD with {rad_layers} layers (the width whose parameter count is closest "
                  f"to that of RAD with {s['num_layers']} layers of {s['rad_hidden_units']} "
                  f"units, in the table) against Real NVP ({s['num_layers']} layers, the "
                  "width whose count is closest)")
    return [
        f"{models} at several dimensions, in one process: `fit` with Adam, XLA, "
        f"batch 500, {s['fit_steps']} steps per timed call ({s['fit_repeats']} calls per "
        "model, interleaved); `log_prob` and sampling at batch "
        f"{s['throughput_batch']:,} under XLA ({s['repeats']} repetitions). Compile is the "
        "first `fit` call's excess over the same steps at the measured rate (trace + XLA "
        "compile). Points: two moons at d = 2, standard normal draws above (speed does not "
        "depend on the values).",
        "",
        f"- Command: `{results['command']}`; date {m['date']}; commit {m['git_commit']}; "
        f"wall time {results['wall_time_s']:.0f} s; raw results `{json_path}`",
        f"- Load average {results['load_average_start']} at start, "
        f"{results['load_average_end']} at end; other processes kept "
        f"{results['other_processes_cores']} of {m['usable_cores']} cores busy on average. "
        "**This machine is shared by several agents running TensorFlow**: absolute times "
        "are inflated and drift; RAD and Real NVP are timed interleaved in one process, so "
        "rely on the ratios.",
        "",
        *_md_table(HEADER, _table_rows(results)),
        "",
        "Targets of the sweep (issue 16):",
        "",
        *_md_table(("d", "target", "measured", "status"), _target_lines(results)),
        "",
    ]


def _run_sentence(results, path):
    """"`command`, commit, date, load average, other processes; raw results" of a study."""
    m = results["machine"]
    return (f"`{results['command']}`, commit {m['git_commit']}, date {m['date']}, load average "
            f"{results['load_average_start']} at start, {results['load_average_end']} at end, "
            f"other processes {results['other_processes_cores']} cores; raw results `{path}`.")


def custom_call_lines(sweep_json):
    """One kernel per layer (`benchmarks/results/custom_call.json`), if it was measured."""
    results, path = _read_next_to(sweep_json, CUSTOM_CALL_NAME)
    if not results:
        return []
    variants = list(next(iter(results["log_prob_ms"].values())))
    table = []
    for d, ms in results["log_prob_ms"].items():
        base = ms[variants[-1]]
        difference = results["relative_difference"][d]
        layer = results["layer_ns_per_element"][d]
        table.append((d, *(f"{ms[v]:.2f} ms ({ms[v] / base:.2f}×)" for v in variants),
                      f"{difference['float32']:.0e} / {difference['float64']:.0e}",
                      *(f"{ns:.1f}" for ns in layer.values())))
    layer_names = list(next(iter(results["layer_ns_per_element"].values())))
    return [
        "One kernel per layer, measured: the fold's and the gating's forward each as one "
        "hand-written loop over the folded elements (`benchmarks/fold_kernel.cc`, built by "
        "g++ with glibc's vector `exp` and `log`, its blocks shared among the cores by "
        "OpenMP), called from the compiled "
        "`log_prob` as XLA custom calls in place of `fold_math`'s two functions "
        "(`benchmarks/custom_call.py`; forward only). `log_prob` at batch "
        f"{results['log_prob_batch']:,} under XLA, timed interleaved in one process. Command "
        f"{_run_sentence(results, path)} "
        "The last four columns are ns per folded element and layer: one layer's fold and "
        f"gating alone on one `log_prob` block ({results['block_points']:,} points), and "
        "inside `log_prob` (RAD's "
        "time beyond the stand-ins', over its points × folded elements × layers).",
        "",
        *_md_table(("d", *variants, "largest relative difference, float32 / float64",
                    *layer_names), table),
        "",
        *(f"- d={d}: kernel time under TensorFlow's profiler, ms per `log_prob` summed over "
          "both cores (a custom call counts once, its loop runs on both), by HLO opcode: "
          + "; ".join(
              f"{name} " + ", ".join(f"{op} {t:.1f}" for op, t in ms.items())
              + f" ({sum(ms.values()):.1f} in all)" for name, ms in kernels.items())
          for d, kernels in results.get("kernel_ms", {}).items()),
        "",
    ]


def layer_loop_lines(sweep_json):
    """RAD's layers in one XLA loop (`benchmarks/results/layer_loop.json`), if measured."""
    results, path = _read_next_to(sweep_json, LAYER_LOOP_NAME)
    if not results:
        return []
    table = []
    for d, variants in results["programs"].items():
        base = variants["Real NVP"]
        for variant, programs in variants.items():
            step, forward_backward = programs["step"], programs["forward+backward"]
            table.append((
                d, variant,
                *(f"{p['compile_s']:.1f} s ({p['compile_s'] / base[k]['compile_s']:.2f}×)"
                  for k, p in (("step", step), ("forward+backward", forward_backward))),
                f"{step['trace_s']:.2f} / {step['first_call_s']:.2f} s",
                f"{step['hlo_instructions']:,} → {step['optimized_hlo_instructions']:,}",
                *(f"{p['ms']:.2f} ms ({p['ms'] / base[k]['ms']:.2f}×)"
                  for k, p in (("step", step), ("forward+backward", forward_backward)))))
    differences = "; ".join(
        f"d={d} {v['float32']:.0e} / {v['float64']:.0e}"
        for d, v in results["relative_difference"].items())
    return [
        "RAD's layers in one XLA loop, measured: one traced layer run L times by a "
        "`tf.while_loop` over slice j of RAD's stacked weights, the halves swapped after "
        "each layer (`benchmarks/layer_loop.py`; not in the library), against RAD as it is "
        "(its layers unrolled over the same stacked variables) and Real NVP. "
        f"Batch {results['batch']}, XLA; compile = trace + first call - one call. Command "
        f"{_run_sentence(results, path)} "
        "The loop's `log_prob` equals RAD's on perturbed weights, largest relative "
        f"difference float32 / float64: {differences}.",
        "",
        *_md_table(("d", "program", "compile: Adam step", "compile: forward+backward",
                    "Adam step: trace / first call", "Adam step: HLO instructions, before → "
                    "after XLA's passes", "Adam step", "forward+backward"), table),
        "",
        *(f"- d={d}: `log_prob` at batch {results['log_prob_batch']:,} (XLA, in RAD's "
          "blocks of points): " + ", ".join(
              f"{name} {ms:.2f} ms ({ms / times['Real NVP']:.2f}×)"
              for name, ms in times.items())
          for d, times in results.get("log_prob_ms", {}).items()),
        "",
    ]


def depth_lines(results, json_path):
    """The section of a sweep whose RAD has another depth (`--sweep --rad-layers L`)."""
    layers = results["settings"]["rad_layers"]
    return [f"## Dimension sweep, RAD with {layers} layers (`--sweep --rad-layers {layers}`)",
            "", *_measured_lines(results, json_path), *DEPTH_FINDINGS.get(layers, [])]


def markdown_lines(results, json_path):
    """The `## Dimension sweep` section of the performance page."""
    s = results["settings"]
    lines = ["## Dimension sweep (`--sweep`)", "", *_measured_lines(results, json_path)]
    before, path = read_before(json_path)
    if before:
        lines += [
            f"Before the changes of issue 16 (`{path}`, commit "
            f"{before['machine']['git_commit']}, load average "
            f"{before['load_average_start']}, other processes "
            f"{before['other_processes_cores']} cores):",
            "",
            *_md_table(HEADER, _table_rows(before)),
            "",
        ]
    profile = _profile_lines(results)
    if profile:
        lines += ["Where RAD's time goes at the largest dimension:", "", *profile, ""]
    return (lines + ablation_lines(json_path) + arithmetic_lines(json_path, s["num_layers"])
            + custom_call_lines(json_path) + layer_loop_lines(json_path) + FINDINGS)


DEPTH_FINDINGS = {4: [  # by RAD's number of layers
    "What the shallower RAD says (issue 16):",
    "",
    "- **Fewer layers, the same count: about three quarters of RAD's cost.** The fold's "
    "and the gating's arithmetic is per layer and per folded element, so 4 layers do "
    "two thirds of it; the networks keep RAD's parameter count and matrix products. In "
    "one process, interleaved (the ablation above, column *RAD, 4 layers*), its "
    "forward+backward took 0.74 of RAD's at 16-D and at 64-D (1.48× and 1.49× Real NVP's, "
    "RAD's 1.98× and 2.02×), its `log_prob` 0.72 and 0.70 of RAD's (3.3× and 3.0× Real "
    "NVP's).",
    "- **The fit-step targets at the edge, the `log_prob` target missed.** Three runs of "
    "this command on the same day, the machine otherwise idle (0.0-0.01 cores of other "
    "processes), the last one in the table: fit step at spe=50 1.26×, 1.47×, 1.41× Real "
    "NVP's at 16-D (met in all three) and 1.48×, 2.00×, 1.74× at 64-D (met in one); at "
    "spe=1 1.27×, 1.91×, 2.16× and 1.00×, 1.00×, 1.09×; `log_prob` Real NVP / RAD 3.40×, "
    "2.76×, 3.10× and 2.61×, 2.90×, 2.85× (target 2.5, missed in all); first fit call at "
    "spe=50 1.83×, 1.67×, 2.93× and 1.42×, 2.89×, 1.25× (the noisiest figure). The "
    "ratios of one process (the ablation) are steadier than the sweep's, whose figures "
    "each come from 5 `fit` calls per model.",
    "- **Accuracy kept** (`tfp-rad highdim`, RAD 4 layers, see [Higher dimensions]"
    "(high-dimensional.md)): -14.67 ± 0.02 on the 16-D mixture (RAD -14.62, Real NVP "
    "-15.11) and 61.7 ± 5.1 on the 64-D digits (RAD 62.4, Real NVP 57.1; medians 66.3, "
    "65.9, 62.8). For tens of dimensions a user trades 0.06 nats on the mixture for a "
    "quarter of the step: `RADFlow(d, num_layers=4, hidden_units=...)` or `tfp-rad train "
    "--num-layers 4`.",
    "",
]}

FINDINGS = [
    "What the sweep says about RAD's cost (issue 16):",
    "",
    "- **Kept: the values many kernels read are computed once.** XLA:CPU fuses a chain of "
    "cheap element-wise operations into every kernel that reads its result, and rereads "
    "the chain's inputs in each. The fold's backward has eleven outputs, and each needed "
    "the gating's `G_v` (two sine polynomials, the gating logits, their softmax). "
    "`fold_math.computed_once` makes `u`, `v` and the gating's sine, logits and `G_v` the "
    "result of one kernel each (a "
    "division by a tensor of ones that XLA does not fold, which returns its argument bit for "
    "bit but for subnormals, flushed to zero by TensorFlow's CPU arithmetic anyway; the "
    "compiled program's float32 results move only by rounding, as XLA fuses the rest of "
    "the arithmetic differently: less than XLA's own result differs from eager "
    "execution's, which `tests/test_fold_math.py` checks on randomized 6-layer models at "
    "d = 2 and 16: the largest relative differences there are 7e-5 against 2e-4 at d = 2 "
    "and 3e-3 against 7e-3 at d = 16, both amplified through the deep stack; on a milder "
    "randomization 8e-6 against 2e-5 and 3e-6 against 5e-6). "
    "The ablation's *shared values recomputed* column is RAD without it, in the same "
    "process: RAD's forward+backward went from 9.5 to 6.2 ms at 16-D and from 16.2 to "
    "13.4 ms at 64-D in the last run (from 7.2 to 4.3 and from 11.7 to 10.1 in the one "
    "before); `log_prob` from 123 to 111 ms at 64-D (97 to 87 before) and stayed at 45-47 "
    "ms at 16-D (29-30 before). The sweep's fit ratios at spe=50 went from 3.79× and "
    "3.22× (commit 0342d9e) to 2.09× and 1.98× (the sweep at commit 1e43c94). Copies of "
    "the sine polynomial went from 77 kernels to 12 (two per "
    "layer), and their time from 4.0 of 7.0 ms of kernel time at 16-D to 0.3 of 3.6 ms.",
    "- **The fold and gating arithmetic is most of what remains, not all of it** (the "
    "ablation). With both replaced by transcendental-free stand-ins, RAD's training step "
    "is still about 1.2-1.6× Real NVP's and its `log_prob` about 2.2-2.7×. Its networks emit "
    "13 numbers per folded element (10 fold parameters, 3 gating logits) where Real NVP's "
    "emit 2, and all 10 fold parameters go through the scaled tanh. So the 1.5× step "
    "target leaves the fold and gating of six layers a tenth to a fifth of Real NVP's "
    "step. They take about one Real NVP step now, most of it the fold's (the gating "
    "arithmetic is now a tenth of RAD's step at 16-D or less, against two fifths before).",
    "- **They cost per layer and per element.** One layer's fold and gating alone costs "
    "about 0.55-0.7 ms per layer plus 35-75 ns per folded element (the least-squares line "
    "above, over this page's runs). The fixed part is the ~66 kernels (fused loops) XLA "
    "makes of one layer forward and backward. The per-element part is 32 evaluations "
    "of `exp`, `log` and `tanh`, 11 divisions and a few hundred other operations per "
    "folded element and layer (the count above, from the compiled `log_prob`), against "
    "one `exp` and one `tanh` per element and layer in Real NVP; at full throughput "
    "these functions are a fifth to a half of RAD's `log_prob` time (22-51 % over six "
    "runs of `benchmarks.arithmetic`); the passes over memory of its kernels are most of "
    "the rest.",
    "- **Measured and not kept** (scratch A/Bs on RAD's 16-D forward+backward, commit "
    "30d3555, not committed as commands): computing each group of the fold's parameters "
    "with one `exp`, `log` or `tanh` (packing them into one kernel by a concatenation, or "
    "working parameter-major, `[10, N, n]`): 506 kernels down to 291-351, no faster, as "
    "XLA:CPU runs concatenations on a last axis element by element and a transposition "
    "costs what the saved launches did; reading the piece masks from the int32 `k` "
    "instead of five boolean arrays per layer (a boolean operand made a micro-kernel "
    "2.7× slower, but the step did not move); each boundary probability as its own "
    "column instead of stacks of three; a hand-written gradient of `ScaledTanh`'s scale "
    "(a dot product instead of the tree reduction XLA makes of the sum, 54 to 17 µs per "
    "layer in a micro-benchmark; in the whole step paired ratios of 0.93-1.01×): each "
    "within the run-to-run noise of the shared machine (±10 %); and one intra-op thread "
    "for both models (RAD and Real NVP both unchanged, ratio 1.95× against 1.96×).",
    "- **Model-level levers, measured** (accuracy at equal parameter count from `tfp-rad "
    "highdim`, see [Higher dimensions](high-dimensional.md); cost from the ablation above):",
    "    - *No gating network* (`RADFlow(gating_hidden_units=0)`, conditioners widened to "
    "RAD's count; an option that exists): its step costs 12-25 % less than RAD's at 16-D "
    "and about the same at 64-D, its `log_prob` 0-11 % less (across this page's runs). "
    "Accuracy: 0.04 "
    "nats below RAD on the 16-D mixture, still 0.46 above Real NVP; on the 64-D digits "
    "47.4 ± 26.5 against RAD's 62.4 ± 3.5 and Real NVP's 57.1 (one seed's test digit "
    "outside the training range costs it 47 nats there; medians 64.6, 65.9, 62.8).",
    "    - *Boundary probabilities shared by every point* (each layer's `q+-` its own "
    "weights, the conditioners emitting 4 numbers per folded element instead of 10; "
    "branch `issue-16c`, commit 37f70f2, not merged, measured before `computed_once`; "
    "the same two commands there): step 2.92× against RAD's 3.27× Real NVP at 16-D and "
    "1.74× against 2.21× at 64-D, `log_prob` 4.38× against 5.67× and 3.82× against "
    "4.95×. Its accuracy is below Real NVP's on both problems (mixture -15.48 against "
    "-15.11, digits 56.0 against 57.1). The conditioned boundary probabilities are what "
    "puts RAD ahead.",
    "    - *Fewer, wider layers* (RAD's count in 4 layers instead of 6; its own section "
    "below, `--sweep --rad-layers 4`): 0.74 of RAD's forward+backward at 16-D and 64-D in "
    "the ablation above (about 1.5× Real NVP's), 0.70-0.72 of its `log_prob`; 0.06 nats "
    "below RAD on the mixture and 0.7 on the digits, 0.44 and 4.7 above Real NVP.",
    "    - *Real NVP given RAD's cost* (`tfp-rad highdim`: Real NVP with 4 times RAD's "
    "parameters, or 12 layers with twice them, the problems' settings unchanged): their "
    "wall time per step run is about RAD's or more (mixture 8.9 and 10.7 ms against RAD's "
    "9.1; digits 22.8 and 34.5 against 32.8), and neither beats the equal-count Real NVP: "
    "RAD stays 0.45-0.64 nats ahead of every Real NVP on the 16-D mixture and 5.4-7.2 on "
    "the 64-D digits. At about equal cost per step RAD is the more accurate flow on both "
    "problems; the targets above compare cost at equal parameter count.",
    "- **With six layers, no variant measured meets the 16-D and 64-D targets.** The "
    "stand-in ablation bounds any faster fold and gating arithmetic at 1.2-1.6× per step "
    "and 2.2-2.7× in `log_prob` with the paper's architecture. With four layers at the "
    "same count the step targets are at the edge and the `log_prob` target is missed (the "
    "section after the levers). Sharing the boundary probabilities gives up RAD's "
    "accuracy. One kernel per layer for the fold and the gating does not change this "
    "(the next point). The layers in one loop compile their training step in 0.8-1.5× Real "
    "NVP's time at every d (the target is 2×), but slow the 64-D step and `log_prob` (the "
    "point after it).",
    "- **Measured and not kept: one kernel per layer** (`python -m benchmarks.custom_call`, "
    "the table before these points; forward only, in `log_prob`). XLA:CPU runs a "
    "hand-written loop registered as a custom call, and TensorFlow exports XLA's registry, "
    "so the lever can be built with g++ at run time. Alone, on one block of points, the "
    "loops compute one layer's fold and gating 1.6-1.8× faster than XLA's fused loops at "
    "16-D and 64-D. Inside `log_prob` the gain shrinks at 16-D and is gone at 64-D: over "
    "three runs on a quiet machine (the table's is the last), RAD's `log_prob` went from "
    "4.79×, 4.81×, 4.61× Real NVP's to 4.24×, 4.33×, 3.89× at 16-D and from 4.89×, 4.19×, "
    "4.32× to 5.08×, 4.16×, 4.29× at 64-D (and rose at 2-D, 2.73-2.89× to 3.03-3.30×). "
    "The profiler shows why at 64-D: the custom calls take 45.6 ms of a 112-ms call, each "
    "working on both cores; XLA's fold and gating loops take about 90 ms of kernel time "
    "(131.4 ms of fused loops against the stand-ins' 41.5), and XLA runs its kernels on "
    "both cores at once (173 ms of kernel time in a 113-ms call), so they take about as "
    "long. And the stand-ins, with no fold or gating "
    "arithmetic at all, are 2.3× Real NVP's `log_prob` at 16-D and at 64-D in the same run: "
    "no fold kernel can bring the 2.5× target within reach at six layers and equal "
    "parameter count. A backward kernel was not written; the training step is bounded "
    "the same way (1.2-1.6×, the ablation).",
    "- **Kept: the layers' networks in stacked variables. Measured and not kept: the layers "
    "in one loop** (`python -m benchmarks.layer_loop`, the table before these points). "
    "RAD kept each layer's conditioner and gating as Keras MLPs of their own: at six layers "
    "Adam updated 54 variables, and each compiled call handed TensorFlow those and their "
    "108 Adam slots. `RADFlow` now keeps them in two `StackedMLP`s, 9 variables (layer j's "
    "networks are slice j of each); the density is the same, and its committed `.keras` "
    "files load (converted) with bit-identical `log_prob`. The Adam step at one step per "
    "call, in multiples of Real NVP's: before the change 1.06-1.27× at 2-D, 1.69-1.94× at "
    "16-D and 1.95-2.10× at 64-D over four runs of this command (commits 5423d3a to "
    "a1a7bff); the stacked variables, unrolled, 0.68×, 1.57× and 1.65× in the one run "
    "that had both; after the change, the table: 0.67×, 1.50×, 1.66×. Through `fit`, in "
    "one process, RADFlow against `HybridFlow(layers=('rad',) * 6)` (the same density and "
    "count with per-layer networks; scratch A/B, 100-step calls, 7 per model): 0.70× and "
    "0.81× at 16-D and 64-D with one step per call, 1.09× and 0.85× with 50. Three "
    "sweeps after the change (commits 074e364 and ef844b0, the table above is the last; "
    "all three on a machine slower than in the last sweep before, their wall time 387-418 s "
    "against 225 s): `fit` at one step per call 0.82-0.89× "
    "Real NVP's at 2-D, 1.20-1.71× at 16-D and 1.61-1.83× at 64-D, against 1.14×, 1.88× "
    "and 2.10× in the last sweep before; at 50 steps per call 0.62-0.75×, 1.90-2.39× and "
    "1.99-2.40× (one 64-D figure of 4.46× set aside: in that run RAD's 50-step calls were "
    "slower per step than its 1-step calls), against 0.77×, 2.09× and 1.98×, so unchanged "
    "within the noise; `log_prob` 1.60-2.36×, 3.78-4.40×, 4.11-4.49× (2.88×, 3.84×, "
    "4.45×); the first `fit` call's compile 1.75-2.33×, 1.55-2.35×, 1.77-3.64× "
    "(2.48×, 2.57×, 2.67×), the noisiest figures. The compile did not come down in the "
    "layer-loop study: each of the six layers is "
    "still traced and compiled on its own (the table: 2.31×, 2.71×, 3.21× Real NVP's; "
    "2.19-2.69×, 1.75-3.08×, 2.21-2.87× before). One traced layer run six times by a "
    "`tf.while_loop` over the same stacks compiles in 1.10×, 0.85× and 1.51× Real NVP's "
    "time (0.82-1.32× in four runs before the change), within the 2× target, but XLA no "
    "longer fuses across layers: its step took 0.68×, 1.62× and 2.40× Real NVP's and its "
    "`log_prob` 1.2×, 1.2× and 1.5× RAD's at d = 2, 16 and 64 (1.2-1.7× in two runs "
    "before). It stays out of the library: it would trade the 64-D step and `log_prob` "
    "for the compile.",
    "- **At 2-D, steps per call matter.** With 50 steps per call (what "
    "`tfp_rad.training.fit_steps` and the command line use) RAD's `fit` step is faster than "
    "Real NVP's (0.62-0.75× in the three sweeps since RAD's networks were stacked; "
    "0.77-0.80× in the two before); with Keras's default of one step per call it was "
    "0.82-0.89× in those three sweeps, and 1.14×, 1.78× and 1.38× in the three before, "
    "with per-layer networks. One "
    "compiled step per call outside `fit` (the optimizer line above) shows RAD's and Real "
    "NVP's kernels taking about the same time; the work around them in each call varied "
    "between runs from about equal to about 1 ms more for RAD, and is not isolated "
    "further. Each call hands TensorFlow every variable and Adam slot: 54 and 108 for "
    "RAD against 30 and 60 for Real NVP before RAD's networks were stacked, 9 and 18 since "
    "(the sweep above: 0.88× at 2-D). Users of `fit`: "
    "`model.compile(steps_per_execution=50)`.",
    "- The ratios move with the machine's load by ±0.5-1.5 between runs: Real NVP's "
    "step, a few matrix products, gains more from a quiet machine than RAD's hundreds "
    "of small kernels. The compile targets are the noisiest figures (the first call's "
    "excess over the measured rate).",
    "- Kept earlier: `PiecewiseFold` splits and merges by slices and a concatenation when "
    "its folded and pass-through elements are contiguous runs (RADFlow's halves) instead "
    "of gathers, whose gradient is a scatter through transposed copies (8.71 to 8.34 ms "
    "at 16-D and 13.68 to 12.67 ms at 64-D, forward+backward, interleaved A/B; values "
    "equal). RADFlow keeps `log_prob` blocks of 4096 points at every dimension, so a "
    "training batch stays whole (blocks of 4096 / n points had cut the 64-D step from 74 "
    "to 48 ms when removed). The fused fold and gating (`tfp_rad/fold_math.py`, one "
    "custom-gradient pass each) replace TensorFlow's gradient of the `tf.where` chains "
    "(the levers' table below).",
    "- Measured and not kept (interleaved A/Bs against the code as it was): a "
    "parameter-major layout (`[10, N, n]`): no gain; the fold and gating on stacked "
    "tensors (kernels 55 to 24, yet 2.1 against 1.5 ms at n = 8); the fold's six outputs "
    "packed into one tensor (71 kernels, 0.91 against 0.68 ms at n = 8); TensorFlow's "
    "own gradient of the gating (11.7 against 9.5 ms per 16-D step); XLA's `sin` in "
    "place of the polynomial (twice as slow); a float32 polynomial of degree 13 instead "
    "of 21 (no change at 64-D, 3 % at 16-D); XLA optimization barriers around the "
    "gating's gradient and the sine (no change: the kernels stay the same); "
    "`XLA_FLAGS=--xla_cpu_use_fusion_emitters=false` (XLA's older loop emitter, process "
    "wide): RAD / Real NVP 1.85-1.95× against 2.28-2.66× at 16-D but 2.55-2.76× against "
    "2.31-2.38× at 64-D, three runs each, so not a default.",
    "",
]


def text(results):
    """The printed summary of a sweep."""
    table = _table_rows(results)
    widths = [max(len(str(r[i])) for r in [HEADER, *table]) for i in range(len(HEADER))]
    fmt = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths))  # noqa: E731
    parts = [fmt(HEADER), *map(fmt, table), ""]
    parts += [f"d={d}: {t}: {v} {s}" for d, t, v, s in _target_lines(results)]
    parts += _profile_lines(results)
    return "\n".join(parts)


def _cores(results):
    other = results.get("other_processes_cores")
    return "not recorded" if other is None else f"{other} cores"


def levers_lines(results, json_path):
    """The section of the performance page on the levers (`levers.run`'s results)."""
    lines = [
        "### The levers, one at a time (`--levers`)",
        "",
        f"Command `{results['command']}`, commit {results['machine']['git_commit']}, load "
        f"average {results['load_average_start']} at start, other processes "
        f"{_cores(results)}; raw results `{json_path}`. {results.get('note', '')} Every row "
        "times its variants interleaved in one process. *Fused*: the fold and gating of "
        "`tfp_rad.fold_math` with their hand-written gradients; *unfused*: the column-wise "
        "formulas differentiated by TensorFlow (`tfp_rad.fold.FUSED = False`). Step: "
        f"{results['settings']['steps']} Adam steps in one XLA program, batch 500, per step.",
        "",
        "| d | step ms: fused / unfused / Real NVP | step fused / unfused | "
        "log_prob M points/s: fused / unfused / Real NVP | first step call s: fused / "
        "unfused / Real NVP | log_prob M points/s by block size |",
        "|---|---|---|---|---|---|",
    ]
    for d, entry in results["dimensions"].items():
        ab = entry["fused_fold"]
        step, lp, first = ab["step_ms"], ab["log_prob_m_points_s"], ab["first_call_s"]["step"]
        blocks = entry["block_size"]
        by_size = ", ".join(
            f"{size}: {value:.3f}" + (" (picked)" if int(size) == blocks["chosen"] else "")
            for size, value in blocks["m_points_s"].items())
        lines.append(
            f"| {d} | {step[FUSED_KEY]:.2f} / {step[UNFUSED_KEY]:.2f} / {step[RNVP_KEY]:.2f} | "
            f"{step[FUSED_KEY] / step[UNFUSED_KEY]:.2f}× | {lp[FUSED_KEY]:.3f} / {lp[UNFUSED_KEY]:.3f} / "
            f"{lp[RNVP_KEY]:.3f} | {first[FUSED_KEY]:.1f} / {first[UNFUSED_KEY]:.1f} / "
            f"{first[RNVP_KEY]:.1f} | {by_size} |")
    return lines + [""]


STRATEGY_LABELS = {
    "single_xla_spe50": "one device, XLA, steps_per_execution=50 (the CLI's path)",
    "single_xla": "one device, XLA",
    "single_graph": "one device, no XLA",
    "mirrored": "MirroredStrategy, 2 logical CPUs, no XLA (the default under a strategy)",
    "mirrored_xla": "MirroredStrategy, 2 logical CPUs, jit_compile=True",
}


def strategy_lines(results, json_path):
    """The section on training under a strategy (`strategies.run`'s results)."""
    per_step, first, errors = (results["fit_ms_per_step"], results["first_call_s"],
                               results["errors"])
    reference = per_step.get("single_xla")
    lines = [
        "## Training under a strategy (`--strategy`)",
        "",
        "`RADFlow(2)` (the paper's model) through `model.fit`, Adam, global batch "
        f"{results['settings']['batch_size']}, steps_per_execution=1 unless said, "
        f"{results['settings']['fit_steps']} steps per timed call, the variants timed "
        "interleaved in one process whose CPU is split into two logical devices. Both "
        "logical devices share the same two cores, so a strategy cannot gain speed here: "
        "the figures are its cost. "
        f"Command `{results['command']}`, commit {results['machine']['git_commit']}, load "
        f"average {results['load_average_start']} at start, other processes "
        f"{results['other_processes_cores']} cores; raw results `{json_path}`.",
        "",
        "| variant | ms per step | vs one device with XLA (spe=1) | first fit call (s) |",
        "|---|---|---|---|",
    ]
    for name, label in STRATEGY_LABELS.items():
        if name in per_step:
            ratio = f"{per_step[name] / reference:.2f}×" if reference else "—"
            lines.append(f"| {label} | {per_step[name]:.2f} | {ratio} | {first[name]:.1f} |")
        elif name in errors:
            lines.append(f"| {label} | fails: `{errors[name]}` | — | — |")
    return lines + [""]

