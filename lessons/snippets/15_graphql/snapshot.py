import difflib
import os
from pathlib import Path

import strawberry
import two_apis
from graphql import build_schema, find_breaking_changes, find_dangerous_changes


# --8<-- [start:compare]
def schema_changes(stored: str, current: str) -> tuple[list[str], list[str]]:
    """What changed between two SDL texts: (breaking, dangerous), one line per change."""
    old, new = build_schema(stored), build_schema(current)
    breaking = [f"{c.type.name}: {c.description}" for c in find_breaking_changes(old, new)]
    dangerous = [f"{c.type.name}: {c.description}" for c in find_dangerous_changes(old, new)]
    return breaking, dangerous


def check_snapshot(schema: strawberry.Schema, snapshot: Path) -> None:
    current = schema.as_str() + "\n"
    if os.environ.get("UPDATE_SCHEMA_SNAPSHOT") == "1":
        snapshot.write_text(current)  # a deliberate change: review the diff, commit the file
    stored = snapshot.read_text()
    if current == stored:
        return
    breaking, dangerous = schema_changes(stored, current)
    diff = difflib.unified_diff(
        stored.splitlines(), current.splitlines(), str(snapshot), "schema.as_str()", lineterm=""
    )
    raise AssertionError(
        "\n".join(
            [
                f"The schema differs from {snapshot.name}.",
                *(f"BREAKING  {line}" for line in breaking),
                *(f"DANGEROUS {line}" for line in dangerous),
                *diff,
                "If the change is meant, run the tests with UPDATE_SCHEMA_SNAPSHOT=1.",
            ]
        )
    )
    # --8<-- [end:compare]


# --8<-- [start:test]
SNAPSHOT = Path(__file__).with_name("schema.graphql")


def test_the_schema_matches_its_snapshot() -> None:
    check_snapshot(two_apis.schema, SNAPSHOT)
    # --8<-- [end:test]
