"""Fixtures for the grader's own tests: a throwaway copy of a tiny sample workbook."""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbook.launch import ColdLauncher, Launcher, base_env
from workbook.zygote import Primed, Zygote

SAMPLE = Path(__file__).with_name("sample_workbook")

collect_ignore = ["sample_workbook"]


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A fresh copy of the sample workbook; tests may break it as they like."""
    root = tmp_path / "workbook"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("__pycache__", ".workbook"))
    return root


@pytest.fixture(scope="session")
def zygote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zygote]:
    """One warm zygote per test process."""
    warm = Zygote(base_env(tmp_path_factory.mktemp("zygote")))
    yield warm
    warm.close()


@pytest.fixture(params=["cold", "primed", "warm"])
def launcher(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Launcher]:
    """Each grading test runs three ways: a fresh interpreter, one primed before it knew
    its job (what `workbook check` uses), and a child forked by the zygote (watch)."""
    if request.param == "cold":
        yield ColdLauncher()
    elif request.param == "primed":
        primed = Primed(base_env(tmp_path))
        yield primed
        primed.close()
    else:
        yield request.getfixturevalue("zygote")


def _why_nobody_cannot_grade() -> str:
    """Why grading children cannot run as ``nobody`` here ("" when they can)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "starting processes as another account needs root"
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", "import workbook.child"],
            cwd="/",
            user="nobody",
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (KeyError, OSError) as exc:
        return f"no usable account nobody: {exc}"
    if done.returncode != 0:
        return "nobody cannot run this install's Python (a folder above it is private)"
    return ""


@pytest.fixture(scope="session")
def why_nobody_cannot_grade() -> str:
    return _why_nobody_cannot_grade()


@pytest.fixture
def nobody(why_nobody_cannot_grade: str) -> str:
    """The account ``--run-as`` tests grade as; skips where it cannot run the grader."""
    if why_nobody_cannot_grade:
        pytest.skip(why_nobody_cannot_grade)
    return "nobody"
