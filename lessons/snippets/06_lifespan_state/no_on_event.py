"""Refuse the event API that Starlette 1.x removed. Usage: python no_on_event.py FILE..."""

import ast
import sys
from pathlib import Path

REMOVED_METHODS = {"on_event", "add_event_handler"}
REMOVED_ARGUMENTS = {"on_startup", "on_shutdown"}


def event_handlers(source: str) -> list[tuple[int, str]]:
    """Each use of the removed API in `source`, as (line, what), in line order."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in REMOVED_METHODS:
            found.append((node.lineno, f".{node.attr}"))
        elif isinstance(node, ast.keyword) and node.arg in REMOVED_ARGUMENTS:
            found.append((node.lineno, f"{node.arg}="))
    return sorted(found)


def main(paths: list[str]) -> int:
    status = 0
    for path in paths:
        for line, what in event_handlers(Path(path).read_text()):
            print(f"{path}:{line}: {what} belongs to the removed event API: use a lifespan")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
