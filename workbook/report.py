"""The learner's progress as one self-contained HTML page (or JSON): no assets, no network.

Per module a progress bar; per exercise its status, attempts, hints used, whether the
solution was peeked at before passing, and when it first passed.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any

from workbook.catalog import Catalog
from workbook.state import State

STYLE = """
:root { --ink: #1d2327; --muted: #5f6b73; --line: #dde3e6; --bar: #e6ecef; --done: #00897b;
        --skip: #f9a825; --paper: #ffffff; --accent: #00695c; }
@media (prefers-color-scheme: dark) {
  :root { --ink: #e3e8ea; --muted: #9aa7ae; --line: #2f3a40; --bar: #2a3439; --paper: #1b2226;
          --accent: #4db6ac; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--paper); color: var(--ink);
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 56rem; margin: 0 auto; padding: 2.5rem 1.25rem 4rem; }
h1 { margin: 0 0 .25rem; font-size: 1.8rem; }
h2 { margin: 2.2rem 0 .6rem; font-size: 1.2rem; }
.muted { color: var(--muted); }
.bar { height: .7rem; border-radius: .35rem; background: var(--bar); overflow: hidden; }
.bar span { display: block; height: 100%; background: var(--done); }
.summary { display: flex; gap: 2rem; margin: 1.2rem 0 .8rem; flex-wrap: wrap; }
.summary b { display: block; font-size: 1.5rem; color: var(--accent); }
table { width: 100%; border-collapse: collapse; margin-top: .6rem; }
th, td { text-align: left; padding: .45rem .5rem; border-bottom: 1px solid var(--line); }
th { font-weight: 600; color: var(--muted); font-size: .85rem; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: .85em; color: var(--muted); }
.status { font-weight: 600; }
.done { color: var(--done); } .skipped { color: var(--skip); } .pending { color: var(--muted); }
"""


def data(catalog: Catalog, state: State) -> dict[str, Any]:
    """Everything the report shows, as plain data."""
    modules: list[dict[str, Any]] = []
    for module in catalog.modules:
        rows = []
        for exercise in module.exercises:
            progress = state.of(exercise.id)
            rows.append(
                {
                    "id": exercise.id,
                    "title": exercise.title,
                    "status": progress.status,
                    "attempts": progress.attempts,
                    "hints_used": progress.hints_shown,
                    "hints_total": len(exercise.hints),
                    "peeked": progress.peeked,
                    "first_passed_at": progress.first_passed_at,
                }
            )
        done = sum(row["status"] == "done" for row in rows)
        modules.append({"id": module.id, "title": module.title, "done": done, "exercises": rows})
    rows = [row for module in modules for row in module["exercises"]]
    return {
        "title": catalog.title,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "done": sum(row["status"] == "done" for row in rows),
        "total": len(rows),
        "hints_used": sum(row["hints_used"] for row in rows),
        "peeked": sum(row["peeked"] for row in rows),
        "modules": modules,
    }


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2) + "\n"


def _bar(done: int, total: int) -> str:
    share = 100 * done / total if total else 0
    return (
        f'<div class="bar" title="{done} of {total}"><span style="width:{share:.1f}%"></span></div>'
    )


def _passed(moment: str | None) -> str:
    if not moment:
        return "—"
    return html.escape(moment.replace("T", " ").removesuffix("+00:00") + " UTC")


def to_html(report: dict[str, Any]) -> str:
    escape = html.escape
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(report['title'])}: progress</title>",
        f"<style>{STYLE}</style></head><body><main>",
        f"<h1>{escape(report['title'])}</h1>",
        f'<p class="muted">Your progress, as of {_passed(report["generated_at"])}.</p>',
        _bar(report["done"], report["total"]),
        '<div class="summary">',
        f"<div><b>{report['done']} / {report['total']}</b>exercises done</div>",
        f"<div><b>{report['hints_used']}</b>hints used</div>",
        f"<div><b>{report['peeked']}</b>solutions peeked at before passing</div>",
        "</div>",
    ]
    for module in report["modules"]:
        total = len(module["exercises"])
        parts += [
            f"<h2>{escape(module['title'])} "
            f'<span class="muted">· {module["done"]} of {total}</span></h2>',
            _bar(module["done"], total),
            "<table><thead><tr><th>exercise</th><th>status</th><th>attempts</th>"
            "<th>hints</th><th>peeked</th><th>first passed</th></tr></thead><tbody>",
        ]
        for row in module["exercises"]:
            status = escape(row["status"])
            parts.append(
                f"<tr><td>{escape(row['title'])}<br><code>{escape(row['id'])}</code></td>"
                f'<td class="status {status}">{status}</td>'
                f'<td class="num">{row["attempts"]}</td>'
                f'<td class="num">{row["hints_used"]} / {row["hints_total"]}</td>'
                f"<td>{'yes' if row['peeked'] else 'no'}</td>"
                f"<td>{_passed(row['first_passed_at'])}</td></tr>"
            )
        parts.append("</tbody></table>")
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"
