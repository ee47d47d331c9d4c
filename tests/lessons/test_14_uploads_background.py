"""Every snippet of lessons/14-uploads-background.md runs and does what the page says.

Nothing here sleeps: uploads and import jobs pause on events, memory is measured with
tracemalloc, and the order of a response and its background task is shown behind a real
server, where the client gets the response while the task still waits. The background-task
checks request the ``database_url`` fixture, so they run on SQLite and again on PostgreSQL
when ``DATABASE_URL`` is set.
"""

import hashlib
import json
import logging
import re
import tracemalloc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import anyio
import fastapi.routing
import fastapi.sse
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import BackgroundTasks, Depends, FastAPI, UploadFile
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartParser

from workbook.loader import load_copy
from workbook.testing import HANG_GUARD, RawExchange

ROOT = Path(__file__).resolve().parents[2]
LESSON = ROOT / "lessons" / "14-uploads-background.md"
SNIPPETS = ROOT / "lessons" / "snippets" / "14_uploads_background"
TESTED = {
    "body_arrival.py",
    "streaming_upload.py",
    "whole_body.py",
    "body_limits.py",
    "safe_names.py",
    "progress.py",
    "background.py",
}
KIB, MIB = 1024, 1024 * 1024


def snippet(filename: str) -> ModuleType:
    return load_copy(SNIPPETS / filename)


def listing(folder: Path) -> list[str]:
    """The names in a folder, hidden ones included."""
    return sorted(path.name for path in folder.iterdir())


def test_every_snippet_is_on_the_page_and_tested() -> None:
    files = {path.name for path in SNIPPETS.glob("*.py")}
    included = set(re.findall(r'--8<-- "14_uploads_background/(\w+\.py)', LESSON.read_text()))
    assert files == TESTED
    assert files == included


def client(app: Any, **transport: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, **transport), base_url="http://test"
    )


async def chunks(*sizes: int, fill: bytes = b"x") -> AsyncIterator[bytes]:
    """A request body without Content-Length: httpx sends it chunked, one piece per size."""
    for size in sizes:
        yield fill * size


