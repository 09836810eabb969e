"""`make_flow`: a RAD or Real NVP flow by kind name, as the command line and experiments ask."""

from tfp_rad import catalog
from tfp_rad.models.rad_flow import RADFlow
from tfp_rad.models.real_nvp_flow import RealNVPFlow

KINDS = catalog.MODEL_KINDS


def make_flow(
    kind, event_size, num_layers, hidden_units=None, standardize=False, gating_hidden_units=None,
    context_size=0, whiten=False, defensive_weight=None,
):
    """A `RADFlow` (`kind="rad"`) or `RealNVPFlow` (`kind="real_nvp"`) of these sizes.

    `hidden_units=None` leaves the model's own default, the paper's width (8 for RAD, 56
    for Real NVP); any other value, 0 included, goes to the model, which checks it.
    `gating_hidden_units` is RAD's (None: `hidden_units`). `context_size = m > 0` makes
    a conditional density `p(x | c)` of a context of `m` numbers. `standardize`, `whiten`
    and `defensive_weight` are `FlowModel`'s.

    Raises:
      ValueError: for an unknown kind, impossible sizes, or a gating width for Real NVP.
    """
    if kind not in KINDS:
        raise ValueError(f"Unknown model kind {kind!r}; the kinds are {', '.join(KINDS)}.")
    sizes = {"num_layers": num_layers, "standardize": standardize,
             "context_size": context_size, "whiten": whiten,
             "defensive_weight": defensive_weight}
    if hidden_units is not None:
        sizes["hidden_units"] = hidden_units
    if kind == "rad":
        return RADFlow(event_size, gating_hidden_units=gating_hidden_units, **sizes)
    if gating_hidden_units is not None:
        raise ValueError(f"gating_hidden_units applies to RAD only, not {kind}.")
    return RealNVPFlow(event_size, **sizes)
