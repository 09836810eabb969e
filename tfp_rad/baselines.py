"""Classical density baselines for a table: a Gaussian, a Gaussian mixture, a kernel density.

Each is fitted to the training rows, has its settings chosen on the validation rows where
it has any, and gives `log p(x)` in the data's own units, so its mean log-likelihood (nats
per point) compares directly with a flow's on the same rows.

- `Gaussian`: the maximum-likelihood full-covariance Gaussian,
  `log p(x) = log N(u; 0, I) - sum_j log L_jj` with `u = L^{-1} (x - mean)` (the whitening
  of `tfp_rad.whitening`, which refuses a singular covariance unless given a ridge).
- `GaussianMixture`: scikit-learn's `GaussianMixture` fitted to the whitened training
  rows `u` (so its covariance regularization `reg_covar = 1e-6` is relative to the data's
  scale), for each number of components in `COMPONENTS` (those with at most
  `n_train / 10` components) and each covariance type in `COVARIANCE_TYPES`; the pair with
  the highest validation log-likelihood is kept:
  `log p(x) = log sum_k w_k N(u; mu_k, S_k) - sum_j log L_jj`.
- `KernelDensity`: scikit-learn's Gaussian `KernelDensity` on the whitened training rows,
  `log p(x) = log (1/n) sum_i N(u; u_i, b^2 I) - sum_j log L_jj`, the bandwidth `b`
  chosen on the validation rows among `BANDWIDTH_FACTORS` times Scott's rule
  `n^(-1/(d+4))`.

On large tables the choices are made on seeded subsets: at most `MAX_SELECTION_TRAIN`
training rows fit the candidate settings and at most `MAX_SELECTION_VALIDATION`
validation rows score them; the chosen mixture is then refitted to all the training
rows, and the KDE keeps its subset (its cost per point evaluated grows with its rows).

`fit_baselines` fits all three and returns their `BaselineResult`s.
"""

import dataclasses

import numpy as np

from tfp_rad import validation, whitening

COMPONENTS = (1, 2, 3, 5, 8, 12, 20)
COVARIANCE_TYPES = ("full", "diag", "tied", "spherical")
BANDWIDTH_FACTORS = tuple(np.geomspace(0.05, 2.0, 14).round(4))
MIN_ROWS_PER_COMPONENT = 10
MAX_SELECTION_TRAIN = 10_000
MAX_SELECTION_VALIDATION = 5_000


def _subset(u, at_most, seed):
    """`u`, or a seeded subset of `at_most` of its rows (in their order)."""
    if len(u) <= at_most:
        return u
    rows = np.sort(np.random.default_rng(seed).choice(len(u), at_most, replace=False))
    return u[rows]


@dataclasses.dataclass(frozen=True)
class BaselineResult:
    """Mean log-likelihoods (nats per point) of a fitted baseline, and its chosen settings.

    `validation` and `test` are None for rows that were not given.
    """

    name: str
    train: float
    validation: float | None
    test: float | None
    settings: dict

    def as_dict(self):
        return dataclasses.asdict(self)


class Gaussian:
    """The maximum-likelihood full-covariance Gaussian of the training rows."""

    name = "gaussian"

    def __init__(self, x_train, ridge=None):
        self.mean, self.scale_tril = whitening.fit(x_train, ridge)
        self.settings = {"ridge": ridge}

    def whiten(self, x):
        """`u = L^{-1} (x - mean)` (float64)."""
        x = validation.points_array(x, len(self.mean), np.float64, "Points")
        return whitening.whiten(x, self.mean, self.scale_tril)

    def log_prob(self, x):
        """`log N(x; mean, L L^T)` per row (float64 `[n]`)."""
        u = self.whiten(x)
        d = u.shape[1]
        return (-0.5 * np.sum(u**2, axis=1) - 0.5 * d * np.log(2 * np.pi)
                - whitening.log_det(self.scale_tril))


