"""Hidden checks for 01_async_foundations/01_unblock_the_loop.

The fake mailbox signals when a receive() starts waiting, so the checks post a message
only once the long poll really waits: no sleeps, no timing.  Its receive() gives up after
WAIT_S, so an app that blocks the event loop ends in a 504 instead of hanging.
"""

import asyncio
import queue
import threading
from collections.abc import Callable, Iterator
from types import ModuleType

import anyio
import pytest

from workbook.testing import client_for, expect, expect_json, expect_status, provide

WAIT_S = 2.0
BLOCKED_HELP = (
    "Does GET /messages/next call the blocking receive() inside an async def? While it "
    "waits there, the event loop cannot run the POST that would wake it."
)


class FakeMailbox:
    """Stands in for the blocking SDK and signals when a receive() starts waiting."""

    def __init__(self, wait_s: float = WAIT_S) -> None:
        self.waiting = threading.Event()
        self._messages: queue.Queue[str] = queue.Queue()
        self._wait_s = wait_s

    def receive(self) -> str | None:
        self.waiting.set()
        try:
            return self._messages.get(timeout=self._wait_s)
        except queue.Empty:
            return None

    def send(self, text: str) -> None:
        self._messages.put(text)


Install = Callable[[FakeMailbox], FakeMailbox]


@pytest.fixture
def use_mailbox(exercise: ModuleType) -> Iterator[Install]:
    """Install a fake mailbox in the app under test; remove it afterwards."""

    def install(fake: FakeMailbox) -> FakeMailbox:
        exercise.app.dependency_overrides[exercise.get_mailbox] = provide(fake)
        return fake

    yield install
    exercise.app.dependency_overrides.pop(exercise.get_mailbox, None)


async def test_post_wakes_waiting_poll(exercise: ModuleType, use_mailbox: Install) -> None:
    """a message posted while GET /messages/next waits is delivered to that request"""
    mailbox = use_mailbox(FakeMailbox())
    async with client_for(exercise.app) as client:
        poll = asyncio.create_task(client.get("/messages/next"))
        try:
            waiting = await anyio.to_thread.run_sync(mailbox.waiting.wait, WAIT_S)
            posted = await client.post("/messages", json={"text": "hello"})
            polled = await poll
        finally:
            poll.cancel()
    expect(waiting, "GET /messages/next never called receive() on the mailbox from get_mailbox")
    expect_status(polled, 200, help=BLOCKED_HELP if polled.status_code == 504 else None)
    expect_json(polled, {"text": "hello"})
    expect_status(posted, 202)
    expect_json(posted, {"text": "hello"})


@pytest.mark.stub_may_pass("the stub already answers 504 when receive() gives up")
async def test_no_message_is_504(exercise: ModuleType, use_mailbox: Install) -> None:
    """a long poll that gets no message answers 504"""
    use_mailbox(FakeMailbox(wait_s=0))
    async with client_for(exercise.app) as client:
        response = await client.get("/messages/next")
    expect_status(response, 504)
    expect_json(response, {"detail": "no message arrived in time"})
