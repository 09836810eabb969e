"""How the files here were made: RADFlows saved with their weights per layer.

Run with the code of commit 674fcd7 (before RADFlow kept its weights stacked), from the
repository root: `python tests/data/unstacked/make_files.py`. It writes one small model
per kind of weight the conversion in `tfp_rad.saving` moves (conditioners, gatings, a
free-standing fold's parameters, the standardization, whitening and context weights),
trained a little and saved compiled, and `log_prob.json` with each model's log-density at
its points.
"""

import json

import keras
import numpy as np

from tfp_rad import saving
from tfp_rad.models import RADFlow

OUTPUT = "tests/data/unstacked"
CASES = {
    "rad3_standardized": dict(event_size=3, num_layers=3, hidden_units=4, standardize=True),
    "rad2_conditional_whitened": dict(event_size=2, num_layers=2, hidden_units=4,
                                      context_size=1, whiten=True, gating_hidden_units=3),
    "rad1": dict(event_size=1, num_layers=2, hidden_units=4),
    "rad4_ungated": dict(event_size=4, num_layers=2, hidden_units=4, gating_hidden_units=0),
}


def main():
    rng = np.random.default_rng(0)
    records = {}
    for name, settings in CASES.items():
        keras.utils.set_random_seed(1)
        model = RADFlow(**settings)
        d, m = settings["event_size"], settings.get("context_size", 0)
        x = rng.normal(size=(64, d)).astype("float32") * 2 + 1
        context = rng.normal(size=(64, m)).astype("float32") if m else None
        if settings.get("standardize") or settings.get("whiten"):
            model.adapt(x, context) if m else model.adapt(x)
        for variable in model.trainable_variables:
            variable.assign(variable + 0.2 * rng.standard_normal(variable.shape).astype("float32"))
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        model.fit({"x": x, "context": context} if m else x, epochs=1, batch_size=32, verbose=0)
        saving.save_model(model, f"{OUTPUT}/{name}.keras")
        log_prob = model.log_prob(x, context=context) if m else model.log_prob(x)
        records[name] = {"x": x.tolist(), "context": None if context is None else context.tolist(),
                         "log_prob": np.asarray(log_prob).tolist()}
    with open(f"{OUTPUT}/log_prob.json", "w") as f:
        json.dump(records, f)


if __name__ == "__main__":
    main()
