"""`tfp-rad plot`'s figures: drawn from models, one PNG per kind and problem."""

import os

import matplotlib.image
import numpy as np

from tfp_rad import datasets
from tfp_rad.experiments import figures
from tfp_rad.models import RADFlow, RealNVPFlow


def test_draw_problem_writes_every_figure(tmp_path):
    models = {"rad": RADFlow(2, num_layers=2), "real_nvp": RealNVPFlow(2, num_layers=2)}
    x = datasets.load("grid", 300, seed=0)
    paths = figures.draw_problem("grid", models, x, str(tmp_path))
    assert [os.path.basename(p) for p in paths] == [
        f"grid-{kind}.png" for kind in ("samples", "latent", "inference", "folding")
    ]
    for path in paths:
        image = matplotlib.image.imread(path)
        assert image.shape[0] > 100 and image.shape[1] > 100
        assert np.ptp(image[..., :3]) > 0.5  # something was drawn, not a blank canvas


def test_folding_figure_needs_no_real_nvp(tmp_path):
    paths = figures.draw_problem(
        "two_moons", {"rad": RADFlow(2, num_layers=1)}, datasets.load("two_moons", 200), str(tmp_path)
    )
    assert len(paths) == 4 and all(os.path.exists(p) for p in paths)
