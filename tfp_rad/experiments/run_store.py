"""A resumable directory of runs: one JSON per finished run, written whole.

Layout: `<output>/runs/<problem>-<model>-seed<k>.json` holds one finished run's record
(its `config`, results and `versions`); an experiment may keep more files beside it (e.g.
`<output>/models/`). Every file is written to a hidden `.<name>.partial.<ext>` file that
`os.replace` then renames, so a run's JSON appears whole and only once the run is finished;
`prepare_directories` deletes the partial files a killed invocation left. `train_pending`
skips the runs whose JSON exists, so a killed invocation loses at most the run in progress.
An output directory holds the runs of one protocol: `check_config` refuses a run of other
settings, naming the file and the settings that differ. Run one invocation per directory
at a time.
"""

import json
import os

_PARTIAL = ".partial"


class RunStoreError(ValueError):
    """A request that an experiment refuses (runs of other settings, an unknown name, an
    unreadable run file), with a message that says why and what to do."""


def run_name(problem, model, seed):
    """`<problem>-<model>-seed<k>`: the name of a run's JSON and model files."""
    return f"{problem}-{model}-seed{seed}"


def run_path(output, config):
    """`<output>/runs/<run_name>.json`, the JSON of the run with `config`."""
    return os.path.join(
        output, "runs", run_name(config["problem"], config["model"], config["seed"]) + ".json"
    )


def prepare_directories(output, *subdirectories):
    """Creates `output` and its `subdirectories`, deleting a killed invocation's partials."""
    for directory in (output, *(os.path.join(output, name) for name in subdirectories)):
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.startswith(".") and f"{_PARTIAL}." in name:
                os.remove(os.path.join(directory, name))


def write_atomically(path, write):
    """Calls `write` on a hidden partial file next to `path`, then renames it to `path`."""
    directory, name = os.path.split(path)
    stem, extension = os.path.splitext(name)
    partial = os.path.join(directory, f".{stem}{_PARTIAL}{extension}")
    write(partial)
    os.replace(partial, path)


def write_text_atomically(path, text):
    """Writes `text` to the file `path` whole (`write_atomically`)."""

    def write(partial):
        with open(partial, "w") as f:
            f.write(text)

    write_atomically(path, write)


def write_record(output, record):
    """Writes a run's record, atomically, to its JSON in `<output>/runs` (`run_path`)."""
    write_text_atomically(run_path(output, record["config"]), json.dumps(record, indent=2) + "\n")


def load_runs(output, problems, models, command, required=(), required_config=()):
    """The finished runs in `<output>/runs`: a dict from each JSON's path to its contents.

    Args:
      output: the output directory.
      problems: the problem names a run may have.
      models: the model names a run may have.
      command: the command whose runs these are, for the error messages.
      required: keys every record must have, besides `config`.
      required_config: keys every record's `config` must have, besides `problem`,
        `model` and `seed`.

    Raises:
      RunStoreError: for a JSON file that is not a run of `command`, or not named after
        its run.
    """
    directory = os.path.join(output, "runs")
    if not os.path.isdir(directory):
        return {}
    paths = [
        os.path.join(directory, name)
        for name in sorted(os.listdir(directory))
        if name.endswith(".json") and not name.startswith(".")
    ]
    return {
        path: _read_run(path, problems, models, command, required, required_config)
        for path in paths
    }


def _read_run(path, problems, models, command, required, required_config):
    """Loads a run JSON, checking that it has a run's keys and is named after its run."""
    try:
        with open(path) as f:
            record = json.load(f)
    except (OSError, ValueError) as error:
        raise RunStoreError(f"Cannot read the run {path}: {error}.") from error
    record = record if isinstance(record, dict) else {}
    config = record.get("config") if isinstance(record.get("config"), dict) else {}
    missing = [key for key in ("config", *required) if key not in record]
    missing += [
        f"config.{key}"
        for key in ("problem", "model", "seed", *required_config)
        if key not in config
    ]
    if missing:
        raise RunStoreError(
            f"{path} is not a run of `{command}`: it lacks {', '.join(missing)}. "
            "Move it out of the runs directory."
        )
    name = run_name(config["problem"], config["model"], config["seed"])
    if (
        config["problem"] not in problems
        or config["model"] not in models
        or os.path.basename(path) != f"{name}.json"
    ):
        raise RunStoreError(
            f"{path} holds the run {name!r}, which does not match its file name or is not "
            f"a problem and model of `{command}`; move it out of the runs directory."
        )
    return record


def check_config(path, config, expected, reference):
    """Raises `RunStoreError` unless the run at `path` has `expected` in its `config`.

    `reference` names where the expected values come from (another run, this invocation).
    """
    differences = [
        f"{key}={config.get(key)!r} where {reference} has {value!r}"
        for key, value in expected.items()
        if config.get(key) != value
    ]
    if differences:
        raise RunStoreError(
            f"{path} was made with {'; '.join(differences)}. An output directory holds the "
            "runs of one protocol: use another --output, or delete the runs that differ "
            "to redo them."
        )


def train_pending(output, plan, train, write_table, command, verbose):
    """Trains the runs of `plan` whose JSON is not in `<output>/runs` yet, in order.

    The table is rewritten from the JSONs before (when some runs are finished) and after
    every run, so it always shows every finished run.

    Args:
      output: the output directory.
      plan: the runs' configs (`problem`, `model`, `seed`, `steps`, `batch_size`, ...).
      train: `train(config, machine) -> record`, which trains a run and writes its JSON.
      write_table: `write_table(output)`.
      command: the command's name, for the progress messages.
      verbose: 0 silent, 1 or 2 for Keras progress bars.

    Returns:
      The names (`run_name`) of the runs trained, in order.
    """
    import keras

    from tfp_rad.versions import versions

    pending = [config for config in plan if not os.path.exists(run_path(output, config))]
    if verbose:
        print(
            f"{command}: {len(plan)} runs, {len(plan) - len(pending)} already "
            f"finished in {os.path.join(output, 'runs')}, {len(pending)} to train."
        )
    if len(pending) < len(plan):
        write_table(output)
    machine = versions()
    progress = keras.utils.Progbar(
        len(pending), verbose=verbose, unit_name="run", stateful_metrics=["test_ll"]
    )
    executed = []
    for config in pending:
        name = run_name(config["problem"], config["model"], config["seed"])
        if verbose:
            print(f"\n{name}: {config['steps']} steps of batch {config['batch_size']}")
        record = train(config, machine)
        executed.append(name)
        write_table(output)
        progress.add(1, values=[("test_ll", record["test_log_likelihood"])])
    return executed
