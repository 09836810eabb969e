"""The experiments' markdown tables: mean ± std cells, tables, machine lines."""

import numpy as np

TABLE_FILE = "table.md"  # an experiment's table, in its output directory
LOG_LIKELIHOOD_NOTE = (
    "Log-likelihoods in nats per point: mean ± sample std over seeds (n seeds; no std for "
    "one seed). Oracle: the true density's, on the same points, mean over seeds."
)


def mean_std(values):
    """`mean ± std (n=k)` with the sample std; `mean (n=1)` for one value; `—` for none."""
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.3f} (n=1)"
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f} (n={len(values)})"


def markdown_table(header, rows):
    """Markdown lines of a table; the columns after the first are right-aligned."""
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def log_likelihood_tables(header, rows):
    """The markdown lines of the `## Test log-likelihood` and `## Train log-likelihood`
    sections: a table each, of `header` and `rows(split)` (`split` "test" or "train")."""
    lines = []
    for title, split in (("Test", "test"), ("Train", "train")):
        lines += ["", f"## {title} log-likelihood", ""]
        lines += markdown_table(header, rows(split))
    return lines


def machines(records):
    """The distinct machines (`versions` of the records) as lines, in order of appearance."""
    lines = []
    for record in records:
        machine = ", ".join(f"{name} {value}" for name, value in record["versions"].items())
        if machine not in lines:
            lines.append(machine)
    return lines


def present(records, key, names):
    """The `names` that some record's `config[key]` has, in the order of `names`."""
    return [name for name in names if any(r["config"][key] == name for r in records)]
