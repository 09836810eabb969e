"""`versions()`: what a result was computed with, recorded beside every run."""

import os
import platform


def versions():
    """`{package: version}` of tfp_rad, TensorFlow, TFP, Keras and Python, and the machine."""
    import keras
    import tensorflow as tf
    import tensorflow_probability as tfp

    import tfp_rad

    return {
        "tfp_rad": tfp_rad.__version__,
        "tensorflow": tf.__version__,
        "tensorflow_probability": tfp.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }
