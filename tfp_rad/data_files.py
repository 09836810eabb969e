"""Reading and writing points `[n, d]` as `.csv` or `.npy` files, with errors that name the problem.

`load_points` accepts

- `.csv`: comma-separated numbers, one point per line, every line with the same number of
  columns. The first line is a header (column names, ignored) when any of its cells is not
  a number; blank lines are skipped.
- `.npy`: a numeric array saved with `np.save`, of shape `[n, d]`, or `[n]` for one
  feature (read as `[n, 1]`). Object arrays are refused (they would need pickle).

Every problem (a missing file, an unknown extension, no data, ragged rows, a cell that is
not a number, a corrupt `.npy`, NaN or inf) is a `ValueError` whose message names the file
and, for a `.csv`, the line and column.
"""

import csv
import os

import numpy as np

from tfp_rad import validation

FORMATS = (".csv", ".npy")


def file_format(path):
    """The extension of `path` (`".csv"` or `".npy"`, lower case); else `ValueError`."""
    extension = os.path.splitext(os.fspath(path))[1].lower()
    if extension not in FORMATS:
        raise ValueError(
            f"{path}: unknown file type {extension or '(no extension)'!r}; points are read "
            "from and written to .csv (comma-separated) or .npy (numpy) files."
        )
    return extension


def load_points(path):
    """Reads the points of a `.csv` or `.npy` file as a finite float64 array `[n, d]`.

    Args:
      path: the file (str or path-like).

    Returns:
      A float64 numpy array `[n, d]` with `n >= 1`, `d >= 1` and no NaN or inf.

    Raises:
      ValueError: naming the file and the problem: no such file, an extension other than
        `.csv`/`.npy`, no data rows, ragged rows (the line and both column counts), a
        cell that is not a number (its line and column), a `.npy` that is not a numpy
        array file, is truncated, holds Python objects or has a rank other than 1 or 2,
        and NaN or inf values.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"Cannot read points from {path}: there is no such file.")
    if file_format(path) == ".csv":
        return _load_csv(path)
    return _load_npy(path)


def column_names(path):
    """The header names of a `.csv` file's columns, or None (no header line, or `.npy`)."""
    path = os.fspath(path)
    if file_format(path) != ".csv" or not os.path.isfile(path):
        return None
    with open(path, newline="", encoding="utf-8-sig") as f:
        for row in csv.reader(f, skipinitialspace=True):
            if any(cell.strip() for cell in row):
                return None if all(_is_number(cell) for cell in row) else [
                    cell.strip() for cell in row]
    return None


def select_columns(selection, names, num_columns, path):
    """The indices of the columns that `selection` names, by index (from 0) or header name.

    Args:
      selection: a list of strings: integers (column indices, counted from 0) or names
        from the `.csv` header.
      names: the header names (`column_names(path)`), or None.
      num_columns: how many columns the file has.
      path: the file, for the messages.

    Returns:
      A list of distinct column indices, in the order given.

    Raises:
      ValueError: for an unknown name, an index out of range, a repeated column, or a
        selection that leaves no other column.
    """
    indices = []
    for item in selection:
        item = str(item).strip()
        if names is not None and item in names:
            index = names.index(item)
        else:
            try:
                index = int(item)
            except ValueError:
                known = f"its columns are {', '.join(names)}" if names else "it has no header"
                raise ValueError(
                    f"{path}: no column named {item!r} ({known}); name columns by header "
                    "name or by index from 0."
                ) from None
            if not 0 <= index < num_columns:
                raise ValueError(
                    f"{path}: column index {index} is out of range: the file has "
                    f"{num_columns} column(s), indices 0 to {num_columns - 1}."
                )
        if index in indices:
            raise ValueError(f"{path}: column {item!r} is selected twice.")
        indices.append(index)
    if len(indices) >= num_columns:
        raise ValueError(
            f"{path}: the context columns {selection} leave no column to model."
        )
    return indices