async def pieces(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def counted(total: int, size: int = 64 * KIB) -> AsyncIterator[bytes]:
    """`total` bytes in pieces of `size`, each made when it is sent and dropped after."""
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield bytes(piece)


# -- body_arrival.py: what request.stream() yields ------------------------------------------


async def test_stream_yields_the_chunks_as_they_arrive_then_an_empty_one() -> None:
    app = snippet("body_arrival.py").app
    async with client(app) as c:
        response = await c.post("/chunks", content=chunks(5, 6, 7))
    assert response.json() == {"sizes": [5, 6, 7, 0], "second_read": "Stream consumed"}


async def test_a_body_with_content_length_arrives_in_one_message_in_process() -> None:
    app = snippet("body_arrival.py").app
    async with client(app) as c:
        response = await c.post("/chunks", content=b"x" * 50_000)
    assert response.json()["sizes"] == [50_000, 0]


async def test_body_first_keeps_it_and_stream_replays_it() -> None:
    app = snippet("body_arrival.py").app
    async with client(app) as c:
        response = await c.post("/buffered", content=chunks(5, 6))
    assert response.json() == {"body": [11], "stream": [11, 0]}


# -- UploadFile: parsed before the endpoint, spooled to disk above 1 MiB ---------------------


def spooling_app(seen: list[tuple[int, bool]]) -> FastAPI:
    app = FastAPI()

    @app.post("/files")
    async def add(file: UploadFile) -> None:
        seen.append((file.size or 0, file.file._rolled))  # type: ignore[attr-defined]

    return app


@pytest.mark.parametrize(("size", "on_disk"), [(MIB, False), (MIB + 1, True)])
async def test_uploadfile_is_complete_before_the_endpoint_and_spools_above_one_mib(
    size: int, on_disk: bool
) -> None:
    assert MultiPartParser.spool_max_size == MIB
    seen: list[tuple[int, bool]] = []
    async with client(spooling_app(seen)) as c:
        response = await c.post("/files", files={"file": ("a.bin", bytes(size))})
    assert response.status_code == 200
    assert seen == [(size, on_disk)]  # the whole file had arrived when the endpoint started


# -- streaming_upload.py and whole_body.py --------------------------------------------------


@pytest.mark.parametrize("sizes", [(), (1,), (64 * KIB,), (1000, 70_000, 3, 64 * KIB)])
async def test_the_streamed_upload_is_hashed_and_stored_exactly(
    tmp_path: Path, sizes: tuple[int, ...]
) -> None:
    app = snippet("streaming_upload.py").create_app(tmp_path)
    data = b"".join(bytes([i % 251]) * size for i, size in enumerate(sizes))
    pieces = [bytes([i % 251]) * size for i, size in enumerate(sizes)]

    async def body() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    async with LifespanManager(app) as manager, client(manager.app) as c:
        response = await c.put("/uploads/report-1", content=body())
    assert response.status_code == 201, response.text
    expected = {"id": "report-1", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert response.json() == expected
    assert listing(tmp_path) == ["report-1"]
    assert (tmp_path / "report-1").read_bytes() == data


async def test_a_five_mib_upload_gets_the_hash_of_its_bytes(tmp_path: Path) -> None:
    app = snippet("streaming_upload.py").create_app(tmp_path)
    async with LifespanManager(app) as manager, client(manager.app) as c:
        response = await c.put("/uploads/big", content=counted(5 * MIB))
    assert response.json()["sha256"] == hashlib.sha256(bytes(5 * MIB)).hexdigest()


@pytest.mark.parametrize(
    ("header", "status", "stored"),
    [
        (hashlib.sha256(b"hello").hexdigest().upper(), 201, ["r"]),
        (hashlib.sha256(b"hellO").hexdigest(), 422, []),
    ],
)
async def test_a_digest_mismatch_is_a_422_and_nothing_is_stored(
    tmp_path: Path, header: str, status: int, stored: list[str]
) -> None:
    app = snippet("streaming_upload.py").create_app(tmp_path)
    headers = {"x-expected-sha256": header}
    async with LifespanManager(app) as manager, client(manager.app) as c:
        response = await c.put("/uploads/r", content=pieces(b"he", b"llo"), headers=headers)
    assert response.status_code == status
    assert listing(tmp_path) == stored


async def test_an_id_that_is_not_a_plain_name_is_refused(tmp_path: Path) -> None:
    app = snippet("streaming_upload.py").create_app(tmp_path / "store")
    async with LifespanManager(app) as manager, client(manager.app) as c:
        response = await c.put("/uploads/.env", content=b"x")
    assert response.status_code == 422
    assert listing(tmp_path) == ["store"]


class Gone(Exception):
    """The client went away in the middle of its upload."""


async def test_an_upload_cut_short_leaves_no_file_and_no_part(tmp_path: Path) -> None:
    app = snippet("streaming_upload.py").create_app(tmp_path)

    async def cut() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        raise Gone

    async with LifespanManager(app) as manager, client(manager.app) as c:
        with pytest.raises(Gone):
            await c.put("/uploads/cut", content=cut())
    assert listing(tmp_path) == []


async def peak_memory_of_upload(app: Any, total: int) -> int:
    async with LifespanManager(app) as manager, client(manager.app) as c:
        tracemalloc.start()
        try:
            response = await c.put("/uploads/big", content=counted(total))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert response.json()["size"] == total
    return peak


async def test_streaming_keeps_memory_flat_and_body_holds_the_whole_upload(
    tmp_path: Path,
) -> None:
    streamed = await peak_memory_of_upload(
        snippet("streaming_upload.py").create_app(tmp_path), 16 * MIB
    )
    buffered = await peak_memory_of_upload(snippet("whole_body.py").app, 16 * MIB)
    assert streamed < 1 * MIB  # about 0.2 MiB, whatever the size of the upload
    assert buffered >= 2 * 16 * MIB  # the chunks, then the joined body: twice the upload


# -- body_limits.py -------------------------------------------------------------------------

TOO_LARGE_TEXT = ("text/plain; charset=utf-8", "Content Too Large")
TOO_LARGE_JSON = ("application/json", '{"detail":"Content Too Large"}')


@pytest.mark.parametrize(
    ("method", "path", "size", "status", "ran"),
    [
        ("POST", "/pings", 64, 200, ["pings"]),
        ("POST", "/pings", 65, 413, ["pings"]),  # the endpoint started; its read failed
        ("PUT", "/uploads/a", 16 * KIB + 1, 200, ["uploads"]),  # the router's limit wins
        ("PUT", "/uploads/a", 10 * MIB, 200, ["uploads"]),
        ("PUT", "/uploads/a", 10 * MIB + 1, 413, ["uploads"]),
    ],
)
@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "chunked"])
async def test_the_most_specific_limit_wins_on_both_sides(
    method: str, path: str, size: int, status: int, ran: list[str], announced: bool
) -> None:
    limits = snippet("body_limits.py")
    content = bytes(size) if announced else counted(size)
    async with client(limits.app) as c:
        response = await c.request(method, path, content=content)
    assert response.status_code == status
    assert limits.calls == ran
    if status == 413:
        shape = (response.headers["content-type"], response.text)
        assert shape == (TOO_LARGE_TEXT if announced else TOO_LARGE_JSON)


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "chunked"])
async def test_a_declared_body_over_the_limit_never_reaches_the_endpoint(announced: bool) -> None:
    limits = snippet("body_limits.py")
    data = json.dumps({"text": "x" * 16 * KIB}).encode()
    content = data if announced else chunks(len(data))
    headers = {"content-type": "application/json"}
    exact = json.dumps({"text": "x" * (16 * KIB - 12)}).encode()
    assert len(exact) == 16 * KIB
    async with client(limits.app) as c:
        small = await c.post("/notes", content=exact, headers=headers)
        response = await c.post("/notes", content=content, headers=headers)
    assert small.status_code == 200  # exactly the limit
    assert response.status_code == 413
    assert limits.calls == ["notes"]  # only the one at the limit ran


