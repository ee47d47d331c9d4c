"""Every module's notebook runs top to bottom, and is stored without outputs."""

from pathlib import Path

import nbformat
import pytest

from workbook import notebooks

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TIMEOUT_S = 120


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], cell.source[:60]
            assert cell.execution_count is None, cell.source[:60]


@pytest.mark.timeout(TIMEOUT_S + 30)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path):
    # the site's own runner, uncached: this run proves the notebook with today's packages
    ran = notebooks.execute(path, timeout=TIMEOUT_S)
    assert any(cell.get("outputs") for cell in ran.cells)
