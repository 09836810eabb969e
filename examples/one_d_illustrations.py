"""Draws the journal paper's 1-D illustrations (Figs. 2, 4, 6, 8) as PNGs and prints their numbers.

Usage: python examples/one_d_illustrations.py [output folder, default docs/figures/one_d]
"""

import pathlib
import sys

from tfp_rad.experiments import illustrations

folder = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "docs/figures/one_d")
folder.mkdir(parents=True, exist_ok=True)
figures = {
    "trimodal_fold": illustrations.trimodal_fold,
    "sine_gating": illustrations.sine_gating,
    "continuity": illustrations.continuity,
    "smoothing_by_folding": illustrations.smoothing_by_folding,
}
for name, draw in figures.items():
    path = folder / f"{name}.png"
    numbers = draw(path)
    print(f"{path}:")
    for key, value in numbers.items():
        print(f"  {key}: {value}")
