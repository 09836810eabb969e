"""Your own data: reading .csv/.npy files, standardization inside the model, validation and
early stopping, and the `train --data`, `sample` and `score` commands."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import assert_one_line_errors, randomize, randomize_rad

import tfp_rad
from tfp_rad import training
from tfp_rad.cli import main as cli
from tfp_rad.data_files import load_points, save_points
from tfp_rad.models import RADFlow, RealNVPFlow

# A model of the first paper run (commit 9e704fc), saved before `standardize` existed.
LEGACY_MODEL = os.path.join(os.path.dirname(__file__), "data", "legacy-two_moons-rad-seed0.keras")


def points(n=300, seed=0):
    """3-D points with features of very different locations and scales."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.0, 3.0 * np.pi, n)
    noise = 1e-3 * rng.normal(size=n)
    return np.stack([t * np.cos(t), 40.0 + 25.0 * np.sin(t), 0.01 * t + noise], axis=1)


# ------------------------------------------------------------------------------------------
# Reading and writing files.


def test_csv_with_and_without_header_and_blank_trailing_lines(tmp_path):
    (tmp_path / "header.csv").write_text("height, weight\n1.5,60\n1.75, 72.5\n\n\n")
    (tmp_path / "plain.csv").write_text("1.5,60\n1.75,72.5\n")
    (tmp_path / "one.csv").write_text("value\n3\n-1.25\n")
    expected = np.array([[1.5, 60.0], [1.75, 72.5]])
    np.testing.assert_array_equal(load_points(tmp_path / "header.csv"), expected)
    np.testing.assert_array_equal(load_points(tmp_path / "plain.csv"), expected)
    one = load_points(tmp_path / "one.csv")
    assert one.shape == (2, 1) and one.dtype == np.float64


def test_npy_two_and_one_dimensional(tmp_path):
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "ints.npy", np.arange(5))
    np.testing.assert_array_equal(load_points(tmp_path / "x.npy"), x)
    assert load_points(tmp_path / "ints.npy").shape == (5, 1)


