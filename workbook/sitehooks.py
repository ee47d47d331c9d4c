"""MkDocs hooks for the lessons site (named in mkdocs.yml): module notebooks as pages.

Each module's notebook becomes a page at ``notebooks/<name>/``, run when the site is
built (cached by content, so a rebuild costs nothing until the notebook changes), and the
``.ipynb`` itself is published beside it for download.  ``WORKBOOK_SITE_EXECUTE=0``
renders the notebooks without running them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

from workbook import catalog, notebooks

CACHE = Path(".workbook") / "cache" / "notebooks"


def on_files(files: Files, *, config: Any) -> Files:
    root = Path(config.config_file_path).parent
    try:
        modules = catalog.load(root).modules
    except catalog.CatalogError as exc:
        raise PluginError("curriculum.toml has problems:\n" + "\n".join(exc.problems)) from exc
    run = os.environ.get("WORKBOOK_SITE_EXECUTE", "1") != "0"
    for module in modules:
        path = root / module.notebook
        try:
            notebook = notebooks.execute(path, root / CACHE) if run else notebooks.read(path)
        except Exception as exc:
            raise PluginError(f"{module.notebook} did not run top to bottom: {exc}") from exc
        page = notebooks.to_markdown(notebook, path.name, download=path.name)
        files.append(File.generated(config, f"notebooks/{path.stem}.md", content=page))
        files.append(File.generated(config, f"notebooks/{path.name}", abs_src_path=str(path)))
    return files
