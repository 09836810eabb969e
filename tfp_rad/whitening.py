"""The affine whitening of a table: its mean and the Cholesky factor of its covariance.

A table `x` `[n, d]` is modelled as `x = mean + L u`, where `u` is what a flow (or the
standard normal, for the Gaussian baseline) models and `L` is lower triangular with a
positive diagonal:

```none
mean = (1/n) sum_i x_i
C    = (1/n) sum_i (x_i - mean)(x_i - mean)^T   (+ ridge diag(C), see below)
L    = cholesky(C)                              (C = L L^T)
u    = L^{-1} (x - mean)
log p_X(x) = log p_U(u) - sum_j log L_jj         (the change of variables, |det L| = prod L_jj)
```

With `p_U = N(0, I)` this is exactly the maximum-likelihood full-covariance Gaussian; a flow
on `u` starts from the data's first two moments and only has to model what is left.

A singular covariance has no density (its `L` has a zero on the diagonal). `fit` refuses
it with a `ValueError` that says why: a constant column (named), fewer rows than columns,
or columns that are (nearly) linear combinations of others (the smallest eigenvalue of the
correlation matrix below `1e-10`). The documented fallback is `ridge=r > 0`: the
covariance used is `C + r diag(C)` (every variance inflated by the factor `1 + r`, the
correlations shrunk by it), which is positive definite whenever no column is constant.

The arithmetic runs in float64 whatever the model's dtype.
"""

import numpy as np

from tfp_rad import validation

# The correlation matrix's smallest eigenvalue below which columns count as collinear.
COLLINEAR_EIGENVALUE = 1e-10


def fit(x, ridge=None):
    """The whitening of `x`: `(mean [d], L [d, d])` in float64 (module docstring formulas).

    Args:
      x: a table `[n, d]` of finite real numbers.
      ridge: optional positive float `r`: use `C + r diag(C)` as the covariance.

    Returns:
      `(mean, scale_tril)`, float64 numpy arrays.

    Raises:
      ValueError: for bad data, a constant column (named by its index from 0), fewer rows
        than columns plus one without a ridge, or (nearly) collinear columns without a
        ridge.
    """
    x = table(x, "Whitening data")
    n, d = x.shape
    if ridge is not None and not validation.is_positive_number(ridge):
        raise ValueError(f"ridge must be a positive number or None, got {ridge!r}.")
    mean = x.mean(axis=0)
    centred = x - mean
    variance = np.mean(centred**2, axis=0)
    refuse_constant_columns(x, variance, "Column", "whitening data",
                            "drop it (or, for a discrete column, dequantize it)")
    covariance = centred.T @ centred / n
    if ridge is None:
        if n <= d:
            raise ValueError(
                f"The whitening data has {n} rows for {d} columns: a full covariance needs "
                f"more rows than columns (at least {d + 1}), else it is singular. Use more "
                "rows, fewer columns, or a ridge (ridge=r adds r times each variance)."
            )
        _check_not_collinear(covariance, variance)
    else:
        covariance = covariance + ridge * np.diag(variance)
    return mean, np.linalg.cholesky(covariance)


def refuse_constant_columns(x, spread, noun, data, advice):
    """Raises `ValueError` naming the first column of `x` whose `spread` is not above 0.

    Args:
      x: the table `[n, d]`.
      spread: `[d]` variances or standard deviations.
      noun: what a column is called in the message ("Column", "Feature").
      data: what the table is ("whitening data").
      advice: what to do about it.
    """
    constant = np.flatnonzero(~(spread > 0))
    if constant.size:
        j = constant[0]
        raise ValueError(
            f"{noun} {j} of the {data} is constant (every value is {float(x[0, j])!r}): it "
            f"has no density; {advice}. Constant {noun.lower()}s: {constant.tolist()}."
        )


def table(x, what):
    """`x` checked as a finite float64 table `[n, d]` of any width (`validation.points_array`)."""
    width = np.shape(x)[1] if np.ndim(x) == 2 else 1
    return validation.points_array(x, width, np.float64, what)


def _check_not_collinear(covariance, variance):
    """Raises `ValueError` when the correlation matrix is (nearly) singular, naming columns."""
    scale = np.sqrt(variance)
    correlation = covariance / np.outer(scale, scale)
    eigenvalues, eigenvectors = np.linalg.eigh(correlation)
    if eigenvalues[0] >= COLLINEAR_EIGENVALUE:
        return
    direction = eigenvectors[:, 0]
    involved = np.flatnonzero(np.abs(direction) > 1e-3 * np.abs(direction).max())
    raise ValueError(
        f"Columns {involved.tolist()} of the whitening data are (nearly) linearly dependent "
        f"(smallest eigenvalue of their correlation matrix {eigenvalues[0]:.3g}): their "
        "covariance is singular and has no density. Drop one of them, or use a ridge "
        "(ridge=r adds r times each variance)."
    )


def whiten(x, mean, scale_tril):
    """`u = L^{-1} (x - mean)` for a table `x` `[n, d]` (float64, by triangular solve)."""
    from scipy.linalg import solve_triangular

    centred = np.asarray(x, np.float64) - mean
    return solve_triangular(scale_tril, centred.T, lower=True).T


def log_det(scale_tril):
    """`log |det L| = sum_j log L_jj`, the log-Jacobian of `x = mean + L u`."""
    return float(np.sum(np.log(np.diag(scale_tril))))
