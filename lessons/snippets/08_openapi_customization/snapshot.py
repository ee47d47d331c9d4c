import difflib
import json
import os
from pathlib import Path
from typing import Any


def as_text(document: dict[str, Any]) -> str:
    # sorted keys: the same document always gives the same text, whatever built it
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def check_snapshot(document: dict[str, Any], snapshot: Path) -> None:
    """Fail with a diff unless `document` is the stored one; UPDATE_SNAPSHOTS=1 stores it."""
    actual = as_text(document)
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        snapshot.write_text(actual, encoding="utf-8")
        return
    expected = snapshot.read_text(encoding="utf-8")
    if actual != expected:
        diff = difflib.unified_diff(
            expected.splitlines(), actual.splitlines(), "snapshot", "generated", lineterm=""
        )
        raise AssertionError("the OpenAPI document changed:\n" + "\n".join(diff))
