"""Tests of `tfp-rad reproduce`: its outputs, resuming (also after SIGKILL), the table."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from tfp_rad import datasets, training
from tfp_rad.cli import main as cli
from tfp_rad.experiments import paper as reproduce
from tfp_rad.experiments import run_store
from tfp_rad.versions import versions

FAST = dict(steps=20, num_train=600, num_test=600, jit_compile=False, verbose=0)
FAST_ARGS = ["--steps", "20", "--num-train", "600", "--num-test", "600", "--no-jit"]


def snapshot(*directories):
    """`{path: (mtime_ns, bytes)}` of every file under `directories`."""
    files = {}
    for top in directories:
        for directory, _, names in os.walk(top):
            for name in names:
                path = os.path.join(directory, name)
                with open(path, "rb") as f:
                    files[path] = (os.stat(path).st_mtime_ns, f.read())
    return files


def table_rows(text, title):
    """The rows (header first) of the markdown table under `## <title> log-likelihood`."""
    section = text.split(f"## {title} log-likelihood")[1].split("\n## ")[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    rows = [line for line in lines if "---" not in line]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def test_writes_runs_models_and_table_then_resumes_without_redoing(tmp_path):
    output = str(tmp_path)
    executed = reproduce.run(output, problems=["two_moons"], seeds=[0], **FAST)
    assert executed == ["two_moons-rad-seed0", "two_moons-real_nvp-seed0"]
    records = {}
    for name in executed:
        with open(tmp_path / "runs" / f"{name}.json") as f:
            records[name] = json.load(f)
        record = records[name]
        assert record["config"]["steps"] == 20 and record["config"]["num_layers"] == 6
        assert record["versions"] == versions()
        assert np.isfinite(record["test_log_likelihood"]) and record["wall_seconds"] > 0
        model = keras.saving.load_model(tmp_path / "models" / f"{name}.keras")
        assert model.count_params() == record["parameters"]
        _, x_test = datasets.train_test_data("two_moons", 600, 600, seed=0)
        np.testing.assert_allclose(
            training.mean_log_likelihood(model, x_test), record["test_log_likelihood"], rtol=1e-5
        )
    assert records["two_moons-rad-seed0"]["config"]["hidden_units"] == 8
    assert records["two_moons-rad-seed0"]["config"]["gating_hidden_units"] == 8
    assert records["two_moons-real_nvp-seed0"]["config"]["hidden_units"] == 56
    assert "gating_hidden_units" not in records["two_moons-real_nvp-seed0"]["config"]

    table = (tmp_path / "table.md").read_text()
    assert "--steps 20" in table and versions()["tensorflow"] in table
    for title in ("Test", "Train"):
        header, *rows = table_rows(table, title)
        assert header == [
            "problem", "RAD", "Real NVP", "oracle", "RAD − Real NVP",
            "RAD parameters", "Real NVP parameters",
        ]
        assert len(rows) == 1 and rows[0][0] == "two_moons"
        rad = records["two_moons-rad-seed0"][f"{title.lower()}_log_likelihood"]
        assert rows[0][1] == f"{rad:.3f} (n=1)"
        assert rows[0][5:] == [str(records[name]["parameters"]) for name in executed]

    before = snapshot(tmp_path / "runs", tmp_path / "models")
    assert reproduce.run(output, problems=["two_moons"], seeds=[0], **FAST) == []
    assert snapshot(tmp_path / "runs", tmp_path / "models") == before
    assert (tmp_path / "table.md").read_text() == table  # regenerated, the same

    with pytest.raises(ValueError, match="steps=20 where this invocation has 21"):
        reproduce.run(output, problems=["two_moons"], seeds=[0], **{**FAST, "steps": 21})
    assert snapshot(tmp_path / "runs", tmp_path / "models") == before


def test_resumes_after_sigkill_without_redoing_finished_runs(tmp_path):
    output, runs = tmp_path / "out", tmp_path / "out" / "runs"
    names = ["grid-real_nvp-seed0", "grid-real_nvp-seed1"]
    command = [sys.executable, "-m", "tfp_rad", "reproduce", "--problems", "grid"]
    command += ["--models", "real_nvp", "--seeds", "0", "1", "--output", str(output)]
    with open(tmp_path / "log", "w") as log:
        process = subprocess.Popen(command + FAST_ARGS, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while not (runs.is_dir() and any(n.endswith(".json") for n in os.listdir(runs))):
            assert process.poll() is None, (tmp_path / "log").read_text()
            assert time.monotonic() < deadline, "no run finished in 120 s"
            time.sleep(0.02)
        assert process.poll() is None  # killed mid-reproduction, not after it
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert [name for name in os.listdir(runs) if not name.startswith(".")] == [
        f"{names[0]}.json"
    ]
    before = {path: v for path, v in snapshot(runs, output / "models").items() if names[0] in path}
    assert len(before) == 2  # the finished run's JSON and model
    # What a kill during a save leaves behind:
    (runs / f".{names[1]}.partial.json").write_text('{"config": {"prob')
    (output / "models" / f".{names[1]}.partial.keras").write_bytes(b"PK\x03")

    executed = reproduce.run(
        str(output), problems=["grid"], models=["real_nvp"], seeds=[0, 1], **FAST
    )
    assert executed == names[1:]
    after = snapshot(output)
    assert {path: after[path] for path in before} == before
    assert sorted(os.listdir(runs)) == [f"{name}.json" for name in names]
    assert sorted(os.listdir(output / "models")) == [f"{name}.keras" for name in names]
    assert not [name for name in os.listdir(output) if name.startswith(".")]
    assert table_rows((output / "table.md").read_text(), "Test")[1][2].endswith("(n=2)")


def fake_run(output, problem, model, seed, test, steps=20, **gating):
    """Writes a run JSON with made-up results: train = test + 1, oracle = seed.

    Its config has `gating_hidden_units` only if given, as runs written before that
    setting was recorded.
    """
    config = dict(problem=problem, model=model, seed=seed, num_layers=6)
    config.update(hidden_units={"rad": 8, "real_nvp": 56}[model], steps=steps, batch_size=500)
    config.update(learning_rate=0.005, decay="cosine", num_train=9, num_test=9, **gating)
    record = {
        "config": config,
        "parameters": {"rad": 948, "real_nvp": 1362}[model],
        "train_log_likelihood": test + 1.0,
        "test_log_likelihood": test,
        "oracle_train_log_likelihood": float(seed),
        "oracle_test_log_likelihood": float(seed),
        "versions": {"tensorflow": "9.9"},
    }
    os.makedirs(output / "runs", exist_ok=True)
    name = run_store.run_name(problem, model, seed)
    (output / "runs" / f"{name}.json").write_text(json.dumps(record))


def test_table_only_regenerates_the_table_from_the_json_files(tmp_path, capsys):
    fake_run(tmp_path, "two_moons", "rad", 0, -1.0)
    fake_run(tmp_path, "two_moons", "rad", 1, -1.2)
    fake_run(tmp_path, "two_moons", "real_nvp", 0, -1.5)
    fake_run(tmp_path, "two_moons", "real_nvp", 1, -1.6)
    fake_run(tmp_path, "grid", "rad", 1, 0.5)
    command = ["reproduce", "--table-only", "--output", str(tmp_path)]
    assert cli.main(command) == 0
    table = (tmp_path / "table.md").read_text()
    assert table_rows(table, "Test") == [
        ["problem", "RAD", "Real NVP", "oracle", "RAD − Real NVP",
         "RAD parameters", "Real NVP parameters"],
        ["grid", "0.500 (n=1)", "—", "1.000", "—", "948", "—"],
        ["two_moons", "-1.100 ± 0.141 (n=2)", "-1.550 ± 0.071 (n=2)", "0.500",
         "0.450 ± 0.071 (n=2)", "948", "1362"],
    ]
    assert table_rows(table, "Train")[2][1] == "-0.100 ± 0.141 (n=2)"
    assert "--problems grid two_moons --models rad real_nvp --steps 20 --seeds 0 1" in table
    assert "- Machine: tensorflow 9.9\n" in table
    (tmp_path / "table.md").unlink()
    assert cli.main(command) == 0
    assert (tmp_path / "table.md").read_text() == table

    fake_run(tmp_path, "ring", "rad", 0, 0.0, steps=30)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(command)
    assert exit_info.value.code == 2
    assert "ring-rad-seed0.json was made with steps=30" in capsys.readouterr().err


def test_rad_gating_width_is_a_setting_of_the_protocol(tmp_path, capsys):
    output = str(tmp_path)
    kwargs = dict(problems=["two_moons"], models=["rad"], seeds=[0], **FAST)
    assert reproduce.run(output, gating_hidden_units=0, **kwargs) == ["two_moons-rad-seed0"]
    record = json.loads((tmp_path / "runs" / "two_moons-rad-seed0.json").read_text())
    assert record["config"]["gating_hidden_units"] == 0
    model = keras.saving.load_model(tmp_path / "models" / "two_moons-rad-seed0.keras")
    assert model.gating_hidden_units == 0
    assert record["parameters"] == model.count_params() == 642  # conditioners only
    table = (tmp_path / "table.md").read_text()
    assert "and no gating networks" in table and "--gating-hidden-units 0" in table
    # Real NVP's runs do not depend on the gating width: one of these settings joins.
    nvp = dict(record, config={**record["config"], "model": "real_nvp", "hidden_units": 56})
    del nvp["config"]["gating_hidden_units"]
    (tmp_path / "runs" / "two_moons-real_nvp-seed0.json").write_text(json.dumps(nvp))
    assert cli.main(["reproduce", "--table-only", "--output", output]) == 0
    with pytest.raises(ValueError, match="gating_hidden_units=0 where this invocation has 8"):
        reproduce.run(output, **kwargs)
    with pytest.raises(SystemExit):
        cli.main(["reproduce", "--output", output, "--models", "rad", *FAST_ARGS])
    assert "gating_hidden_units=0 where this invocation has 8" in capsys.readouterr().err


def test_runs_without_a_recorded_gating_width_have_the_papers(tmp_path, capsys):
    fake_run(tmp_path, "two_moons", "rad", 0, -1.0)
    fake_run(tmp_path, "two_moons", "rad", 1, -1.2, gating_hidden_units=8)
    command = ["reproduce", "--table-only", "--output", str(tmp_path)]
    assert cli.main(command) == 0
    table = (tmp_path / "table.md").read_text()
    assert "8 hidden units in RAD's conditioners and gatings" in table
    assert "--gating-hidden-units 8" in table
    fake_run(tmp_path, "grid", "rad", 0, -1.0, gating_hidden_units=2)
    with pytest.raises(SystemExit):
        cli.main(command)
    error = capsys.readouterr().err
    assert "two_moons-rad-seed0.json was made with gating_hidden_units=8 where" in error
    assert "grid-rad-seed0.json has 2" in error


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--problems", "moons"], "invalid choice: 'moons'"),
        (["--models", "maf"], "invalid choice: 'maf'"),
        (["--steps", "0"], "--steps: must be a positive integer, got 0"),
        (["--seeds"], "--seeds: expected at least one argument"),
        (["--seeds", "-1"], "seeds must be integers in"),
        (["--gating-hidden-units", "-1"], "must be a non-negative integer, got -1"),
        (["--gating-hidden-units", "2.5"], "expected an integer, got '2.5'"),
        (["--table-only"], "No finished runs in"),
    ],
)
def test_cli_rejects_bad_input(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["reproduce", "--output", str(tmp_path / "out"), *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(problems=["moons"]), "Unknown problem 'moons'; valid problems are grid"),
        (dict(models=[]), "No models given"),
        (dict(seeds=[]), "No seeds given"),
        (dict(seeds=[0.5]), "Seeds must be integers"),
        (dict(steps=0), "steps must be a positive integer"),
        (dict(learning_rate=-1.0), "learning_rate must be a positive number"),
        (dict(decay="step"), "decay must be one of"),
        (dict(gating_hidden_units=-1), "gating_hidden_units must be a non-negative integer"),
        (dict(gating_hidden_units=True), "gating_hidden_units must be a non-negative integer"),
    ],
)
def test_run_rejects_bad_input(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        reproduce.run(str(tmp_path / "out"), **kwargs)
    assert not (tmp_path / "out").exists()
