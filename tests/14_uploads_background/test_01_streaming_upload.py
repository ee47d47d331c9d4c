"""Hidden suite for 14_uploads_background/01_streaming_upload: stream it, hash it, never hold it.

Every check builds the app with `create_app(tmp_path)` and reads the directory itself. Bodies
are sent by httpx from async generators, one ASGI message per chunk; the checks that need a
client to leave, or a last message that carries bytes, drive the app with their own
`receive` (`RawUpload`, below). An upload in flight is held by a generator that waits on an
event: no sleeps. Memory is measured with tracemalloc (the peak of allocations made while a
16 MiB body streams through), never with time.
"""

import contextlib
import hashlib
import tracemalloc
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest

from workbook.testing import (
    HANG_GUARD,
    SERVER_SCOPE,
    Failure,
    expect,
    expect_equal,
    expect_json,
    expect_status,
    response_json,
    running,
)

KIB, MIB = 1024, 1024 * 1024
CHUNK = 64 * KIB
MEMORY_BODY = 16 * MIB
MEMORY_BOUND = 4 * MIB
MISMATCH = {"detail": "SHA-256 mismatch"}

# The contract says warnings are errors in the checks.
pytestmark = pytest.mark.filterwarnings("error")

STREAM = (
    "Does PUT /uploads/{upload_id} read the body with `async for chunk in request.stream()`, "
    "write each chunk to the file and feed it to hashlib.sha256() as it goes, and answer "
    "201 {id, size, sha256} with size the number of bytes and sha256 the hex digest?"
)
HOLD = (
    "Is the body ever held whole? `await request.body()`, collecting the chunks in a list, "
    "or reading the file back to hash it all keep the whole upload in memory: hash each "
    "chunk as it arrives, and write it out before reading the next one."
)
TEMPORARY = (
    "Does the upload go to a temporary file in the directory (a name starting with '.', "
    "unique to the request), renamed onto <directory>/<upload_id> only once the body is "
    "complete and its hash checked? Until then the id's file must not change."
)
CLEANUP = (
    "When reading the body fails (the client left: ClientDisconnect, or any other error), "
    "is the temporary file deleted before the error goes on? Wrap the work in "
    "try/except BaseException, unlink the temporary file, and re-raise."
)
DIGEST = (
    "When X-Expected-SHA256 is sent, is it compared (in any letter case) with the digest of "
    "the bytes received, before the file is renamed into place? A mismatch answers 422 "
    "{'detail': 'SHA-256 mismatch'} and leaves the directory as it was."
)
EVERY_BYTE = (
    "Does the app count and write the body of every http.request message, the last one "
    "(more_body false) included? request.stream() yields them all."
)
CANCEL = (
    "When the request's task is cancelled (a server shutting down, a timeout), the cleanup "
    "runs cancelled too: is the temporary file deleted inside "
    "`with anyio.CancelScope(shield=True):`, so that its await is not cancelled at once?"
)
IDS = "The upload id is given as UploadId: letters, digits, '_' and '-', 1 to 64 of them."


# -- bodies --------------------------------------------------------------------------------


