"""Module notebooks: run top to bottom, and turned into pages for the lessons site.

A notebook is stored without outputs.  For the site it is executed once per change of
its source (the result is cached by content hash), then written out as Markdown: its
Markdown cells as they are, each code cell as a Python block, and each output as text
or an image.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
from pathlib import Path
from typing import Any

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TIMEOUT_S = 120
OUTPUT_LINES = 60


def execute(path: Path, cache: Path | None = None, timeout: int = TIMEOUT_S) -> Any:
    """The notebook at ``path`` with its outputs, reusing a cached run of the same source."""
    import nbclient
    import nbformat

    source = path.read_bytes()
    cached = (
        cache / f"{path.stem}-{hashlib.sha256(source).hexdigest()[:16]}.ipynb" if cache else None
    )
    if cached is not None and cached.is_file():
        return nbformat.reads(cached.read_text(encoding="utf-8"), as_version=4)
    notebook = nbformat.reads(source.decode("utf-8"), as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    # cells' own output arrives as messages; the kernel's stderr only carries its start-up chatter
    client.execute(stderr=subprocess.DEVNULL)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        for stale in cached.parent.glob(f"{path.stem}-*.ipynb"):
            stale.unlink(missing_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(nbformat.writes(notebook), encoding="utf-8")
        partial.replace(cached)  # whole or not at all, even with two builds at once
    return notebook


def read(path: Path) -> Any:
    """The notebook as stored, without running it."""
    import nbformat

    return nbformat.read(path, as_version=4)


def _text(value: Any) -> str:
    text = "".join(value) if isinstance(value, list) else str(value)
    lines = ANSI.sub("", text).rstrip("\n").splitlines()
    if len(lines) > OUTPUT_LINES:
        lines = [*lines[:OUTPUT_LINES], f"… {len(lines) - OUTPUT_LINES} more lines"]
    return "\n".join(lines)


def _fence(body: str, language: str = "text", title: str = "output") -> str:
    fence = "````" if "```" in body else "```"
    label = f' title="{title}"' if title else ""
    return f"{fence}{language}{label}\n{body}\n{fence}"


def _output(output: Any) -> str | None:
    kind = output.get("output_type")
    if kind == "stream":
        return _fence(_text(output.get("text", "")))
    if kind == "error":
        return _fence(_text(output.get("traceback", [])))
    data = output.get("data", {})
    if "image/png" in data:
        png = "".join(data["image/png"]).replace("\n", "")
        base64.b64decode(png, validate=True)  # refuse anything that is not a PNG payload
        return f'<img alt="output" src="data:image/png;base64,{png}">'
    if "text/markdown" in data:
        return _text(data["text/markdown"])
    if "text/plain" in data:
        return _fence(_text(data["text/plain"]))
    return None


def to_markdown(notebook: Any, name: str, download: str) -> str:
    """The notebook as a page: a note on where it comes from, then its cells in order."""
    parts = [
        f'!!! info "This page is a notebook"\n'
        f"    It is `notebooks/{name}`, run top to bottom when this site was built. "
        f"Run it yourself with `jupyter lab notebooks/{name}` (or in your editor), or "
        f"[download it]({download}).",
    ]
    for cell in notebook.cells:
        source = "".join(cell.source) if isinstance(cell.source, list) else cell.source
        if cell.cell_type == "markdown":
            parts.append(source)
        elif cell.cell_type == "code" and source.strip():
            parts.append(_fence(source.rstrip(), "python", title=""))
            parts.extend(out for output in cell.get("outputs", []) if (out := _output(output)))
    if len(parts) > 1 and parts[1].startswith("# "):  # a leading heading goes above the note
        heading, _, rest = parts[1].partition("\n")
        parts = [heading, parts[0], rest.strip(), *parts[2:]]
    return "\n\n".join(part for part in parts if part) + "\n"