async def test_your_http_exception_handler_shapes_only_the_counted_413() -> None:
    limits = snippet("body_limits.py")

    async def problem(request: Any, error: Any) -> JSONResponse:
        return JSONResponse({"title": error.detail}, status_code=error.status_code)

    limits.app.add_exception_handler(HTTPException, problem)
    async with client(limits.app) as c:
        announced = await c.post("/pings", content=bytes(65))
        counted_ = await c.post("/pings", content=chunks(65))
    assert (announced.status_code, announced.text) == (413, "Content Too Large")
    assert (counted_.status_code, counted_.json()) == (413, {"title": "Content Too Large"})


@pytest.mark.parametrize(
    ("files", "fields", "caption", "status", "detail"),
    [
        (2, 0, 256, 200, None),
        (3, 0, 0, 400, "Too many files. Maximum number of files is 2."),
        (1, 4, 1, 200, None),  # caption + 4 = 5 fields: the app's max_fields
        (1, 5, 1, 400, "Too many fields. Maximum number of fields is 5."),
        (1, 0, 257, 400, "Part exceeded maximum size of 0KB."),
    ],
)
async def test_form_limits_merge_app_and_route_and_answer_400(
    files: int, fields: int, caption: int, status: int, detail: str | None
) -> None:
    limits = snippet("body_limits.py")
    data = {f"extra{i}": "x" for i in range(fields)} | (
        {"caption": "c" * caption} if caption else {}
    )
    parts = [("files", (f"{i}.png", bytes(20 * KIB))) for i in range(files)]
    async with client(limits.app) as c:
        response = await c.post("/uploads/forms", files=parts, data=data)
    assert response.status_code == status, response.text
    if detail is None:
        assert limits.calls == ["forms"]  # a 20 KiB file is no "part": max_part_size is for text
    else:
        assert response.json() == {"detail": detail}
        assert limits.calls == []


# -- safe_names.py --------------------------------------------------------------------------

