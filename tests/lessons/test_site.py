"""The lessons site builds strictly, and every Python snippet in it is a tested file."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LESSONS = ROOT / "lessons"
SNIPPETS = LESSONS / "snippets"
TESTS = Path(__file__).parent
INLINE_PYTHON = re.compile(r"^([ \t]*)```(?:python|py)\b[^\n]*\n(?!\1--8<--)", re.M)


def test_site_builds_strictly(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("WARNING")]
    assert not warnings, done.stderr
    assert (tmp_path / "index.html").is_file()


@pytest.mark.parametrize("page", sorted(LESSONS.glob("*.md")), ids=lambda p: p.name)
def test_python_in_lessons_only_comes_from_snippet_files(page):
    inline = INLINE_PYTHON.findall(page.read_text())
    assert not inline, f"{page.name} has a Python block not included from a snippet file"


def test_every_snippet_file_is_exercised_by_a_lesson_test():
    tested = "".join(p.read_text() for p in TESTS.glob("test_*.py"))
    untested = [
        p.relative_to(SNIPPETS).as_posix()
        for p in sorted(SNIPPETS.rglob("*.py"))
        if p.name != "__init__.py" and p.name not in tested
    ]
    assert not untested, f"snippet files no lesson test runs: {untested}"
