"""Saving and loading tfp_rad models as `.keras` files, with errors that name the problem.

`save_model` refuses non-finite weights and never leaves a half-written file; `load_model`
loads in Keras's safe mode and accepts only a tfp_rad `FlowModel` with finite weights.
"""

import os
import zipfile

import keras
import numpy as np

from tfp_rad.models.flow_model import FlowModel

_PARTIAL = ".partial"


def non_finite_weights(model):
    """The paths of `model`'s weight tensors that hold NaN or inf, in model order."""
    return [w.path for w in model.weights if not np.all(np.isfinite(np.asarray(w)))]


def save_model(model, path):
    """Saves a `FlowModel` to the `.keras` file `path`, atomically, if its weights are finite.

    The archive is written to a hidden `.<name>.partial.keras` file next to `path`, then
    renamed to `path`: a process killed while saving leaves the previous `path` (or none),
    never a truncated one. The optimizer and its state are saved with the model (Keras's
    default), and `load_model` restores them.

    Args:
      model: a `FlowModel` (e.g. `RADFlow`, `RealNVPFlow`).
      path: the file name, ending in `.keras`.

    Raises:
      ValueError: if `path` does not end in `.keras`, `model` is not a `FlowModel`, or some
        of its weights are NaN or inf (a diverged training run); nothing is written then.
    """
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ValueError(f"A tfp_rad model is saved to a .keras file; got the path {path!r}.")
    if not isinstance(model, FlowModel):
        raise ValueError(
            f"save_model saves tfp_rad flow models (FlowModel); got a {type(model).__name__}."
        )
    bad = non_finite_weights(model)
    if bad:
        raise ValueError(
            f"Refusing to save {model.name} to {path}: {len(bad)} of its weight tensors hold "
            f"NaN or inf (the first: {bad[0]}). Its training probably diverged."
        )
    directory, name = os.path.split(path)
    partial = os.path.join(directory, f".{name[: -len('.keras')]}{_PARTIAL}.keras")
    model.save(partial)
    os.replace(partial, path)


def load_model(path):
    """Loads a tfp_rad model saved with `save_model` or `model.save`, in Keras's safe mode.

    Safe mode (`safe_mode=True`) refuses archives whose config would run Python code
    (lambdas). A model saved compiled comes back compiled, with its optimizer's state.

    Args:
      path: a `.keras` file.

    Returns:
      The `FlowModel` (`RADFlow`, `RealNVPFlow`).

    Raises:
      ValueError: naming the file and the problem, when it does not exist, is not a
        `.keras` archive (truncated or corrupt), cannot be loaded by Keras (unknown or
        unsafe objects, weights of another architecture), holds another kind of model, or
        holds NaN or inf weights.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"Cannot load a tfp_rad model from {path}: there is no such file.")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"Cannot load a tfp_rad model from {path}: it is not a .keras archive (a zip "
            "file); it may be truncated or corrupt."
        )
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except Exception as error:  # Keras raises many types; the message is what matters.
        raise ValueError(
            f"Cannot load a tfp_rad model from {path}: {type(error).__name__}: {error}"
        ) from error
    if not isinstance(model, FlowModel):
        raise ValueError(
            f"{path} holds a {type(model).__name__}, not a tfp_rad flow model (FlowModel, "
            "e.g. RADFlow or RealNVPFlow)."
        )
    bad = non_finite_weights(model)
    if bad:
        raise ValueError(
            f"{path} holds a {type(model).__name__} with NaN or inf in {len(bad)} weight "
            f"tensor(s) (the first: {bad[0]}); it cannot compute densities."
        )
    return model