class GaussianMixture:
    """scikit-learn's `GaussianMixture` on whitened rows, its size chosen on validation."""

    name = "gaussian_mixture"

    def __init__(self, x_train, x_validation, seed=0, components=COMPONENTS,
                 covariance_types=COVARIANCE_TYPES, ridge=None):
        from sklearn.mixture import GaussianMixture as SklearnMixture

        self.whitening = Gaussian(x_train, ridge)
        u_all = self.whitening.whiten(x_train)
        u_train = _subset(u_all, MAX_SELECTION_TRAIN, seed)
        u_validation = _subset(self.whitening.whiten(x_validation), MAX_SELECTION_VALIDATION,
                               seed)
        most = max(1, len(u_all) // MIN_ROWS_PER_COMPONENT)
        best = None
        for k in [k for k in components if k <= most] or [1]:
            for kind in covariance_types:
                mixture = SklearnMixture(k, covariance_type=kind, random_state=seed)
                mixture.fit(u_train)
                score = float(np.mean(mixture.score_samples(u_validation)))
                if best is None or score > best[0]:
                    best = (score, mixture, {"components": k, "covariance_type": kind})
        _, self.mixture, self.settings = best
        if len(u_train) < len(u_all):
            self.mixture = SklearnMixture(
                self.settings["components"], covariance_type=self.settings["covariance_type"],
                random_state=seed,
            ).fit(u_all)

    def log_prob(self, x):
        return self.mixture.score_samples(self.whitening.whiten(x)) - whitening.log_det(
            self.whitening.scale_tril)


class KernelDensity:
    """scikit-learn's Gaussian `KernelDensity` on whitened rows, bandwidth chosen on validation."""

    name = "kde"

    def __init__(self, x_train, x_validation, factors=BANDWIDTH_FACTORS, ridge=None, seed=0):
        from sklearn.neighbors import KernelDensity as SklearnKernelDensity

        self.whitening = Gaussian(x_train, ridge)
        u_train = _subset(self.whitening.whiten(x_train), MAX_SELECTION_TRAIN, seed)
        u_validation = _subset(self.whitening.whiten(x_validation), MAX_SELECTION_VALIDATION,
                               seed)
        n, d = u_train.shape
        scott = n ** (-1.0 / (d + 4))
        best = None
        for factor in factors:
            kde = SklearnKernelDensity(bandwidth=float(factor * scott)).fit(u_train)
            score = float(np.mean(kde.score_samples(u_validation)))
            if best is None or score > best[0]:
                best = (score, kde, {"bandwidth": float(factor * scott),
                                     "bandwidth_factor": float(factor)})
        _, self.kde, self.settings = best

    def log_prob(self, x):
        return self.kde.score_samples(self.whitening.whiten(x)) - whitening.log_det(
            self.whitening.scale_tril)


def result(model, x_train, x_validation=None, x_test=None):
    """The `BaselineResult` of a fitted baseline on the rows given."""
    mean = lambda x: None if x is None else float(np.mean(model.log_prob(x)))  # noqa: E731
    return BaselineResult(model.name, mean(x_train), mean(x_validation), mean(x_test),
                          dict(model.settings))


def fit_baselines(x_train, x_validation, x_test=None, seed=0, ridge=None):
    """Fits the Gaussian, the Gaussian mixture and the KDE; returns their results.

    Args:
      x_train, x_validation: tables `[n, d]`, `[m, d]` (validation chooses settings).
      x_test: optional table `[k, d]`, evaluated only.
      seed: the mixtures' `random_state`.
      ridge: optional whitening ridge (see `tfp_rad.whitening`).

    Returns:
      A list of `BaselineResult`: gaussian, gaussian_mixture, kde.

    Raises:
      ValueError: for bad or mismatched tables, or a singular training covariance.
    """
    x_train = whitening.table(x_train, "Training rows")
    d = x_train.shape[1]
    x_validation = validation.points_array(x_validation, d, np.float64, "Validation rows")
    if x_test is not None:
        x_test = validation.points_array(x_test, d, np.float64, "Test rows")
    models = [
        Gaussian(x_train, ridge),
        GaussianMixture(x_train, x_validation, seed=seed, ridge=ridge),
        KernelDensity(x_train, x_validation, ridge=ridge, seed=seed),
    ]
    return [result(m, x_train, x_validation, x_test) for m in models]


def best_on_validation(results):
    """The `BaselineResult` with the highest validation log-likelihood."""
    return max(results, key=lambda r: r.validation)


def comparison(flow_validation, results):
    """How a flow's validation log-likelihood compares with the baselines': a dict.

    Returns `{"best_baseline": name, "best_baseline_validation": value,
    "flow_minus_best_baseline": flow - best, "flow_below_best_baseline": bool,
    "message": one sentence}`, the sentence saying plainly when the flow is below.
    """
    best = best_on_validation(results)
    gap = float(flow_validation - best.validation)
    below = gap < 0
    if below:
        message = (
            f"The flow is below the best baseline on the validation rows: {best.name} "
            f"{best.validation:.4f} against the flow's {flow_validation:.4f} nats/point "
            f"({gap:+.4f}); prefer {best.name} for this table, or more data."
        )
    else:
        message = (
            f"The flow is above the best baseline on the validation rows ({best.name} "
            f"{best.validation:.4f}, the flow {flow_validation:.4f}: {gap:+.4f} nats/point)."
        )
    return {
        "best_baseline": best.name,
        "best_baseline_validation": best.validation,
        "flow_minus_best_baseline": gap,
        "flow_below_best_baseline": below,
        "message": message,
    }

