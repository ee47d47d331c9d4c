"""Hidden suite for 14_uploads_background/04_upload_progress: progress you can watch.

Every upload here is a request body that the test hands over chunk by chunk and holds at
chosen points: held "after k chunks", the app has read k chunks and asked for the next one.
While it is held, the test opens the progress stream and reads its events as the app sends
them (httpx's ASGITransport hands over a response only once the app has finished it, so the
stream is read at the ASGI interface instead), checks the exact count, then lets the body go on.
"""

import hashlib
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest

from workbook.testing import (
    HANG_GUARD,
    Failure,
    RawExchange,
    expect,
    expect_equal,
    expect_json,
    expect_status,
    running,
)

# chunk sizes that are not a count of chunks, nor of each other
CHUNKS = [b"a" * 5, b"b" * 1000, b"c" * 7, b"d" * 65536, b"e" * 3]
SIZE = sum(len(chunk) for chunk in CHUNKS)
NOT_FOUND = {"detail": "No upload in progress"}
CONFLICT = {"detail": "Upload already in progress"}
MAX_EVENTS = 100

SSE = (
    "Does the progress route declare response_class=EventSourceResponse and yield "
    "ServerSentEvent objects?"
)
NAMES = 'Are the events named "progress", "done" and "failed", as the contract says?'
IDS = "Is the id of each event the count it reports, as a string: id=str(received)?"
BYTES = (
    "Is received the number of bytes read so far, the length of every chunk added up, "
    "and not a count of chunks?"
)
AS_IT_GOES = (
    "Is the count updated after every chunk, inside the loop over request.stream(), and the "
    "watchers woken then, rather than once the body is complete?"
)
REGISTERED_FIRST = (
    "Is the upload entered in the registry before its first chunk is read, with received 0?"
)
TOTAL = (
    "Is total the request's Content-Length as an int, and null (None) only when the request "
    "has no Content-Length? A Content-Length of 0 is a total of 0."
)
WAKE = (
    "Does every change wake the watchers? Set the upload's event and give it a new one, so "
    "that each stream waiting on it sends the new count."
)
EVERY_WATCHER = (
    "Do all the streams watching one upload get every change? A queue hands each change to "
    "one reader only; an event that is set and replaced wakes them all."
)
NO_REPEAT = "Does the stream send a progress event only when the count differs from the last?"
DONE_AT_END = (
    "Is done sent only when request.stream() has ended, not when received reaches the "
    "Content-Length? A body may end later, or not at all."
)
DONE = (
    'Once the body has ended, does the stream send event "done" with received, total and '
    "the hex SHA-256 of the whole body, and then end?"
)
FAILED = (
    "When the body never ends (the client goes away), does a try/finally end the upload: "
    'entry removed, and the watchers woken to send "failed" and end?'
)
REMOVED = (
    "Is the upload's entry removed from the registry when the upload ends (in a finally:), "
    "so that its id is unknown again?"
)
NOT_FOUND_FIRST = (
    "Is the upload looked up in a dependency of the progress route, which raises "
    "HTTPException(404) for an id not in `uploads`? Raised inside the generator, the 404 "
    "comes after the stream has started."
)
PER_ID = "Is each upload's count kept in its own entry, looked up by its id?"
BUSY = (
    "Is an id whose upload is still in progress refused with 409 before anything else, "
    "its entry left as it is?"
)


def sha256(chunks: Sequence[bytes]) -> str:
    return hashlib.sha256(b"".join(chunks)).hexdigest()


def size(chunks: Sequence[bytes]) -> int:
    return sum(len(chunk) for chunk in chunks)


# -- a request body the test holds and releases ---------------------------------------------


class HeldBody:
    """Chunks handed to the app one by one, held after each count in `stops`."""

    def __init__(self, chunks: Sequence[bytes], stops: Sequence[int]) -> None:
        self.chunks = list(chunks)
        self.reached = {count: anyio.Event() for count in stops}
        self.released = {count: anyio.Event() for count in stops}

    async def stream(self) -> AsyncIterator[bytes]:
        for count in range(len(self.chunks) + 1):
            if count in self.reached:
                self.reached[count].set()  # the app has read `count` chunks, asks for more
                await self.released[count].wait()
            if count < len(self.chunks):
                yield self.chunks[count]

    async def held_after(self, count: int) -> None:
        """Wait until the app has read `count` chunks and asked for the next one."""
        try:
            with anyio.fail_after(HANG_GUARD):
                await self.reached[count].wait()
        except TimeoutError:
            raise Failure(
                f"expected the upload to read {count} chunks, but it stopped before"
            ) from None

    def release(self, count: int) -> None:
        self.released[count].set()


@dataclass
class Upload:
    """A PUT in progress; `response` is set when it has answered."""

    body: HeldBody
    response: httpx.Response | None = None
    raised: Exception | None = None


@asynccontextmanager
async def uploading(
    client: httpx.AsyncClient,
    upload_id: str,
    chunks: Sequence[bytes],
    stops: Sequence[int],
    *,
    content_length: int | None = None,
) -> AsyncIterator[Upload]:
    """PUT `chunks` as /uploads/{upload_id} in the background, held after each of `stops`."""
    path = f"/uploads/{upload_id}"
    body = HeldBody(chunks, stops)
    upload = Upload(body)
    headers = {} if content_length is None else {"Content-Length": str(content_length)}
    answered = anyio.Event()

    async def put() -> None:
        try:
            upload.response = await client.put(path, content=body.stream(), headers=headers)
        except Exception as exc:  # reported below, as the app's failure
            upload.raised = exc
        answered.set()

    failed: BaseException | None = None
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(put)
        try:
            yield upload
            with anyio.fail_after(HANG_GUARD):
                await answered.wait()
        except TimeoutError:
            failed = Failure(f"expected PUT {path} to answer, but it hung")
        except Exception as exc:  # raised again below, outside the task group
            failed = exc
        finally:
            tasks.cancel_scope.cancel()
    if failed is not None:
        raise failed
    if upload.raised is not None:
        raise Failure(f"expected PUT {path} to answer, but it raised {describe(upload.raised)}")


# -- the progress stream, read as a server hands it over -------------------------------------


@dataclass
class Event:
    name: str | None
    data: Any
    id: str | None
    raw: str


def parse(raw: str) -> Event | None:
    """One event of an event stream; None for a comment alone (a keep-alive)."""
    fields: dict[str, str] = {}
    data: list[str] = []
    for line in raw.splitlines():
        if not line or line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        else:
            fields[name] = value
    if not data and not fields:
        return None
    try:
        payload = json.loads("\n".join(data)) if data else None
    except ValueError:
        raise Failure(f"expected the data of each event to be JSON, not {raw!r}") from None
    return Event(fields.get("event"), payload, fields.get("id"), raw)


class Stream:
    """The response of GET /uploads/{id}/progress, read one event at a time."""

    def __init__(self, status: int, headers: dict[str, str], messages: Any) -> None:
        self.status = status
        self.headers = headers
        self._messages = messages
        self._buffer = b""
        self.ended = False
        self.last = -1  # the count of the last progress event read

    async def body(self) -> bytes:
        chunks = [self._buffer]
        while not self.ended:
            chunks.append(await self._chunk())
        return b"".join(chunks)

    def json(self, body: bytes) -> Any:
        try:
            return json.loads(body)
        except ValueError:
            raise Failure(f"expected a JSON body, not {body[:300]!r}") from None

    async def next_event(self, waiting_for: str, help: str | None = None) -> Event:
        """The next event that is more than a comment."""
        while True:
            while b"\n\n" not in self._buffer:
                if self.ended:
                    raise Failure(f"expected {waiting_for}, but the stream ended", help=help)
                try:
                    with anyio.fail_after(HANG_GUARD):
                        self._buffer += await self._chunk()
                except TimeoutError:
                    raise Failure(
                        f"expected {waiting_for}, but the stream sent nothing more", help=help
                    ) from None
            raw, _, self._buffer = self._buffer.partition(b"\n\n")
            event = parse(raw.decode())
            if event is not None:
                return event

    async def expect_end(self) -> None:
        """The stream ends with no further event."""
        try:
            with anyio.fail_after(HANG_GUARD):
                rest = await self.body()
        except TimeoutError:
            raise Failure(
                "expected the stream to end after its last event, but it stayed open", help=DONE
            ) from None
        events = [event for raw in rest.split(b"\n\n") if (event := parse(raw.decode()))]
        if events:
            raise Failure(f"expected no event after the last one, not {events[0].raw!r}")

    async def _chunk(self) -> bytes:
        try:
            message = await self._messages.receive()
        except anyio.EndOfStream:
            self.ended = True
            return b""
        self.ended = not message.get("more_body", False)
        return bytes(message.get("body", b""))


def describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


@asynccontextmanager
async def watching(
    app: Any, state: dict[str, Any], upload_id: str, *, help: str | None = None
) -> AsyncIterator[Stream]:
    """GET /uploads/{upload_id}/progress: each message reaches the test as it is sent.

    `help` is the question asked when the app raises instead of answering.
    """
    path = f"/uploads/{upload_id}/progress"
    send, messages = anyio.create_memory_object_stream[dict[str, Any]]()
    exchange = RawExchange(path, on_send=send.send)
    exchange.scope["state"] = dict(state)  # the lifespan state, as every request gets it

    async def serve() -> None:
        async with send:
            await exchange.run(app)

    failed: Exception | None = None
    async with messages, anyio.create_task_group() as tasks:
        tasks.start_soon(serve)
        try:
            with anyio.fail_after(HANG_GUARD):
                start = await messages.receive()
            headers = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
            yield Stream(start["status"], headers, messages)
        except (anyio.EndOfStream, TimeoutError):
            raised = exchange.raised
            error = f"it raised {describe(raised)}" if raised else "it sent nothing"
            failed = Failure(f"expected GET {path} to answer, but {error}", help=help)
        except Exception as exc:  # raised again below, outside the task group
            failed = exc
        finally:
            exchange.disconnect()
            try:
                with anyio.fail_after(HANG_GUARD):
                    async for _ in messages:  # what comes after the client left is dropped
                        pass
            except TimeoutError:
                tasks.cancel_scope.cancel()
                failed = failed or Failure(
                    "expected the stream to stop when the client disconnected, but it went on"
                )
    if failed is not None:
        raise failed


def expect_stream(stream: Stream, help: str | None = None) -> None:
    expect_equal("status of the progress stream", 200, stream.status, help=help)
    content_type = stream.headers.get("content-type", "no content-type")
    expect_equal("content-type", "text/event-stream; charset=utf-8", content_type, help=SSE)


def expect_progress(event: Event, received: int, total: int | None) -> None:
    """A progress event reporting exactly `received` of `total`."""
    expect_equal("event name", "progress", event.name, help=NAMES)
    data = {"received": received, "total": total}
    counted = isinstance(event.data, dict) and event.data.get("received") == received
    help = TOTAL if counted else BYTES
    expect_equal("progress data", data, event.data, help=help)
    expect_equal("event id", str(received), event.id, help=IDS)


async def progress_until(stream: Stream, received: int, total: int | None) -> list[Event]:
    """Progress events up to the one reporting `received`; counts grow, none above it."""
    events: list[Event] = []
    while len(events) < MAX_EVENTS:
        event = await stream.next_event(f"a progress event with received={received}", help=WAKE)
        if event.name == "done":
            raise Failure(
                f"expected progress up to received={received}, but the stream sent done "
                "while the body was not complete",
                help=DONE_AT_END,
            )
        expect_equal("event name", "progress", event.name, help=NAMES)
        count = event.data.get("received") if isinstance(event.data, dict) else None
        if not isinstance(count, int) or count > received:
            raise Failure(
                f"expected received={received} at most while the upload is held there, "
                f"not {count!r}",
                help=BYTES,
            )
        expect(
            count > stream.last,
            f"expected every progress event to report more than the one before, "
            f"but {stream.last} was followed by {count}",
            help=NO_REPEAT,
        )
        expect_progress(event, count, total)
        events.append(event)
        stream.last = count
        if count == received:
            return events
    raise Failure(f"expected at most {MAX_EVENTS} events, not more")


