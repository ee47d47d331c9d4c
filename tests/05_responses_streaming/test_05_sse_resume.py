"""Hidden suite for 05_responses_streaming/05_sse_resume: an SSE feed that resumes."""

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import fastapi.routing
import pytest
from asgi_lifespan import LifespanManager

from workbook.testing import Failure, RawExchange, expect, expect_equal, provide

GUARD = 3.0  # seconds: only a hang guard, no check depends on it
MAX_EVENTS = 50

# the feed of every test, before any client connects: updates 1, 3 and 5 are order 7's
BACKLOG = [(7, "paid"), (8, "paid"), (7, "packed"), (8, "shipped"), (7, "shipped")]
ORDER = 7

FASTAPI_SSE = (
    "Does the route declare response_class=EventSourceResponse and yield ServerSentEvent "
    "objects? FastAPI then writes the events and sets these headers itself."
)
WIRE = (
    "Is each update sent as ServerSentEvent(data=update, event=update.status, "
    "id=str(update.id))? FastAPI writes event:, data: and id: in that order."
)
FEED_IDS = (
    "Is the id of each event the update's own number in the feed (update.id), not a count "
    "of what this client was sent?"
)
RESUME = (
    "Does the stream start after the update numbered Last-Event-ID, counting in the whole "
    "feed: an id of another order's update included?"
)
BEYOND = (
    "An id greater than the feed's last one was never sent by this feed (it was restarted): "
    "does the stream start over from the first update?"
)
BEYOND_INDEX = (
    "feed.after(last_id) fails with an IndexError when last_id is beyond the feed's last "
    "number: is Last-Event-ID compared with len(feed.updates) before the stream follows the feed?"
)
WHOLE_FEED = (
    "Is Last-Event-ID compared with the feed's last number, len(feed.updates), whichever "
    "order that update belongs to, and not with the last update of this order?"
)
EMPTY = (
    "A feed without updates has no feed.updates[-1], and len(feed.updates), its last number, "
    "is 0: is Last-Event-ID compared with that 0, so that a greater id starts from the first?"
)
LIVE = (
    "Does the generator keep following the feed after the stored updates, and send each "
    "new update of the order as it is published (async for over feed.after(...))?"
)
ONLY_THIS_ORDER = "Does the stream skip the updates of other orders, stored ones and new ones?"
HEADER_422 = (
    "Is Last-Event-ID declared as a header parameter of type int with ge=0, so that FastAPI "
    "refuses anything else with a 422 before the stream starts?"
)


def wire(update_id: int, order_id: int, status: str) -> bytes:
    data = f'{{"id":{update_id},"order_id":{order_id},"status":"{status}"}}'
    return f"event: {status}\ndata: {data}\nid: {update_id}\n\n".encode()


# -- a client that reads the stream as a server hands it over ----------------------------


class Stream:
    """One GET request driven through the ASGI interface, read one event at a time."""

    def __init__(
        self, status: int, headers: dict[str, str], messages: Any, exchange: RawExchange
    ) -> None:
        self.status = status
        self.headers = headers
        self._messages = messages
        self._exchange = exchange  # what the app raised, once it has, is its `raised`
        self._buffer = b""
        self.ended = False

    async def body(self) -> bytes:
        """The rest of the body, for an answer that is not a stream."""
        chunks = [self._buffer]
        while not self.ended:
            chunks.append(await self._chunk())
        return b"".join(chunks)

    async def next_event(self, waiting_for: str) -> bytes:
        """The next event's bytes, up to and including its blank line."""
        while b"\n\n" not in self._buffer:
            if self.ended:
                raised = self._exchange.raised
                cause = f" (the app raised {describe(raised)})" if raised else ""
                help = raised_help(raised) or LIVE
                raise Failure(f"expected {waiting_for}, but the stream ended{cause}", help=help)
            try:
                with anyio.fail_after(GUARD):
                    self._buffer += await self._chunk()
            except TimeoutError:
                raise Failure(
                    f"expected {waiting_for}, but the stream sent nothing more", help=LIVE
                ) from None
        event, _, self._buffer = self._buffer.partition(b"\n\n")
        return event + b"\n\n"

    async def _chunk(self) -> bytes:
        try:
            message = await self._messages.receive()
        except anyio.EndOfStream:  # the app returned without ending the body
            self.ended = True
            return b""
        self.ended = not message.get("more_body", False)
        return bytes(message.get("body", b""))

    async def events_until(self, last: int) -> list[bytes]:
        """Every event up to the one carrying update number `last`."""
        events: list[bytes] = []
        while len(events) < MAX_EVENTS:
            events.append(await self.next_event(f"the update numbered {last}"))
            if update_number(events[-1]) >= last:
                return events
        raise Failure(f"expected at most {MAX_EVENTS} events, not more", help=FEED_IDS)


