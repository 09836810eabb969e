"""Variants of one protocol run, for the investigation of the two moons tie.

    python results/paper/investigation/variants.py two_moons ident=4 0
    python results/paper/investigation/variants.py two_moons wd=0.004 0 real_nvp

Trains a `RADFlow(2)` (or, with the fourth argument `real_nvp`, the protocol's
`RealNVPFlow(2)`) as `tfp-rad reproduce` does (same data, seed, 50,000 Adam steps of
batch 500, learning rate 5e-3 with cosine decay), with TensorFlow on one thread, after one
change named by the variant:

- `minp=P`: every fold's `min_boundary_probability` is P (the library's default is 1e-3).
  A larger P bounds the slopes more tightly: `q_j >= P / 3`.
- `linear=1`: the conditioners end in their linear output layer, without the scaled tanh
  (so the shifts and the boundary logits are unbounded; the log-scales keep their soft
  clip `B tanh(r / B)`).
- `ident=L`: initialization near the identity: the constant L is added to the raw logits
  of `q+[0]` and `q-[0]`, so at initialization `q+ = q- = (e^L, 1, 1) / (e^L + 2)` and the
  fold is `alpha1 ~ 1` on most of `[-1, 1]`, with two thin steep pieces near `u = 1`.
- `wd=W`: Keras's decoupled weight decay `W` on every weight (`training.fit_steps`'s
  `weight_decay`: `theta <- theta - lr_t W theta` after each Adam step).
- `noise=S` (two moons only): the moons' band is `S` wide instead of 0.1 (the std of the
  mixture's components), with 400 centres per moon instead of 100 so that the band stays
  smooth along the curve at small `S`; data, validation, test and oracle all come from
  that distribution.
- `gating=G` (RAD): gating networks of `G` hidden units instead of 8 (`gating_hidden_units`;
  0 leaves only the boundary interpolation of the gating logits).
- `std=1`: the model standardizes its input (`standardize=True`, adapted to the
  training points).
- `minp=0.001` (RAD) or `wd=0` (either model): the protocol's model itself (the baseline
  of these runs).

Records the mean log-likelihood of the training points, of 10,000 validation points (a
third fresh sample, data seed 1000 + seed, for choosing between variants without the test
set) and of the run's test points, with the true density's, in
`variants/<problem>-<variant>-s<seed>-<steps>.json` next to this file
(`<problem>-real_nvp-<variant>-...` for Real NVP). Set `STEPS` to train for another number
of steps. A finished run is skipped.
"""

import functools
import json
import os
import sys
import time

import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tfp_rad import datasets, training  # noqa: E402
from tfp_rad.models import RADFlow, make_flow  # noqa: E402


def main(problem, variant, seed, model_kind="rad"):
    steps = int(os.environ.get("STEPS", 50_000))
    name = problem if model_kind == "rad" else f"{problem}-{model_kind}"
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "variants",
                        f"{name}-{variant}-s{seed}-{steps}.json")
    if os.path.exists(path):
        return
    kind, value = variant.split("=")
    if kind == "noise":
        if problem != "two_moons":
            raise ValueError("noise=S is a variant of two_moons only")
        datasets._BUILDERS[problem] = functools.partial(datasets._two_moons, 400, float(value))
    x_train, x_test = datasets.train_test_data(problem, 10_000, 10_000, seed)
    x_val = datasets.load(problem, 10_000, seed=1000 + seed)
    keras.utils.set_random_seed(seed)
    if kind == "linear":
        from tfp_rad.models import layers, rad_flow

        def mlp_without_tanh(*args, scaled_tanh=False, **kwargs):
            return layers.mlp(*args, scaled_tanh=False, **kwargs)

        rad_flow.mlp = mlp_without_tanh
    if kind == "ident":
        from tfp_rad import fold

        original = fold.fold_parameters_from_raw
        offset = np.zeros(10, np.float32)
        offset[4] = offset[7] = float(value)
        fold.fold_parameters_from_raw = lambda raw, *args: original(raw + offset, *args)
    if kind == "gating":
        model = RADFlow(2, num_layers=6, hidden_units=8, gating_hidden_units=int(value))
    else:
        model = make_flow(model_kind, 2, 6, None, standardize=kind == "std")
    if kind == "std":
        model.adapt(x_train)
    if kind == "minp":
        for f in model.folds:
            f.min_boundary_probability = float(value)
    weight_decay = float(value) if kind == "wd" and float(value) > 0 else None
    start = time.time()
    training.fit_steps(model, x_train, steps, seed=seed, verbose=0, weight_decay=weight_decay)

    def log_likelihood(x):
        return float(training.mean_log_likelihood(model, x))

    def oracle(x):
        return float(np.mean(datasets.get(problem).log_prob(x)))

    record = dict(problem=problem, model=model_kind, variant=variant, seed=seed, steps=steps,
                  train=log_likelihood(x_train), val=log_likelihood(x_val),
                  test=log_likelihood(x_test), oracle_test=oracle(x_test),
                  oracle_val=oracle(x_val), wall=time.time() - start)
    with open(path, "w") as f:
        json.dump(record, f, indent=1)
    print(record)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), *sys.argv[4:])
