"""Held-out log-likelihood along one protocol run: does stopping early change the ranking?

    python results/paper/investigation/curves.py two_moons rad 0
    python results/paper/investigation/curves.py two_moons real_nvp 0

Trains as `tfp-rad reproduce` does (same data, architecture, 50,000 steps, seed) and every
2,500 steps records the mean log-likelihood of 10,000 validation points (a third fresh
sample, data seed 1000 + seed) and of the run's 10,000 test points. Writes
`curve-<problem>-<model>-<seed>.json` next to this file: `curve` rows are
`(step, validation LL, test LL)`, `train` the final training LL, `seconds` the wall time.
"""

import json
import os
import sys
import time

import keras

from tfp_rad import datasets, training
from tfp_rad.experiments import paper
from tfp_rad.models import make_flow


def main(problem, model_name, seed):
    train, test = datasets.train_test_data(problem, 10_000, 10_000, seed)
    validation = datasets.load(problem, 10_000, seed=1000 + seed)
    keras.utils.set_random_seed(seed)
    model = make_flow(model_name, 2, paper.NUM_LAYERS, paper.HIDDEN_UNITS[model_name])
    curve = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if (epoch + 1) % 5 == 0:  # epochs of 500 steps
                curve.append(((epoch + 1) * 500, training.mean_log_likelihood(model, validation),
                              training.mean_log_likelihood(model, test)))

    start = time.time()
    training.fit_steps(model, train, 50_000, verbose=0, callbacks=[Record()], seed=seed)
    result = {"problem": problem, "model": model_name, "seed": seed,
              "seconds": time.time() - start,
              "train": training.mean_log_likelihood(model, train), "curve": curve}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        f"curve-{problem}-{model_name}-{seed}.json")
    with open(path, "w") as f:
        json.dump(result, f)
    best = max(curve, key=lambda row: row[1])
    print(f"{problem} {model_name} seed {seed}: final test {curve[-1][2]:.4f}; "
          f"best validation at step {best[0]}, test there {best[2]:.4f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
