"""The problems beyond the paper: the 16-D mixture's density and the dequantized digits."""

import json
import os
import re

import numpy as np
import pytest
from scipy.special import logsumexp
from sklearn.datasets import load_digits

from tfp_rad import high_dimensional as hd


def _mixture_parameters():
    components = hd.mixture16(np.float64).components_distribution
    weights = np.exp(hd.mixture16(np.float64).mixture_distribution.logits_parameter().numpy())
    weights /= weights.sum()
    return weights, components.loc.numpy(), components.stddev().numpy()


def test_mixture16_log_prob_is_the_mixture_of_diagonal_gaussians():
    weights, means, stds = _mixture_parameters()
    x = hd.load_mixture16(200, seed=3, dtype=np.float64)
    per_component = -0.5 * (((x[:, None] - means) / stds) ** 2 + np.log(2 * np.pi * stds**2))
    expected = logsumexp(np.log(weights) + per_component.sum(-1), axis=1)
    np.testing.assert_allclose(hd.mixture16(np.float64).log_prob(x), expected, rtol=1e-12)
    assert hd.mixture16_oracle_log_likelihood(x) == pytest.approx(expected.mean(), rel=1e-12)


def test_mixture16_samples_have_the_mixture_moments():
    weights, means, stds = _mixture_parameters()
    mean = weights @ means
    second = np.einsum("j,jd,je->de", weights, means, means) + np.diag(weights @ stds**2)
    covariance = second - np.outer(mean, mean)
    x = hd.load_mixture16(200_000, seed=0, dtype=np.float64)
    scale = np.sqrt(np.diag(covariance))
    # Standard error of a mean over 200,000 points is scale / 447; allow 5 of them.
    np.testing.assert_allclose(x.mean(0), mean, atol=5 * scale.max() / 447)
    np.testing.assert_allclose(np.cov(x.T), covariance, atol=0.05 * scale.max() ** 2)
    # The check has teeth: dropping one component moves the mean by more than that.
    shifted = (weights[1:] @ means[1:]) / weights[1:].sum()
    assert np.abs(shifted - x.mean(0)).max() > 10 * scale.max() / 447


def test_mixture16_data_depend_on_the_seed_only():
    np.testing.assert_array_equal(hd.load_mixture16(50, seed=4), hd.load_mixture16(50, seed=4))
    assert not np.allclose(hd.load_mixture16(50, seed=4), hd.load_mixture16(50, seed=5))
    with pytest.raises(ValueError, match="seed"):
        hd.load_mixture16(10, seed=-1)


def test_digits_are_dequantized_within_their_grey_level():
    train, test = hd.digits(seed=0)
    assert train.shape == (1500, 64) and test.shape == (297, 64)
    y = np.concatenate([train, test]).astype(np.float64)
    assert 0.0 < y.min() and y.max() < 1.0
    levels = np.floor(hd.DIGITS_LEVELS * y)
    original = load_digits().data
    # The same images (as a set of rows), each pixel inside its own level's bin.
    key = lambda a: np.array(sorted(map(tuple, a)))  # noqa: E731
    np.testing.assert_array_equal(key(levels), key(original))
    other_train, _ = hd.digits(seed=1)
    assert not np.allclose(train, other_train)


def test_bits_per_dim_of_the_uniform_density_is_log2_of_the_levels():
    # log p(y) = 0 on the unit cube: each of the 17 levels gets probability 1/17.
    assert hd.bits_per_dim(0.0) == pytest.approx(np.log2(17))
    # One more nat of log-likelihood is 1 / (64 log 2) fewer bits per dimension.
    assert hd.bits_per_dim(1.0) == pytest.approx(np.log2(17) - 1 / (64 * np.log(2)))