def pattern(index: int, size: int = CHUNK) -> bytes:
    """Chunk number ``index``: bytes that differ from chunk to chunk, made on demand."""
    block = hashlib.sha256(index.to_bytes(8, "big")).digest()
    return (block * (size // len(block) + 1))[:size]


def chunks_of(data: bytes, size: int) -> list[bytes]:
    return [data[start : start + size] for start in range(0, len(data), size)]


async def stream(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


class Paused:
    """A body that stops after ``after`` chunks, until the check resumes it."""

    def __init__(self, chunks: list[bytes], after: int) -> None:
        self.chunks = chunks
        self.after = after
        self.read = 0  # chunks the app has asked for
        self.reached = anyio.Event()  # the app has asked for the chunk after the pause
        self.resume = anyio.Event()
        self.finished = anyio.Event()  # set by the check when the response is in

    async def body(self) -> AsyncIterator[bytes]:
        for index, chunk in enumerate(self.chunks):
            if index == self.after:
                self.reached.set()
                await self.resume.wait()
            self.read += 1
            yield chunk


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- the app -------------------------------------------------------------------------------


@dataclass
class Served:
    app: Any
    client: httpx.AsyncClient
    state: dict[str, Any]


@asynccontextmanager
async def serving(exercise: ModuleType, directory: Path) -> AsyncIterator[Served]:
    """The app over ``directory``, its lifespan running."""
    app = exercise.create_app(directory)
    async with running(app, raise_app_exceptions=False) as (client, state):
        yield Served(app, client, state)


async def put(
    client: httpx.AsyncClient, upload_id: str, content: Any, expected: str | None = None
) -> Any:
    """PUT the content, with ``expected`` as X-Expected-SHA256 when given."""
    headers = {} if expected is None else {"X-Expected-SHA256": expected}
    with anyio.fail_after(HANG_GUARD):
        return await client.put(f"/uploads/{upload_id}", content=content, headers=headers)


async def stored(client: httpx.AsyncClient, directory: Path, upload_id: str, data: bytes) -> None:
    """Upload ``data`` and check that it was stored: the setup of a later check."""
    response = await put(client, upload_id, data)
    expect_status(response, 201, help=STREAM)
    expect_holds(directory, upload_id, data, help=STREAM)


def read(directory: Path, name: str) -> bytes | None:
    path = directory / name
    return path.read_bytes() if path.is_file() else None


def listing(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def describe(data: bytes) -> str:
    if len(data) <= 40:
        return repr(data)
    return f"{len(data)} bytes (sha256 {sha256(data)[:12]}…)"


def expect_holds(directory: Path, name: str, data: bytes, *, help: str, when: str = "") -> None:
    """``<directory>/<name>`` holds exactly ``data``."""
    actual = read(directory, name)
    if actual != data:
        found = "no such file" if actual is None else describe(actual)
        raise Failure(f"expected {name!r} to hold {describe(data)}{when}, not {found}", help=help)


def expect_files(directory: Path, expected: list[str], *, help: str, when: str = "") -> None:
    """The directory holds exactly these names, temporary files included."""
    expect_equal(f"files in the directory{when}", expected, listing(directory), help=help)


async def reaches_pause(upload: Paused) -> bool:
    """Wait until the app asks for the chunk after the pause (True), or answers first.

    The guard only ends a wait for an app that neither reads nor answers (one upload
    waiting for another, say): that is a failure either way.
    """
    with anyio.move_on_after(HANG_GUARD):
        async with anyio.create_task_group() as group:

            async def wait(event: anyio.Event) -> None:
                await event.wait()
                group.cancel_scope.cancel()

            group.start_soon(wait, upload.reached)
            group.start_soon(wait, upload.finished)
    return upload.reached.is_set()


def expect_paused(*uploads: Paused) -> None:
    for upload in uploads:
        stopped = "answered" if upload.finished.is_set() else "stopped reading"
        expect(
            upload.reached.is_set(),
            f"expected the app to read an upload's body as it arrives, while it is in flight, "
            f"but it read {upload.read} of its {len(upload.chunks)} chunks and {stopped}",
            help=STREAM,
        )


class RawUpload:
    """A PUT driven with our own ``receive``: these messages, then the client is gone."""

    def __init__(self, upload_id: str, messages: list[tuple[bytes, bool]]) -> None:
        self.upload_id = upload_id
        self.messages = list(messages)
        self.sent: list[dict[str, Any]] = []
        self.raised: BaseException | None = None

    async def receive(self) -> dict[str, Any]:
        if self.messages:
            body, more = self.messages.pop(0)
            return {"type": "http.request", "body": body, "more_body": more}
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int | None:
        starts = [m for m in self.sent if m["type"] == "http.response.start"]
        return starts[0]["status"] if starts else None

    async def run(self, served: Served) -> None:
        path = f"/uploads/{self.upload_id}"
        scope = {
            **SERVER_SCOPE,
            "method": "PUT",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": [(b"host", b"test")],
            "state": dict(served.state),
        }
        with anyio.fail_after(HANG_GUARD):
            try:
                await served.app(scope, self.receive, self.send)
            except Exception as exc:  # where a server would log it
                self.raised = exc


# -- 201: the size, the hash and the bytes --------------------------------------------------

SIZES = {
    "empty": [],
    "one-byte": [b"\x00"],
    "one-chunk": [pattern(0)],
    "many-chunks": [pattern(n) for n in range(8)],
    "uneven-chunks": [pattern(1, 1), pattern(2, 3 * KIB + 7), b"", pattern(3, 100 * KIB)],
}


EMPTY_ON_THE_STUB = pytest.mark.stub_may_pass("the stub answers the empty upload's size and hash")


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param(chunks, id=name, marks=[EMPTY_ON_THE_STUB] if not chunks else [])
        for name, chunks in SIZES.items()
    ],
)
async def test_upload_answers_size_and_hash(exercise, tmp_path, chunks):
    """an upload answers 201 {id, size, sha256} for exactly the bytes sent"""
    data = b"".join(chunks)
    async with serving(exercise, tmp_path) as served:
        client = served.client
        response = await put(client, "report-1", stream(chunks))
    expect_status(response, 201, help=STREAM)
    expect_json(
        response, {"id": "report-1", "size": len(data), "sha256": sha256(data)}, help=STREAM
    )


@pytest.mark.parametrize("chunks", SIZES.values(), ids=SIZES.keys())
async def test_upload_is_stored_under_its_id(exercise, tmp_path, chunks):
    """the directory then holds exactly one file, named by the id, with the bytes sent"""
    data = b"".join(chunks)
    async with serving(exercise, tmp_path) as served:
        client = served.client
        response = await put(client, "report-1", stream(chunks))
    expect_status(response, 201, help=STREAM)
    expect_files(tmp_path, ["report-1"], help=TEMPORARY)
    expect_holds(tmp_path, "report-1", data, help=STREAM)


async def test_five_mebibytes_from_a_generator(exercise, tmp_path):
    """a 5 MiB body sent by a generator is counted, hashed and stored exactly"""
    chunks = [pattern(n) for n in range(5 * MIB // CHUNK)]
    data = b"".join(chunks)
    async with serving(exercise, tmp_path) as served:
        client = served.client
        response = await put(client, "big", stream(chunks))
    expect_status(response, 201, help=STREAM)
    expect_json(response, {"id": "big", "size": 5 * MIB, "sha256": sha256(data)}, help=STREAM)
    expect_holds(tmp_path, "big", data, help=STREAM)


async def test_the_last_message_counts(exercise, tmp_path):
    """the body of the last message (more_body false) is counted and stored too"""
    upload = RawUpload("tail", [(b"head-", True), (b"middle-", True), (b"tail", False)])
    async with serving(exercise, tmp_path) as served:
        await upload.run(served)
    expect_equal("status", 201, upload.status, help=EVERY_BYTE)
    expect_holds(tmp_path, "tail", b"head-middle-tail", help=EVERY_BYTE)


async def test_a_second_upload_replaces_the_first(exercise, tmp_path):
    """a second upload under the same id answers 201 and replaces the stored bytes"""
    async with serving(exercise, tmp_path) as served:
        client = served.client
        await stored(client, tmp_path, "doc", b"first version")
        response = await put(client, "doc", b"second")
    expect_status(response, 201, help=STREAM)
    expect_json(response, {"id": "doc", "size": 6, "sha256": sha256(b"second")}, help=STREAM)
    expect_holds(tmp_path, "doc", b"second", help=TEMPORARY)
    expect_files(tmp_path, ["doc"], help=TEMPORARY)


# -- memory --------------------------------------------------------------------------------


async def test_memory_stays_bounded(exercise, tmp_path):
    """a 16 MiB upload streams through with less than 4 MiB allocated at its peak"""
    digest = hashlib.sha256()

    async def body() -> AsyncIterator[bytes]:
        for index in range(MEMORY_BODY // CHUNK):
            chunk = pattern(index)
            digest.update(chunk)
            yield chunk

    async with serving(exercise, tmp_path) as served:
        client = served.client
        await put(client, "warm-up", b"the first request builds what later ones reuse")
        tracemalloc.start()
        try:
            response = await put(client, "large", body())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    expect_status(response, 201, help=STREAM)
    expect_json(
        response, {"id": "large", "size": MEMORY_BODY, "sha256": digest.hexdigest()}, help=STREAM
    )
    expect(
        peak < MEMORY_BOUND,
        f"expected less than {MEMORY_BOUND // MIB} MiB allocated at the peak of a "
        f"{MEMORY_BODY // MIB} MiB upload, not {peak / MIB:.1f} MiB",
        help=HOLD,
    )


# -- in flight: a temporary file, renamed at the end ----------------------------------------


async def test_in_flight_upload_uses_a_temporary_file(exercise, tmp_path):
    """while an upload is in flight, the id's old file is untouched and a '.' file holds it"""
    upload = Paused([pattern(n) for n in range(6)], after=3)
    responses: list[httpx.Response] = []
    during: list[str] = []
    old: bytes | None = None
    async with serving(exercise, tmp_path) as served:
        client = served.client
        await stored(client, tmp_path, "doc", b"old version")
        async with anyio.create_task_group() as group:

            async def send() -> None:
                responses.append(await put(client, "doc", upload.body()))
                upload.finished.set()

            group.start_soon(send)
            if await reaches_pause(upload):
                during = listing(tmp_path)
                old = read(tmp_path, "doc")
            upload.resume.set()
    expect_paused(upload)
    expect(
        old == b"old version",
        f"expected 'doc' to hold b'old version' while the new upload is in flight, "
        f"not {'no such file' if old is None else describe(old)}",
        help=TEMPORARY,
    )
    extra = [name for name in during if name != "doc"]
    expect_equal(
        "number of other files while the upload is in flight", 1, len(extra), help=TEMPORARY
    )
    expect(
        extra[0].startswith("."),
        f"expected the temporary file's name to start with '.', not {extra[0]!r}",
        help=TEMPORARY,
    )
    expect_status(responses[0], 201, help=STREAM)
    expect_files(tmp_path, ["doc"], help=TEMPORARY, when=" after the upload")
    expect_holds(tmp_path, "doc", b"".join(upload.chunks), help=TEMPORARY)


async def test_two_uploads_of_one_id_do_not_mix(exercise, tmp_path):
    """two uploads of one id at once each write their own file: the last to finish wins"""
    first = Paused([pattern(n) for n in range(4)], after=2)
    second = Paused([pattern(n) for n in range(10, 14)], after=2)
    responses: dict[str, httpx.Response] = {}
    after_first: bytes | None = None
    async with serving(exercise, tmp_path) as served:
        client = served.client
        async with anyio.create_task_group() as group:

            async def send(name: str, upload: Paused) -> None:
                responses[name] = await put(client, "shared", upload.body())
                upload.finished.set()

            group.start_soon(send, "first", first)
            if await reaches_pause(first):
                group.start_soon(send, "second", second)
                if await reaches_pause(second):
                    first.resume.set()
                    with anyio.fail_after(HANG_GUARD):
                        await first.finished.wait()
                    after_first = read(tmp_path, "shared")
            first.resume.set()
            second.resume.set()
    expect_paused(first, second)
    expect_status(responses["first"], 201, help=TEMPORARY)
    expect(
        after_first == b"".join(first.chunks),
        "expected the first upload's bytes stored once it finished, not a mix of the two",
        help=TEMPORARY,
    )
    expect_status(responses["second"], 201, help=TEMPORARY)
    expect(
        read(tmp_path, "shared") == b"".join(second.chunks),
        "expected the second upload's bytes stored once it finished, not a mix of the two",
        help=TEMPORARY,
    )
    expect_files(tmp_path, ["shared"], help=TEMPORARY, when=" after both uploads")


# -- failures leave nothing behind ---------------------------------------------------------


@pytest.mark.parametrize("sent", [0, 1, 3], ids=["at-once", "after-one-chunk", "after-three"])
async def test_a_client_that_leaves_leaves_nothing(exercise, tmp_path, sent):
    """a client that disconnects mid-upload leaves the directory as it was"""
    upload = RawUpload("doc", [(pattern(n), True) for n in range(sent)])
    async with serving(exercise, tmp_path) as served:
        await stored(served.client, tmp_path, "doc", b"old version")
        await stored(served.client, tmp_path, "other", b"another upload")
        await upload.run(served)
    expect_files(tmp_path, ["doc", "other"], help=CLEANUP, when=" after the client left")
    expect_holds(tmp_path, "doc", b"old version", help=CLEANUP, when=" after the client left")


async def test_a_cancelled_upload_leaves_nothing(exercise, tmp_path):
    """an upload whose task is cancelled mid-way leaves the directory as it was"""
    upload = Paused([pattern(n) for n in range(6)], after=3)
    async with serving(exercise, tmp_path) as served:
        await stored(served.client, tmp_path, "doc", b"old version")
        async with anyio.create_task_group() as group:

            async def send() -> None:
                await put(served.client, "doc", upload.body())
                upload.finished.set()

            group.start_soon(send)
            await reaches_pause(upload)
            group.cancel_scope.cancel()
    expect_paused(upload)
    expect_files(tmp_path, ["doc"], help=CANCEL, when=" after the cancelled upload")
    expect_holds(tmp_path, "doc", b"old version", help=CANCEL, when=" after the cancelled upload")


async def test_a_body_that_fails_leaves_nothing(exercise, tmp_path):
    """a body that fails mid-upload leaves no file and no temporary file"""

    async def failing() -> AsyncIterator[bytes]:
        yield pattern(0)
        yield pattern(1)
        raise OSError("the connection was reset")

    async with serving(exercise, tmp_path) as served:
        client = served.client
        await stored(client, tmp_path, "doc", b"old version")
        for upload_id in ("doc", "fresh"):
            # the transport may hand the body's error back to the client
            with contextlib.suppress(OSError):
                await put(client, upload_id, failing())
    expect_files(tmp_path, ["doc"], help=CLEANUP, when=" after the failed uploads")
    expect_holds(tmp_path, "doc", b"old version", help=CLEANUP, when=" after a failed upload")


# -- X-Expected-SHA256 ---------------------------------------------------------------------


@pytest.mark.parametrize("case", ["lower", "upper"])
async def test_a_matching_digest_is_accepted(exercise, tmp_path, case):
    """an X-Expected-SHA256 that matches the bytes, in either letter case, answers 201"""
    data = b"".join(pattern(n) for n in range(3))
    given = sha256(data).upper() if case == "upper" else sha256(data)
    async with serving(exercise, tmp_path) as served:
        client = served.client
        response = await put(client, "checked", stream(chunks_of(data, CHUNK)), expected=given)
    expect_status(response, 201, help=DIGEST)
    expect_json(response, {"id": "checked", "size": len(data), "sha256": sha256(data)}, help=DIGEST)
    expect_holds(tmp_path, "checked", data, help=DIGEST)


MISMATCHES = {
    "another-body": sha256(b"something else"),
    "empty-body-digest": sha256(b""),
    "one-digit-off": sha256(b"payload")[:-1] + ("0" if sha256(b"payload")[-1] != "0" else "1"),
    "not-hex": "not a digest",
    "empty": "",
}


@pytest.mark.parametrize("given", MISMATCHES.values(), ids=MISMATCHES.keys())
async def test_a_wrong_digest_is_refused(exercise, tmp_path, given):
    """an X-Expected-SHA256 that does not match answers 422 and stores nothing"""
    async with serving(exercise, tmp_path) as served:
        client = served.client
        await stored(client, tmp_path, "doc", b"old version")
        response = await put(client, "doc", stream([b"pay", b"load"]), expected=given)
        fresh = await put(client, "fresh", stream([b"pay", b"load"]), expected=given)
    expect_status(response, 422, help=DIGEST)
    expect_json(response, MISMATCH, help=DIGEST)
    expect_status(fresh, 422, help=DIGEST)
    expect_files(tmp_path, ["doc"], help=DIGEST, when=" after refused uploads")
    expect_holds(tmp_path, "doc", b"old version", help=DIGEST, when=" after a refused upload")


async def test_a_wrong_digest_of_an_empty_body_is_refused(exercise, tmp_path):
    """an empty body with the digest of other bytes answers 422 and stores nothing"""
    async with serving(exercise, tmp_path) as served:
        client = served.client
        await stored(client, tmp_path, "doc", b"old version")
        response = await put(client, "doc", b"", expected=sha256(b"old version"))
    expect_status(response, 422, help=DIGEST)
    expect_json(response, MISMATCH, help=DIGEST)
    expect_holds(tmp_path, "doc", b"old version", help=DIGEST, when=" after a refused upload")


# -- ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize("upload_id", ["x", "A-z_09", "y" * 64], ids=["x", "A-z_09", "64-chars"])
async def test_valid_ids_are_stored(exercise, tmp_path, upload_id):
    """an id of 1 to 64 letters, digits, '_' or '-' is stored under that name"""
    async with serving(exercise, tmp_path) as served:
        client = served.client
        response = await put(client, upload_id, b"data")
    expect_status(response, 201, help=IDS)
    expect_files(tmp_path, [upload_id], help=IDS)


@pytest.mark.stub_may_pass("the id pattern is given")
@pytest.mark.parametrize(
    "upload_id",
    ["a.b", ".hidden", "y" * 65, "a%20b", "caf%C3%A9"],
    ids=["a.b", ".hidden", "65-chars", "a-space-b", "non-ascii"],
)
async def test_other_ids_are_refused(exercise, tmp_path, upload_id):
    """any other id answers 422 and stores nothing"""
    async with serving(exercise, tmp_path) as served:
        client = served.client
        response = await put(client, upload_id, b"data")
    expect_status(response, 422, help=IDS)
    body = response_json(response)
    locations = [error.get("loc") for error in body.get("detail", [])]
    expect_equal("locations of the errors", [["path", "upload_id"]], locations, help=IDS)
    expect_files(tmp_path, [], help=IDS)
