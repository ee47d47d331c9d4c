"""Watch mode: the current exercise is re-graded on every save, with keys to move around.

Everything that happens arrives as an event on one queue (a save, a key, a finished
grading job) and is handled on the main thread, so the screen is only drawn from there.
Grading runs on a worker thread, forked from a warm zygote: a hung or crashing exercise
gets its verdict from the runner's limits while the keys keep working.  A save during a
run queues exactly one more run.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.syntax import Syntax
from rich.text import Text

from workbook import grading, messages, pristine, render
from workbook.catalog import Catalog, Exercise
from workbook.filewatch import FileWatcher, polling_reason
from workbook.launch import Child, ColdLauncher, Launcher, base_env
from workbook.listview import ListView
from workbook.progress import Recorded, current_exercise, done_count, record, reveal_hint
from workbook.state import Store
from workbook.terminal import KeyReader, editor_command, open_in_editor

Result = grading.CheckResult | grading.GraderError


@dataclass
class Options:
    manual: bool = False
    polling: bool = False
    edit_cmd: str | None = None
    event_log: Path | None = None
    warm: bool = True


class Watch:
    def __init__(self, catalog: Catalog, store: Store, console: Console, options: Options) -> None:
        self.catalog = catalog
        self.store = store
        self.console = console
        self.options = options
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.launcher: Launcher = ColdLauncher()
        self.exercise = current_exercise(catalog, store.read()) or catalog.exercises[-1]
        self.result: Result | None = None
        self.hint: tuple[int, str] | None = None
        self.recorded = Recorded()
        self.notice = ""
        self.show_solution = False
        self.mode = "main"  # main | list | confirm | final
        self.listing: ListView | None = None
        self.busy = False
        self.rerun = False
        self.child: Child | None = None
        self.worker: threading.Thread | None = None
        self.quitting = False
        self.keys: KeyReader | None = None
        self.files: FileWatcher | None = None

    # -- events in ---------------------------------------------------------------------

    def post(self, kind: str, value: Any = None) -> None:
        """Thread-safe: hand an event to the main loop."""
        self.events.put((kind, value))

    def saved(self, paths: set[Path]) -> None:
        self.post("saved", paths)

    def key(self, key: str) -> None:
        self.post("key", key)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, keys: bool = True) -> None:
        """Warm up, start watching files and keys, and grade the current exercise."""
        root = self.catalog.root
        if self.options.warm:
            from workbook import zygote

            if zygote.available():
                self.launcher = zygote.Zygote(base_env(root))
        if not self.options.manual:
            reason = "--poll was given" if self.options.polling else polling_reason(root)
            self.files = FileWatcher(
                root / "exercises", root / ".workbook" / "watch", self.saved, polling=bool(reason)
            )
            self.files.start()
            if reason:
                self.notice = messages.WATCH_POLLING.format(reason=reason)
            else:
                threading.Thread(target=self._probe, daemon=True).start()
        with self.store.update() as state:
            if not state.welcomed and self.catalog.welcome_message:
                self.notice = "\n".join(filter(None, [self.catalog.welcome_message, self.notice]))
            state.welcomed = True
        if keys:
            self.keys = KeyReader(self.key)
            self.keys.start()
        self._open_editor(automatic=True)
        self.request_check()

    def _probe(self) -> None:
        assert self.files is not None
        if not self.files.events_arrive():
            self.files.fall_back_to_polling()
            self.post("notice", messages.WATCH_PROBE_FAILED)

    def run(self) -> int:
        """The main loop, until the learner quits."""
        try:
            while not self.quitting:
                self.handle(*self.events.get())
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
        self.console.print(messages.WATCH_BYE)
        return 0

    def stop(self) -> None:
        self.quitting = True
        if self.child is not None:
            self.child.kill()
        if self.worker is not None:
            self.worker.join(timeout=10)
        if self.files is not None:
            self.files.stop()
        if self.keys is not None:
            self.keys.stop()
        close = getattr(self.launcher, "close", None)
        if close is not None:
            close()

    # -- the event handlers ------------------------------------------------------------

    def handle(self, kind: str, value: Any) -> None:
        if kind == "saved":
            self.log("saved")
            if any(self._is_current(path) for path in value):
                self.request_check()
        elif kind == "key":
            self._key(value)
        elif kind == "done":
            self._done(*value)
        elif kind == "notice":
            self.notice = value
            self.draw()
        elif kind == "quit":
            self.quitting = True

    def _is_current(self, path: Path) -> bool:
        stub = self.exercise.stub(self.catalog.root)
        return path == stub or stub in path.parents

    def request_check(self) -> None:
        if self.busy:
            self.rerun = True  # however many saves come in now, one run follows
            self.log("queued")
            return
        self._start_job("check", [self.exercise])

    def _start_job(self, kind: str, exercises: list[Exercise]) -> None:
        self.busy = True
        if kind == "check":
            self.result = None
        self.log("checking")
        self.worker = threading.Thread(target=self._work, args=(kind, exercises), daemon=True)
        self.worker.start()
        self.draw()  # "checking…" goes up while the run is already under way

    def _work(self, kind: str, exercises: list[Exercise]) -> None:
        results: list[tuple[Exercise, Result]] = []
        for exercise in exercises:
            if self.quitting:
                break
            try:
                result: Result = grading.check(
                    self.catalog, exercise, launcher=self.launcher, on_launch=self._launched
                )
            except grading.GraderError as exc:
                result = exc
            self.child = None
            results.append((exercise, result))
        self.post("done", (kind, results))

    def _launched(self, child: Child) -> None:
        self.child = child

    def _done(self, kind: str, results: list[tuple[Exercise, Result]]) -> None:
        self.busy = False
        for exercise, result in results:
            recorded = (
                record(self.store, exercise, result)
                if not isinstance(result, Exception)
                else Recorded()
            )
            if exercise.id == self.exercise.id:
                self.result, self.recorded = result, recorded
                self.hint = recorded.hint
        self.log("verdict", status=_status(self.result))
        if kind == "all":
            self._after_check_all(results)
        elif kind == "final":
            self._after_final(results)
        elif self._all_done():
            self.notice = messages.WATCH_FINAL_CHECK
            self._start_job("final", self.catalog.exercises)
            return
        self.draw()
        if self.rerun and not self.quitting:
            self.rerun = False
            self.request_check()

    def _all_done(self) -> bool:
        """The exercise just passed, and it was the last one still open."""
        passed = isinstance(self.result, grading.CheckResult) and self.result.passed
        return passed and current_exercise(self.catalog, self.store.read()) is None

    def _after_check_all(self, results: list[tuple[Exercise, Result]]) -> None:
        passed = sum(isinstance(r, grading.CheckResult) and r.passed for _, r in results)
        self.notice = messages.WATCH_CHECK_ALL.format(done=passed, total=len(results))
        first = current_exercise(self.catalog, self.store.read())
        if first is not None:
            self.notice += " " + messages.WATCH_FIRST_PENDING.format(id=first.id)

    def _after_final(self, results: list[tuple[Exercise, Result]]) -> None:
        regressed = [e for e, r in results if not (isinstance(r, grading.CheckResult) and r.passed)]
        if regressed:
            self._move_to(regressed[0])
            self.notice = messages.WATCH_REGRESSED.format(count=len(regressed), id=regressed[0].id)
            self.request_check()
        else:
            self.mode = "final"

    # -- keys --------------------------------------------------------------------------

    def _key(self, key: str) -> None:
        if self.mode == "list":
            self._list_key(key)
        elif self.mode == "confirm":
            self._confirm_key(key)
        else:
            self._main_key(key)

    def _main_key(self, key: str) -> None:
        passed = isinstance(self.result, grading.CheckResult) and self.result.passed
        actions: dict[str, Callable[[], None]] = {
            "q": self._quit,
            "h": self._hint,
            "l": self._list,
            "c": self._check_all,
            "r": self._ask_reset,
            "e": self._open_editor,
        }
        if passed:
            actions["n"] = self._next
            if not self.catalog.student_edition:
                actions["s"] = self._solution
        if self.options.manual:
            actions["enter"] = self.request_check
        if key in actions:
            self.notice = ""
            actions[key]()

    def _quit(self) -> None:
        self.quitting = True

    def _hint(self) -> None:
        level, text, _again = reveal_hint(self.store, self.exercise)
        self.hint = (level, text)
        self.draw()

    def _list(self) -> None:
        self.mode = "list"
        self.listing = ListView(self.catalog, self.store.read(), self.exercise.id)
        self.draw()

    def _list_key(self, key: str) -> None:
        assert self.listing is not None
        action = self.listing.key(key)
        if action == "continue" and self.listing.selected is not None:
            self.mode = "main"
            self._move_to(self.listing.selected)
            self.request_check()
            return
        if action == "leave":
            self.mode = "main"
        self.draw()

    def _check_all(self) -> None:
        if self.busy:
            self.notice = messages.WATCH_BUSY
            self.draw()
            return
        self._start_job("all", self.catalog.exercises)

    def _ask_reset(self) -> None:
        self.mode = "confirm"
        self.draw()

    def _confirm_key(self, key: str) -> None:
        self.mode = "main"
        if key.lower() == "y":
            pristine.restore(self.catalog, self.exercise)
            with self.store.update() as state:
                state.of(self.exercise.id).status = "pending"
            self.notice = messages.WATCH_RESET_DONE
            if self.options.manual or self.files is None:
                self.request_check()  # otherwise the restored file's save event does it
        self.draw()

    def _next(self) -> None:
        following = current_exercise(self.catalog, self.store.read())
        if following is not None:
            self._move_to(following)
            self.request_check()

    def _solution(self) -> None:
        self.show_solution = True
        self.draw()

    def _move_to(self, exercise: Exercise) -> None:
        self.exercise, self.result, self.hint = exercise, None, None
        self.recorded = Recorded()
        self.show_solution = False
        with self.store.update() as state:
            state.current = exercise.id
        self._open_editor(automatic=True)

    def _open_editor(self, automatic: bool = False) -> None:
        command = editor_command(self.options.edit_cmd)
        if command is None:
            if not automatic:
                self.notice = messages.WATCH_NO_EDITOR
                self.draw()
            return
        argv, beside = command
        if automatic and not beside:
            return  # a terminal editor only on request: it takes over the screen
        open_in_editor(self.exercise.stub(self.catalog.root), argv, beside, self.keys)
        self.draw()

    # -- output ------------------------------------------------------------------------

    def log(self, event: str, **fields: Any) -> None:
        """Append an event to --event-log (what the latency benchmark reads)."""
        if self.options.event_log is None:
            return
        line = {"event": event, "t": time.time(), "exercise": self.exercise.id, **fields}
        with self.options.event_log.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")

    def draw(self) -> None:
        console, root = self.console, self.catalog.root
        if console.is_terminal:
            console.clear()
        if self.mode == "list" and self.listing is not None:
            self.listing.render(console)
            return
        if self.mode == "final":  # the last exercise's passing verdict, then the finish
            console.print(render.header(self.exercise, root))
            console.print()
            self._draw_verdict()
            console.print()
            console.print(Text(messages.ALL_DONE, style="bold green"))
            console.print(self.catalog.final_message)
            console.print(Text("q quit", style="dim"))
            return
        console.print(render.header(self.exercise, root))
        console.print()
        self._draw_verdict()
        if self.notice:
            console.print(Text(self.notice, style="cyan"))
        state = self.store.read()
        console.print(
            render.progress_bar(done_count(self.catalog, state), len(self.catalog.exercises))
        )
        if self.mode == "confirm":
            console.print(Text(messages.WATCH_RESET_ASK.format(id=self.exercise.id), style="bold"))
            return
        passed = isinstance(self.result, grading.CheckResult) and self.result.passed
        keys = messages.WATCH_KEYS_PASSED if passed else messages.WATCH_KEYS
        if passed and self.catalog.student_edition:
            keys = messages.WATCH_KEYS_STUDENT_PASSED
        console.print(
            Text(messages.WATCH_KEYS_MANUAL if self.options.manual else keys, style="dim")
        )

    def _draw_verdict(self) -> None:
        console, root, result = self.console, self.catalog.root, self.result
        if self.busy or result is None:
            console.print(Text(messages.WATCH_CHECKING, style="yellow"))
            return
        if isinstance(result, grading.GraderError):
            console.print(Text(messages.GRADER_FAILED, style="bold red"))
            console.print(str(result))
            return
        render.requirements(console, result)
        console.print()
        render.summary(console, result)
        if self.catalog.student_edition:
            console.print(Text(messages.PUBLIC_CHECKS_ONLY, style="cyan"))
        if result.passed:
            if self.catalog.student_edition:
                console.print(Text(messages.PUBLIC_PASSED_BANNER, style="bold green"))
                return
            console.print(Text(messages.PASSED_BANNER, style="bold green"))
            if self.show_solution:
                path = self.exercise.solution(root)
                files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
                for file in files:
                    console.print(render.link(file, root))
                    console.print(Syntax(file.read_text(encoding="utf-8"), "python"))
            return
        recorded = Recorded(self.hint, self.recorded.regressed)
        render.next_steps(console, self.exercise, root, recorded, more=messages.WATCH_HINT_MORE)
        console.print(Text(f"{messages.LESSON}: ") + render.lesson_link(self.exercise, root))
        again = (
            messages.WATCH_ENTER_TO_CHECK if self.options.manual else messages.WATCH_SAVE_TO_CHECK
        )
        console.print(Text(again, style="dim"))


def _status(result: Result | None) -> str:
    if isinstance(result, grading.CheckResult):
        return result.status
    return "grader-error" if result is not None else "none"
