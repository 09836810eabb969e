"""Keeps TensorFlow's C++ start-up log out of the command line's output.

Importing TensorFlow writes a dozen lines straight to file descriptor 2 before its logging
is configured (oneDNN notices, "Could not find cuda drivers", "failed call to cuInit" on
a machine without a GPU): `TF_CPP_MIN_LOG_LEVEL` does not reach them. `tensorflow_imported`
imports TensorFlow with descriptor 2 pointed at a temporary file, and replays what was
captured only if the import fails. Past start-up, `TF_CPP_MIN_LOG_LEVEL` (3 unless the user
set it) hides the rest of the C++ log.
"""

import contextlib
import os
import sys
import tempfile

# Past start-up, TensorFlow honours this: 3 hides its C++ info, warning and error lines
# (on this CPU oneDNN logs a spurious error line); failures still raise Python errors.
LOG_LEVEL = "3"


def tensorflow_imported(show_log=False):
    """Imports TensorFlow, TFP and Keras, initializes the devices, and returns nothing.

    With `show_log`, TensorFlow's start-up log goes to standard error as usual;
    otherwise it is captured and dropped (replayed to standard error if the import or
    device set-up raises).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if show_log else LOG_LEVEL)
    context = contextlib.nullcontext() if show_log else _descriptor_2_captured()
    with context:
        import keras  # noqa: F401
        import tensorflow as tf
        import tensorflow_probability  # noqa: F401

        tf.config.list_logical_devices()  # where "failed call to cuInit" is written


@contextlib.contextmanager
def _descriptor_2_captured():
    """Points file descriptor 2 at a temporary file for the block; restores it after."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace"))
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