async def expect_done(stream: Stream, chunks: Sequence[bytes], total: int | None) -> None:
    """The next events: maybe the last progress, then done with the hash; then the end."""
    event = await stream.next_event("the done event", help=DONE)
    last = isinstance(event.data, dict) and event.data.get("received") == size(chunks)
    if event.name == "progress" and last:  # the last count, seen before the body ended
        expect_progress(event, size(chunks), total)
        event = await stream.next_event("the done event", help=DONE)
    expect_equal("event name", "done", event.name, help=DONE)
    data = {"received": size(chunks), "total": total, "sha256": sha256(chunks)}
    expect_equal("data of the done event", data, event.data, help=DONE)
    expect_equal("event id", str(size(chunks)), event.id, help=IDS)
    await stream.expect_end()


def expect_uploaded(upload: Upload, upload_id: str, chunks: Sequence[bytes]) -> None:
    response = upload.response
    assert response is not None
    expect_status(response, 201)
    expected = {"id": upload_id, "size": size(chunks), "sha256": sha256(chunks)}
    expect_json(response, expected)


# -- the stream, mid-upload ------------------------------------------------------------------


@pytest.mark.parametrize("held", [0, 1, 2, 4, 5], ids=lambda held: f"after-{held}-chunks")
async def test_count_mid_upload(exercise, held):
    """a stream opened mid-upload starts with the exact bytes received so far"""
    async with (
        running(exercise.app) as (client, state),
        uploading(client, "u1", CHUNKS, [held], content_length=SIZE) as upload,
    ):
        await upload.body.held_after(held)
        async with watching(exercise.app, state, "u1") as stream:
            expect_stream(stream, help=REGISTERED_FIRST if held == 0 else None)
            first = await stream.next_event("the first progress event", help=REGISTERED_FIRST)
            if isinstance(first.data, dict) and first.data.get("received") == 0 and held:
                raise Failure(
                    f"expected received={size(CHUNKS[:held])} after {held} chunks, not 0",
                    help=AS_IT_GOES,
                )
            expect_progress(first, size(CHUNKS[:held]), SIZE)
        upload.body.release(held)


async def test_unknown_total(exercise):
    """total is null when the request has no Content-Length"""
    async with (
        running(exercise.app) as (client, state),
        uploading(client, "chunked", CHUNKS, [2]) as upload,
    ):
        await upload.body.held_after(2)
        async with watching(exercise.app, state, "chunked") as stream:
            expect_stream(stream)
            event = await stream.next_event("the first progress event")
            expect_progress(event, size(CHUNKS[:2]), None)
        upload.body.release(2)


async def test_zero_total(exercise):
    """a Content-Length of 0 is a total of 0, not null"""
    async with (
        running(exercise.app) as (client, state),
        uploading(client, "empty", [], [0], content_length=0) as upload,
    ):
        await upload.body.held_after(0)
        async with watching(exercise.app, state, "empty") as stream:
            expect_stream(stream)
            event = await stream.next_event("the first progress event")
            expect_progress(event, 0, 0)
        upload.body.release(0)


async def test_follows_the_upload(exercise):
    """the stream sends each new count as the upload goes on, then done with the hash"""
    async with running(exercise.app) as (client, state):
        stops = [1, 3, 5]
        async with uploading(client, "u2", CHUNKS, stops, content_length=SIZE) as upload:
            await upload.body.held_after(1)
            async with watching(exercise.app, state, "u2") as stream:
                expect_stream(stream)
                await progress_until(stream, size(CHUNKS[:1]), SIZE)
                upload.body.release(1)
                await upload.body.held_after(3)
                await progress_until(stream, size(CHUNKS[:3]), SIZE)
                upload.body.release(3)
                await upload.body.held_after(5)  # every byte is in; the body has not ended
                await progress_until(stream, SIZE, SIZE)
                upload.body.release(5)
                await expect_done(stream, CHUNKS, SIZE)
        expect_uploaded(upload, "u2", CHUNKS)


