"""Reliability: resuming killed runs, divergence, hostile inputs, safe loading, determinism.

`docs/reliability.md` lists what each test shows.
"""

import importlib
import inspect
import json
import os
import pkgutil
import signal
import subprocess
import sys
import time
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import randomize, randomize_rad

import tfp_rad
from tfp_rad import datasets, training
from tfp_rad.cli import main as cli
from tfp_rad.fold import PiecewiseFold
from tfp_rad.models import FlowModel, HybridFlow, RADFlow, RealNVPFlow, ShiftAndLogScale
from tfp_rad.models.rad_flow import RADStack
from tfp_rad.models.layers import ScaledTanh, StackedMLP, mlp

MODELS = {"rad": RADFlow, "real_nvp": RealNVPFlow}
OUTPUTS = ["density.png", "model.keras", "results.json", "samples.png"]
SMALL = ["--num-train", "500", "--num-test", "500", "--batch-size", "100", "--num-layers", "2"]
SMALL += ["--no-jit", "--verbose", "0"]


@pytest.fixture(scope="module")
def moons():
    return datasets.load("two_moons", num_samples=1000, seed=0)


def trained(kind, moons, steps=20):
    keras.utils.set_random_seed(0)
    model = MODELS[kind](2, num_layers=2)
    training.fit_steps(model, moons, steps, batch_size=100, jit_compile=False, verbose=0)
    return model


# ------------------------------------------------------------------------------------------
# Runs that survive a SIGKILL.


