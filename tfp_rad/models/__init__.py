"""Keras 3 density models: `RADFlow`, the `RealNVPFlow` baseline, and `HybridFlow`."""

from tfp_rad.models.factory import KINDS, make_flow
from tfp_rad.models.flow_model import FlowModel
from tfp_rad.models.hybrid_flow import HybridFlow
from tfp_rad.models.rad_flow import RADFlow
from tfp_rad.models.real_nvp_flow import RealNVPFlow, ShiftAndLogScale

__all__ = [
    "KINDS",
    "FlowModel",
    "HybridFlow",
    "RADFlow",
    "RealNVPFlow",
    "ShiftAndLogScale",
    "make_flow",
]
