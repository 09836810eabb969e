"""Checks that turn bad input into a `ValueError` that names the problem.

They run in Python, before any TensorFlow op sees the input, so a user gets a sentence
rather than a NaN loss or a traceback from deep inside a graph.
"""

import numbers

import numpy as np


def positive_int(value, name):
    """Returns `value` as an int if it is a positive integer, else raises `ValueError`."""
    return _int_from(value, 1, f"{name} must be a positive integer")


def is_positive_number(value):
    """Whether `value` is a real number (not a bool), finite and above 0."""
    return (
        isinstance(value, numbers.Real) and not isinstance(value, bool)
        and bool(np.isfinite(value)) and value > 0
    )


def non_negative_int(value, name):
    """Returns `value` as an int if it is an integer >= 0, else raises `ValueError`."""
    return _int_from(value, 0, f"{name} must be a non-negative integer")


def _int_from(value, minimum, requirement):
    """`int(value)` if `value` is an integer (not a bool) >= `minimum`; else `ValueError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{requirement}, got {value!r}.")
    return int(value)


def check_event_size(x, event_size, what):
    """Raises `ValueError` unless tensor `x` has rank >= 1 and last axis `event_size`."""
    rank = x.shape.rank
    if rank == 0:
        raise ValueError(
            f"{what} must have a last axis of event size {event_size}; got a scalar."
        )
    if rank is not None and x.shape[-1] is not None and x.shape[-1] != event_size:
        raise ValueError(
            f"{what} must have event size {event_size} on its last axis; got shape "
            f"{tuple(x.shape)}."
        )


def points_array(x, event_size, dtype, what="data"):
    """Converts training or evaluation data to a finite `[n, event_size]` numpy array.

    Integers and other real dtypes are cast to `dtype` (dequantize integer data yourself if
    that is what it is).

    Raises:
      ValueError: for non-numeric data, a rank other than 2, the wrong event size, no rows,
        or NaN/inf values (with the index of the first bad row).
    """
    array = np.asarray(x)
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
    ):
        raise ValueError(f"{what} must be real numbers; got an array of dtype {array.dtype}.")
    if array.ndim != 2:
        hint = " (reshape 1-D data to [n, 1])" if array.ndim == 1 and event_size == 1 else ""
        raise ValueError(
            f"{what} must be a 2-D array [num_points, {event_size}]; got shape "
            f"{array.shape}{hint}."
        )
    if array.shape[1] != event_size:
        raise ValueError(
            f"{what} must have event size {event_size} (shape [num_points, {event_size}]); "
            f"got shape {array.shape}."
        )
    if array.shape[0] == 0:
        raise ValueError(f"{what} is empty: it has no rows.")
    array = array.astype(np.dtype(dtype), copy=False)
    finite = np.isfinite(array).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise ValueError(
            f"{what} contains NaN or inf in {bad.size} row(s), the first at index {bad[0]}: "
            f"{array[bad[0]].tolist()}. Remove or impute them before training."
        )
    return array


def is_array_like(x):
    """True for data that `points_array` can check (numpy, lists, eager tensors)."""
    import tensorflow as tf  # here, so that the command line's checks need no TensorFlow

    return isinstance(x, (np.ndarray, list, tuple)) or (
        tf.is_tensor(x) and hasattr(x, "numpy")
    )