STORED = re.compile(r"[0-9a-f]{32}\.(jpeg|jpg|pdf|png|txt)")


@pytest.mark.parametrize(
    ("original", "reason"),
    [
        ("", "name is empty or too long"),
        ("a" * 252 + ".png", "name is empty or too long"),
        ("../../etc/passwd.txt", "name has a path in it"),
        ("..\\..\\boot.ini.txt", "name has a path in it"),
        ("/etc/cron.d/x.txt", "name has a path in it"),
        ("C:\\Windows\\x.png", "name has a path in it"),
        ("C:x.png", "name has a path in it"),
        ("report.txt:hidden", "name has a path in it"),
        ("evil\x00.png", "name has control characters"),
        ("line\nbreak.png", "name has control characters"),
        ("next\x85line.png", "name has control characters"),  # U+0085, a C1 control
        ("..", "name starts with a dot, or ends with a dot or a space"),
        (".env", "name starts with a dot, or ends with a dot or a space"),
        (".png", "name starts with a dot, or ends with a dot or a space"),
        ("photo.png.", "name starts with a dot, or ends with a dot or a space"),
        ("photo.png ", "name starts with a dot, or ends with a dot or a space"),
        ("CON", "name is reserved on Windows"),
        ("con.txt", "name is reserved on Windows"),
        ("Lpt9.tar.png", "name is reserved on Windows"),
        ("nul .txt", "name is reserved on Windows"),
        ("shell.php", "extension not allowed"),
        ("photo.png.exe", "extension not allowed"),
        ("README", "extension not allowed"),
    ],
)
def test_unsafe_names_are_refused_with_their_reason(original: str, reason: str) -> None:
    names = snippet("safe_names.py")
    with pytest.raises(ValueError, match=re.escape(reason)):
        names.stored_name(original)


@pytest.mark.parametrize(
    ("original", "extension"),
    [
        ("a" * 251 + ".png", ".png"),
        ("Holiday.JPG", ".jpg"),
        ("con-tract.pdf", ".pdf"),
        ("COM10.txt", ".txt"),
        ("notes..txt", ".txt"),
    ],
)
def test_safe_names_get_a_generated_name_with_a_normalised_extension(
    original: str, extension: str
) -> None:
    names = snippet("safe_names.py")
    first, second = names.stored_name(original), names.stored_name(original)
    assert STORED.fullmatch(first)
    assert first.endswith(extension)
    assert first != second


_names = snippet("safe_names.py")


@given(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300)
    | st.lists(st.sampled_from(["..", "/", "\\", "C:", "con", ".png", ".", " ", "\x00", "a"])).map(
        "".join
    )
)
def test_whatever_the_name_the_result_is_a_refusal_or_a_plain_name(original: str) -> None:
    directory = Path("/srv/uploads")
    try:
        name = _names.stored_name(original)
    except ValueError:
        return
    assert STORED.fullmatch(name)
    assert (directory / name).resolve().parent == directory.resolve()


async def test_the_filename_arrives_exactly_as_the_client_wrote_it(tmp_path: Path) -> None:
    seen: list[str | None] = []
    app = FastAPI()

    @app.post("/files")
    async def add(file: UploadFile) -> None:
        seen.append(file.filename)

    async with client(app) as c:
        await c.post("/files", files={"file": ("../../etc/cron.d/evil", b"*")})
    assert seen == ["../../etc/cron.d/evil"]


async def test_the_endpoint_stores_under_a_new_name_and_never_outside(tmp_path: Path) -> None:
    store = tmp_path / "store"
    app = snippet("safe_names.py").create_app(store)
    async with LifespanManager(app) as manager, client(manager.app) as c:
        good = await c.post("/files", files={"file": ("Scan.PDF", b"%PDF-1.7" * 20_000)})
        bad = await c.post("/files", files={"file": ("../escape.pdf", b"%PDF")})
    assert good.status_code == 201
    body = good.json()
    assert STORED.fullmatch(body["id"])
    assert body["original"] == "Scan.PDF"
    assert body["size"] == 160_000
    assert (store / body["id"]).read_bytes() == b"%PDF-1.7" * 20_000
    assert (bad.status_code, bad.json()) == (422, {"detail": "name has a path in it"})
    assert listing(tmp_path) == ["store"]
    assert listing(store) == [body["id"]]


