"""The lessons site builds strictly, and every Python snippet in it is a tested file."""

import re
from pathlib import Path

import pytest
import yaml

from workbook import catalog

ROOT = Path(__file__).resolve().parents[2]
LESSONS = ROOT / "lessons"
SNIPPETS = LESSONS / "snippets"
TESTS = Path(__file__).parent
INLINE_PYTHON = re.compile(r"^([ \t]*)```(?:python|py)\b[^\n]*\n(?!\1--8<--)", re.M)


def test_site_builds_strictly(site_build):
    assert site_build.returncode == 0, site_build.stderr
    warnings = [line for line in site_build.stderr.splitlines() if line.startswith("WARNING")]
    assert not warnings, site_build.stderr
    built = site_build.folder
    assert (built / "index.html").is_file()
    for module in catalog.load(ROOT).modules:  # every module: its lesson and its notebook
        lesson = Path(module.lesson).relative_to("lessons").with_suffix("")
        assert (built / lesson / "index.html").is_file(), module.lesson
        notebook = Path(module.notebook)
        page = (built / "notebooks" / notebook.stem / "index.html").read_text()
        outputs = page.count('<span class="filename">output</span>')
        assert outputs >= 5, "the notebook ran for the site: its outputs show"
        assert (built / "notebooks" / notebook.name).is_file(), "the .ipynb is downloadable"


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


class _Loader(yaml.SafeLoader):
    """mkdocs.yml with its !!python/name tags read as plain strings."""


_Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)
MODULES = catalog.load(ROOT).modules
TEMPLATE = ["objectives", "pitfalls", "notebook", "exercises", "further-reading"]


def nav_pages() -> list[str]:
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_Loader)

    def walk(items: list) -> list[str]:
        pages = []
        for item in items:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            pages += walk(value) if isinstance(value, list) else [value]
        return pages

    return walk(config["nav"])


def test_navigation_follows_the_catalog():
    pages = nav_pages()
    lessons = [f"{LESSONS.name}/{page}" for page in pages if not page.startswith("notebooks/")]
    assert lessons[0] == "lessons/index.md"
    assert lessons[1:] == [module.lesson for module in MODULES]
    notebooks = [page for page in pages if page.startswith("notebooks/")]
    assert notebooks == [f"notebooks/{Path(module.notebook).stem}.md" for module in MODULES]
    for module in MODULES:  # each module's notebook right after its lesson
        index = pages.index(Path(module.lesson).name)
        assert pages[index + 1] == f"notebooks/{Path(module.notebook).stem}.md"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.id)
def test_lessons_follow_the_template(module):
    page = ROOT / module.lesson
    anchors = catalog.lesson_anchors(page)
    assert set(TEMPLATE) <= anchors, f"missing sections: {set(TEMPLATE) - anchors}"
    text = page.read_text()
    for exercise in module.exercises:
        assert f"workbook check {exercise.id}" in text, exercise.id
    notebook_link = f"notebooks/{Path(module.notebook).stem}.md"
    assert notebook_link in text, f"{page.name} does not link to its notebook's page"
    assert "```mermaid" in text, f"{page.name} has no diagram"