def test_highdim_study_writes_runs_and_table_and_resumes(tmp_path, monkeypatch, capsys):
    from tfp_rad.experiments import highdim as study
    from tfp_rad.experiments.run_store import RunStoreError

    output = str(tmp_path / "highdim")
    # Two of the models: the others' sections are tested on made-up runs below.
    kwargs = dict(problems=["mixture16"], seeds=[0], models=["rad", "real_nvp"])
    study.run(output, steps=50, **kwargs)
    assert "mixture16 seed 0: fitting the baselines (Gaussian, " in capsys.readouterr().out
    runs = sorted(os.listdir(os.path.join(output, "runs")))
    assert runs == ["mixture16-rad-seed0.json", "mixture16-real_nvp-seed0.json"]
    with open(os.path.join(output, "runs", runs[0])) as f:
        record = json.load(f)
    assert record["steps_run"] <= 50 and record["event_size"] == 16
    assert np.isfinite(record["test_log_likelihood"])
    assert (record["test_log_likelihood_lowest"] < record["test_log_likelihood"]
            and record["test_log_likelihood_lowest"] < record["test_log_likelihood_median"])
    assert record["test_log_likelihood"] < record["oracle_test_log_likelihood"] + 0.5
    with open(study.baselines_path(output, "mixture16", 0)) as f:
        baselines = json.load(f)["results"]
    assert sorted(baselines) == sorted(study.BASELINES)
    # The mixture of Gaussians that generated the data is in the baselines' family.
    oracle = record["oracle_test_log_likelihood"]
    assert baselines["gaussian"]["test"] < baselines["gaussian_mixture"]["test"] < oracle + 0.1
    table = open(os.path.join(output, "table.md")).read()
    assert "| mixture16 |" in table and "(n=1)" in table
    # The equal-count table has the columns of the models that ran, and their counts.
    assert "| RAD test LL | Real NVP test LL | RAD − Real NVP | oracle test LL |" in table
    assert "| 13142 / 13184 |" in table
    assert "## Classical baselines on the same splits" in table
    assert "## Other sizes" not in table  # no run of a shallow or larger model
    assert "## The test points' spread" in table
    assert f"| {record['test_log_likelihood_lowest']:.1f} |" in table
    assert f"{baselines['gaussian_mixture']['test']:.3f} (n=1)" in table
    # A second invocation trains and fits nothing; one of other settings is refused.
    monkeypatch.setattr(study, "train_one", lambda *a, **k: pytest.fail("retrained a run"))
    monkeypatch.setattr(study, "fit_baselines", lambda *a, **k: pytest.fail("refitted"))
    study.run(output, steps=50, **kwargs)
    with pytest.raises(RunStoreError, match="50 steps"):
        study.run(output, steps=100, **kwargs)


@pytest.mark.parametrize("problem, event_size", [("mixture16", 16), ("digits", 64)])
def test_highdim_models_have_parameter_counts_within_three_percent(problem, event_size):
    from tfp_rad.experiments import highdim as study

    counts = {m: study.make_model(problem, m, event_size).count_params() for m in study.MODELS}
    # The counts of the committed runs (results/beyond/highdim), in the order of MODELS.
    committed = {"mixture16": [13142, 13334, 13184, 12932, 52634, 26336],
                 "digits": [27302, 27470, 27872, 26468, 109934, 55616]}[problem]
    assert list(counts.values()) == committed
    equal = [counts[m] for m in study.EQUAL_COUNT_MODELS]
    assert max(equal) <= 1.03 * min(equal), counts
    # RAD's count in 4 layers, within 5 % (the nearest width at 64-D is 3 % below it).
    assert counts["rad_4_layers"] == pytest.approx(counts["rad"], rel=0.05), counts
    # Real NVP given RAD's cost: 4 and 2 times RAD's count, within 3 %.
    assert counts["real_nvp_wide"] == pytest.approx(4 * counts["rad"], rel=0.03), counts
    assert counts["real_nvp_deep"] == pytest.approx(2 * counts["rad"], rel=0.03), counts


def test_highdim_table_refuses_a_stray_baselines_file(tmp_path):
    from tfp_rad.experiments import highdim as study
    from tfp_rad.experiments.run_store import RunStoreError

    os.makedirs(tmp_path / "baselines")
    (tmp_path / "baselines" / "mixture16-seed0.json").write_text('{"problem": "mixture16"}')
    with pytest.raises(RunStoreError, match="not a baselines record"):
        study.write_table(str(tmp_path))


