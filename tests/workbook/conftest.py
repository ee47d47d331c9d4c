"""Fixtures for the grader's own tests: a throwaway copy of a tiny sample workbook."""

import shutil
from pathlib import Path

import pytest

SAMPLE = Path(__file__).with_name("sample_workbook")

collect_ignore = ["sample_workbook"]


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A fresh copy of the sample workbook; tests may break it as they like."""
    root = tmp_path / "workbook"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("__pycache__", ".workbook"))
    return root
