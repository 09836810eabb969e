"""The experiments: the paper's protocol, the studies beyond it, the figures.

They sit on the library (`tfp_rad.models`, `datasets`, `training`, ...) and import nothing
from the command line (`tfp_rad.cli`), which calls them. They share one run store
(`run_store`: one JSON per finished run, resume, atomic writes, config checks), one table
writer (`tables`) and, for the 2-D problems, one training protocol (`protocol`).
Their modules import TensorFlow only inside the functions that train or draw, so that the
command line's `--help`, which reads their defaults, stays fast.
"""
