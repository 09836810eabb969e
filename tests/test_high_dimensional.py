"""The problems beyond the paper: the 16-D mixture's density and the dequantized digits."""

import json
import os

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
    study.run(output, problems=["mixture16"], seeds=[0], steps=50)
    assert "mixture16 seed 0: fitting the baselines (Gaussian, " in capsys.readouterr().out
    runs = sorted(os.listdir(os.path.join(output, "runs")))
    assert runs == sorted(f"mixture16-{m}-seed0.json" for m in study.MODELS)
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
    assert "## Classical baselines on the same splits" in table
    assert "## Other sizes: RAD with 4 layers, Real NVP given RAD's cost" in table
    assert "| 12 × 87 | 26336 |" in table and "| 4 × 24 | 12932 |" in table
    assert "## The test points' spread" in table
    assert f"| {record['test_log_likelihood_lowest']:.1f} |" in table
    assert f"{baselines['gaussian_mixture']['test']:.3f} (n=1)" in table
    # A second invocation trains and fits nothing; one of other settings is refused.
    monkeypatch.setattr(study, "train_one", lambda *a, **k: pytest.fail("retrained a run"))
    monkeypatch.setattr(study, "fit_baselines", lambda *a, **k: pytest.fail("refitted"))
    study.run(output, problems=["mixture16"], seeds=[0], steps=50)
    with pytest.raises(RunStoreError, match="50 steps"):
        study.run(output, problems=["mixture16"], seeds=[0], steps=100)


@pytest.mark.parametrize("problem, event_size", [("mixture16", 16), ("digits", 64)])
def test_highdim_models_have_parameter_counts_within_three_percent(problem, event_size):
    from tfp_rad.experiments import highdim as study

    counts = {m: study.make_model(problem, m, event_size).count_params() for m in study.MODELS}
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
