"""The names of what `tfp_rad` ships, importable without TensorFlow.

The command line lists these in its `--help` before (and without) importing TensorFlow;
the modules that implement them (`datasets`, `models`, `training`) take their names from
here, so that the two never disagree.
"""

PROBLEMS = ("grid", "ring", "two_moons", "two_circles", "spiral", "many_moons")
"""The paper's six 2-D problems (`tfp_rad.datasets`)."""

CONDITIONAL_PROBLEMS = ("moving_mixture", "abs_posterior")
"""The 2-D problems with a known conditional density (`tfp_rad.conditional_datasets`)."""

MODEL_KINDS = ("rad", "real_nvp")
"""The flows of `tfp_rad.models.make_flow`: `RADFlow` and the `RealNVPFlow` baseline."""

MODEL_NAMES = {"rad": "RAD", "real_nvp": "Real NVP"}
"""How tables and figures name each of `MODEL_KINDS`."""

DECAYS = ("cosine", "none")
"""The learning-rate schedules of `tfp_rad.training.fit_steps`."""

LEARNING_RATE = 5e-3
"""Adam's default learning rate, that of the paper's protocol (`tfp-rad train`)."""

TABLES = ("iris", "diabetes", "wine", "breast_cancer", "digits")
"""scikit-learn's bundled tables (`tfp_rad.tabular_data`) of `tfp-rad study tabular`."""

DATA_DEFENSIVE_WEIGHT = 0.05
"""The standard normal's share in the defensive mixture of the models for tables
(`training.data_architecture`, `tfp-rad train --data`; `tfp_rad.models.defensive`)."""
