"""The package's layering: no import cycles, lower layers never import upper ones, and a
command line whose `--help` needs no TensorFlow and whose output carries none of
TensorFlow's C++ start-up log."""

import ast
import os
import subprocess
import sys

import pytest
from conftest import CHECKOUT

import tfp_rad

PACKAGE_DIR = os.path.dirname(tfp_rad.__file__)
LAYERS = ("library", "experiments", "cli")  # from the bottom up


def module_names():
    """`{dotted module name: path}` of every module of the package."""
    names = {}
    for directory, _, files in os.walk(PACKAGE_DIR):
        for file in files:
            if file.endswith(".py"):
                path = os.path.join(directory, file)
                relative = os.path.relpath(path, os.path.dirname(PACKAGE_DIR))[:-3]
                parts = relative.split(os.sep)
                if parts[-1] == "__init__":
                    parts.pop()
                names[".".join(parts)] = path
    return names


def import_graph():
    """`{module: {modules of the package it imports anywhere (functions included)}}`.

    `from a import b` counts as an import of `a.b` when that is a module, else of `a`.
    """
    names = module_names()
    graph = {}
    for name, path in names.items():
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    imported.add(full if full in names else node.module)
        graph[name] = {module for module in imported if module in names and module != name}
    return graph


def find_cycle(graph):
    """A list of modules forming an import cycle (first == last), or None."""
    state = {}  # 1: on the current path, 2: done

    def visit(node, path):
        state[node] = 1
        for child in sorted(graph.get(node, ())):
            if state.get(child) == 1:
                return path[path.index(child):] + [child] if child in path else [node, child]
            if child not in state:
                cycle = visit(child, path + [child])
                if cycle:
                    return cycle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start, [start])
            if cycle:
                return cycle
    return None


def layer(module):
    if module == "tfp_rad.__main__":  # `python -m tfp_rad` is the command line
        return LAYERS.index("cli")
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS[1:] else 0


def test_find_cycle_finds_a_cycle_and_only_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert {"tfp_rad.fold", "tfp_rad.cli.main", "tfp_rad.experiments.paper"} <= set(graph)
    assert "tfp_rad.experiments.run_store" in graph["tfp_rad.experiments.paper"]
    assert find_cycle(graph) is None


def test_lower_layers_never_import_upper_ones():
    upward = [
        f"{module} ({LAYERS[layer(module)]}) imports {target} ({LAYERS[layer(target)]})"
        for module, targets in import_graph().items()
        for target in targets
        if layer(target) > layer(module)
    ]
    assert upward == []


HELP_PROBE = """
import sys
from tfp_rad.cli.main import main
for command in sys.argv[1:]:
    try:
        main(([command] if command else []) + ["--help"])
    except SystemExit as exit:
        assert exit.code == 0, (command, exit.code)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
print("LOADED", loaded)
"""


def test_interpreters_the_tests_start_import_this_checkout(tmp_path):
    # As `python tests/test_distributed.py` does: the script's own folder on the path, the
    # working directory elsewhere. The package it imports is the one under test.
    script = tmp_path / "probe.py"
    script.write_text("import tfp_rad\nprint(tfp_rad.__file__)\n")
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120,
        check=True, cwd=tmp_path,
    )
    assert result.stdout.strip() == tfp_rad.__file__ == os.path.join(
        CHECKOUT, "tfp_rad", "__init__.py")


def test_help_of_every_command_imports_no_tensorflow():
    commands = ["", "train", "sample", "score", "reproduce", "plot", "study", "highdim"]
    result = subprocess.run(
        [sys.executable, "-c", HELP_PROBE, *commands],
        capture_output=True, text=True, timeout=120, check=True,
    )
    assert "usage: tfp-rad reproduce" in result.stdout
    assert "LOADED []" in result.stdout


def test_train_output_carries_no_tensorflow_start_up_log(tmp_path):
    # A user's environment: no TF_CPP_MIN_LOG_LEVEL (conftest sets one for the tests).
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    # What importing TensorFlow prints on this machine, outside the command line.
    raw = subprocess.run(
        [sys.executable, "-c", "import tensorflow as tf; tf.config.list_logical_devices()"],
        capture_output=True, text=True, timeout=300, env=env,
    )
    start_up = [line for line in raw.stderr.splitlines() if line.strip()]
    # One layer: the same log lines as the default six (its runtime E0000 line included).
    command = [
        sys.executable, "-m", "tfp_rad", "train", "--steps", "4", "--num-train", "200",
        "--num-test", "200", "--num-layers", "1", "--no-jit", "--verbose", "0", "--output",
        str(tmp_path / "out"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "log-likelihood" in result.stdout
    for marker in ("absl::InitializeLog", "cuInit", "oneDNN", "cuda drivers", "I0000", "E0000"):
        assert marker not in output, marker
    for line in start_up:
        assert line not in output


@pytest.mark.parametrize("argv", [["--steps", "0"], ["--dataset", "nowhere"]])
def test_bad_options_are_refused_before_tensorflow_loads(argv):
    probe = (
        "import sys\nfrom tfp_rad.cli.main import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    print('EXIT', e.code)\n"
        "print('LOADED', 'tensorflow' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, "train", *argv], capture_output=True, text=True,
        timeout=120,
    )
    assert "EXIT 2" in result.stdout and "LOADED False" in result.stdout
