"""Saving and loading tfp_rad models as `.keras` files, with errors that name the problem.

`save_model` refuses non-finite weights and never leaves a half-written file; `load_model`
loads in Keras's safe mode and accepts only a tfp_rad `FlowModel` with finite weights.
"""

import copy
import io
import json
import os
import re
import warnings
import zipfile

import h5py
import keras
import numpy as np

from tfp_rad.models.flow_model import FlowModel
from tfp_rad.models.rad_flow import WEIGHTS_LAYOUT

# A weight of a RADFlow saved with its weights per layer: layer j's conditioner (inside
# its fold) or gating, and which of the MLP's weights it is.
_PER_LAYER_WEIGHT = re.compile(
    r"(folds/piecewise_fold|gatings/sequential)(?:_(\d+))?/(?:conditioner/)?layers/"
    r"(dense|dense_1|scaled_tanh)/vars/(\d)$")
_STACKED_NAME = {("dense", "0"): "hidden_kernel", ("dense", "1"): "hidden_bias",
                 ("dense_1", "0"): "output_kernel", ("dense_1", "1"): "output_bias",
                 ("scaled_tanh", "0"): "scale"}
_FOLD_WEIGHTS = re.compile(r"folds/piecewise_fold(?:_(\d+))?$")

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
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
            if _per_layer_rad(config):
                model = _load_per_layer_rad(config, archive.read("model.weights.h5"))
            else:
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


def _per_layer_rad(config):
    """Whether a `.keras` config holds a `RADFlow` saved with its weights per layer."""
    return (config.get("class_name") == "RADFlow"
            and "weights_layout" not in config.get("config", {}))


def _load_per_layer_rad(config, weights_file):
    """A `RADFlow` saved with its weights per layer, its weights moved into the stacks.

    Layer j's conditioner and gating weights become slice j of `conditioners` and
    `gating_networks`; the model's own weights and free-standing folds' parameters keep
    their places. The density is the saved one. The optimizer's state is not carried over:
    a compiled model comes back compiled with a fresh optimizer.
    """
    config = copy.deepcopy(config)
    config["config"]["weights_layout"] = WEIGHTS_LAYOUT
    model = keras.saving.deserialize_keras_object(config, safe_mode=True)
    stores = {}
    with h5py.File(io.BytesIO(weights_file), "r") as weights:
        arrays = {}
        weights.visititems(lambda name, item: arrays.__setitem__(name, item[()])
                           if isinstance(item, h5py.Dataset) else None)
    for name, array in arrays.items():
        if name.startswith("optimizer/"):
            continue
        match = _PER_LAYER_WEIGHT.match(name)
        if match:
            stack = (model.conditioners if match.group(1).startswith("folds")
                     else model.gating_networks)
            stack.assign_network(int(match.group(2) or 0),
                                 _STACKED_NAME[match.group(3), match.group(4)], array)
            continue
        owner, _, index = ("/" + name).rpartition("/vars/")
        stores.setdefault(owner.lstrip("/"), {})[index] = array
    for owner, store in stores.items():
        fold = _FOLD_WEIGHTS.match(owner)
        if owner == "":
            model.load_own_variables(store)
        elif fold:
            model.folds[int(fold.group(1) or 0)].load_own_variables(store)
        else:
            raise ValueError(f"its weight {owner} belongs to no part of a RADFlow")
    if any(name.startswith("optimizer/") for name in arrays):
        warnings.warn("This RADFlow was saved with its weights per layer (before tfp_rad kept "
                      "them stacked); its weights are converted, its optimizer's state is not.",
                      stacklevel=3)
    return model
