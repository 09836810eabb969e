"""Training across worker processes with `tf.distribute.MultiWorkerMirroredStrategy`.

The test starts workers on this machine (`TF_CONFIG` with `127.0.0.1` ports), each this file
run as a script (`main`), and checks that

- two workers reach, for the same global batches, the NLL of one process training alone;
- a worker killed (SIGKILL) in the middle of an epoch, followed by a restart of both
  workers, resumes from Keras's `BackupAndRestore` and ends with the weights of the run
  that was never interrupted.

Most of a run's time is each process's start (importing TensorFlow, tracing `fit`'s
step, joining the cluster), so the runs are small (40 steps of a 2-layer RAD) and go two
at a time: the single process beside the killed pair, then the uninterrupted pair beside
the resumed one (four or five processes on the machine at once).

Keras 3's `BackupAndRestore` knows nothing of workers: every worker writes its own backup
(here `<dir>/worker-<index>`); they hold the same mirrored weights.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

NUM_POINTS, GLOBAL_BATCH, EPOCHS = 2000, 200, 4
STEPS_PER_EPOCH = NUM_POINTS // GLOBAL_BATCH
KILL_AT = (2, 4)  # (epoch, batch) after which worker 1 kills itself in the "kill" run
TIMEOUT = 240  # per pair of runs: about 80 s each on the 2-core machine at load 5


def main(output, backup_dir, kill):
    """One worker (or the single process without `TF_CONFIG`): trains, writes JSON."""
    import tensorflow as tf

    import keras

    from tfp_rad import datasets, training
    from tfp_rad.models import RADFlow

    config = json.loads(os.environ.get("TF_CONFIG", "null"))
    index = config["task"]["index"] if config else 0
    strategy = (tf.distribute.MultiWorkerMirroredStrategy() if config
                else tf.distribute.get_strategy())
    x = datasets.load("two_moons", NUM_POINTS, seed=1)
    # The same points in the same global batches every epoch; the strategy splits each
    # global batch between the workers (sharded by data, not by file).
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(GLOBAL_BATCH, drop_remainder=True)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = dataset.with_options(options)

    class KillSelf(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if (self.epoch, batch) == KILL_AT:
                os.kill(os.getpid(), signal.SIGKILL)

    callbacks = []
    if backup_dir:
        callbacks.append(keras.callbacks.BackupAndRestore(
            os.path.join(backup_dir, f"worker-{index}"), save_freq="epoch"))
    if kill and index == 1:
        callbacks.append(KillSelf())
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = RADFlow(2, num_layers=2, hidden_units=8)
        model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    initial_nll = -training.mean_log_likelihood(model, x)
    start = time.perf_counter()
    history = model.fit(dataset, epochs=EPOCHS, verbose=0, callbacks=callbacks)
    seconds = time.perf_counter() - start
    result = {
        "replicas": strategy.num_replicas_in_sync,
        "iterations": int(model.optimizer.iterations.numpy()),
        "epochs_run": len(history.epoch),
        "initial_nll": initial_nll,
        "nll": -training.mean_log_likelihood(model, x),
        "weights": [w.tolist() for w in model.get_weights()],
        "fit_s": seconds,
    }
    with open(output, "w") as f:
        json.dump(result, f)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start(tmp_path, name, index=None, ports=None, backup_dir="", kill=False):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    if ports is not None:
        env["TF_CONFIG"] = json.dumps({
            "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
            "task": {"type": "worker", "index": index},
        })
    output = tmp_path / f"{name}-{index}.json"
    log = open(tmp_path / f"{name}-{index}.log", "w")
    process = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), str(output), backup_dir, str(int(kill))],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    return process, output, tmp_path / f"{name}-{index}.log"


def start_workers(tmp_path, name, backup_dir="", kill=False):
    """Starts two workers of a cluster of their own; `finish` waits for them."""
    ports = free_ports(2)
    return [start(tmp_path, name, i, ports, backup_dir, kill) for i in range(2)], kill


def finish(run):
    """Waits for a pair of workers; their results (None for a worker that did not finish)."""
    workers, kill = run
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and any(p.poll() is None for p, _, _ in workers):
        if kill and workers[1][0].poll() is not None:
            time.sleep(1.0)  # worker 0 now waits for worker 1 forever: stop it too
            workers[0][0].kill()
        time.sleep(0.2)
    results = []
    for process, output, log in workers:
        if process.poll() is None:
            process.kill()
        process.wait()
        if not kill:
            assert process.returncode == 0, log.read_text()[-3000:]
        results.append(json.loads(output.read_text()) if output.exists() else None)
    return results


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("multi_worker")
    backup = str(tmp_path / "backup")
    single, output, log = start(tmp_path, "single")
    killed = finish(start_workers(tmp_path, "killed", backup_dir=backup, kill=True))
    assert single.wait(TIMEOUT) == 0, log.read_text()[-3000:]
    two_workers = start_workers(tmp_path, "two")
    resumed = finish(start_workers(tmp_path, "resumed", backup_dir=backup))
    return {
        "single": json.loads(output.read_text()),
        "two_workers": finish(two_workers),
        "killed": killed,
        "resumed": resumed,
    }


def test_two_workers_reach_the_single_worker_nll(runs):
    single, workers = runs["single"], runs["two_workers"]
    assert single["replicas"] == 1 and all(w["replicas"] == 2 for w in workers)
    assert all(w["iterations"] == EPOCHS * STEPS_PER_EPOCH for w in workers)
    decrease = single["initial_nll"] - single["nll"]
    assert decrease > 0.3, single  # measured: 0.75 nats
    # The same global batches, each split between the workers: only rounding differs,
    # amplified by Adam (measured: below 1e-5 nats).
    for worker in workers:
        assert worker["initial_nll"] == pytest.approx(single["initial_nll"], abs=1e-6)
        assert abs(worker["nll"] - single["nll"]) < 0.03 * decrease, (worker["nll"], single["nll"])
    np.testing.assert_allclose(workers[0]["nll"], workers[1]["nll"], atol=1e-6)


def test_killed_worker_resumes_from_backup_and_loses_nothing(runs):
    assert all(result is None for result in runs["killed"])  # neither finished
    resumed, uninterrupted = runs["resumed"], runs["two_workers"]
    for worker in resumed:
        assert worker["iterations"] == EPOCHS * STEPS_PER_EPOCH
        # Only the epochs after the last backup (taken at the end of epoch KILL_AT[0] - 1)
        # ran again.
        assert worker["epochs_run"] == EPOCHS - KILL_AT[0]
        for a, b in zip(worker["weights"], uninterrupted[0]["weights"]):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
        assert abs(worker["nll"] - uninterrupted[0]["nll"]) < 1e-4


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], bool(int(sys.argv[3])))