# Made-up mixture16 runs of two seeds: the model's parameter count, then per seed its test
# log-likelihood (mean over points), median and lowest point, wall seconds and steps run.
MADE_UP_RUNS = {
    "rad": (13142, [-14.0, -15.0], [-13.5, -13.7], [-58.2, -75.6], [40, 90], [2000, 3000]),
    "rad_nogating": (13334, [-14.5, -15.5], [-13.8, -13.9], [-60.1, -61.0], [30, 30],
                     [1500, 1500]),
    "real_nvp": (13184, [-15.0, -15.5], [-14.0, -14.1], [-93.3, -101.3], [10, 20],
                 [1000, 1000]),
    "rad_4_layers": (12932, [-14.25, -15.5], [-13.6, -13.8], [-84.9, -41.2], [20, 40],
                     [1000, 1000]),
    "real_nvp_wide": (52634, [-16.0, -17.5], [-14.6, -14.8], [-59.9, -91.2], [30, 50],
                      [1000, 2000]),
    "real_nvp_deep": (26336, [-15.5, -15.25], [-14.5, -14.4], [-52.2, -59.4], [20, 20],
                      [1000, 1000]),
}


def _write_made_up_run(output, problem, model, seed, parameters, test, median, lowest,
                       wall_seconds, steps_run):
    """Writes the run record that `tfp-rad highdim` stores, with these results, untrained."""
    from tfp_rad.experiments import highdim as study
    from tfp_rad.experiments import run_store

    config = {"problem": problem, "model": model, "seed": seed,
              "hidden_units": study.HIDDEN_UNITS[problem][model],
              "num_layers": study.num_layers(model), **study.SETTINGS[problem]}
    record = {"config": config, "event_size": {"mixture16": 16, "digits": 64}[problem],
              "parameters": parameters, "steps_run": steps_run,
              "train_log_likelihood": test + 1.0, "validation_log_likelihood": test + 0.5,
              "test_log_likelihood": test, "test_log_likelihood_median": median,
              "test_log_likelihood_lowest": lowest, "wall_seconds": wall_seconds,
              "versions": {"tfp_rad": "0.1.0", "machine": "made up"}}
    if problem == "mixture16":
        record["oracle_test_log_likelihood"] = -13.5 - 0.1 * seed
    else:
        record["test_bits_per_dim"] = hd.bits_per_dim(test)
    run_store.prepare_directories(output, "runs")
    run_store.write_record(output, record)


def _write_made_up_runs(output, models):
    """Writes the `MADE_UP_RUNS` of `models` on mixture16, seeds 0 and 1."""
    for model in models:
        parameters, *per_seed = MADE_UP_RUNS[model]
        for seed, results in enumerate(zip(*per_seed)):
            _write_made_up_run(output, "mixture16", model, seed, parameters, *results)


def _section(table, title):
    """The text of the section `## title` of a markdown table file, up to the next one."""
    start = table.index(f"## {title}\n")
    end = table.find("\n## ", start)
    return table[start:] if end < 0 else table[start:end]


def test_highdim_table_sections_compute_from_the_runs_of_every_model(tmp_path):
    from tfp_rad.experiments import highdim as study

    output = str(tmp_path)
    _write_made_up_runs(output, study.MODELS)
    _write_made_up_run(output, "digits", "rad", 0, 27302, 62.0, 65.0, -2063.2, 25, 800)
    table = open(study.write_table(output)).read()
    # The equal-count table: RAD − Real NVP per seed is 1.0 and 0.5, RAD no gating's 0.5
    # and 0; the oracle is one per seed (-13.5, -13.6); digits has RAD only.
    assert "| mixture16 | -14.500 ± 0.707 (n=2) | -15.000 ± 0.707 (n=2) | " in table
    assert "| 0.750 ± 0.354 (n=2) | 0.250 ± 0.354 (n=2) | -13.550 ± 0.071 (n=2) |" in table
    assert "| digits | 62.000 (n=1) | — | — | — | — | — |" in table
    assert "| 27302 / — / — | 800 / — / — |" in table
    # Other sizes: wall s per run is a mean of 40 and 90; ms per step run of 20 and 30.
    cost = _section(table, "Other sizes: RAD with 4 layers, Real NVP given RAD's cost")
    assert "| mixture16 | RAD | 6 × 16 | 13142 | -14.500 ± 0.707 (n=2) | — | 65 | 25.0 |" in cost
    # RAD − model: per seed 0.25 and 0.5; 2.0 and 2.5; 1.5 and 0.25 (paired by seed).
    assert ("| mixture16 | RAD 4 layers | 4 × 24 | 12932 | -14.875 ± 0.884 (n=2) | "
            "0.375 ± 0.177 (n=2) | 30 | 30.0 | 1000, 1000 |") in cost
    assert ("| mixture16 | Real NVP wide | 6 × 350 | 52634 | -16.750 ± 1.061 (n=2) | "
            "2.250 ± 0.354 (n=2) | 40 | 27.5 | 1000, 2000 |") in cost
    assert ("| mixture16 | Real NVP deep | 12 × 87 | 26336 | -15.375 ± 0.177 (n=2) | "
            "0.875 ± 0.884 (n=2) |") in cost
    assert "| mixture16 | Real NVP | 6 × 87 | 13184 | -15.250 ± 0.354 (n=2) |" in cost
    assert "RAD no gating" not in cost and "| digits |" not in cost  # neither has other sizes
    # The spread: mean and median over the points, each mean ± std over seeds; lowest per seed.
    spread = _section(table, "The test points' spread")
    assert "| mixture16 | RAD | -14.500 ± 0.707 (n=2) | -13.600 ± 0.141 (n=2) | -58.2, -75.6 |" \
        in spread
    assert ("| mixture16 | Real NVP wide | -16.750 ± 1.061 (n=2) | -14.700 ± 0.141 (n=2) | "
            "-59.9, -91.2 |") in spread
    assert ("| mixture16 | RAD 4 layers | -14.875 ± 0.884 (n=2) | -13.700 ± 0.141 (n=2) | "
            "-84.9, -41.2 |") in spread
    assert "| digits | RAD | 62.000 (n=1) | 65.000 (n=1) | -2063.2 |" in spread
    for name in study.MODEL_NAMES.values():
        assert spread.count(f"| mixture16 | {name} |") == 1, name


