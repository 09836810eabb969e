"""Dequantization of discrete-looking columns, so that a continuous density is honest.

A column whose values lie on a grid (integers, a few distinct values, or numbers recorded
to a fixed step such as 0.1) lets a continuous density put ever narrower spikes on the grid
points: its log-likelihood has no upper bound and says nothing about the model. The
standard remedy (Uria et al. 2013; Theis et al. 2016) is to add uniform noise of one grid
step `h_j` to each such column `j` and to model the dequantized data

```none
y_j = x_j + h_j e_j,   e_j ~ U(0, 1)   (seeded)      (other columns: y_j = x_j)
```

A density `p` of `y` is then a density of the table in which each grid value `v` of the
discrete columns `D` owns the cell `[v, v + h)`, and by Jensen's inequality

```none
log P(v_D, x_C) = log E_e[p(v_D + h e, x_C)] + sum_{j in D} log h_j
               >= E_e[log p(v_D + h e, x_C)] + sum_{j in D} log h_j
```

so the mean `log p` of the dequantized rows plus `log_cell_volume = sum_j log h_j` is
(an unbiased estimate of) a lower bound on the log-probability of the discrete values
(mixed with the density of the continuous columns `C`). The likelihoods reported by
tfp_rad for such tables are those of the dequantized data `y`; add `log_cell_volume` to
read them as a bound for the discrete data.

A column is detected as discrete (`detect`) when

- every value is an integer: `h` is the greatest common divisor of the differences
  between its distinct values (1 for consecutive integers), or
- it takes at most `max_distinct` distinct values (default 10), or
- its values are all on a regular grid `min + k h` (`h` the smallest gap between distinct
  values, to a relative `1e-6`) and it has at most half as many distinct values as rows
  (values recorded to a fixed precision and repeated, such as iris's 0.1 cm).

In the last two cases `h` is the smallest gap between distinct values, so the cells of
distinct values never overlap. A constant integer column (such as a digits pixel that is
0 in every image) is integer-valued with step 1; any other constant column has no grid
step and is left to the caller (`whitening.fit` refuses it).

#### References

[1]: Benigno Uria, Iain Murray, Hugo Larochelle. RNADE: The real-valued neural
     autoregressive density-estimator. NeurIPS 2013.
[2]: Lucas Theis, Aaron van den Oord, Matthias Bethge. A note on the evaluation of
     generative models. ICLR 2016.
"""

import dataclasses
import math
import warnings

import numpy as np

from tfp_rad import validation
from tfp_rad.whitening import table

MAX_DISTINCT = 10
_GRID_TOLERANCE = 1e-6


@dataclasses.dataclass(frozen=True)
class Dequantizer:
    """Which columns get uniform noise, and of what width.

    Attributes:
      columns: the indices (from 0) of the dequantized columns, increasing.
      steps: their grid steps `h_j`, in the same order.
      num_columns: the width of the table it applies to.
    """

    columns: tuple
    steps: tuple
    num_columns: int

    @property
    def log_cell_volume(self):
        """`sum_j log h_j`: add it to a mean `log p(y)` to bound the discrete data's."""
        return float(sum(math.log(h) for h in self.steps))

    def __call__(self, x, seed):
        """`x` with `h_j e_j`, `e_j ~ U(0, 1)`, added to each of `columns` (float64 copy).

        Args:
          x: a table `[n, num_columns]`.
          seed: int seed of numpy's `default_rng` (the same seed gives the same noise).
        """
        x = validation.points_array(x, self.num_columns, np.float64, "Dequantized data").copy()
        if self.columns:
            noise = np.random.default_rng(seed).uniform(size=(len(x), len(self.columns)))
            x[:, list(self.columns)] += noise * np.asarray(self.steps)
        return x

    def describe(self, names=None):
        """One line naming the treated columns and their steps (for the command line)."""
        if not self.columns:
            return "no column dequantized"
        names = names or [f"x{j}" for j in range(self.num_columns)]
        treated = ", ".join(f"{names[j]} (step {h:g})" for j, h in zip(self.columns, self.steps))
        return f"dequantized with uniform noise of one grid step: {treated}"


def grid_step(values):
    """The grid step of a column: the gcd of integer gaps, else the smallest gap.

    A constant column of an integer has step 1 (an integer count that happens not to
    vary in this table); any other constant column has none (None).
    """
    distinct = np.unique(np.asarray(values, np.float64))
    integers = np.all(distinct == np.round(distinct)) and np.all(np.abs(distinct) < 2**53)
    if distinct.size < 2:
        return 1.0 if integers else None
    gaps = np.diff(distinct)
    if integers:
        return float(np.gcd.reduce(gaps.astype(np.int64)))
    return float(gaps.min())


def _on_grid(values, step):
    distinct = np.unique(values)
    k = (distinct - distinct[0]) / step
    return bool(np.all(np.abs(k - np.round(k)) <= _GRID_TOLERANCE * np.maximum(1.0, np.abs(k))))


def detect(x, columns=None, max_distinct=MAX_DISTINCT):
    """The `Dequantizer` of a table: detected discrete columns, or the ones named.

    Warns (`UserWarning`) when the table has duplicated rows: with continuous columns
    only, repeated rows mean the data are not from a continuous density (or were
    recorded coarsely), and a flexible model can put spikes on them.

    Args:
      x: the table `[n, d]` (the whole table, or its training rows).
      columns: None to detect (module docstring); a list of column indices (from 0) to
        dequantize those, each by its `grid_step`; `[]` for none.
      max_distinct: a column with at most this many distinct values is discrete.

    Returns:
      A `Dequantizer`.

    Raises:
      ValueError: for bad data, a column index out of range or repeated, or a named
        column that is constant (no grid step).
    """
    x = table(x, "Data to dequantize")
    n, d = x.shape
    max_distinct = validation.positive_int(max_distinct, "max_distinct")
    duplicated = n - len(np.unique(x, axis=0))
    if duplicated:
        warnings.warn(
            f"The table has {duplicated} duplicated row(s) of {n}: a continuous density "
            "gives repeated points probability 0, so they suggest discrete or coarsely "
            "recorded values (dequantize those columns) or copied records.",
            UserWarning,
            stacklevel=2,
        )
    if columns is None:
        chosen = [j for j in range(d) if _is_discrete(x[:, j], max_distinct)]
    else:
        chosen = _checked_columns(columns, d)
    steps = []
    for j in chosen:
        step = grid_step(x[:, j])
        if step is None:
            raise ValueError(f"Column {j} is constant: it has no grid step to dequantize by.")
        steps.append(step)
    return Dequantizer(columns=tuple(chosen), steps=tuple(steps), num_columns=d)


def _is_discrete(values, max_distinct):
    step = grid_step(values)
    if step is None:
        return False
    distinct = np.unique(values)
    if np.all(distinct == np.round(distinct)) or distinct.size <= max_distinct:
        return True
    return distinct.size <= len(values) / 2 and _on_grid(values, step)


def _checked_columns(columns, d):
    chosen = []
    for j in columns:
        j = validation.non_negative_int(j, "a dequantized column index")
        if j >= d:
            raise ValueError(f"Column index {j} is out of range for a table of {d} columns.")
        if j in chosen:
            raise ValueError(f"Column {j} is named twice.")
        chosen.append(j)
    return sorted(chosen)