def test_killed_training_resumes_from_its_checkpoint_and_writes_results_once(tmp_path):
    output, steps = tmp_path / "run", 200
    command = [sys.executable, "-m", "tfp_rad", "train", "--steps", str(steps)]
    command += ["--steps-per-epoch", "25", "--output", str(output), *SMALL]
    metadata = output / "checkpoint" / "training_metadata.json"
    with open(tmp_path / "log", "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while not metadata.exists():  # written after the weights of the first backup
            assert process.poll() is None, (tmp_path / "log").read_text()
            assert time.monotonic() < deadline, "no backup in 300 s"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL  # killed mid-run, not after it
    assert not (output / "results.json").exists() and not (output / "model.keras").exists()
    backed_up = 25 * json.loads(metadata.read_text())["epoch"]
    assert 0 < backed_up < steps

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"resuming from {output / 'checkpoint'}" in rerun.stdout
    assert f"Resumed at step {backed_up}; trained to step {steps}." in rerun.stdout
    results = json.loads((output / "results.json").read_text())
    assert results["optimizer_steps"] == steps and results["resumed_from_step"] == backed_up
    assert np.isfinite(results["test_log_likelihood"])
    model = tfp_rad.load_model(output / "model.keras")
    assert int(model.optimizer.iterations.numpy()) == steps
    assert sorted(os.listdir(output)) == OUTPUTS  # no checkpoint, no partial files left


def test_a_checkpoint_of_other_settings_is_refused(tmp_path, capsys):
    checkpoint = tmp_path / "checkpoint"
    training.backup_and_restore(str(checkpoint), {"steps": 300, "seed": 0})
    (checkpoint / "latest.weights.h5").write_bytes(b"a backup")
    with pytest.raises(ValueError, match=r"other settings \(steps=300 there, 400 here\)"):
        training.backup_and_restore(str(checkpoint), {"steps": 400, "seed": 0})
    argv = ["train", "--steps", "20", "--checkpoint-dir", str(checkpoint)]
    assert cli.main(argv + ["--output", str(tmp_path / "out"), *SMALL]) == 2
    assert "is of a run with other settings" in capsys.readouterr().err
    assert (checkpoint / "latest.weights.h5").read_bytes() == b"a backup"  # left alone
    training.remove_checkpoint(str(checkpoint))
    assert not checkpoint.exists()


@pytest.mark.parametrize("steps, steps_per_epoch", [(120, None), (150, 30), (7, None)])
def test_fit_steps_runs_exactly_the_steps_asked_for(moons, steps, steps_per_epoch):
    model = RADFlow(2, num_layers=1)
    history, _ = training.fit_steps(
        model, moons, steps, batch_size=100, steps_per_epoch=steps_per_epoch,
        jit_compile=False, verbose=0,
    )
    assert int(model.optimizer.iterations.numpy()) == steps
    assert len(history.epoch) * history.params["steps"] == steps


def test_steps_per_epoch_must_divide_the_steps(moons):
    with pytest.raises(ValueError, match="steps_per_epoch=70 must divide steps=300"):
        training.fit_steps(RADFlow(2, num_layers=1), moons, 300, steps_per_epoch=70)


def test_weight_decay_shrinks_every_weight_by_the_learning_rate_times_the_decay(moons):
    # Decoupled decay: one step from theta_0 with decay w lands at the plain Adam step minus
    # lr w theta_0 (the gradient is taken at theta_0 in both runs).
    keras.utils.set_random_seed(0)
    plain, decayed = RADFlow(2, num_layers=1), RADFlow(2, num_layers=1)
    randomize_rad(plain, seed=3)
    start = plain.get_weights()
    decayed.set_weights(start)
    for model, weight_decay in [(plain, None), (decayed, 0.5)]:
        training.fit_steps(
            model, moons, 1, batch_size=100, learning_rate=0.01, weight_decay=weight_decay,
            jit_compile=False, verbose=0,
        )
    for theta_0, after_plain, after_decayed in zip(
        start, plain.get_weights(), decayed.get_weights()
    ):
        assert np.any(theta_0 != 0)
        np.testing.assert_allclose(after_decayed - after_plain, -0.01 * 0.5 * theta_0, atol=1e-7)


@pytest.mark.parametrize("weight_decay", [0.0, -0.1, float("nan"), float("inf"), "0.1", True])
def test_impossible_weight_decay_is_rejected(moons, weight_decay):
    with pytest.raises(ValueError, match="weight_decay must be a positive number or None"):
        training.fit_steps(RADFlow(2, num_layers=1), moons, 10, weight_decay=weight_decay)


@pytest.mark.parametrize("learning_rate", [0.0, float("nan"), "fast", None])
def test_impossible_learning_rate_is_rejected(moons, learning_rate):
    with pytest.raises(ValueError, match="learning_rate must be a positive number"):
        training.fit_steps(RADFlow(2, num_layers=1), moons, 10, learning_rate=learning_rate)


# ------------------------------------------------------------------------------------------
# Divergence: a clear stop, never a NaN model on disk.


def test_diverging_training_stops_with_a_clear_error_before_backing_up_nan(tmp_path, moons):
    keras.utils.set_random_seed(5)  # a seed on which learning rate 30 diverges
    model = RADFlow(2, num_layers=2)
    checkpoint = tmp_path / "checkpoint"
    backup = training.backup_and_restore(str(checkpoint), {"learning_rate": 30.0})
    with pytest.raises(training.TrainingDivergedError, match=r"diverged by step \d+ of 100"):
        training.fit_steps(
            model, moons, 100, batch_size=100, learning_rate=30.0, decay="none",
            steps_per_epoch=10, jit_compile=False, verbose=0, callbacks=[backup],
        )
    assert tfp_rad.saving.non_finite_weights(model)
    # On this seed the loss stays finite for an epoch or more, so a backup exists. It holds
    # the last finite epoch: TerminateOnNaN stops fit before the NaN epoch is backed up.
    restored = RADFlow(2, num_layers=2)
    restored.compile(optimizer=keras.optimizers.Adam())
    restored.optimizer.build(restored.trainable_variables)
    restored.load_weights(checkpoint / "latest.weights.h5")
    assert not tfp_rad.saving.non_finite_weights(restored)
    with pytest.raises(ValueError, match="Refusing to save .* NaN or inf"):
        tfp_rad.save_model(model, tmp_path / "model.keras")
    assert os.listdir(tmp_path) == ["checkpoint"]


def test_tfp_rad_train_reports_divergence_and_writes_nothing(tmp_path, capsys):
    output = tmp_path / "out"
    argv = ["train", "--steps", "40", "--learning-rate", "1e10", "--decay", "none"]
    assert cli.main(argv + ["--output", str(output), *SMALL]) == 1
    error = capsys.readouterr().err
    assert "Training diverged" in error and "lower the learning rate" in error
    assert os.listdir(output) == []  # no model, no results, checkpoint removed


def test_tfp_rad_train_takes_rads_gating_width(tmp_path):
    output = tmp_path / "out"
    argv = ["train", "--steps", "20", "--gating-hidden-units", "0", "--output", str(output)]
    assert cli.main(argv + SMALL) == 0
    model = keras.saving.load_model(output / "model.keras")
    assert model.gating_hidden_units == 0
    assert model.count_params() == RADFlow(2, num_layers=2, gating_hidden_units=0).count_params()
    assert model.count_params() < RADFlow(2, num_layers=2).count_params()


@pytest.mark.parametrize(
    "options, message",
    [
        (["--gating-hidden-units", "4", "--model", "real_nvp"], "applies to --model rad only"),
        (["--gating-hidden-units", "-1"], "gating_hidden_units must be a non-negative integer"),
        (["--hidden-units", "0"], "hidden_units must be a positive integer"),
    ],
)
def test_tfp_rad_train_rejects_impossible_sizes(tmp_path, capsys, options, message):
    output = tmp_path / "out"
    assert cli.main(["train", *options, "--output", str(output), *SMALL]) == 2
    error = capsys.readouterr().err
    assert error.startswith("tfp-rad train: ") and message in error, error
    assert not output.exists()


# ------------------------------------------------------------------------------------------
# Hostile inputs.


@pytest.mark.parametrize(
    "bad",
    [np.array([[1 + 2j, 0.5]]), np.array([[True, False]]), tf.constant([[1 + 2j, 0.5j]])],
    ids=["complex", "bool", "complex-tensor"],
)
@pytest.mark.parametrize("kind", MODELS)
def test_complex_and_bool_points_are_rejected(kind, bad):
    model = MODELS[kind](2, num_layers=1)
    model.compile(optimizer="adam", jit_compile=False)
    with pytest.raises(ValueError, match="must be real numbers; got .*dtype (complex|bool)"):
        model.log_prob(bad)
    with pytest.raises(ValueError, match="must be real numbers; got .*dtype (complex|bool)"):
        model.fit(bad, verbose=0)


@pytest.mark.parametrize("kind", MODELS)
def test_integer_points_are_cast_to_the_model_dtype(kind):
    model = MODELS[kind](2, num_layers=1)
    integers = np.array([[1, -2], [0, 3]], np.int64)
    np.testing.assert_array_equal(model.log_prob(integers), model.log_prob(integers * 1.0))
    model.compile(optimizer="adam", jit_compile=False)
    model.fit(np.tile(integers, (50, 1)).astype(np.int32), batch_size=50, verbose=0)
    assert not tfp_rad.saving.non_finite_weights(model)


EXTREME_POINTS = np.array(
    [[1e4, 1e4], [-1e4, 1e4], [1e4, -1e4], [-1e4, -1e4], [0.0, 1e4], [1e4, 0.0], [3e3, -7e3]],
    np.float32,
)


@pytest.mark.parametrize("state", ["initial", "random"])
@pytest.mark.parametrize("kind", MODELS)
def test_points_up_to_1e4_have_finite_log_prob_and_gradients(kind, state):
    model = MODELS[kind](2)
    if state == "random" and kind == "rad":
        randomize_rad(model, 0)
    elif state == "random":
        randomize(model, 0, 0.5)
    x = tf.constant(EXTREME_POINTS)
    with tf.GradientTape() as tape:
        tape.watch(x)
        log_prob = model.log_prob(x)
        loss = -tf.reduce_mean(log_prob)
    gradients = tape.gradient(loss, [x, *model.trainable_variables])
    assert np.all(np.isfinite(log_prob)) and np.all(np.asarray(log_prob) < -1e6)
    assert all(np.all(np.isfinite(g)) for g in gradients)


@pytest.mark.parametrize("kind", MODELS)
def test_points_at_or_near_infinity_get_minus_infinity(kind):
    model = MODELS[kind](2, num_layers=2)
    x = np.array([[np.inf, 0.0], [0.0, -np.inf], [1e30, 0.0], [np.nan, 0.0]], np.float32)
    log_prob = model.log_prob(x).numpy()
    assert np.all(np.isneginf(log_prob[:3])) and np.isnan(log_prob[3])
    # float64 points beyond float32's range become inf when cast: -inf too.
    assert np.isneginf(model.log_prob(np.array([[1e300, 0.0]]))).all()


def assert_finite_everywhere(model, x):
    """log_prob, its gradients, samples and their log_prob are all finite."""
    x = tf.constant(x, model.compute_dtype)
    with tf.GradientTape() as tape:
        log_prob = model.log_prob(x)
        loss = -tf.reduce_mean(log_prob)
    gradients = tape.gradient(loss, model.trainable_variables)
    samples = model.sample(1000, seed=0)
    assert np.all(np.isfinite(log_prob)), np.asarray(log_prob).min()
    assert all(np.all(np.isfinite(g)) for g in gradients)
    assert np.all(np.isfinite(samples)) and np.all(np.isfinite(model.log_prob(samples)))


@pytest.mark.parametrize("value", [30.0, 1e4, 1e30])
@pytest.mark.parametrize("pattern", ["boundary_probabilities", "scales_up", "scales_down"])
def test_extreme_free_fold_parameters_stay_finite(pattern, value):
    model = RADFlow(1, num_layers=2)
    raw = np.zeros((1, 10), np.float32)
    if pattern == "boundary_probabilities":  # q+ -> (1, 0, 0) and q- -> (0, 0, 1)
        raw[0, 4:] = [value, -value, 0.0, 0.0, -value, value]
    else:  # log-scales soft-clipped to +-8 in and out
        raw[0, [1, 3]] = value if pattern == "scales_up" else -value
    raw[0, [0, 2]] = 3.0  # and shifted
    for fold in model.folds:
        fold.raw_parameters.assign(raw)
    q_plus = np.exp(np.stack(model.folds[0].fold_parameters(np.zeros((1, 1))).log_q_plus))
    if pattern == "boundary_probabilities":  # clipped to min_p / 3 = 1e-3 / 3
        np.testing.assert_allclose(q_plus.ravel(), [1 - 2e-3 / 3, 1e-3 / 3, 1e-3 / 3], rtol=1e-5)
    x = np.random.default_rng(0).normal(0.0, 3.0, (500, 1))
    assert_finite_everywhere(model, x)


@pytest.mark.parametrize("value", [30.0, 1e4])
def test_extreme_conditioner_and_gating_outputs_stay_finite(value):
    model = RADFlow(2, num_layers=2)
    rng = np.random.default_rng(1)
    for fold, gating in zip(model.folds, model.gatings):
        for network in (fold.conditioner, gating):
            shape = network.weight("output_bias").shape
            network.assign("output_bias", value * rng.choice([-1.0, 1.0], shape))
        fold.conditioner.assign("scale", value)  # raw outputs +-value
    assert_finite_everywhere(model, rng.normal(0.0, 2.0, (500, 2)))


# ------------------------------------------------------------------------------------------
# Saving and loading.


def write_archive(path, source, **replace):
    """Copies the `.keras` archive `source` to `path`, replacing some members' bytes."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w") as new:
        for name in old.namelist():
            new.writestr(name, replace.get(name.replace(".", "_"), old.read(name)))


def test_load_model_names_the_file_and_the_problem(tmp_path, moons):
    good, model = tmp_path / "good.keras", trained("rad", moons)
    tfp_rad.save_model(model, good)
    data = good.read_bytes()
    (tmp_path / "truncated.keras").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.keras").write_text("not a model")
    config = json.loads(zipfile.ZipFile(good).read("config.json"))
    config["config"]["num_layers"] = 3
    write_archive(tmp_path / "other_layers.keras", good, config_json=json.dumps(config))
    write_archive(tmp_path / "bad_weights.keras", good, model_weights_h5=b"garbage")
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)]).save(tmp_path / "dense.keras")
    lambda_model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda v: 2 * v)])
    lambda_model.save(tmp_path / "lambda.keras")
    model.weights[0].assign(np.full(model.weights[0].shape, np.nan))
    model.save(tmp_path / "nan.keras")  # Keras's own save does not check
    cases = {
        "missing.keras": "no such file",
        "truncated.keras": "not a .keras archive .* truncated or corrupt",
        "text.keras": "not a .keras archive",
        "other_layers.keras": "could not be loaded",
        "bad_weights.keras": "OSError",
        "dense.keras": "holds a Sequential, not a tfp_rad flow model",
        "lambda.keras": "Lambda.* arbitrary code execution",
        "nan.keras": "NaN or inf in 1 weight tensor",
    }
    for name, message in cases.items():
        with pytest.raises(ValueError, match=message) as error:
            tfp_rad.load_model(tmp_path / name)
        assert str(tmp_path / name) in str(error.value)


@pytest.mark.parametrize("kind", MODELS)
def test_saved_archive_runs_no_code_and_reloads_compiled_with_its_optimizer(
    kind, tmp_path, moons
):
    model = trained(kind, moons, steps=30)
    path = tmp_path / "model.keras"
    tfp_rad.save_model(model, path)
    config = json.loads(zipfile.ZipFile(path).read("config.json"))

    def python_code(node):
        """Entries of a Keras config that deserialize to Python functions or lambdas."""
        if isinstance(node, dict):
            here = [node] if node.get("class_name") in ("__lambda__", "function", "Lambda") else []
            return here + [entry for value in node.values() for entry in python_code(value)]
        if isinstance(node, list):
            return [entry for value in node for entry in python_code(value)]
        return []

    assert config["registered_name"] == f"tfp_rad>{type(model).__name__}"
    assert python_code(config) == []
    loaded = tfp_rad.load_model(path)  # safe_mode=True
    assert int(loaded.optimizer.iterations.numpy()) == 30 and not loaded.jit_compile
    for saved, restored in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(saved, restored)
    np.testing.assert_array_equal(loaded.log_prob(moons[:50]), model.log_prob(moons[:50]))


def custom_classes():
    """Every Keras layer or model class defined in tfp_rad, but the abstract bases."""
    found = set()
    for info in pkgutil.walk_packages(tfp_rad.__path__, "tfp_rad."):
        if info.name == "tfp_rad.__main__":
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and issubclass(cls, keras.layers.Layer):
                found.add(cls)
    return found - {FlowModel, RADStack}  # abstract bases, never saved themselves


EXAMPLES = {
    PiecewiseFold: lambda: PiecewiseFold(2, conditioner=mlp(4, 10, "conditioner")),
    ScaledTanh: ScaledTanh,
    StackedMLP: lambda: StackedMLP(3, 2, 4, 5, zero_output=True, scaled_tanh=True),
    ShiftAndLogScale: lambda: ShiftAndLogScale(4, 1, 1),
    RADFlow: lambda: RADFlow(2, num_layers=2),
    RealNVPFlow: lambda: RealNVPFlow(2, num_layers=2),
    HybridFlow: lambda: HybridFlow(2, layers=("rad", "real_nvp")),
}


def as_json(config):
    """`config` as it reads back from a `.keras` archive (tuples become lists)."""
    return json.loads(json.dumps(config))


def test_every_custom_class_is_registered_and_round_trips():
    assert custom_classes() == set(EXAMPLES), "a new class needs registering and an example"
    for cls, make in EXAMPLES.items():
        assert keras.saving.get_registered_name(cls) == f"tfp_rad>{cls.__name__}"
        original = make()
        config = as_json(keras.saving.serialize_keras_object(original))
        copy = keras.saving.deserialize_keras_object(config, safe_mode=True)
        assert type(copy) is cls
        assert as_json(copy.get_config()) == as_json(original.get_config())
        assert [v.shape for v in copy.weights] == [v.shape for v in original.weights]


# ------------------------------------------------------------------------------------------
# Determinism on CPU.


@pytest.mark.parametrize("jit_compile", [False, True], ids=["eager-graph", "xla"])
@pytest.mark.parametrize("kind", MODELS)
def test_same_seed_same_training_and_samples(kind, jit_compile, moons):
    runs = []
    for _ in range(2):
        keras.utils.set_random_seed(7)
        model = MODELS[kind](2, num_layers=1)
        training.fit_steps(
            model, moons, 10, batch_size=100, jit_compile=jit_compile, verbose=0
        )
        runs.append((model.get_weights(), model.sample(200, seed=3).numpy()))
    (weights_a, samples_a), (weights_b, samples_b) = runs
    assert all(np.array_equal(a, b) for a, b in zip(weights_a, weights_b))
    np.testing.assert_array_equal(samples_a, samples_b)
