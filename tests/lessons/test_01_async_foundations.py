"""Every snippet of lessons/01-async-foundations.md runs and does what the page says."""

import asyncio
import json
import re
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
from asgi_lifespan import LifespanManager

from workbook.loader import load

ROOT = Path(__file__).parents[2]
SNIPPETS = ROOT / "lessons" / "snippets" / "01_async_foundations"
LESSON = ROOT / "lessons" / "01-async-foundations.md"
TESTED = {
    "where_it_runs.py",
    "blocking.py",
    "wrap_blocking.py",
    "thread_budget.py",
    "fan_out.py",
    "async_tests.py",
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
        on_sync = (await client.get("/sync")).json()
    assert on_async["endpoint"] == loop_thread
    assert on_async["async dependency"] == loop_thread
    assert on_async["sync dependency"] != loop_thread
    assert on_sync["endpoint"] != loop_thread


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


@pytest.mark.parametrize(("failing", "status"), [(None, 200), ("events.internal", 502)])
async def test_fan_out(failing: str | None, status: int) -> None:
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
        if request.url.host == failing:
            return httpx.Response(503)
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


def test_async_tests_pass_under_pytest() -> None:
    path = SNIPPETS / "async_tests.py"
    command = [sys.executable, "-m", "pytest", str(path), "-q", "-p", "no:cacheprovider"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout
    assert "3 passed" in result.stdout
