"""The exercise list inside watch mode: filter, search, and continue at any exercise."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table
from rich.text import Text

from workbook.catalog import Catalog, Exercise
from workbook.progress import done_count
from workbook.render import progress_bar, status_line
from workbook.state import State

FOOTER = (
    "↑/↓ or j/k move · d done · p pending · / search · enter or c continue here · esc or q back"
)


@dataclass
class ListView:
    catalog: Catalog
    state: State
    current: str | None
    only: str | None = None  # "done", "pending", or everything
    query: str = ""
    searching: bool = False
    cursor: int = 0
    rows: list[Exercise] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.refresh()
        ids = [e.id for e in self.rows]
        self.cursor = ids.index(self.current) if self.current in ids else 0

    def refresh(self) -> None:
        def shown(exercise: Exercise) -> bool:
            status = self.state.of(exercise.id).status
            wanted = (
                self.only is None
                or status == self.only
                or (self.only == "pending" and status == "skipped")
            )
            return wanted and self.query.lower() in exercise.id.lower() + exercise.title.lower()

        self.rows = [e for e in self.catalog.exercises if shown(e)]
        self.cursor = min(self.cursor, max(len(self.rows) - 1, 0))

    def key(self, key: str) -> str | None:
        """Handle one key; return "leave", "continue", or None to stay."""
        if self.searching:
            return self._search_key(key)
        moves = {"down": 1, "j": 1, "up": -1, "k": -1}
        if key in moves:
            self.cursor = max(0, min(len(self.rows) - 1, self.cursor + moves[key]))
        elif key in ("home", "g"):
            self.cursor = 0
        elif key in ("end", "G"):
            self.cursor = max(len(self.rows) - 1, 0)
        elif key in ("d", "p"):
            wanted = "done" if key == "d" else "pending"
            self.only = None if self.only == wanted else wanted
            self.refresh()
        elif key in ("/", "s"):
            self.searching = True
        elif key in ("enter", "c") and self.rows:
            return "continue"
        elif key in ("escape", "q"):
            return "leave"
        return None

    def _search_key(self, key: str) -> str | None:
        if key in ("enter", "escape"):
            self.searching = False
            if key == "escape":
                self.query = ""
        elif key == "backspace":
            self.query = self.query[:-1]
        elif len(key) == 1 and key.isprintable():
            self.query += key
        self.refresh()
        return None

    @property
    def selected(self) -> Exercise | None:
        return self.rows[self.cursor] if self.rows else None

    def render(self, console: Console) -> None:
        table = Table(box=None, pad_edge=False, show_header=False)
        for _ in range(4):
            table.add_column(no_wrap=True)
        for index, exercise in enumerate(self.rows):
            here = "▶" if exercise.id == self.current else " "
            style = "reverse" if index == self.cursor else ""
            table.add_row(
                Text(here),
                Text(exercise.id, style=style),
                Text(exercise.title, style=style),
                status_line(self.state.of(exercise.id)),
            )
        console.print(table)
        if not self.rows:
            console.print(Text("no exercise matches", style="dim"))
        shown = f"filter: {self.only or 'all'}"
        if self.query or self.searching:
            shown += f" · search: {self.query}{'▌' if self.searching else ''}"
        console.print(Text(shown, style="cyan"))
        total = len(self.catalog.exercises)
        console.print(progress_bar(done_count(self.catalog, self.state), total))
        console.print(Text(FOOTER, style="dim"))