# -- progress.py ----------------------------------------------------------------------------

JOB_ID = re.compile(r"[0-9a-f]{32}")


def parse_events(raw: bytes) -> list[dict[str, Any]]:
    events = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append({**fields, "data": json.loads(fields["data"])})
    return events


class Rows:
    """A convert() the test steers: each row starts, then waits until the test lets it pass."""

    def __init__(self, total: int, fail_at: int | None = None) -> None:
        self.started = [anyio.Event() for _ in range(total)]
        self.passed = [anyio.Event() for _ in range(total)]
        self.fail_at = fail_at

    async def convert(self, row: int) -> None:
        self.started[row].set()
        await self.passed[row].wait()
        if row == self.fail_at:
            raise RuntimeError(f"row {row} is not a valid record")

    async def pause_after(self, count: int) -> None:
        """Let `count` rows pass and wait until the job is in the next one: done == count."""
        for event in self.passed[:count]:
            event.set()
        await self.started[count].wait()

    def let_all_pass(self) -> None:
        for event in self.passed:
            event.set()


class Watcher:
    """GET /imports/{id}/progress as a server would serve it: events seen as they are sent."""

    def __init__(self, job_id: str, jobs: dict[str, Any]) -> None:
        self.job_id, self.jobs = job_id, jobs
        self.arrived = anyio.Event()
        self.counts: dict[int, anyio.Event] = {}
        self.listed: list[bool] = []  # for each event: was the job in the registry when sent?
        self.exchange = RawExchange(f"/imports/{job_id}/progress", on_send=self._sent)

    async def _sent(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            for event in parse_events(message["body"]):
                self.listed.append(self.job_id in self.jobs)
                self.saw(event["data"]["done"]).set()
            self.arrived.set()

    def saw(self, count: int) -> anyio.Event:
        """Set once an event with this count has been sent."""
        return self.counts.setdefault(count, anyio.Event())

    @property
    def events(self) -> list[dict[str, Any]]:
        return parse_events(self.exchange.body)


async def start_import(c: httpx.AsyncClient, rows: int) -> str:
    response = await c.post("/imports", params={"rows": rows})
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    assert JOB_ID.fullmatch(job_id)
    assert response.json() == {"id": job_id, "progress": f"/imports/{job_id}/progress"}
    return str(job_id)


def event(name: str, done: int, total: int) -> dict[str, Any]:
    return {"event": name, "id": str(done), "data": {"done": done, "total": total}}


@dataclass
class Running:
    """progress.py serving, with `rows` for its convert() and one import started."""

    progress: ModuleType
    app: Any
    client: httpx.AsyncClient
    jobs: dict[str, Any]
    job_id: str


@asynccontextmanager
async def an_import(rows: Rows) -> AsyncIterator[Running]:
    progress = snippet("progress.py")
    progress.convert = rows.convert
    async with LifespanManager(progress.app) as manager, client(manager.app) as c:
        job_id = await start_import(c, len(rows.started))
        yield Running(progress, manager.app, c, manager._state["jobs"], job_id)


@pytest.mark.parametrize("paused_after", [1, 3])
async def test_progress_is_exact_mid_job_and_ends_with_finished(paused_after: int) -> None:
    rows = Rows(5)
    with anyio.fail_after(HANG_GUARD):
        async with an_import(rows) as run:
            jobs = run.jobs
            assert jobs[run.job_id].done == 0  # the 202 came without waiting for any row
            await rows.pause_after(paused_after)
            watcher = Watcher(run.job_id, jobs)
            async with anyio.create_task_group() as group:
                group.start_soon(watcher.exchange.run, run.app)
                await watcher.arrived.wait()
                first = watcher.events[0]
                rows.let_all_pass()
            assert jobs == {}  # nothing left behind
    assert first == event("progress", paused_after, 5)
    assert watcher.exchange.status == 200
    assert watcher.events[-1] == event("finished", 5, 5)
    counts = [e["data"]["done"] for e in watcher.events]
    assert counts == sorted(counts)
    assert all(e["id"] == str(e["data"]["done"]) for e in watcher.events)
    assert (watcher.listed[0], watcher.listed[-1]) == (True, False)  # it kept its Job


async def test_the_wire_format_of_a_progress_and_a_finished_event() -> None:
    progress = snippet("progress.py")
    job = progress.Job(total=3, done=2)

    async def sent(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            job.update(3, "finished")

    exchange = RawExchange("/imports/j/progress", on_send=sent)
    exchange.scope["state"] = {"jobs": {"j": job}}
    with anyio.fail_after(HANG_GUARD):
        await exchange.run(progress.app)
    assert exchange.header_values("content-type") == ["text/event-stream; charset=utf-8"]
    assert exchange.header_values("cache-control") == ["no-cache"]
    assert exchange.header_values("x-accel-buffering") == ["no"]
    assert exchange.body == (
        b'event: progress\ndata: {"done": 2, "total": 3}\nid: 2\n\n'
        b'event: finished\ndata: {"done": 3, "total": 3}\nid: 3\n\n'
    )


def test_an_idle_stream_is_kept_open_with_a_ping_after_15_seconds() -> None:
    assert fastapi.sse.KEEPALIVE_COMMENT == b": ping\n\n"
    assert fastapi.routing._PING_INTERVAL == 15.0  # the copy FastAPI reads


async def test_an_unknown_job_is_a_json_404_not_a_stream() -> None:
    progress = snippet("progress.py")
    async with LifespanManager(progress.app) as manager, client(manager.app) as c:
        response = await c.get("/imports/nope/progress")
    assert (response.status_code, response.json()) == (404, {"detail": "No import in progress"})
    assert response.headers["content-type"] == "application/json"


async def test_a_404_raised_inside_the_generator_comes_too_late() -> None:
    app = FastAPI()

    @app.get("/imports/{job_id}/progress", response_class=EventSourceResponse)
    async def watch(job_id: str) -> AsyncIterator[ServerSentEvent]:
        raise HTTPException(404, "No import in progress")
        yield ServerSentEvent(data=job_id)  # pragma: no cover

    async with client(app, raise_app_exceptions=False) as c:
        response = await c.get("/imports/nope/progress")
    assert (response.status_code, response.text) == (200, "")  # the status was already sent


async def test_a_change_while_an_event_is_being_sent_is_not_missed() -> None:
    progress = snippet("progress.py")
    job = progress.Job(total=5)
    stream = progress.watch_import(job)
    with anyio.fail_after(HANG_GUARD):
        first = await anext(stream)  # the generator now waits at its yield
        job.update(1)  # the change comes before it resumes
        second = await anext(stream)  # no further change: the event it took was set
        await stream.aclose()
    assert (first.event, first.data, second.event, second.data) == (
        "progress",
        {"done": 0, "total": 5},
        "progress",
        {"done": 1, "total": 5},
    )


async def test_quick_changes_coalesce_into_one_event_with_the_latest_count() -> None:
    progress = snippet("progress.py")
    job = progress.Job(total=5)
    stream = progress.watch_import(job)
    with anyio.fail_after(HANG_GUARD):
        await anext(stream)
        job.update(1)
        job.update(2)
        job.update(3)
        latest = await anext(stream)
        job.update(5, "finished")
        last = await anext(stream)
        with pytest.raises(StopAsyncIteration):  # every stream ends
            await anext(stream)
    assert (latest.event, latest.id, latest.data) == ("progress", "3", {"done": 3, "total": 5})
    assert (last.event, last.id, last.data) == ("finished", "5", {"done": 5, "total": 5})


async def test_every_watcher_of_a_job_hears_every_change() -> None:
    rows = Rows(3)
    with anyio.fail_after(HANG_GUARD):
        async with an_import(rows) as run:
            await rows.pause_after(1)
            watchers = [Watcher(run.job_id, run.jobs), Watcher(run.job_id, run.jobs)]
            async with anyio.create_task_group() as group:
                for watcher in watchers:
                    group.start_soon(watcher.exchange.run, run.app)
                    await watcher.saw(1).wait()
                await rows.pause_after(2)
                for watcher in watchers:
                    await watcher.saw(2).wait()  # both woken by the one change
                rows.let_all_pass()
    expected = [event("progress", 1, 3), event("progress", 2, 3), event("finished", 3, 3)]
    assert [watcher.events for watcher in watchers] == [expected, expected]


async def test_a_failing_job_is_logged_its_watchers_hear_failed_and_the_app_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="imports")
    rows = Rows(5, fail_at=2)
    with anyio.fail_after(HANG_GUARD):
        async with an_import(rows) as run:
            job_id, jobs = run.job_id, run.jobs
            await rows.pause_after(2)
            watcher = Watcher(job_id, jobs)
            async with anyio.create_task_group() as group:
                group.start_soon(watcher.exchange.run, run.app)
                await watcher.arrived.wait()
                rows.let_all_pass()
            ended = await run.client.get(f"/imports/{job_id}/progress")
            after = Rows(1)
            run.progress.convert = after.convert
            next_id = await start_import(run.client, 1)
            next_watcher = Watcher(next_id, jobs)
            async with anyio.create_task_group() as group:
                group.start_soon(next_watcher.exchange.run, run.app)
                await next_watcher.arrived.wait()
                after.let_all_pass()
            assert jobs == {}
    assert watcher.events == [event("progress", 2, 5), event("failed", 2, 5)]
    assert (ended.status_code, ended.json()) == (404, {"detail": "No import in progress"})
    assert next_watcher.events[-1] == event("finished", 1, 1)  # the task group still runs jobs
    logged = [(r.getMessage(), str(r.exc_info[1])) for r in caplog.records if r.exc_info]
    assert logged == [(f"import {job_id} failed", "row 2 is not a valid record")]


async def test_an_exception_that_escapes_a_job_stops_the_task_group_and_the_lifespan() -> None:
    progress = snippet("progress.py")

    async def unguarded(job_id: str, job: Any, jobs: dict[str, Any]) -> None:
        raise RuntimeError("row 2 is not a valid record")

    progress.run_import = unguarded

    async def serve_two_imports() -> None:
        async with LifespanManager(progress.app) as manager, client(manager.app) as c:
            await start_import(c, 5)
            await anyio.wait_all_tasks_blocked()  # the error has gone up through the group
            with pytest.raises(RuntimeError, match="This task group is not active"):
                await c.post("/imports", params={"rows": 5})

    with anyio.fail_after(HANG_GUARD), pytest.raises(ExceptionGroup) as stopped:
        await serve_two_imports()  # the lifespan ends with the job's error
    assert stopped.group_contains(RuntimeError, match="row 2 is not a valid record")


async def test_shutdown_cancels_a_running_job_and_its_watchers_hear_failed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="imports")
    rows = Rows(5)
    with anyio.fail_after(HANG_GUARD):
        async with (
            anyio.create_task_group() as group,  # left last: it waits for the watcher
            an_import(rows) as run,
        ):
            jobs = run.jobs
            await rows.pause_after(1)
            watcher = Watcher(run.job_id, jobs)
            group.start_soon(watcher.exchange.run, run.app)
            await watcher.arrived.wait()
        # the lifespan shut down while the job was in its second row and the watcher waited
    assert watcher.events == [event("progress", 1, 5), event("failed", 1, 5)]
    assert jobs == {}
    assert caplog.records == []  # a cancellation is no Exception: nothing was logged


