"""`tfp-rad train/sample/score` with contexts, and the conditional experiment's run store."""

import json
import os

import numpy as np
import pytest
from conftest import assert_one_line_errors

import tfp_rad
from tfp_rad.cli import main as cli
from tfp_rad.data_files import column_names, load_points, save_points, select_columns

TINY = ["--num-layers", "2", "--batch-size", "100", "--verbose", "0", "--no-jit"]


def pairs(n=400, seed=0):
    """Columns (a, cond, b): (a, b) given cond is a Gaussian centred at (2 cond, -cond)."""
    rng = np.random.default_rng(seed)
    c = rng.uniform(-1.0, 1.0, n)
    a, b = 2.0 * c + 0.3 * rng.normal(size=n), -c + 0.3 * rng.normal(size=n)
    return np.stack([a, c, b], axis=1)


def test_columns_are_chosen_by_index_or_header_name(tmp_path):
    save_points(tmp_path / "p.csv", pairs(10), names=["a", "cond", "b"])
    names = column_names(tmp_path / "p.csv")
    assert names == ["a", "cond", "b"]
    assert select_columns(["cond"], names, 3, "p.csv") == [1]
    assert select_columns(["2", "a"], names, 3, "p.csv") == [2, 0]
    np.save(tmp_path / "p.npy", pairs(10))
    assert column_names(tmp_path / "p.npy") is None
    for selection, message in [
        (["nope"], "no column named 'nope'.*a, cond, b"),
        (["3"], "index 3 is out of range.*3 column"),
        (["cond", "1"], "selected twice"),
        (["a", "cond", "b"], "leave no column"),
    ]:
        with pytest.raises(ValueError, match=message):
            select_columns(selection, names, 3, "p.csv")


def test_train_sample_and_score_with_context_columns(tmp_path, capsys):
    x = pairs()
    save_points(tmp_path / "pairs.csv", x, names=["a", "cond", "b"])
    output = tmp_path / "run"
    argv = ["train", "--data", str(tmp_path / "pairs.csv"), "--context-columns", "cond",
            "--steps", "60", "--steps-per-epoch", "20", "--output", str(output), *TINY]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "400 rows of dimension 2 given a context of 1 column(s): 260 to train" in printed
    results = json.loads((output / "results.json").read_text())
    assert results["context_columns"] == ["cond"] and results["dimensions"] == 2
    model = tfp_rad.load_model(output / "model.keras")
    assert model.context_size == 1 and model.event_size == 2
    np.testing.assert_allclose(model.context_scale, [x[:, 1].std()], rtol=0.1)

    argv = ["sample", str(output / "model.keras"), "-n", "7", "--context", "0.5",
            "--seed", "3", "--output", str(tmp_path / "given.csv")]
    assert cli.main(argv) == 0
    assert "given the context [0.5]" in capsys.readouterr().out
    np.testing.assert_allclose(load_points(tmp_path / "given.csv"),
                               model.sample(7, seed=3, context=[0.5]).numpy(), rtol=1e-6)
    save_points(tmp_path / "contexts.csv", x[:4, 1:2], names=["cond"])
    argv = ["sample", str(output / "model.keras"), "--context", str(tmp_path / "contexts.csv"),
            "--output", str(tmp_path / "each.npy")]
    assert cli.main(argv) == 0
    assert load_points(tmp_path / "each.npy").shape == (4, 2)

    argv = ["score", str(output / "model.keras"), "--data", str(tmp_path / "pairs.csv"),
            "--context-columns", "1", "--output", str(tmp_path / "log_p.npy")]
    assert cli.main(argv) == 0
    capsys.readouterr()
    expected = model.log_prob(x[:, [0, 2]], x[:, 1:2]).numpy()
    np.testing.assert_allclose(load_points(tmp_path / "log_p.npy")[:, 0], expected, rtol=1e-6)


def test_bad_contexts_on_the_command_line_give_one_line_and_exit_code_2(tmp_path, capsys):
    save_points(tmp_path / "pairs.csv", pairs(50), names=["a", "cond", "b"])
    conditional = tfp_rad.models.RADFlow(2, num_layers=1, context_size=1)
    tfp_rad.save_model(conditional, tmp_path / "conditional.keras")
    unconditional = tfp_rad.models.RADFlow(3, num_layers=1)
    tfp_rad.save_model(unconditional, tmp_path / "plain.keras")
    model, plain, data = (str(tmp_path / n) for n in ("conditional.keras", "plain.keras",
                                                       "pairs.csv"))
    runs = [
        (["train", "--data", data, "--context-columns", "z", "--output", str(tmp_path / "o")],
         "no column named 'z'"),
        (["train", "--dataset", "spiral", "--context-columns", "1"], "apply to --data only"),
        (["sample", model, "-n", "3"], "is conditional: give --context"),
        (["sample", model, "-n", "3", "--context", "1", "2"], "2 entries per context"),
        (["sample", model, "-n", "3", "--context", "abc"], "takes 1 numbers"),
        (["sample", plain, "-n", "3", "--context", "1"], "unconditional"),
        (["score", model, "--data", data], "is conditional: give its --context-columns"),
        (["score", plain, "--data", data, "--context-columns", "1"], "unconditional"),
    ]
    assert_one_line_errors(runs, capsys)
    assert not os.path.exists(tmp_path / "o")


def test_conditional_experiment_writes_runs_table_and_figures_then_resumes(tmp_path, capsys):
    from tfp_rad.experiments import conditional

    output = str(tmp_path / "conditional")
    argv = ["--output", output, "--problems", "moving_mixture", "--seeds", "0", "--steps",
            "20", "--num-train", "200", "--num-test", "100", "--rad-hidden-units", "4",
            "--num-layers", "2"]
    conditional.main(argv)
    runs = sorted(os.listdir(os.path.join(output, "runs")))
    assert runs == ["moving_mixture-rad-seed0.json", "moving_mixture-real_nvp-seed0.json"]
    record = json.load(open(os.path.join(output, "runs", runs[1])))
    rad = json.load(open(os.path.join(output, "runs", runs[0])))
    assert abs(record["parameters"] - rad["parameters"]) < 0.1 * rad["parameters"]
    table = open(os.path.join(output, "table.md")).read()
    assert "| moving_mixture | " in table and "--steps 20" in table
    assert os.path.exists(os.path.join(output, "figures", "moving_mixture.png"))
    capsys.readouterr()
    conditional.main(argv)  # everything finished: nothing trains again
    assert "0 to train" in capsys.readouterr().out
    with pytest.raises(ValueError, match="steps=20 where this invocation has 30"):
        conditional.main(["30" if arg == "20" else arg for arg in argv])
