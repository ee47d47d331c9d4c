"""Every snippet of lessons/01-async-foundations.md runs and does what the page says."""

import asyncio
import contextlib
import json
import re
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import Depends, FastAPI
from fastapi.concurrency import run_in_threadpool

from workbook.loader import load

ROOT = Path(__file__).parents[2]
SNIPPETS = ROOT / "lessons" / "snippets" / "01_async_foundations"
LESSON = ROOT / "lessons" / "01-async-foundations.md"
TESTED = {
    "where_it_runs.py",
    "blocking.py",
    "wrap_blocking.py",
    "thread_budget.py",
    "pool_size.py",
    "bulkhead_dependency.py",
    "orphan_threads.py",
    "geocode_deadline.py",
    "fan_out.py",
    "lost_update.py",
    "async_tests.py",
    "debug_mode.py",
    "harness.py",
}


def snippet(filename: str) -> ModuleType:
    return load(SNIPPETS / filename)


@asynccontextmanager
async def client_for(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


def test_every_snippet_is_on_the_page_and_tested() -> None:
    files = {path.name for path in SNIPPETS.glob("*.py")}
    included = set(re.findall(r'--8<-- "01_async_foundations/(\w+\.py)', LESSON.read_text()))
    assert files == TESTED
    assert files == included


async def test_where_it_runs() -> None:
    loop_thread = threading.current_thread().name  # ASGITransport runs the app on this loop
    async with client_for(snippet("where_it_runs.py").app) as client:
        on_async = (await client.get("/async")).json()
        on_sync = (await client.post("/sync", json={"text": "hi"})).json()
    on_loop = ["endpoint", "async dependency", "async __call__ instance"]
    in_threads = ["sync dependency", "sync yield dependency", "class dependency"]
    assert [on_async[key] for key in on_loop] == [loop_thread] * 3
    assert all(on_async[key] != loop_thread for key in in_threads)
    assert on_sync["endpoint"] != loop_thread
    assert on_sync["body"] == f"hi (validated on {loop_thread})"  # the body: on the loop


async def test_sibling_dependencies_run_one_after_another() -> None:
    log: list[str] = []

    async def first() -> None:
        log.append("first starts")
        await asyncio.sleep(0)  # a chance to let the sibling start, were they concurrent
        log.append("first ends")

    async def second() -> None:
        log.append("second starts")

    app = FastAPI()

    @app.get("/", dependencies=[Depends(first), Depends(second)])
    async def endpoint() -> None:
        return None

    async with client_for(app) as client:
        await client.get("/")
    assert log == ["first starts", "first ends", "second starts"]


def test_ruff_flags_only_the_blocking_sleep() -> None:
    path = SNIPPETS / "blocking.py"
    command = [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache"]
    command += ["--select", "ASYNC", "--ignore-noqa", "--output-format", "json", str(path)]
    findings = json.loads(subprocess.run(command, capture_output=True, text=True).stdout)
    lines = path.read_text().splitlines()
    flagged = [(f["code"], lines[f["location"]["row"] - 1]) for f in findings]
    assert len(flagged) == 1
    code, line = flagged[0]
    assert code == "ASYNC251"
    assert "the whole loop sleeps" in line  # the sleep in the async def, not the one in the def


class SleepUntilPing:
    """Replaces the time module in blocking.py: sleep() waits for a ping, bounded."""

    def __init__(self) -> None:
        self.sleeping = threading.Event()
        self.ping_answered = threading.Event()
        self.woken_by_ping: bool | None = None

    def sleep(self, seconds: float) -> None:
        self.sleeping.set()
        self.woken_by_ping = self.ping_answered.wait(1.0)


@pytest.mark.parametrize(
    ("path", "pings_meanwhile"), [("/report/blocking", False), ("/report/threadpool", True)]
)
async def test_blocking(monkeypatch: pytest.MonkeyPatch, path: str, pings_meanwhile: bool) -> None:
    module = snippet("blocking.py")
    clock = SleepUntilPing()
    monkeypatch.setattr(module, "time", clock)
    async with client_for(module.app) as client:

        async def ping() -> None:
            await anyio.to_thread.run_sync(clock.sleeping.wait, 1.0)
            assert (await client.get("/ping")).json() == {"ping": "pong"}
            clock.ping_answered.set()

        async with asyncio.TaskGroup() as group:
            report = group.create_task(client.get(path))
            group.create_task(ping())
    assert report.result().json() == {"report": "ready"}
    assert clock.woken_by_ping is pings_meanwhile


async def test_wrap_blocking() -> None:
    loop_thread = threading.current_thread().name
    async with client_for(snippet("wrap_blocking.py").app) as client:
        quoted = await client.get("/quotes/tea", params={"currency": "USD"})
        via_anyio = await client.get("/quotes/tea/anyio", params={"currency": "USD"})
        unknown = await client.get("/quotes/coffee")
    for response in quoted, via_anyio:
        body = response.json()
        assert body.pop("thread") != loop_thread
        assert body == {"sku": "tea", "price": "4.20", "currency": "USD"}
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "unknown sku"}


async def test_thread_budget() -> None:
    async with client_for(snippet("thread_budget.py").app) as client:
        threads = await client.get("/threads")
        pdf = await client.get("/orders/7/pdf")
    assert threads.json() == {"total": 40, "borrowed": 0}
    assert pdf.json() == {"order_id": 7, "pages": 3}


FAN_OUT_CASES = {  # host -> what it answers instead of its JSON; the page's status
    "both answer": ({}, 200),
    "one fails": ({"events.internal": httpx.Response(503)}, 502),
    "one answers HTML": ({"events.internal": httpx.Response(200, text="<html>")}, 502),
    "both fail differently": (
        {"weather.internal": httpx.Response(503), "events.internal": httpx.Response(200, text="")},
        502,
    ),
}


@pytest.mark.parametrize(("answers", "status"), FAN_OUT_CASES.values(), ids=FAN_OUT_CASES)
async def test_fan_out(answers: dict[str, httpx.Response], status: int) -> None:
    module = snippet("fan_out.py")
    both_in_flight = anyio.Event()
    in_flight = 0

    async def upstream(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight
        in_flight += 1
        if in_flight == 2:
            both_in_flight.set()
        with anyio.fail_after(1):  # the two calls overlap, or this fails
            await both_in_flight.wait()
        if request.url.host in answers:
            return answers[request.url.host]
        return httpx.Response(200, json={"host": request.url.host})

    async with httpx.AsyncClient(transport=httpx.MockTransport(upstream)) as mock:

        async def get_mock_client() -> httpx.AsyncClient:
            return mock

        module.app.dependency_overrides[module.get_client] = get_mock_client
        try:
            async with client_for(module.app) as client:
                response = await client.get("/cities/paris")
        finally:
            module.app.dependency_overrides.clear()
    assert response.status_code == status
    if status == 200:
        weather, events = {"host": "weather.internal"}, {"host": "events.internal"}
        assert response.json() == {"city": "paris", "weather": weather, "events": events}


@pytest.mark.parametrize("statement", ["return None", "break", "continue"])
def test_return_inside_except_star_is_a_syntax_error(statement: str) -> None:
    body = f"for _ in []:\n  try:\n    pass\n  except* ValueError:\n    {statement}\n"
    source = "async def page():\n" + "".join(f"  {line}\n" for line in body.splitlines())
    with pytest.raises(SyntaxError, match="cannot appear in an except\\* block"):
        compile(source, "<lesson>", "exec")


async def test_except_exception_catches_a_group_a_specific_class_does_not() -> None:
    async def failing() -> None:
        raise httpx.ConnectError("no route")

    async def fan_out() -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(failing())

    async def caught_by(clause: type[Exception]) -> bool:
        try:
            await fan_out()
        except clause:
            return True
        except BaseException:
            return False
        return False

    assert not await caught_by(httpx.HTTPError)  # the group is not an HTTPError: it slips past
    assert await caught_by(Exception)  # ExceptionGroup is an Exception: caught, likely a 500


async def until(condition: Any, within: float = 2.0) -> None:
    """Poll a condition that a worker thread makes true, bounded."""
    with anyio.fail_after(within):
        while not condition():  # noqa: ASYNC110 -- the condition changes in another thread
            await anyio.sleep(0.005)


@pytest.fixture
async def orphans() -> AsyncIterator[ModuleType]:
    """orphan_threads.py with its calls hanging until the test ends (it is loaded once)."""
    module = snippet("orphan_threads.py")
    module.release, module.running = threading.Event(), 0
    try:
        yield module
    finally:
        module.release.set()
        await until(lambda: module.running == 0)


async def test_asyncio_timeouts_let_threads_pile_up_past_the_limiter(orphans: Any) -> None:
    limiter = anyio.CapacityLimiter(2)
    for _ in range(8):  # eight requests one after another, each timing out
        await orphans.asyncio_timeout(limiter)
    assert limiter.borrowed_tokens == 0  # every token came back at once...
    await until(lambda: orphans.running == 8)  # ...while eight threads hang: not two


async def test_asyncio_timeout_returns_the_token_too(orphans: Any) -> None:
    limiter = anyio.CapacityLimiter(1)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(0.05):
            await anyio.to_thread.run_sync(orphans.hanging_call, limiter=limiter)
    assert limiter.borrowed_tokens == 0
    await until(lambda: orphans.running == 1)


def test_max_concurrency_counts_per_event_loop() -> None:
    module = snippet("bulkhead_dependency.py")
    (limit,) = module.ReportDep.__metadata__

    async def semaphore() -> Any:
        return limit._concurrency.get_semaphore()

    first, again = asyncio.run(semaphore()), asyncio.run(semaphore())
    assert first is not again


async def test_anyio_deadline_waits_for_a_running_thread(orphans: Any) -> None:
    limiter = anyio.CapacityLimiter(1)
    call = asyncio.create_task(orphans.anyio_timeout(limiter))
    await until(lambda: orphans.running == 1)
    await anyio.sleep(0.15)  # the 0.05 s deadline is long past
    assert not call.done()  # the scope still waits for the thread
    assert limiter.borrowed_tokens == 1  # and the token stays taken
    orphans.release.set()
    assert await call is False  # the call finished normally: the deadline never fired


async def test_abandon_on_cancel_frees_the_token_early(orphans: Any) -> None:
    limiter = anyio.CapacityLimiter(1)
    await orphans.abandoned(limiter)
    await until(lambda: orphans.running == 1)
    assert limiter.borrowed_tokens == 0  # the token is back, the thread still runs


@pytest.mark.parametrize(("kind", "waits_for_thread"), [("asyncio", False), ("anyio", True)])
async def test_task_group_with_a_thread_sibling(kind: str, waits_for_thread: bool) -> None:
    started, release = threading.Event(), threading.Event()
    finished: list[str] = []

    def sibling() -> None:
        started.set()
        release.wait(5.0)
        finished.append("thread")

    async def failing() -> None:
        await anyio.to_thread.run_sync(started.wait, 5.0)
        asyncio.get_running_loop().call_later(0.1, release.set)  # lets the thread end later
        raise ValueError("boom")

    async def fan_out() -> None:
        if kind == "asyncio":
            async with asyncio.TaskGroup() as tg:
                tg.create_task(run_in_threadpool(sibling))
                tg.create_task(failing())
        else:
            async with anyio.create_task_group() as atg:
                atg.start_soon(run_in_threadpool, sibling)
                atg.start_soon(failing)

    with pytest.raises(ExceptionGroup):
        await fan_out()
    assert (finished == ["thread"]) is waits_for_thread
    await until(lambda: finished == ["thread"])


async def test_a_deadline_does_not_interrupt_a_thread() -> None:
    never = threading.Event()
    with anyio.fail_after(0.05):  # no TimeoutError: the thread ran past it undisturbed
        answered = await anyio.to_thread.run_sync(never.wait, 0.2)
    assert answered is False  # Event.wait's timeout ran out: only its value says so


def test_default_limiter_needs_a_running_loop() -> None:
    with pytest.raises(RuntimeError, match="Not currently running on any asynchronous"):
        anyio.to_thread.current_default_thread_limiter()


async def test_pool_sized_in_the_lifespan() -> None:
    module = snippet("pool_size.py")
    async with client_for(module.app) as client:
        response = await client.get("/threads")
    assert response.json() == {"total": module.POOL_THREADS}


class HangingGeocoder:
    def __init__(self) -> None:
        self.timeouts: list[float] = []
        self.release = threading.Event()

    def locate(self, address: str, *, timeout: float) -> dict[str, float]:
        self.timeouts.append(timeout)
        self.release.wait(5.0)
        return {"lat": 1.0, "lon": 2.0}


async def test_geocode_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    module = snippet("geocode_deadline.py")
    async with client_for(module.app) as client:
        assert (await client.get("/locate", params={"address": "x"})).status_code == 200
        fake = HangingGeocoder()
        monkeypatch.setattr(module, "geocoder", fake)
        monkeypatch.setattr(module, "TOKEN_WAIT", 0.05)
        hanging = [asyncio.create_task(client.get("/locate?address=a")) for _ in range(4)]
        try:
            await until(lambda: len(fake.timeouts) == 4)
            await anyio.sleep(0.1)  # the four running calls are past their 0.05 s window
            busy = await client.get("/locate?address=b")  # no token within the window
        finally:
            fake.release.set()
        answered = await asyncio.gather(*hanging)
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "1"
    assert [response.json() for response in answered] == [{"lat": 1.0, "lon": 2.0}] * 4
    assert fake.timeouts == [module.SDK_TIMEOUT] * 4


class SlowReports:
    def __init__(self) -> None:
        self.running = 0
        self.release = threading.Event()

    def fetch(self) -> dict[str, str]:
        self.running += 1
        self.release.wait(5.0)
        return {"report": "ready", "thread": threading.current_thread().name}


async def test_max_concurrency_caps_the_dependency_across_routes() -> None:
    module = snippet("bulkhead_dependency.py")
    slow = SlowReports()

    async def fake_client() -> SlowReports:
        return slow

    module.app.dependency_overrides[module.ReportClient] = fake_client
    pool = anyio.to_thread.current_default_thread_limiter()
    async with client_for(module.app) as client:
        paths = ["/reports/daily", "/reports/weekly"] * 2
        calls = [asyncio.create_task(client.get(path)) for path in paths]
        try:
            await until(lambda: slow.running == 2)
            for _ in range(200):  # let the other two requests go as far as they can
                await asyncio.sleep(0)
            assert pool.borrowed_tokens == 2  # two calls hold threads; two wait, holding none
        finally:
            slow.release.set()
        responses = await asyncio.gather(*calls)
    assert [response.status_code for response in responses] == [200] * 4
    assert slow.running == 4


async def test_max_concurrency_of_a_def_dependency_uses_the_shared_pool() -> None:
    module = snippet("bulkhead_dependency.py")
    async with client_for(module.app) as client:
        pool = anyio.to_thread.current_default_thread_limiter()
        pool.total_tokens = 1
        holder = object()  # takes the shared pool's last thread
        await pool.acquire_on_behalf_of(holder)
        try:
            with anyio.move_on_after(0.2) as waited:
                await client.get("/reports/daily")
        finally:
            pool.release_on_behalf_of(holder)
        answered = await client.get("/reports/daily")
    assert waited.cancelled_caught  # under its cap, it still waited for a shared thread
    assert answered.json()["report"] == "ready"


async def test_lost_update() -> None:
    module = snippet("lost_update.py")
    async with LifespanManager(module.app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            async with asyncio.TaskGroup() as group:
                for _ in range(10):
                    group.create_task(client.post("/racy/a"))
                    group.create_task(client.post("/locked/b"))
            racy, locked = await client.post("/racy/a"), await client.post("/locked/b")
    assert racy.json() == {"likes": 2}  # ten likes became one
    assert locked.json() == {"likes": 11}


async def test_each_lifespan_has_its_own_state() -> None:
    module = snippet("lost_update.py")
    async with client_for(module.app) as one, client_for(module.app) as two:  # two "workers"
        await one.post("/locked/b")
        assert (await two.post("/locked/b")).json() == {"likes": 1}


def test_debug_mode_reports_a_blocked_loop() -> None:
    command = [sys.executable, str(SNIPPETS / "debug_mode.py")]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    assert re.search(
        r"Executing <Task .*GET /report.*handler\(\).* took 0\.\d+ seconds", result.stderr
    )


async def test_lifespan_manager_shares_state_between_requests() -> None:
    async with client_for(snippet("harness.py").app) as client:
        first, second = await client.get("/visits"), await client.get("/visits")
    assert (first.json(), second.json()) == ({"visits": 1}, {"visits": 2})


def test_a_server_copies_the_state_for_each_request() -> None:
    module = snippet("harness.py")
    config = uvicorn.Config(module.app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            thread.join(0.01)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/visits"
        visits = [httpx.get(url).json() for _ in range(2)]
    finally:
        server.should_exit = True
        thread.join(5.0)
    assert visits == [{"visits": 1}, {"visits": 1}]


async def test_asgi_transport_raises_what_a_server_would_answer_500() -> None:
    app = snippet("harness.py").app
    async with client_for(app) as client:
        with pytest.raises(RuntimeError, match="a bug"):
            await client.get("/crash")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/crash")).status_code == 500


async def test_asgi_transport_buffers_a_streamed_body() -> None:
    module = snippet("harness.py")
    produced: list[str] = []

    async def countdown() -> AsyncIterator[str]:
        for n in ("3\n", "2\n", "1\n"):
            produced.append(n)
            yield n

    module.countdown = countdown
    async with client_for(module.app) as client, client.stream("GET", "/countdown") as response:
        assert len(produced) == 3  # the whole body was made before the first chunk arrived
        assert await response.aread() == b"3\n2\n1\n"
