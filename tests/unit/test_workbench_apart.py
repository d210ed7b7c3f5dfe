"""The product never loads the development package `hub.dev` (the sandbox and launchers).

Each check runs in a fresh interpreter, so nothing this test session imported counts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_MODULES = ("hub.cli", "hub.sync", "hub.materialise", "hub.followup.jobs", "hub.web.app")
PRODUCT_FILES = (*sorted((ROOT / "dags").glob("*.py")), ROOT / "plugins" / "skolehub_plugin.py")

# Imports each module or file in turn and prints, for each, the hub.dev modules then loaded.
_IMPORT_EACH = """
import importlib, importlib.util, json, sys
loaded = {}
def dev_modules():
    return sorted(name for name in sys.modules if name == "hub.dev" or name.startswith("hub.dev."))
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
    loaded[name] = dev_modules()
for index, path in enumerate(json.loads(sys.argv[2])):
    spec = importlib.util.spec_from_file_location(f"_product_file_{index}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    loaded[path] = dev_modules()
import hub.dev.local_services  # the control: the check does see a loaded hub.dev
loaded["control"] = dev_modules()
print(json.dumps(loaded))
"""

# Runs product commands of `hub` (help, and each command up to its configuration) and
# prints the hub.dev modules loaded after each, with its exit code.
_RUN_COMMANDS = """
import json, sys
from hub.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    dev = sorted(name for name in sys.modules if name == "hub.dev" or name.startswith("hub.dev."))
    results.append([argv, code, dev])
print(json.dumps(results))
"""


def run_fresh(script: str, *arguments: object, env: dict[str, str] | None = None) -> object:
    """Run `script` in a new interpreter with JSON arguments and return the JSON it printed last."""
    result = subprocess.run(
        [sys.executable, "-c", script, *(json.dumps(argument) for argument in arguments)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=240,
        check=False,
    )
    assert 0 == result.returncode, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_product_modules_dags_and_plugin_import_without_hub_dev() -> None:
    """Importing the CLI, the engine, the web app, every DAG and the plugin loads no hub.dev."""
    files = [str(path) for path in PRODUCT_FILES]
    loaded = run_fresh(_IMPORT_EACH, PRODUCT_MODULES, files)
    assert isinstance(loaded, dict)
    assert "hub.dev.local_services" in loaded.pop("control")
    assert dict.fromkeys([*PRODUCT_MODULES, *files], []) == loaded


def test_product_commands_run_without_loading_hub_dev(tmp_path: Path) -> None:
    """`hub run`, `sync`, `compile`, `extract`, `check` (help, then to the config) skip hub.dev."""
    commands = [
        *([command, "--help"] for command in ("run", "sync", "compile", "extract", "check")),
        ["run"],
        ["sync", "nordby", "feide"],
        ["compile", "nordby"],
        ["extract", "nordby"],
        ["extract", "--verify", str(tmp_path)],
        ["check"],
    ]
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "HUB_VAR_DIR": str(tmp_path / "var"),
        "HUB_CONFIG": str(tmp_path / "absent.yaml"),
        "HUB_ENV_FILE": str(tmp_path / "absent.env"),
    }
    results = run_fresh(_RUN_COMMANDS, commands, env=env)
    assert isinstance(results, list)
    assert [command for command, _, _ in results] == commands
    assert {" ".join(argv): [] for argv in commands} == {
        " ".join(argv): dev for argv, _, dev in results
    }
    assert [0] * 5 == [code for _, code, _ in results[:5]]


def test_a_workbench_command_without_hub_dev_exits_2_saying_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Where hub.dev is not installed, `hub kafka` exits 2 naming the missing package."""
    from hub.cli import EXIT_USAGE, main

    for name in ("hub.dev", "hub.dev.kafka_local", "hub.dev.sandbox", "hub.dev.sandbox.slapd"):
        monkeypatch.setitem(sys.modules, name, None)
    assert EXIT_USAGE == main(["kafka", "status"])
    assert "hub.dev, the development package, is not installed" in capsys.readouterr().err
