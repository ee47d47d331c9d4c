"""Hidden checks for 01_async_foundations/01_unblock_the_loop.

The fake mailbox signals when receive() calls start waiting and counts those waiting at
once, so the checks post a message only once the long polls really wait: no sleeps, no
timing.  Its receive() gives up after WAIT_S; called on the event loop's own thread, it
gives up at once (waiting there would stop the very request that could wake it), so an
app that blocks the event loop fails fast with a 504 instead of hanging.
"""

import asyncio
import queue
import threading
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import anyio
import pytest

from workbook.testing import (
    client_for,
    expect,
    expect_equal,
    expect_json,
    expect_status,
    provide,
    response_json,
)

WAIT_S = 1.0  # a bound for wrong apps only: a right one answers as soon as it is posted to
BLOCKED_HELP = (
    "Does GET /messages/next call the blocking receive() inside an async def? While it "
    "waits there, the event loop cannot run the POST that would wake it."
)
FALSY_HELP = (
    "Does the endpoint test `if not text`? receive() gives up with None; an empty text is "
    "still a message."
)
TURNS_HELP = (
    "Do the long polls take turns? A lock around receive(), or a thread pool with a single "
    "worker, lets only one of them wait at a time."
)
SHARED_HELP = "Does get_mailbox hand every request the same mailbox, shared_mailbox?"


class FakeMailbox:
    """Stands in for the blocking SDK: the thread of each receive(), and how many wait at once."""

    def __init__(self, wait_s: float = WAIT_S) -> None:
        self.threads: list[int] = []
        self._messages: queue.Queue[str] = queue.Queue()
        self._wait_s = wait_s
        self._waiting = 0
        self._changed = threading.Condition()
        self._loop_thread = threading.get_ident()  # made by a check, on the event loop

    def receive(self) -> str | None:
        caller = threading.get_ident()
        self._count(+1, caller)
        try:
            if caller == self._loop_thread:
                return None  # nothing could post while the loop waits here: give up now
            return self._messages.get(timeout=self._wait_s)
        except queue.Empty:
            return None
        finally:
            self._count(-1)

    def send(self, text: str) -> None:
        self._messages.put(text)

    def undelivered(self) -> int:
        return self._messages.qsize()

    def on_loop(self) -> bool:
        """Some receive() ran on the event loop's thread (the test's own thread)."""
        return threading.get_ident() in self.threads

    def wait_for_call(self) -> bool:
        """Block until receive() has been called; False if it never is."""
        with self._changed:
            return self._changed.wait_for(lambda: bool(self.threads), WAIT_S)

    def wait_for_receivers(self, count: int) -> bool:
        """Block until ``count`` receive() calls wait at once; False if they never do."""
        with self._changed:
            return self._changed.wait_for(lambda: self._waiting >= count, WAIT_S)

    def _count(self, step: int, thread: int | None = None) -> None:
        with self._changed:
            self._waiting += step
            if thread is not None:
                self.threads.append(thread)
            self._changed.notify_all()


Install = Callable[[Any], Any]


@pytest.fixture
def use_mailbox(exercise: ModuleType) -> Iterator[Install]:
    """Install a mailbox in the app under test; remove it afterwards."""

    def install(mailbox: Any) -> Any:
        exercise.app.dependency_overrides[exercise.get_mailbox] = provide(mailbox)
        return mailbox

    yield install
    exercise.app.dependency_overrides.pop(exercise.get_mailbox, None)


@pytest.mark.parametrize("text", [pytest.param("hello", id="text"), pytest.param("", id="empty")])
async def test_post_wakes_waiting_poll(
    exercise: ModuleType, use_mailbox: Install, text: str
) -> None:
    """a message posted while GET /messages/next waits is delivered to that request"""
    mailbox = use_mailbox(FakeMailbox())
    async with client_for(exercise.app) as client:
        poll = asyncio.create_task(client.get("/messages/next"))
        try:
            called = await anyio.to_thread.run_sync(mailbox.wait_for_call)
            posted = await client.post("/messages", json={"text": text})
            polled = await poll
        finally:
            poll.cancel()
    expect(called, "GET /messages/next never called receive() on the mailbox from get_mailbox")
    hint = None
    if mailbox.on_loop():
        hint = BLOCKED_HELP
    elif polled.status_code == 504 and not mailbox.undelivered():
        hint = FALSY_HELP
    expect_status(polled, 200, help=hint)
    expect_json(polled, {"text": text})
    expect_status(posted, 202)
    expect_json(posted, {"text": text})


async def test_two_polls_wait_at_once(exercise: ModuleType, use_mailbox: Install) -> None:
    """two long polls wait at the same time, and each gets one of the next two messages"""
    mailbox = use_mailbox(FakeMailbox())
    async with client_for(exercise.app) as client:
        polls = [asyncio.create_task(client.get("/messages/next")) for _ in range(2)]
        try:
            both_waiting = await anyio.to_thread.run_sync(mailbox.wait_for_receivers, 2)
            for text in ("first", "second"):
                await client.post("/messages", json={"text": text})
            polled = await asyncio.gather(*polls)
        finally:
            for poll in polls:
                poll.cancel()
    expect(
        both_waiting,
        "the second GET /messages/next did not wait while the first waited",
        help=BLOCKED_HELP if mailbox.on_loop() else TURNS_HELP,
    )
    for response in polled:
        expect_status(response, 200)
    texts = sorted(response_json(response)["text"] for response in polled)
    expect_equal("the texts the two polls got", ["first", "second"], texts)


@pytest.mark.stub_may_pass("the stub already delivers a message posted before the poll")
async def test_app_shares_its_mailbox(exercise: ModuleType) -> None:
    """without an override, a message posted first is delivered by the next long poll"""
    async with client_for(exercise.app) as client:
        posted = await client.post("/messages", json={"text": "left for later"})
        polled = await client.get("/messages/next")
    expect_status(posted, 202)
    expect_status(polled, 200, help=SHARED_HELP if polled.status_code == 504 else None)
    expect_json(polled, {"text": "left for later"})


@pytest.mark.stub_may_pass("the stub already answers 504 when receive() gives up")
async def test_no_message_is_504(exercise: ModuleType, use_mailbox: Install) -> None:
    """a long poll that gets no message answers 504"""
    use_mailbox(exercise.Mailbox(wait_s=0))
    async with client_for(exercise.app) as client:
        response = await client.get("/messages/next")
    expect_status(response, 504)
    expect_json(response, {"detail": "no message arrived in time"})