async def test_catches_up(exercise):
    """a stream that fell behind sends the latest count, however many changes it missed"""
    chunks = [bytes([65 + number]) * (number + 2) for number in range(10)]
    stops = list(range(len(chunks) + 1))
    async with (
        running(exercise.app) as (client, state),
        uploading(client, "u5", chunks, stops, content_length=size(chunks)) as upload,
    ):
        await upload.body.held_after(0)
        async with watching(exercise.app, state, "u5") as stream:
            expect_stream(stream)
            # nothing is read while the upload goes on: the stream falls behind
            for count in range(len(chunks)):
                upload.body.release(count)
                await upload.body.held_after(count + 1)
            await progress_until(stream, size(chunks), size(chunks))
            upload.body.release(len(chunks))
            await expect_done(stream, chunks, size(chunks))


async def test_every_watcher(exercise):
    """two streams watching one upload both get every change"""
    async with (
        running(exercise.app) as (client, state),
        uploading(client, "u3", CHUNKS, [1, 2], content_length=SIZE) as upload,
    ):
        await upload.body.held_after(1)
        async with (
            watching(exercise.app, state, "u3") as first,
            watching(exercise.app, state, "u3") as second,
        ):
            for stream in (first, second):
                expect_stream(stream)
                await progress_until(stream, size(CHUNKS[:1]), SIZE)
            upload.body.release(1)
            await upload.body.held_after(2)  # one chunk more: one change
            for stream in (first, second):
                try:
                    await progress_until(stream, size(CHUNKS[:2]), SIZE)
                except Failure as failure:
                    raise Failure(failure.message, help=EVERY_WATCHER) from None
            upload.body.release(2)
            for stream in (first, second):
                await expect_done(stream, CHUNKS, SIZE)


@pytest.mark.parametrize(
    "chunks", [[], [b"x"], CHUNKS], ids=["empty-body", "one-byte", "five-chunks"]
)
async def test_done_event(exercise, chunks):
    """when the body ends, the stream sends done with the size and SHA-256, then ends"""
    async with running(exercise.app) as (client, state):
        held = len(chunks)
        async with uploading(client, "u4", chunks, [held]) as upload:
            await upload.body.held_after(held)
            async with watching(exercise.app, state, "u4") as stream:
                expect_stream(stream)
                await progress_until(stream, size(chunks), None)
                upload.body.release(held)
                await expect_done(stream, chunks, None)
        expect_uploaded(upload, "u4", chunks)


# -- which upload, and when it is gone -------------------------------------------------------


async def test_uploads_kept_apart(exercise):
    """two uploads at once each have their own count and their own done event"""
    other = [b"z" * 11, b"y" * 13, b"x" * 17]
    async with running(exercise.app) as (client, state):
        async with (
            uploading(client, "left", CHUNKS, [2], content_length=SIZE) as left,
            uploading(client, "right", other, [1], content_length=size(other)) as right,
        ):
            await left.body.held_after(2)
            await right.body.held_after(1)
            async with (
                watching(exercise.app, state, "left") as left_stream,
                watching(exercise.app, state, "right") as right_stream,
            ):
                expect_stream(left_stream)
                expect_stream(right_stream)
                for stream, count, total in [
                    (left_stream, size(CHUNKS[:2]), SIZE),
                    (right_stream, size(other[:1]), size(other)),
                ]:
                    event = await stream.next_event("the first progress event", help=PER_ID)
                    try:
                        expect_progress(event, count, total)
                    except Failure as failure:
                        raise Failure(failure.message, help=PER_ID) from None
                right.body.release(1)
                await expect_done(right_stream, other, size(other))
                left.body.release(2)
                await expect_done(left_stream, CHUNKS, SIZE)
        expect_uploaded(left, "left", CHUNKS)
        expect_uploaded(right, "right", other)


async def test_unknown_id(exercise):
    """an id with no upload in progress gets 404 with its body, not a stream"""
    async with (
        running(exercise.app) as (_, state),
        watching(exercise.app, state, "nobody", help=NOT_FOUND_FIRST) as stream,
    ):
        expect_equal("status", 404, stream.status, help=NOT_FOUND_FIRST)
        content_type = stream.headers.get("content-type", "no content-type")
        expect_equal("content-type", "application/json", content_type, help=NOT_FOUND_FIRST)
        expect_equal("body", NOT_FOUND, stream.json(await stream.body()))


