"""The machine a run measured: CPU, cores, load, library versions, date, and other load.

`OtherLoad` measures how busy the CPUs were with *other* processes over an interval:
total busy CPU time from `/proc/stat` minus this process's own CPU time, in cores.
"""

import datetime
import os
import platform
import subprocess
import sys
import time


def cpu_model():
    """The `model name` of /proc/cpuinfo (with family/model/stepping and MHz when known)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        return platform.processor() or "unknown"
    name = fields.get("model name", platform.processor() or "unknown")
    details = [
        f"{label} {fields[key]}"
        for key, label in (("cpu family", "family"), ("model", "model"), ("stepping", "stepping"))
        if key in fields
    ]
    if "cpu MHz" in fields:
        details.append(f"{float(fields['cpu MHz']):.0f} MHz")
    return f"{name} ({', '.join(details)})" if details else name


def load_average():
    return [round(v, 2) for v in os.getloadavg()]


def _git_commit():
    """The checkout's short commit (or `BENCHMARK_GIT_COMMIT`, for a copy without .git)."""
    if os.environ.get("BENCHMARK_GIT_COMMIT"):
        return os.environ["BENCHMARK_GIT_COMMIT"]
    try:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
            text=True, timeout=10, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
        return commit + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def info():
    """Machine and software description, JSON-ready."""
    import keras
    import numpy
    import tensorflow as tf
    import tensorflow_probability as tfp

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "tensorflow": tf.__version__,
        "tensorflow_probability": tfp.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "git_commit": _git_commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _busy_seconds():
    """Total busy CPU seconds of the machine since boot (None without /proc/stat)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_seconds():
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class OtherLoad:
    """CPU cores kept busy by other processes between `start()` and `stop()`."""

    def start(self):
        self._wall, self._busy, self._own = time.monotonic(), _busy_seconds(), _own_seconds()
        return self

    def stop(self):
        """Average number of cores used by other processes over the interval (or None)."""
        busy = _busy_seconds()
        wall = time.monotonic() - self._wall
        if busy is None or self._busy is None or wall <= 0:
            return None
        other = (busy - self._busy) - (_own_seconds() - self._own)
        return round(max(other, 0.0) / wall, 2)