def test_highdim_table_of_some_models_shows_those_models_only(tmp_path):
    from tfp_rad.experiments import highdim as study

    _write_made_up_runs(str(tmp_path), ["rad_4_layers"])
    table = open(study.write_table(str(tmp_path))).read()
    assert "| problem |" not in table.split("## ")[0]  # no equal-count model: no such table
    assert "| mixture16 | RAD 4 layers | 4 × 24 | 12932 | -14.875 ± 0.884 (n=2) | — |" in table
    assert "| mixture16 | RAD 4 layers | -14.875 ± 0.884 (n=2) | " in table
    assert "## Classical baselines" not in table
    # Real NVP alone: its columns, no difference to RAD, the oracle of its runs' seeds.
    _write_made_up_runs(str(tmp_path), ["real_nvp"])
    table = open(study.write_table(str(tmp_path))).read()
    assert "| problem | Real NVP test LL | oracle test LL | Real NVP bits/dim |" in table
    assert "| mixture16 | -15.250 ± 0.354 (n=2) | -13.550 ± 0.071 (n=2) | — | 13184 |" in table


@pytest.mark.parametrize("models, message", [
    (["rad", "maf"], "Unknown model 'maf'; valid models are rad, rad_nogating, real_nvp, "
                     "rad_4_layers, real_nvp_wide, real_nvp_deep."),
    ([], "No models given"),
])
def test_highdim_run_refuses_unknown_models_before_any_work(tmp_path, models, message):
    from tfp_rad.experiments import highdim as study

    with pytest.raises(ValueError, match=re.escape(message)):
        study.run(str(tmp_path / "out"), models=models)
    assert not (tmp_path / "out").exists()


def test_highdim_command_line_passes_the_models_to_the_study(tmp_path, monkeypatch, capsys):
    from tfp_rad.cli import main as cli
    from tfp_rad.experiments import highdim as study

    calls = []

    def record_call(output, problems, seeds, steps, command, verbose, models):
        calls.append((models, command))
        return os.path.join(output, "table.md")

    monkeypatch.setattr(study, "run", record_call)
    output = str(tmp_path / "out")
    assert cli.main(["highdim", "--models", "rad", "real_nvp", "--output", output]) == 0
    assert cli.main(["highdim", "--problems", "digits", "--output", output]) == 0
    assert calls == [
        (["rad", "real_nvp"], "tfp-rad highdim --problems mixture16 digits --models rad "
                              f"real_nvp --seeds 0 1 2 --output {output}"),
        (list(study.MODELS), "tfp-rad highdim --problems digits --models "
                             f"{' '.join(study.MODELS)} --seeds 0 1 2 --output {output}"),
    ]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["highdim", "--models", "maf", "--output", output])
    assert exit_info.value.code == 2
    assert "invalid choice: 'maf'" in capsys.readouterr().err