# -- background.py --------------------------------------------------------------------------


async def audit_rows(module: ModuleType, state: dict[str, Any]) -> list[tuple[str, int]]:
    async with state["sessions"]() as session:
        rows = await session.scalars(select(module.AuditRow).order_by(module.AuditRow.id))
        return [(row.upload, row.size) for row in rows]


async def test_the_task_writes_its_row_and_a_failed_request_adds_no_task(
    database_url: str,
) -> None:
    background = snippet("background.py")
    app = background.create_app(database_url)
    async with LifespanManager(app) as manager, client(manager.app) as c:
        ok = await c.put("/uploads/a", content=b"12345")
        rows_after_ok = await audit_rows(background, manager._state)  # in-process: already ran
        empty = await c.put("/uploads/b", content=b"")
        rows = await audit_rows(background, manager._state)
    assert (ok.status_code, ok.json()) == (201, {"id": "a", "size": 5})
    assert rows_after_ok == [("a", 5)]
    assert empty.status_code == 422
    assert rows == [("a", 5)]


async def test_behind_a_server_the_client_has_its_answer_before_the_task_runs(
    database_url: str, monkeypatch: pytest.MonkeyPatch, real_server: Callable[..., Any]
) -> None:
    background = snippet("background.py")
    original, started, release = background.record_upload, anyio.Event(), anyio.Event()
    finished = anyio.Event()

    async def held(*args: Any) -> None:
        started.set()
        await release.wait()
        await original(*args)
        finished.set()

    monkeypatch.setattr(background, "record_upload", held)
    app = background.create_app(database_url)
    with anyio.fail_after(HANG_GUARD):
        async with real_server(app, lifespan="on") as c:
            response = await c.put("/uploads/a", content=b"123")
            assert response.status_code == 201  # answered while the task waits
            await started.wait()
            assert not finished.is_set()
            release.set()
            await finished.wait()