def save_points(path, x, names=None):
    """Writes points `[n, d]` to a `.npy` file, or a `.csv` file with a header line.

    The `.csv` header is `names` joined by commas, by default `x0,x1,...,x{d-1}`; the
    numbers are written with enough digits (9 for float32 and narrower, 17 otherwise) to
    read back exactly once cast to the array's own dtype.

    Args:
      path: the file, ending in `.csv` or `.npy`.
      x: real numbers `[n, d]`.
      names: optional list of `d` column names for the `.csv` header.

    Raises:
      ValueError: for another extension, an array that is not 2-D real numbers, or `names`
        of the wrong length.
    """
    path = os.fspath(path)
    extension = file_format(path)
    x = np.asarray(x)
    real = np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)
    if x.ndim != 2 or not real:
        raise ValueError(
            f"save_points writes a 2-D array of real numbers [n, d]; got shape {x.shape} "
            f"and dtype {x.dtype}."
        )
    if extension == ".npy":
        np.save(path, x)
        return
    names = [f"x{i}" for i in range(x.shape[1])] if names is None else list(names)
    if len(names) != x.shape[1]:
        raise ValueError(f"save_points: {len(names)} names for {x.shape[1]} columns.")
    if np.issubdtype(x.dtype, np.integer):
        fmt = "%d"
    else:
        fmt = "%.9g" if x.dtype.itemsize <= 4 else "%.17g"
    np.savetxt(path, x, fmt=fmt, delimiter=",", header=",".join(names), comments="")


def _is_number(cell):
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _number(cell, path, line, column):
    """`float(cell)`, or a `ValueError` naming the file, line and column of the cell."""
    try:
        return float(cell)
    except ValueError:
        hint = " (columns must be separated by commas)" if ";" in cell or "\t" in cell else ""
        raise ValueError(
            f"Cannot read points from {path}: line {line}, column {column}: {cell!r} is not "
            f"a number{hint}."
        ) from None


def _load_csv(path):
    """The `.csv` branch of `load_points`: rows from the `csv` module, cells by `float`."""
    rows, lines = [], []
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, skipinitialspace=True, strict=True)
            for row in reader:
                if any(cell.strip() for cell in row):
                    rows.append(row)
                    lines.append(reader.line_num)
    except UnicodeDecodeError as error:
        raise ValueError(
            f"Cannot read points from {path}: it is not a UTF-8 text file ({error.reason} at "
            f"byte {error.start}); is it a binary file with a .csv name?"
        ) from error
    except csv.Error as error:
        raise ValueError(
            f"Cannot read points from {path}: line {reader.line_num}: {error}."
        ) from error
    if not rows:
        raise ValueError(f"Cannot read points from {path}: the file is empty (no data rows).")
    width = len(rows[0])
    for row, line in zip(rows, lines):
        if len(row) != width:
            raise ValueError(
                f"Cannot read points from {path}: line {line} has {len(row)} column(s), but "
                f"line {lines[0]} has {width}; every row needs the same number of columns."
            )
    if not all(_is_number(cell) for cell in rows[0]):  # a header line
        rows, lines = rows[1:], lines[1:]
        if not rows:
            raise ValueError(
                f"Cannot read points from {path}: it has a header line but no data rows."
            )
    x = np.array([
        [_number(cell, path, line, column) for column, cell in enumerate(row, start=1)]
        for row, line in zip(rows, lines)
    ])
    finite = np.isfinite(x)
    if not finite.all():
        row, column = np.argwhere(~finite)[0]
        raise ValueError(
            f"Cannot read points from {path}: line {lines[row]}, column {column + 1} is "
            f"{rows[row][column]!r} ({np.count_nonzero(~finite.all(axis=1))} row(s) hold NaN "
            "or inf); remove or impute them before training."
        )
    return x


def _load_npy(path):
    """The `.npy` branch of `load_points`: the header is checked before the data load."""
    with open(path, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = read_header(f)
        except (ValueError, OSError, EOFError) as error:
            raise ValueError(
                f"Cannot read points from {path}: it is not a readable .npy file ({error})."
            ) from error
        if dtype.hasobject:
            raise ValueError(
                f"Cannot read points from {path}: it holds Python objects (dtype {dtype}), "
                "which are not loaded (that would need pickle); save a numeric array."
            )
        if len(shape) not in (1, 2):
            raise ValueError(
                f"Cannot read points from {path}: it holds an array of shape {shape}; points "
                "are a 2-D array [num_points, num_features] (or 1-D for one feature)."
            )
        f.seek(0)
        try:
            x = np.load(f, allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            raise ValueError(
                f"Cannot read points from {path}: its data are truncated or corrupt ({error})."
            ) from error
    if x.ndim == 1:
        x = x[:, None]
    if x.shape[1] == 0:
        raise ValueError(f"Cannot read points from {path}: its array {x.shape} has no columns.")
    return validation.points_array(x, x.shape[1], np.float64, f"The data in {path}")