@pytest.mark.parametrize("name", ["x.csv", "x.npy"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_points_round_trips_exactly(tmp_path, name, dtype):
    x = np.random.default_rng(1).normal(size=(20, 3)).astype(dtype) * 1e3
    save_points(tmp_path / name, x)
    np.testing.assert_array_equal(load_points(tmp_path / name).astype(dtype), x)
    if name.endswith(".csv"):
        assert (tmp_path / name).read_text().splitlines()[0] == "x0,x1,x2"


def write_bad_files(directory):
    """Malformed files and the message (a regular expression) each must raise."""
    d = directory
    (d / "empty.csv").write_text("")
    (d / "blank.csv").write_text("\n\n  \n")
    (d / "header_only.csv").write_text("a,b\n")
    (d / "ragged.csv").write_text("a,b,c\n1,2,3\n4,5,6\n7,8\n")
    (d / "word.csv").write_text("1,2\n3,4\n5,abc\n")
    (d / "empty_cell.csv").write_text("1,2\n3,\n")
    (d / "semicolons.csv").write_text("a;b\n1;2\n")
    (d / "nan.csv").write_text("x,y\n1,2\n3,nan\n")
    (d / "binary.csv").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    (d / "points.txt").write_text("1,2\n")
    (d / "text.npy").write_text("1,2\n3,4\n")
    np.save(d / "full.npy", np.ones((100, 3)))
    data = (d / "full.npy").read_bytes()
    (d / "truncated.npy").write_bytes(data[: len(data) - 40])
    (d / "header_cut.npy").write_bytes(data[:20])
    np.save(d / "objects.npy", np.array([[1, "a"], [2, None]], dtype=object), allow_pickle=True)
    np.save(d / "rank3.npy", np.ones((2, 2, 2)))
    np.save(d / "scalar.npy", np.float64(3.0))
    np.save(d / "no_rows.npy", np.ones((0, 2)))
    np.save(d / "no_columns.npy", np.ones((4, 0)))
    np.save(d / "strings.npy", np.array([["1", "2"]]))
    inf = np.ones((5, 2))
    inf[3, 1] = np.inf
    np.save(d / "inf.npy", inf)
    return {
        "missing.csv": "there is no such file",
        "empty.csv": "the file is empty",
        "blank.csv": "the file is empty",
        "header_only.csv": "header line but no data rows",
        "ragged.csv": "line 4 has 2 column\\(s\\), but line 1 has 3",
        "word.csv": "line 3, column 2: 'abc' is not a number",
        "empty_cell.csv": "line 2, column 2: '' is not a number",
        "semicolons.csv": "line 2, column 1: '1;2' is not a number \\(columns must be "
        "separated by commas\\)",
        "nan.csv": "line 3, column 2 is 'nan'",
        "binary.csv": "not a UTF-8 text file",
        "points.txt": "unknown file type '.txt'",
        "text.npy": "not a readable .npy file",
        "truncated.npy": "truncated or corrupt",
        "header_cut.npy": "not a readable .npy file",
        "objects.npy": "holds Python objects",
        "rank3.npy": "shape \\(2, 2, 2\\)",
        "scalar.npy": "shape \\(\\)",
        "no_rows.npy": "empty: it has no rows",
        "no_columns.npy": "has no columns",
        "strings.npy": "must be real numbers; got an array of dtype <U1",
        "inf.npy": "NaN or inf in 1 row\\(s\\), the first at index 3",
    }


def test_every_malformed_file_gives_an_error_naming_it_and_the_problem(tmp_path):
    for name, message in write_bad_files(tmp_path).items():
        with pytest.raises(ValueError, match=message) as error:
            load_points(tmp_path / name)
        assert str(tmp_path / name) in str(error.value), name


def test_save_points_refuses_what_it_cannot_write(tmp_path):
    with pytest.raises(ValueError, match="unknown file type '.json'"):
        save_points(tmp_path / "x.json", np.ones((2, 2)))
    with pytest.raises(ValueError, match="2-D array of real numbers"):
        save_points(tmp_path / "x.csv", np.ones(3))
    with pytest.raises(ValueError, match="1 names for 2 columns"):
        save_points(tmp_path / "x.csv", np.ones((2, 2)), names=["a"])


# ------------------------------------------------------------------------------------------
# Standardization inside the model.


def copy_flow_weights(source, target):
    for a, b in zip(source.trainable_variables, target.trainable_variables):
        b.assign(a)


@pytest.mark.parametrize("kind", [RADFlow, RealNVPFlow])
def test_standardization_is_a_change_of_units_with_its_log_jacobian(kind, floatx):
    """Data in other units `c x` under the same flow: `log p(c x) = log p(x) - sum log c`."""
    x = points(200)
    d = x.shape[1]
    model = kind(d, num_layers=2, standardize=True)
    model.adapt(x)
    np.testing.assert_allclose(model.feature_mean, x.mean(0), rtol=1e-6)
    np.testing.assert_allclose(model.feature_scale, x.std(0), rtol=1e-6)
    randomize(model, seed=3, scale=0.3)
    log_p = model.log_prob(x).numpy().astype(np.float64)
    tolerance = 1e-5 if floatx == "float32" else 1e-10
    for c in (3.7, np.array([0.5, 3.7, 20.0])):
        other_units = kind(d, num_layers=2, standardize=True)
        copy_flow_weights(model, other_units)
        other_units.adapt(c * x)
        jacobian = np.sum(np.log(np.broadcast_to(c, (d,))))
        expected = log_p - jacobian
        np.testing.assert_allclose(other_units.log_prob(c * x), expected, rtol=0, atol=tolerance)
        assert np.min(np.abs(log_p - expected)) > 1.0  # the term is large here


def test_standardized_density_integrates_to_one(float64):
    keras.utils.set_random_seed(0)
    model = RADFlow(2, num_layers=2, standardize=True)
    rng = np.random.default_rng(0)
    mean, scale = np.array([3.0, -2.0]), np.array([0.5, 4.0])
    model.adapt(mean + scale * rng.normal(size=(5000, 2)))
    randomize_rad(model, seed=1)
    # Quadrature in the data's units: the box is mean +- 10 scale of each feature.
    box = zip(model.feature_mean.numpy(), model.feature_scale.numpy())
    axes = [np.linspace(m - 10 * s, m + 10 * s, 1001) for m, s in box]
    xx, yy = np.meshgrid(*axes, indexing="ij")
    grid = np.stack([xx.ravel(), yy.ravel()], axis=1)
    density = np.exp(tf.function(model.log_prob)(grid).numpy()).reshape(xx.shape)
    mass = np.trapezoid(np.trapezoid(density, axes[1]), axes[0])
    assert abs(mass - 1.0) < 1e-2, mass  # without -sum log scale it would be 2


def test_save_and_load_keep_the_standardization(tmp_path):
    x = points(300)
    model = RADFlow(3, num_layers=2, standardize=True)
    model.adapt(x)
    training.fit_steps(model, x, 10, batch_size=100, verbose=0)  # under XLA
    tfp_rad.save_model(model, tmp_path / "model.keras")
    loaded = tfp_rad.load_model(tmp_path / "model.keras")
    assert loaded.standardize and loaded.get_config()["standardize"] is True
    np.testing.assert_array_equal(loaded.feature_mean, model.feature_mean)
    np.testing.assert_array_equal(loaded.feature_scale, model.feature_scale)
    np.testing.assert_array_equal(loaded.log_prob(x), model.log_prob(x))
    np.testing.assert_array_equal(loaded.sample(5, seed=2), model.sample(5, seed=2))


def test_models_saved_before_the_option_existed_still_load():
    model = tfp_rad.load_model(LEGACY_MODEL)
    assert model.standardize is False and not hasattr(model, "feature_mean")
    x = tfp_rad.datasets.load("two_moons", 100, seed=5)
    log_p = model.log_prob(x).numpy()
    assert np.all(np.isfinite(log_p)) and np.mean(log_p) > -3.0  # a trained model


def test_adapt_names_a_constant_feature_and_needs_the_option():
    x = points(50)
    x[:, 1] = 7.0
    with pytest.raises(ValueError, match=r"Feature 1 .* is constant \(every value is 7.0\)"):
        RADFlow(3, num_layers=1, standardize=True).adapt(x)
    with pytest.raises(ValueError, match="built with standardize=False"):
        RADFlow(3, num_layers=1).adapt(points(50))
    with pytest.raises(ValueError, match="standardize must be True or False"):
        RADFlow(3, num_layers=1, standardize="yes")


# ------------------------------------------------------------------------------------------
# Validation and early stopping in fit_steps.


def test_early_stopping_stops_when_the_validation_loss_stops_improving():
    x, v = points(300, seed=0), points(100, seed=1)
    model = RADFlow(3, num_layers=1, standardize=True)
    model.adapt(x)
    # A learning rate too small to change float32 weights: the validation loss never
    # improves after the first epoch, so patience 2 stops after epoch 3 of 10.
    history, _ = training.fit_steps(
        model, x, 100, batch_size=100, learning_rate=1e-30, decay="none", steps_per_epoch=10,
        jit_compile=False, verbose=0, validation_data=v, early_stopping_patience=2,
    )
    assert len(history.history["val_loss"]) == 3
    assert int(model.optimizer.iterations.numpy()) == 30


def test_the_best_validation_epoch_is_restored():
    # Validation points of another shape (feature 1 stretched): they fit worse as the
    # model learns the training points, so the best epoch is an early one.
    x, v = points(300, seed=0), points(100, seed=1) * [1.0, 1.5, 1.0]
    keras.utils.set_random_seed(0)
    model = RADFlow(3, num_layers=2, standardize=True)
    model.adapt(x)
    history, _ = training.fit_steps(
        model, x, 60, batch_size=100, learning_rate=0.05, decay="none", steps_per_epoch=10,
        jit_compile=False, verbose=0, validation_data=v, early_stopping_patience=100,
    )
    losses = history.history["val_loss"]
    assert len(losses) == 6 and min(losses) < losses[-1] - 1.0, losses
    np.testing.assert_allclose(-training.mean_log_likelihood(model, v), min(losses), rtol=1e-5)


def test_fit_steps_checks_validation_data_and_patience():
    x = points(100)
    model = RADFlow(3, num_layers=1)
    with pytest.raises(ValueError, match="Validation data must have event size 3"):
        training.fit_steps(model, x, 10, validation_data=np.ones((5, 2)), verbose=0)
    with pytest.raises(ValueError, match="early_stopping_patience needs validation_data"):
        training.fit_steps(model, x, 10, early_stopping_patience=3, verbose=0)
    with pytest.raises(ValueError, match="early_stopping_patience must be a positive integer"):
        training.fit_steps(model, x, 10, validation_data=x, early_stopping_patience=0)


# ------------------------------------------------------------------------------------------
# The command line.

TINY = ["--num-layers", "2", "--batch-size", "100", "--verbose", "0"]


def test_train_sample_and_score_on_a_csv_file(tmp_path, capsys):
    x = points(300)
    save_points(tmp_path / "data.csv", x)
    output = tmp_path / "run"
    argv = ["train", "--data", str(tmp_path / "data.csv"), "--steps", "100"]
    argv += ["--validation-split", "0.1", "--test-split", "0.2"]
    argv += ["--steps-per-epoch", "10", "--output", str(output), "--no-jit", *TINY]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "300 rows of dimension 3: 210 to train, 30 to validate, 60 to test" in printed
    assert "no column dequantized; whitened" in printed
    assert "at most 100 steps of batch 100" in printed and "validation every 10 steps" in printed
    assert "log-likelihood (nats/point): train" in printed and ", test " in printed
    assert "log-likelihood (nats/dim): train" in printed
    assert "baseline gaussian (nats/point)" in printed
    files = ["marginals.png", "model.keras", "pairs.png", "results.json"]
    assert sorted(os.listdir(output)) == files
    results = json.loads((output / "results.json").read_text())
    assert (results["num_train"], results["num_validation"], results["num_test"]) == (210, 30, 60)
    assert results["dimensions"] == 3 and 0 < results["optimizer_steps"] <= 100
    assert results["training_settings"]["batch_size"] == 100
    assert len(results["validation_loss_by_epoch"]) * 10 == results["optimizer_steps"]
    np.testing.assert_allclose(
        results["validation_log_likelihood_per_dim"], results["validation_log_likelihood"] / 3
    )
    # The baselines are fitted on the same split: the Gaussian's figures, recomputed.
    train, held, test = tfp_rad.tabular_data.split(x, 0, 0.1, 0.2)
    gaussian = tfp_rad.baselines.Gaussian(train)
    np.testing.assert_allclose(
        [results["baselines"]["gaussian"][k] for k in ("validation", "test")],
        [np.mean(gaussian.log_prob(held)), np.mean(gaussian.log_prob(test))], rtol=1e-9)
    comparison = results["comparison"]
    assert comparison["message"] in printed
    best = max(results["baselines"].values(), key=lambda r: r["validation"])
    assert comparison["flow_below_best_baseline"] == (
        results["validation_log_likelihood"] < best["validation"])
    model = tfp_rad.load_model(output / "model.keras")
    assert model.event_size == 3 and model.whiten

    samples_file = tmp_path / "samples.csv"
    argv = ["sample", str(output / "model.keras"), "-n", "50", "--seed", "4"]
    assert cli.main(argv + ["--output", str(samples_file)]) == 0
    assert f"Wrote {samples_file}" in capsys.readouterr().out
    np.testing.assert_allclose(
        load_points(samples_file), model.sample(50, seed=4).numpy(), rtol=1e-6
    )
    assert cli.main(["sample", str(output / "model.keras"), "-n", "5"]) == 0
    assert load_points(output / "model-samples.npy").shape == (5, 3)

    argv = ["score", str(output / "model.keras"), "--data", str(tmp_path / "data.csv")]
    assert cli.main(argv + ["--output", str(tmp_path / "log_p.npy")]) == 0
    printed = capsys.readouterr().out
    log_p = model.log_prob(x).numpy()
    assert f"mean log-likelihood {np.mean(log_p):.4f} nats/point" in printed
    assert f"{np.mean(log_p) / 3:.4f} nats/dim" in printed
    np.testing.assert_allclose(load_points(tmp_path / "log_p.npy")[:, 0], log_p, rtol=1e-6)


def test_train_on_one_dimensional_npy_draws_marginals_only(tmp_path, capsys):
    np.save(tmp_path / "values.npy", np.random.default_rng(0).gamma(2.0, 3.0, size=200))
    output = tmp_path / "run"
    argv = ["train", "--data", str(tmp_path / "values.npy"), "--steps", "20"]
    assert cli.main(argv + ["--output", str(output), "--no-jit", *TINY]) == 0
    assert sorted(os.listdir(output)) == ["marginals.png", "model.keras", "results.json"]
    assert "Wrote model.keras, results.json, marginals.png to" in capsys.readouterr().out


def test_bad_files_and_options_give_one_line_and_exit_code_2(tmp_path, capsys):
    write_bad_files(tmp_path)
    constant = points(20)
    constant[:, 2] = 1.5  # not an integer: no grid step, so not dequantized
    save_points(tmp_path / "constant.csv", constant)
    save_points(tmp_path / "two.csv", points(20)[:, :2])
    save_points(tmp_path / "one.csv", points(20)[:, :1])
    model = RADFlow(3, num_layers=1, standardize=True)
    model.adapt(points(20))
    tfp_rad.save_model(model, tmp_path / "model.keras")
    out = ["--output", str(tmp_path / "out")]
    data = lambda name: ["--data", str(tmp_path / name)]  # noqa: E731
    runs = [
        (["train", *data("ragged.csv"), *out], "line 4 has 2 column"),
        (["train", *data("objects.npy"), *out], "holds Python objects"),
        (["train", *data("constant.csv"), *out], "Column 2 .* is constant"),
        (["train", *data("two.csv"), "--no-dequantize", "--dequantize-columns", "0", *out],
         "contradict"),
        (["train", *data("two.csv"), "--test-split", "0.5", "--validation-split", "0.5",
          *out], "leaves no training rows"),
        (["train", *data("one.csv"), "--model", "real_nvp", *out], "event_size must be >= 2"),
        (["train", "--dataset", "spiral", "--patience", "3", *out], "apply to --data only"),
        (["train", "--dataset", "spiral", "--defensive-weight", "0.1", *out],
         "apply to --data only"),
        (["train", *data("two.csv"), "--defensive-weight", "1.5", *out],
         r"defensive_weight must be None .* in \(0, 1\)"),
        (["train", *data("two.csv"), "--validation-split", "0", "--patience", "3", *out],
         "--patience must be 0"),
        (["train", *data("two.csv"), "--validation-split", "1.5", *out],
         r"must be in \[0, 1\)"),
        (["score", str(tmp_path / "model.keras"), *data("two.csv")],
         r"has 2 column\(s\), but the model .* is of dimension 3"),
        (["score", str(tmp_path / "model.keras"), *data("word.csv")], "'abc' is not a number"),
        (["score", str(tmp_path / "nope.keras"), *data("two.csv")], "no such file"),
        (["sample", str(tmp_path / "text.npy"), "-n", "3"], "not a .keras archive"),
        (["sample", str(tmp_path / "model.keras"), "-n", "0"], "-n must be a positive integer"),
        (["sample", str(tmp_path / "model.keras"), "-n", "3", "--output", "x.txt"],
         "unknown file type"),
    ]
    assert_one_line_errors(runs, capsys)
    assert not (tmp_path / "out").exists()  # nothing written for a bad run


@pytest.mark.parametrize("kind", ["RADFlow", "RealNVPFlow", "HybridFlow"])
def test_infer_layers_of_a_standardized_model_start_from_standardized_points(kind):
    x = np.random.default_rng(0).normal([5.0, -2.0], [3.0, 0.5], size=(200, 2))
    depth = {"layers": ("rad", "real_nvp")} if kind == "HybridFlow" else {"num_layers": 2}
    model = getattr(tfp_rad.models, kind)(2, standardize=True, **depth)
    model.adapt(x)
    steps = model.infer_layers(x)
    assert len(steps) == 2
    np.testing.assert_allclose(steps[0].x, (x - x.mean(0)) / x.std(0), rtol=1e-5, atol=1e-5)
    for before, after in zip(steps, steps[1:]):
        np.testing.assert_array_equal(before.z, after.x)


def test_train_derives_its_settings_and_dequantizes_integer_columns(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = np.stack([rng.normal(size=240), rng.poisson(3.0, size=240)], axis=1)
    x[1] = x[0]  # a duplicated row
    save_points(tmp_path / "counts.csv", x)
    output = tmp_path / "run"
    argv = ["train", "--data", str(tmp_path / "counts.csv"), "--steps", "30", "--model",
            "real_nvp", "--num-layers", "2", "--verbose", "0", "--no-jit", "--no-baselines",
            "--output", str(output)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "Warning: The table has 1 duplicated row" in printed
    assert "dequantized with uniform noise of one grid step: x1 (step 1)" in printed
    results = json.loads((output / "results.json").read_text())
    assert results["dequantized_columns"] == [1] and "baselines" not in results
    expected = training.data_defaults(results["num_train"], 2, "real_nvp", max_steps=30)
    assert results["training_settings"] == {**vars(expected), "early_stopping": True}
    assert f"at most {expected.max_steps} steps of batch {expected.batch_size}" in printed
    assert results["architecture"]["hidden_units"] == training.data_architecture(
        "real_nvp", 2)["hidden_units"]
    assert results["architecture"]["defensive_weight"] == 0.05
    assert "add the log cell volume 0.0000 for a lower bound" in printed
