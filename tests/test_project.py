"""The project holds together: configuration agrees with itself, tools are clean."""

import configparser
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_grading_config_agrees_with_the_projects_on_asyncio():
    grading = configparser.ConfigParser()
    grading.read(ROOT / "workbook/grading.ini")
    ours = PYPROJECT["tool"]["pytest"]["ini_options"]
    for key in (
        "asyncio_mode",
        "asyncio_default_fixture_loop_scope",
        "asyncio_default_test_loop_scope",
    ):
        assert grading["pytest"][key] == ours[key], key


def test_bootstrap_installs_the_uv_the_lock_pins():
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    (uv,) = [p["version"] for p in lock["package"] if p["name"] == "uv"]
    assert f'UV_VERSION = "{uv}"' in (ROOT / "bootstrap.py").read_text()


def test_quickstart_has_exactly_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```bash\n(.*?)```", section, re.S)
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["python3 bootstrap.py start", "python3 bootstrap.py test"]
    assert "exec python3 bootstrap.py test" in (ROOT / ".ci/run").read_text()


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict"],
)
def test_code_is_clean(command):
    done = subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_vscode_tasks_run_real_workbook_commands():
    tasks = json.loads((ROOT / ".vscode/tasks.json").read_text())["tasks"]
    commands = {"watch", "check", "hint", "list"}
    for task in tasks:
        words = task["command"].split()
        assert words[0] == "${workspaceFolder}/.venv/bin/workbook", task["label"]
        assert words[1] in commands, task["label"]
    settings = json.loads((ROOT / ".vscode/settings.json").read_text())
    assert "--target" in settings["python.testing.pytestArgs"]
