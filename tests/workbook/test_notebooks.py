"""Notebooks for the site: executed once per change, then turned into Markdown."""

import base64
from pathlib import Path

import nbformat
import pytest

from workbook import notebooks

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake").decode()


def notebook(*cells):
    made = nbformat.v4.new_notebook()
    made.cells = list(cells)
    made.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    return made


def test_markdown_keeps_cells_in_order_and_labels_outputs():
    code = nbformat.v4.new_code_cell("print('streamed')\n4000 + 242")
    code.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="streamed\n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": "4242"}, execution_count=1),
        nbformat.v4.new_output("display_data", data={"image/png": PNG}),
        nbformat.v4.new_output("error", ename="E", evalue="x", traceback=["\x1b[31mE: x\x1b[0m"]),
    ]
    page = notebooks.to_markdown(
        notebook(nbformat.v4.new_markdown_cell("# Title\n\nIntro."), code), "n.ipynb", "n.ipynb"
    )
    assert page.startswith("# Title\n\n!!! info")
    parts = ("Intro.", "print('streamed')", "streamed\n```", "4242\n```", PNG, "E: x")
    order = [page.index(part) for part in parts]
    assert order == sorted(order)
    assert page.count('```text title="output"') == 3
    assert "\x1b" not in page
    assert "[download it](n.ipynb)" in page


def test_execution_is_cached_by_content(tmp_path, monkeypatch):
    path = tmp_path / "n.ipynb"
    nbformat.write(notebook(nbformat.v4.new_code_cell("40 + 2")), path)
    cache = tmp_path / "cache"
    first = notebooks.execute(path, cache)
    assert first.cells[0].outputs[0]["data"]["text/plain"] == "42"
    monkeypatch.setattr(
        "nbclient.NotebookClient.execute", lambda self, **kwargs: pytest.fail("ran again")
    )
    again = notebooks.execute(path, cache)
    assert again.cells[0].outputs[0]["data"]["text/plain"] == "42"
    assert [p.suffix for p in Path(cache).iterdir()] == [".ipynb"]
