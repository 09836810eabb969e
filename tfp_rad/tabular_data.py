"""Real tables that ship inside scikit-learn, and seeded train/validation/test splits.

`load(name)` returns one of scikit-learn's bundled tables (no download), features only
(the class or target column is left out: these are density-estimation problems):

| name | rows x columns | discrete-looking columns |
|---|---|---|
| `iris` | 150 x 4 | all (recorded to 0.1 cm) |
| `diabetes` | 442 x 10 | age (integer years), sex (two values), ... (raw units) |
| `wine` | 178 x 13 | magnesium, proline (integers), ... |
| `breast_cancer` | 569 x 30 | none |
| `digits` | 1797 x 64 | all (grey levels 0..16) |

`split(x, seed, validation_fraction, test_fraction)` is the split used by the tabular
study and `tfp-rad train --data`: a permutation seeded by `seed`, then
`m_test = max(1, round(test_fraction n))` test rows (none if the fraction is 0),
`m_val = max(1, round(validation_fraction n))` validation rows (none if 0), the rest for
training.
"""

import numbers

import numpy as np

from tfp_rad import catalog
from tfp_rad.whitening import table

TABLES = catalog.TABLES
MIN_TRAIN_ROWS = 2


def load(name):
    """The features of a scikit-learn bundled table: `(x float64 [n, d], column names)`.

    Raises:
      ValueError: for a name not in `TABLES`.
    """
    from sklearn import datasets as sklearn_datasets

    if name not in TABLES:
        raise ValueError(f"Unknown table {name!r}; the bundled tables are {list(TABLES)}.")
    if name == "diabetes":
        bunch = sklearn_datasets.load_diabetes(scaled=False)
    else:
        bunch = getattr(sklearn_datasets, f"load_{name}")()
    names = [str(n) for n in bunch.feature_names]
    return np.asarray(bunch.data, np.float64), names


def split(x, seed=0, validation_fraction=0.15, test_fraction=0.2):
    """`(train, validation, test)` rows of `x` by a seeded permutation (module docstring).

    A part whose fraction is 0 is None.

    Raises:
      ValueError: for bad data or fractions (each in `[0, 1)`, their sum below 1), or a
        table too small to give every requested part at least one row and training at
        least `MIN_TRAIN_ROWS`.
    """
    x = table(x, "The table to split")
    for name, fraction in (("validation_fraction", validation_fraction),
                           ("test_fraction", test_fraction)):
        if (isinstance(fraction, bool) or not isinstance(fraction, numbers.Real)
                or not 0 <= fraction < 1):
            raise ValueError(f"{name} must be a number in [0, 1), got {fraction!r}.")
    if validation_fraction + test_fraction >= 1:
        raise ValueError(
            f"validation_fraction + test_fraction = {validation_fraction + test_fraction:g} "
            "leaves no training rows; their sum must be below 1."
        )
    n = len(x)
    sizes = [0 if f == 0 else max(1, round(f * n)) for f in (test_fraction, validation_fraction)]
    if n - sum(sizes) < MIN_TRAIN_ROWS:
        raise ValueError(
            f"A table of {n} rows is too small to split into {sizes[0]} test, {sizes[1]} "
            f"validation and at least {MIN_TRAIN_ROWS} training rows."
        )
    order = np.random.default_rng(seed).permutation(n)
    test, held = order[: sizes[0]], order[sizes[0]: sizes[0] + sizes[1]]
    train = order[sizes[0] + sizes[1]:]
    part = lambda rows: x[np.sort(rows)] if len(rows) else None  # noqa: E731
    return part(train), part(held), part(test)
