"""The class report as one self-contained HTML page: inline CSS and SVG, no script, no link.

Its look is the learner's own report's (:mod:`workbook.report`).  Every text that came
from a submission or a suite (names, requirements, messages, paths) is escaped, and a
content security policy forbids the page to load anything at all, so opening it sends
no student's data anywhere.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from workbook.class_report import (
    SCORE_BINS,
    ClassData,
    ExerciseColumn,
    Student,
    failing_most,
    hints_for,
    row_counts,
    score_bin,
)
from workbook.report import STYLE as LEARNER_STYLE

POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'"
MARKS = {  # status -> (css class, mark, words): the mark and the words read without colour
    "passed": ("ok", "✓", "passed"),
    "failed": ("bad", "✗", "failed"),
    "error": ("err", "!", "error"),
    "timeout": ("err", "!", "timed out"),
    "crashed": ("err", "!", "crashed"),
    "skipped": ("skip", "\u2013", "skipped"),
    "not_run": ("none", "·", "not run"),
}
STYLE = """
main { max-width: 80rem; }
.notice { border-left: 4px solid var(--skip); padding: .4rem .8rem; margin: 1rem 0; }
.notice.problem { border-color: #c62828; }
.scroll { overflow-x: auto; }
svg.histogram text { fill: var(--muted); font-size: 11px; }
svg.histogram text.count { fill: var(--ink); font-weight: 600; }
svg.histogram rect { fill: var(--done); }
svg.histogram rect.empty { fill: var(--line); }
table.heat { width: auto; }
table.heat th.student { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap;
  font-weight: 500; padding: .3rem .15rem; vertical-align: bottom; }
table.heat td.hm { text-align: center; min-width: 1.6rem; padding: .2rem; font-weight: 700;
  border: 1px solid var(--paper); }
td.hm.ok { background: #c8e6c9; color: #1b5e20; }
td.hm.bad { background: #ffcdd2; color: #b71c1c; }
td.hm.err { background: #ffe0b2; color: #e65100; }
td.hm.skip { background: #eceff1; color: #455a64; }
td.hm.none { color: var(--muted); }
.legend span { margin-right: 1.2rem; white-space: nowrap; }
.meter { display: inline-block; width: 6rem; height: .6rem; border-radius: .3rem;
  background: var(--bar); vertical-align: middle; overflow: hidden; margin-right: .4rem; }
.meter span { display: block; height: 100%; background: #c62828; }
details { margin: .6rem 0 1.2rem; }
summary { cursor: pointer; font-weight: 600; }
ul.notes { margin: .2rem 0; padding-left: 1.1rem; }
tr.score td { font-weight: 600; border-top: 2px solid var(--line); }
td.flagged { color: #c62828; }
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def histogram(counts: list[tuple[str, int]], label: str) -> str:
    """An inline SVG bar chart; each bar carries its count as text, not only as height."""
    bar, gap, top, chart, bottom = 46, 8, 16, 80, 18
    width = len(counts) * (bar + gap)
    height = top + chart + bottom
    highest = max((count for _, count in counts), default=0) or 1
    spoken = ", ".join(f"{name}: {count}" for name, count in counts)
    parts = [
        f'<svg class="histogram" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{esc(label)}: {esc(spoken)}">',
        f"<title>{esc(label)}: {esc(spoken)}</title>",
    ]
    for index, (name, count) in enumerate(counts):
        x = index * (bar + gap)
        middle = x + bar // 2
        tall = round(chart * count / highest) if count else 2
        y = top + chart - tall
        kind = "" if count else ' class="empty"'
        parts += [
            f'<rect{kind} x="{x}" y="{y}" width="{bar}" height="{tall}" rx="3"></rect>',
            f'<text class="count" x="{middle}" y="{y - 4}" text-anchor="middle">{count}</text>',
            f'<text x="{middle}" y="{height - 4}" text-anchor="middle">{esc(name)}</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)


def _distribution(data: ClassData, column: ExerciseColumn) -> list[tuple[str, int]]:
    counts = [0] * len(SCORE_BINS)
    not_run = 0
    for student in data.students:
        graded = student.exercises.get(column.id)
        if graded is None or graded.status in ("not_attempted", "missing"):
            not_run += 1
        else:
            counts[score_bin(graded.score, column.max_score)] += 1
    return [("not done", not_run), *zip(SCORE_BINS, counts, strict=True)]


def _totals(data: ClassData) -> list[tuple[str, int]]:
    counts = [0] * len(SCORE_BINS)
    for student in data.students:
        counts[score_bin(student.score, student.max_score or data.max_score)] += 1
    return list(zip(SCORE_BINS, counts, strict=True))


def _mark(status: str) -> tuple[str, str, str]:
    return MARKS.get(status, MARKS["failed"])


def _cell(student: Student, column: ExerciseColumn, test: str, requirement: str) -> str:
    status, message = student.cell(column.id, test)
    css, mark, words = _mark(status)
    tip = f"{student.name} · {requirement}: {words}" + (f" ({message})" if message else "")
    return f'<td class="hm {css}" title="{esc(tip)}">{mark}</td>'


def _heat_map(data: ClassData, column: ExerciseColumn) -> list[str]:
    if not column.requirements:
        return ['<p class="muted">No submission ran this exercise.</p>']
    heads = "".join(f'<th class="student">{esc(s.name)}</th>' for s in data.students)
    parts = [
        '<div class="scroll"><table class="heat"><thead><tr><th>requirement</th>'
        f"<th>met</th>{heads}</tr></thead><tbody>"
    ]
    for requirement in column.requirements:
        counts = row_counts(data, column.id, requirement.name)
        cells = "".join(
            _cell(student, column, requirement.name, requirement.text) for student in data.students
        )
        parts.append(
            f'<tr data-test="{esc(requirement.name)}"><td>{esc(requirement.text)}</td>'
            f'<td class="num counts">{counts.passed} of {counts.graded}</td>{cells}</tr>'
        )
    scores = "".join(_score_cell(student, column) for student in data.students)
    parts.append(
        f'<tr class="score"><td>points (of {_number(column.max_score)})</td><td></td>{scores}</tr>'
        "</tbody></table></div>"
    )
    return parts


def _score_cell(student: Student, column: ExerciseColumn) -> str:
    graded = student.exercises.get(column.id)
    if graded is None:
        return '<td class="num muted">—</td>'
    if graded.flagged:
        tip = f"{student.name}: flagged for your review and scored 0"
        if graded.score_if_trusted is not None:
            tip += f"; trusted, it would score {_number(graded.score_if_trusted)}"
        return f'<td class="num flagged" title="{esc(tip)}">0 ⚑</td>'
    return f'<td class="num">{_number(graded.score)}</td>'


def _notices(data: ClassData) -> list[str]:
    parts = [f'<p class="notice problem">{esc(p)}</p>' for p in data.problems]
    parts += [f'<p class="notice">{esc(w)}</p>' for w in data.warnings]
    return parts


def _summary(data: ClassData) -> list[str]:
    count = len(data.students)
    mean = sum(s.score for s in data.students) / count if count else 0.0
    full = sum(s.max_score > 0 and s.score >= s.max_score for s in data.students)
    attention = sum(bool(s.notes) for s in data.students)
    return [
        '<div class="summary">',
        f"<div><b>{count}</b>submissions</div>",
        f"<div><b>{_number(mean)} / {_number(data.max_score)}</b>mean score</div>",
        f"<div><b>{full}</b>with full marks</div>",
        f"<div><b>{attention}</b>need your attention</div>",
        "</div>",
        histogram(_totals(data), "Total scores"),
    ]


def _exercise_table(data: ClassData) -> list[str]:
    hints = "<th>hints used</th><th>peeked</th>" if data.has_progress else ""
    parts = [
        "<table><thead><tr><th>exercise</th><th>mean</th><th>full marks</th>"
        f"<th>scores</th>{hints}</tr></thead><tbody>"
    ]
    for column in data.exercises:
        graded = [s.exercises[column.id] for s in data.students if column.id in s.exercises]
        mean = sum(g.score for g in graded) / len(graded) if graded else 0.0
        full = sum(column.max_score > 0 and g.score >= column.max_score for g in graded)
        extra = ""
        if data.has_progress:
            used, users, peeked = hints_for(data, column.id)
            extra = (
                f'<td class="num">{used} <span class="muted">by {users}</span></td>'
                f'<td class="num">{peeked}</td>'
            )
        parts.append(
            f"<tr><td>{esc(column.title)}<br><code>{esc(column.id)}</code></td>"
            f'<td class="num">{_number(mean)} / {_number(column.max_score)}</td>'
            f'<td class="num">{full}</td>'
            f"<td>{histogram(_distribution(data, column), column.id)}</td>{extra}</tr>"
        )
    parts.append("</tbody></table>")
    return parts


def _failing(data: ClassData) -> list[str]:
    rows = failing_most(data)
    if not rows:
        return ['<p class="muted">Every requirement that ran was met.</p>']
    parts = [
        "<table><thead><tr><th>requirement</th><th>exercise</th><th>not met</th></tr></thead>"
        "<tbody>"
    ]
    for column, requirement, counts in rows:
        share = 100 * counts.failed / counts.graded
        parts.append(
            f"<tr><td>{esc(requirement.text)}</td><td><code>{esc(column.id)}</code></td>"
            f'<td class="num"><span class="meter"><span style="width:{share:.0f}%"></span>'
            f"</span>{counts.failed} of {counts.graded}</td></tr>"
        )
    parts.append("</tbody></table>")
    return parts


def _students(data: ClassData) -> list[str]:
    hints = "<th>hints used</th><th>peeked at</th>" if data.has_progress else ""
    parts = [
        "<table><thead><tr><th>submission</th><th>score</th><th>exercises passed</th>"
        f"{hints}<th>needs your attention</th></tr></thead><tbody>"
    ]
    for student in data.students:
        passed = sum(g.status == "passed" and not g.flagged for g in student.exercises.values())
        extra = ""
        if data.has_progress:
            if student.progress is None:
                extra = '<td class="muted">—</td><td class="muted">—</td>'
            else:
                used = sum(s.hints_shown for s in student.progress.values())
                peeked = sorted(k for k, s in student.progress.items() if s.peeked)
                extra = (
                    f'<td class="num">{used}</td>'
                    f"<td>{esc(', '.join(peeked)) if peeked else 'none'}</td>"
                )
        parts.append(
            f"<tr><td>{esc(student.name)}</td>"
            f'<td class="num">{_number(student.score)} / {_number(student.max_score)}</td>'
            f'<td class="num">{passed} of {len(student.exercises)}</td>{extra}'
            f"<td>{_notes(student.notes)}</td></tr>"
        )
    parts.append("</tbody></table>")
    return parts


def _notes(notes: Iterable[str]) -> str:
    items = "".join(f"<li>{esc(note)}</li>" for note in notes)
    return f'<ul class="notes">{items}</ul>' if items else ""


def _legend() -> str:
    shown = ("passed", "failed", "error", "skipped", "not_run")
    marks = "".join(f"<span><b>{MARKS[s][1]}</b> {MARKS[s][2]}</span>" for s in shown)
    return f'<p class="legend muted">{marks}<span><b>⚑</b> flagged for your review</span></p>'


def to_html(data: ClassData, title: str = "Class report") -> str:
    """The whole page."""
    stamp = data.generated_at.replace("T", " ").removesuffix("+00:00") + " UTC"
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="robots" content="noindex">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>",
        f"<style>{LEARNER_STYLE}{STYLE}</style></head><body><main>",
        f"<h1>{esc(title)}</h1>",
        f'<p class="muted">Graded submissions, as of {esc(stamp)}. This page holds student '
        "data: share it as you would a gradebook.</p>",
        *_notices(data),
        *_summary(data),
        "<h2>Exercises</h2>",
        *_exercise_table(data),
        "<h2>Requirements most often not met</h2>",
        *_failing(data),
        "<h2>Submissions</h2>",
        *_students(data),
    ]
    if not data.has_progress:
        parts.append(
            '<p class="muted">No progress files came with these submissions, so hints used '
            "and solutions peeked at are not shown.</p>"
        )
    parts += ["<h2>Requirement by submission</h2>", _legend()]
    for column in data.exercises:
        parts += [
            f"<details open><summary>{esc(column.title)} <code>{esc(column.id)}</code></summary>",
            *_heat_map(data, column),
            "</details>",
        ]
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"
