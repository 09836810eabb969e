"""The issue's speed targets, evaluated on measured figures (met/missed is computed)."""

import dataclasses
import operator
from typing import Callable

from benchmarks import settings
from benchmarks.timing import RAD, REAL_NVP, MODEL_NAMES

_COMPARE = {"<=": operator.le, "<": operator.lt, ">=": operator.ge}
_SYMBOL = {"<=": "≤", "<": "<", ">=": "≥"}


@dataclasses.dataclass(frozen=True)
class Target:
    """A speed target: `measure(figures) -> (value, how)`, met if `value <op> threshold`."""

    key: str
    text: str
    op: str
    threshold: float
    unit: str
    measure: Callable

    def evaluate(self, figures):
        try:
            value, how = self.measure(figures)
        except KeyError:
            value, how = None, "not measured in this run"
        met = None if value is None else bool(_COMPARE[self.op](value, self.threshold))
        return {
            "key": self.key,
            "target": self.text,
            "requirement": f"{_SYMBOL[self.op]} {self.threshold:g} {self.unit}".strip(),
            "value": value,
            "unit": self.unit,
            "how": how,
            "met": met,
        }


def _best(figures, kind, name):
    """The faster of the XLA and plain tf.function paths of `kind` for model `name`."""
    options = [(figures[f"{kind}_{mode}"].values[name], mode.replace("_", "."))
               for mode in ("xla", "tf_function") if f"{kind}_{mode}" in figures]
    if not options:
        raise KeyError(kind)
    return max(options)


def _fit_ratio(spe):
    def measure(figures):
        figure = figures[f"fit_spe{spe}"]
        v = figure.values
        return figure.ratio, (
            f"{v[RAD]:.2f} / {v[REAL_NVP]:.2f} ms per step (jit, steps_per_execution={spe})"
        )
    return measure


def _protocol(figures):
    figure = figures["protocol_projection"]
    return figure.values[RAD], figure.notes


def _throughput(kind):
    def measure(figures):
        value, mode = _best(figures, kind, RAD)
        return value, f"RAD, {mode} (the faster path)"
    return measure


def _sampling_gap(figures):
    rad, rad_mode = _best(figures, "sample", RAD)
    nvp, nvp_mode = _best(figures, "sample", REAL_NVP)
    return nvp / rad, (
        f"{MODEL_NAMES[REAL_NVP]} {nvp:.2f} ({nvp_mode}) / RAD {rad:.2f} ({rad_mode}) "
        "M points/s"
    )


def _floor_ratio(figures):
    fit, floor = figures["fit_spe50"].values[RAD], figures["floor"].values[RAD]
    return fit / floor, f"RAD fit {fit:.2f} / fused floor {floor:.2f} ms per step"


TARGETS = (
    Target("fit_vs_real_nvp", "RADFlow step through `model.fit` ≤ 1.3× TFP Real NVP "
           "trained the same way (steps_per_execution=50, as the CLI)",
           "<=", 1.3, "×", _fit_ratio(50)),
    Target("fit_vs_real_nvp_spe1", "same, with `fit`'s default steps_per_execution=1",
           "<=", 1.3, "×", _fit_ratio(1)),
    Target("protocol", f"one RAD run of the {settings.PROTOCOL_STEPS:,}-step protocol "
           "< 2 minutes (projected)", "<", 120.0, "s", _protocol),
    Target("log_prob", f"RAD `log_prob` ≥ 3 M points/s (batch {settings.LARGE_BATCH:,})",
           ">=", 3.0, "M points/s", _throughput("log_prob")),
    Target("sampling", f"RAD sampling ≥ 2.5 M points/s at batch {settings.LARGE_BATCH:,}",
           ">=", 2.5, "M points/s", _throughput("sample")),
    Target("sampling_stretch", "stretch: RAD sampling within 2.5× of Real NVP's "
           "throughput (Real NVP / RAD)", "<=", 2.5, "×", _sampling_gap),
    Target("fit_vs_floor", "RAD fit step within 1.5× of the floor (same model, "
           "K steps fused in one XLA program)", "<=", 1.5, "×", _floor_ratio),
)


def evaluate(figures):
    """`[target result]` for every target, from `{key: Figure}`."""
    return [target.evaluate(figures) for target in TARGETS]