async def test_a_failing_task_is_logged_and_the_client_keeps_its_201(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    real_server: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    background = snippet("background.py")

    async def broken(*args: Any) -> None:
        raise RuntimeError("audit database is down")

    monkeypatch.setattr(background, "record_upload", broken)
    app = background.create_app(database_url)
    async with real_server(app, lifespan="on", access_log=False) as c:
        response = await c.put("/uploads/a", content=b"123")
    assert response.status_code == 201
    errors = [(r.name, r.getMessage(), str(r.exc_info[1])) for r in caplog.records if r.exc_info]
    assert errors == [
        ("uvicorn.error", "Exception in ASGI application\n", "audit database is down")
    ]


async def test_in_process_a_failing_task_reaches_the_test_as_an_exception(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    background = snippet("background.py")

    async def broken(*args: Any) -> None:
        raise RuntimeError("audit database is down")

    monkeypatch.setattr(background, "record_upload", broken)
    app = background.create_app(database_url)
    async with LifespanManager(app) as manager:
        async with client(manager.app) as c:
            with pytest.raises(RuntimeError, match="audit database is down"):
                await c.put("/uploads/a", content=b"123")
        async with client(manager.app, raise_app_exceptions=False) as c:
            response = await c.put("/uploads/a", content=b"123")
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("scope", "order"),
    [
        ("request", ["endpoint", "task", "dependency exit"]),
        ("function", ["endpoint", "dependency exit", "task"]),
    ],
)
async def test_when_a_yield_dependency_exits_around_the_task(scope: str, order: list[str]) -> None:
    log: list[str] = []

    async def session() -> AsyncIterator[str]:
        yield "session"
        log.append("dependency exit")

    app = FastAPI()

    @app.post("/orders")
    async def order_(
        tasks: BackgroundTasks,
        _: Annotated[str, Depends(session, scope=scope)],  # type: ignore[call-overload]
    ) -> None:
        tasks.add_task(log.append, "task")
        log.append("endpoint")

    async with client(app) as c:
        await c.post("/orders")
    assert log == order


async def test_a_failing_task_stops_the_tasks_after_it() -> None:
    log: list[str] = []

    def broken() -> None:
        raise RuntimeError("first task failed")

    app = FastAPI()

    @app.post("/orders")
    async def order_(tasks: BackgroundTasks) -> None:
        tasks.add_task(broken)
        tasks.add_task(log.append, "second task")

    async with client(app, raise_app_exceptions=False) as c:
        response = await c.post("/orders")
    assert response.status_code == 200
    assert log == []