async def test_gone_when_complete(exercise):
    """a complete upload's id is unknown again (404), and can be uploaded anew"""
    async with running(exercise.app) as (client, state):
        response = await client.put("/uploads/again", content=b"first")
        expect_status(response, 201)
        async with watching(exercise.app, state, "again") as stream:
            expect_equal("status after the upload ended", 404, stream.status, help=REMOVED)
            expect_equal("body", NOT_FOUND, stream.json(await stream.body()))
        response = await client.put("/uploads/again", content=b"second")
        expect_status(response, 201, help=REMOVED)
        expected = {"id": "again", "size": 6, "sha256": sha256([b"second"])}
        expect_json(response, expected)


async def test_busy_id(exercise):
    """a PUT for an id still in progress gets 409, and that upload goes on untouched"""
    async with (
        running(exercise.app) as (client, state),
        uploading(client, "busy", CHUNKS, [2], content_length=SIZE) as upload,
    ):
        await upload.body.held_after(2)
        response = await client.put("/uploads/busy", content=b"intruder")
        expect_status(response, 409, help=BUSY)
        expect_json(response, CONFLICT)
        async with watching(exercise.app, state, "busy") as stream:
            expect_equal("status of the first upload's stream", 200, stream.status, help=BUSY)
            event = await stream.next_event("the first upload's progress", help=BUSY)
            try:
                expect_progress(event, size(CHUNKS[:2]), SIZE)
            except Failure as failure:
                raise Failure(failure.message, help=BUSY) from None
            upload.body.release(2)
            await expect_done(stream, CHUNKS, SIZE)
        expect_uploaded(upload, "busy", CHUNKS)


# -- a client that goes away -----------------------------------------------------------------


class Departing(RawExchange):
    """A PUT whose client sends `chunks`, waits until released, then goes away."""

    def __init__(self, path: str, chunks: Sequence[bytes], total: int) -> None:
        headers = [(b"content-length", str(total).encode())]
        super().__init__(path, method="PUT", headers=headers)
        self._chunks = list(chunks)
        self.asking = anyio.Event()
        self.leave = anyio.Event()

    async def receive(self) -> dict[str, Any]:
        if self._chunks:
            return {"type": "http.request", "body": self._chunks.pop(0), "more_body": True}
        self.asking.set()
        await self.leave.wait()
        return {"type": "http.disconnect"}


@asynccontextmanager
async def in_background(exchange: RawExchange, app: Any) -> AsyncIterator[None]:
    """Serve `exchange` with `app` while the body of the with-statement runs."""
    failed: Exception | None = None
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(exchange.run, app)
        try:
            yield
        except Exception as exc:  # raised again below, outside the task group
            failed = exc
        finally:
            tasks.cancel_scope.cancel()
    if failed is not None:
        raise failed


async def test_client_goes_away(exercise):
    """an upload whose client goes away ends: watchers get a failed event, and its id is unknown"""
    sent = CHUNKS[:3]
    async with running(exercise.app) as (_, state):
        put = Departing("/uploads/gone", sent, SIZE)
        put.scope["state"] = dict(state)
        async with in_background(put, exercise.app):
            try:
                with anyio.fail_after(HANG_GUARD):
                    await put.asking.wait()
            except TimeoutError:
                raise Failure(
                    "expected PUT /uploads/gone to read its body, but it did not"
                ) from None
            async with watching(exercise.app, state, "gone") as stream:
                expect_stream(stream)
                await progress_until(stream, size(sent), SIZE)
                put.leave.set()
                event = await stream.next_event("the failed event", help=FAILED)
                expect_equal("event name", "failed", event.name, help=FAILED)
                data = {"received": size(sent), "total": SIZE}
                expect_equal("data of the failed event", data, event.data, help=FAILED)
                expect_equal("event id", str(size(sent)), event.id, help=IDS)
                await stream.expect_end()
        async with watching(exercise.app, state, "gone") as stream:
            expect_equal("status after the client went away", 404, stream.status, help=REMOVED)
