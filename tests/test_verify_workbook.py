"""`workbook verify` on the real workbook: every suite has teeth, every file has its place."""

from pathlib import Path

from workbook import catalog, verify

ROOT = Path(__file__).resolve().parents[1]


def test_the_workbook_verifies():
    report = verify.verify(catalog.load(ROOT))
    problems = report.problems + [f"{e.id}: {p}" for e in report.exercises for p in e.problems]
    assert report.ok, "\n".join(problems)
