"""tfp_rad: RAD ("Real and Discrete") deep mixture flows for TensorFlow Probability.

The names below are loaded on first use (PEP 562), so that `import tfp_rad.catalog` or the
command line's `--help` do not import TensorFlow; `import tfp_rad` then
`tfp_rad.PiecewiseFold` works as usual.
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "FoldParameters": "tfp_rad.fold",
    "PiecewiseFold": "tfp_rad.fold",
    "PhiloxMultivariateNormalDiag": "tfp_rad.philox_sampling",
    "LayerInference": "tfp_rad.rad_distribution",
    "RADDistribution": "tfp_rad.rad_distribution",
    "load_model": "tfp_rad.saving",
    "save_model": "tfp_rad.saving",
}
_SUBMODULES = ("data_files", "datasets", "models")

__all__ = sorted([*_EXPORTS, *_SUBMODULES])


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"tfp_rad.{name}")
    raise AttributeError(f"module 'tfp_rad' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *__all__])
