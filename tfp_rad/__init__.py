"""tfp_rad: RAD ("Real and Discrete") deep mixture flows for TensorFlow Probability."""

from tfp_rad import data_files, datasets, models
from tfp_rad.fold import FoldParameters, PiecewiseFold
from tfp_rad.philox_sampling import PhiloxMultivariateNormalDiag
from tfp_rad.rad_distribution import LayerInference, RADDistribution
from tfp_rad.saving import load_model, save_model

__version__ = "0.1.0"

__all__ = [
    "FoldParameters",
    "LayerInference",
    "PhiloxMultivariateNormalDiag",
    "PiecewiseFold",
    "RADDistribution",
    "data_files",
    "datasets",
    "load_model",
    "models",
    "save_model",
]
