"""Interleaved timing of the two models, and the `Figure` that holds one result.

Each repetition times every model once, alternating which goes first, so that slow
drifts of the machine's load affect both models alike; a figure is the median of the
repetitions, and its ratio RAD / Real NVP is the ratio of the medians (the median of the
per-repetition ratios, which pairs neighbouring measurements, is kept in the JSON too).
"""

import dataclasses
import statistics
import time

import numpy as np
import tensorflow as tf

RAD = "rad"
REAL_NVP = "real_nvp"
MODEL_NAMES = {RAD: "RAD", REAL_NVP: "Real NVP"}


def block(outputs):
    """Waits until `outputs` (nested tensors, or anything else) are computed."""
    for value in tf.nest.flatten(outputs):
        if isinstance(value, (tf.Tensor, tf.Variable)):
            value.numpy()
    return outputs


def time_call(fn, number=1):
    """Seconds per call of `fn()` over `number` consecutive calls (outputs waited for)."""
    start = time.perf_counter()
    out = None
    for _ in range(number):
        out = fn()
    block(out)
    return (time.perf_counter() - start) / number


def first_calls(fns):
    """Times the first call of each function (tracing + compiling + one run), in seconds."""
    return {name: time_call(fn) for name, fn in fns.items()}


def interleaved(fns, repeats, warmup=1, number=1):
    """Seconds per call of each function, `repeats` samples each, measured interleaved.

    Args:
      fns: `{name: fn}`; `fn()` runs one unit of work (its outputs are waited for).
      repeats: samples per function.
      warmup: untimed rounds before timing.
      number: calls timed together as one sample.

    Returns:
      `{name: [seconds per call, ...]}`.
    """
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            block(fns[name]())
    samples = {name: [] for name in names}
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            samples[name].append(time_call(fns[name], number))
    return samples


@dataclasses.dataclass
class Figure:
    """One measured quantity for both models.

    Attributes:
      key: identifier (JSON, targets).
      label: what was measured, for people.
      unit: unit of `values` and `samples`.
      higher_is_better: True for throughputs, False for times.
      samples: `{model: [value per repetition]}` in `unit`.
      notes: free text shown next to the figure.
    """

    key: str
    label: str
    unit: str
    higher_is_better: bool
    samples: dict
    notes: str = ""

    @property
    def values(self):
        return {name: statistics.median(s) for name, s in self.samples.items()}

    @property
    def ratio(self):
        """Median RAD / median Real NVP."""
        values = self.values
        return values[RAD] / values[REAL_NVP]

    @property
    def paired_ratio(self):
        """Median over repetitions of RAD / Real NVP measured side by side."""
        rad, nvp = np.asarray(self.samples[RAD]), np.asarray(self.samples[REAL_NVP])
        n = min(len(rad), len(nvp))
        return float(np.median(rad[:n] / nvp[:n]))

    def spread(self, name):
        """Interquartile range of a model's samples, relative to its median."""
        q1, q3 = np.percentile(self.samples[name], [25, 75])
        return float((q3 - q1) / self.values[name])

    def to_json(self):
        return {
            "key": self.key,
            "label": self.label,
            "unit": self.unit,
            "higher_is_better": self.higher_is_better,
            "median": self.values,
            "ratio_rad_over_real_nvp": self.ratio,
            "paired_ratio_median": self.paired_ratio,
            "relative_iqr": {name: self.spread(name) for name in self.samples},
            "repetitions": {name: len(s) for name, s in self.samples.items()},
            "samples": self.samples,
            "notes": self.notes,
        }


def scaled(samples, factor):
    """`{name: [s * factor]}` — e.g. seconds per call to ms per step."""
    return {name: [v * factor for v in values] for name, values in samples.items()}


def inverted(samples, numerator):
    """`{name: [numerator / s]}` — e.g. seconds per call to points per second."""
    return {name: [numerator / v for v in values] for name, values in samples.items()}