def fields(event: bytes) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in event.decode().splitlines():
        name, _, value = line.partition(": ")
        found.setdefault(name, value)
    return found


def update_number(event: bytes) -> int:
    """The feed's number of the update an event carries: its data's id, else its id line."""
    found = fields(event)
    try:
        data = json.loads(found.get("data", ""))
        return int(data["id"])
    except (ValueError, TypeError, KeyError):
        return int(found["id"]) if found.get("id", "").isdigit() else 0


def describe(exc: BaseException) -> str:
    """An exception as `Class: message`, out of the task groups that wrap it."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


def raised_help(raised: Exception | None) -> str | None:
    if raised and describe(raised).startswith("IndexError"):
        return BEYOND_INDEX
    return None


def lowered(loc: Any) -> Any:
    """A loc with the header's name in lower case: header names have no letter case."""
    return [part.lower() if isinstance(part, str) else part for part in loc or []]


def event_ids(events: list[bytes]) -> list[str | None]:
    return [fields(event).get("id") for event in events]


@asynccontextmanager
async def open_stream(
    app: Any, path: str, *, help: str | None = None, **headers: str
) -> AsyncIterator[Stream]:
    """GET `path` as a server would: each message reaches the test the moment it is sent.

    `help` replaces the usual question when the app raises before it answers.
    """
    send, messages = anyio.create_memory_object_stream[dict[str, Any]]()  # no buffer
    sent_headers = [
        (name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()
    ]
    exchange = RawExchange(path, headers=sent_headers, on_send=send.send)

    async def serve(app: Any) -> None:
        async with send:
            await exchange.run(app)

    failed: Exception | None = None
    async with LifespanManager(app) as manager, messages, anyio.create_task_group() as tasks:
        tasks.start_soon(serve, manager.app)
        try:
            with anyio.fail_after(GUARD):
                start = await messages.receive()
            sent = {name.decode().lower(): value.decode() for name, value in start["headers"]}
            yield Stream(start["status"], sent, messages, exchange)
        except (anyio.EndOfStream, TimeoutError):
            raised = exchange.raised
            error = f"it raised {describe(raised)}" if raised else "it sent nothing"
            failed = Failure(
                f"expected GET {path} to answer, but {error}",
                help=(help if raised else None) or raised_help(raised),
            )
        except Exception as exc:  # raised again below, outside the task group
            failed = exc
        finally:
            exchange.disconnect()
            try:
                with anyio.fail_after(GUARD):
                    async for _ in messages:  # a server drops what comes after the client left
                        pass
            except TimeoutError:
                tasks.cancel_scope.cancel()
                failed = failed or Failure(
                    "expected the stream to stop when the client disconnected, but it went on"
                )
    if failed is not None:
        raise failed


def serving(exercise: Any, backlog: list[tuple[int, str]]) -> Iterator[Any]:
    """A new feed with `backlog` in it, handed to every request while the test runs."""
    feed = exercise.Feed()
    for order_id, status in backlog:
        feed.publish(order_id, status)
    app = exercise.app
    app.dependency_overrides[exercise.get_feed] = provide(feed)
    yield feed
    app.dependency_overrides.pop(exercise.get_feed, None)


@pytest.fixture
def feed(exercise: Any) -> Iterator[Any]:
    """The feed every request reads during one test, with the BACKLOG in it."""
    yield from serving(exercise, BACKLOG)


@pytest.fixture
def empty_feed(exercise: Any) -> Iterator[Any]:
    """The feed every request reads during one test, with no update in it yet."""
    yield from serving(exercise, [])


def follow(exercise: Any, order_id: int = ORDER, *, help: str | None = None, **headers: str) -> Any:
    return open_stream(exercise.app, f"/orders/{order_id}/updates", help=help, **headers)


def expect_stream(stream: Stream) -> None:
    expect_equal("status", 200, stream.status)
    content_type = stream.headers.get("content-type")
    expect_equal("content-type", "text/event-stream; charset=utf-8", content_type, help=FASTAPI_SSE)


# -- the feed, as given -----------------------------------------------------------------


@pytest.mark.stub_may_pass("the feed is given: this only checks it is kept as it is")
def test_feed_as_given(exercise):
    """Feed numbers its updates from 1, and FEED holds the three sample updates"""
    feed = exercise.Feed()
    numbers = [feed.publish(order_id, status).id for order_id, status in BACKLOG]
    expect_equal("numbers of the updates", [1, 2, 3, 4, 5], numbers)
    expect_equal("feed.updates", numbers, [update.id for update in feed.updates])
    found = [(u.id, u.order_id, u.status) for u in exercise.FEED.updates]
    expected = [(1, 1, "paid"), (2, 2, "paid"), (3, 1, "shipped")]
    expect_equal("FEED.updates (id, order_id, status)", expected, found)


# -- the wire format ---------------------------------------------------------------------


async def test_first_event_bytes(exercise, feed):
    """each update is an event with its status as event:, the update as data: and its id"""
    async with follow(exercise) as stream:
        expect_stream(stream)
        event = await stream.next_event("the first update of the order")
        expect_equal("first event", wire(1, 7, "paid"), event, help=WIRE)


async def test_headers(exercise, feed):
    """the stream is text/event-stream with FastAPI's Cache-Control and X-Accel-Buffering"""
    async with follow(exercise) as stream:
        expect_stream(stream)
        for name, value in [("cache-control", "no-cache"), ("x-accel-buffering", "no")]:
            actual = stream.headers.get(name, "no such header")
            expect_equal(f"header {name}", value, actual, help=FASTAPI_SSE)


async def test_idle_stream_sends_keep_alive(exercise, feed, monkeypatch):
    """an idle stream sends FastAPI's keep-alive comment, : ping"""
    monkeypatch.setattr(fastapi.routing, "_PING_INTERVAL", 0.0)  # the stream is idle at once
    async with follow(exercise, last_event_id="5") as stream:
        expect_stream(stream)
        event = await stream.next_event("a keep-alive comment")
        expect_equal("event", b": ping\n\n", event, help=FASTAPI_SSE)


# -- where the stream starts -------------------------------------------------------------


@pytest.mark.parametrize(
    ("last_event_id", "expected", "help"),
    [
        (None, ["1", "3", "5", "7"], RESUME),
        ("0", ["1", "3", "5", "7"], RESUME),
        ("1", ["3", "5", "7"], RESUME),
        ("2", ["3", "5", "7"], RESUME),
        ("3", ["5", "7"], RESUME),
        ("4", ["5", "7"], RESUME),
        ("5", ["7"], RESUME),
        ("6", ["1", "3", "5", "7"], BEYOND),
        ("1000", ["1", "3", "5", "7"], BEYOND),
    ],
    ids=[
        "no-header",
        "zero",
        "first",
        "another-order",
        "middle",
        "another-order-later",
        "last",
        "one-beyond",
        "far-beyond",
    ],
)
async def test_start_after_last_event_id(exercise, feed, last_event_id, expected, help):
    """the stream sends the order's updates after Last-Event-ID, then the new ones"""
    headers = {} if last_event_id is None else {"last_event_id": last_event_id}
    async with follow(exercise, **headers) as stream:
        expect_stream(stream)
        feed.publish(8, "delivered")  # 6: another order's
        feed.publish(ORDER, "delivered")  # 7
        events = await stream.events_until(7)
        expect_equal("event ids", expected, event_ids(events), help=help)


async def test_resume_after_another_orders_last_update(exercise, feed):
    """Last-Event-ID at the feed's last number resumes there, even on another order's update"""
    async with follow(exercise, 8, last_event_id="5") as stream:
        expect_stream(stream)
        feed.publish(ORDER, "delivered")  # 6
        feed.publish(8, "delivered")  # 7
        events = await stream.events_until(7)
        expect_equal("event ids", ["7"], event_ids(events), help=WHOLE_FEED)


@pytest.mark.parametrize(
    "last_event_id", [None, "0", "3"], ids=["no-header", "zero", "beyond-an-empty-feed"]
)
async def test_empty_feed(exercise, empty_feed, last_event_id):
    """a feed without updates yet streams the order's first update when it comes"""
    headers = {} if last_event_id is None else {"last_event_id": last_event_id}
    async with follow(exercise, help=EMPTY, **headers) as stream:
        expect_stream(stream)
        empty_feed.publish(8, "paid")  # 1: another order's
        empty_feed.publish(ORDER, "paid")  # 2
        events = await stream.events_until(2)
        expect_equal("event ids", ["2"], event_ids(events), help=EMPTY)


# -- live updates --------------------------------------------------------------------------


async def test_new_updates_one_by_one(exercise, feed):
    """each new update of the order is sent as it is published, with its number in the feed"""
    async with follow(exercise, last_event_id="5") as stream:
        expect_stream(stream)
        published = feed.publish(ORDER, "delivered")
        event = await stream.next_event("the update numbered 6")
        expect_equal("event", wire(published.id, 7, "delivered"), event, help=FEED_IDS)
        feed.publish(8, "delivered")
        feed.publish(ORDER, "returned")
        event = await stream.next_event("the update numbered 8")
        expect_equal("event", wire(8, 7, "returned"), event, help=ONLY_THIS_ORDER)


async def test_every_client_gets_each_update(exercise, feed):
    """two clients following one order both get each new update"""
    async with follow(exercise, last_event_id="3") as first, follow(exercise) as second:
        expect_stream(first)
        expect_stream(second)
        feed.publish(ORDER, "delivered")
        expect_equal("event ids", ["5", "6"], event_ids(await first.events_until(6)), help=LIVE)
        ids = event_ids(await second.events_until(6))
        expect_equal("event ids", ["1", "3", "5", "6"], ids, help=LIVE)


async def test_another_order(exercise, feed):
    """the stream of another order sends only that order's updates"""
    async with follow(exercise, 8, last_event_id="1") as stream:
        expect_stream(stream)
        feed.publish(ORDER, "delivered")
        feed.publish(8, "delivered")
        events = await stream.events_until(7)
        expect_equal("event ids", ["2", "4", "7"], event_ids(events), help=ONLY_THIS_ORDER)
        expect_equal("last event", wire(7, 8, "delivered"), events[-1], help=WIRE)


async def test_order_without_updates(exercise, feed):
    """an order without updates yet gets an open stream, and its first update when it comes"""
    async with follow(exercise, 9) as stream:
        expect_stream(stream)
        feed.publish(9, "paid")
        event = await stream.next_event("the update numbered 6")
        expect_equal("event", wire(6, 9, "paid"), event, help=ONLY_THIS_ORDER)


# -- a Last-Event-ID that is no id -------------------------------------------------------


@pytest.mark.parametrize(
    ("last_event_id", "error"),
    [("abc", "int_parsing"), ("-1", "greater_than_equal"), ("1.5", "int_parsing")],
    ids=["word", "negative", "fraction"],
)
async def test_malformed_last_event_id(exercise, feed, last_event_id, error):
    """a Last-Event-ID that is not a whole number from 0 up is FastAPI's 422, not a stream"""
    async with follow(exercise, last_event_id=last_event_id) as stream:
        expect_equal("status", 422, stream.status, help=HEADER_422)
        body = json.loads(await stream.body())
        expect(isinstance(body, dict), "expected a JSON object with detail, not " + repr(body))
        found = [(item.get("type"), lowered(item.get("loc"))) for item in body.get("detail", [])]
        expected = [(error, ["header", "last-event-id"])]
        expect_equal("errors (type, loc)", expected, found, help=HEADER_422)
