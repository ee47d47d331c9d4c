"""Hidden suite for 07_middleware_context/03_gzip_route: gzip request bodies, one router only.

Bodies are compressed by the checks with `gzip`/`zlib`; the routes answer the size and
SHA-256 of the bytes they read, so every check compares exact bytes.  The gzip bomb is
built from repeated deflate blocks (16 MiB of zeros in 16 KiB), and the memory the app
allocates while refusing it is measured with `tracemalloc`: no timers.
"""

import gzip
import hashlib
import json
import random
import struct
import tracemalloc
import zlib
from functools import cache
from types import ModuleType
from typing import Any

import anyio
import pytest
from asgi_lifespan import LifespanManager
from fastapi import Request

from workbook.testing import (
    client_for,
    expect,
    expect_equal,
    expect_header,
    expect_json,
    expect_status,
    response_json,
)

MiB = 1 << 20
LIMIT = MiB  # the contract's MAX_INFLATED
BOMB_MIB = 16
PEAK_ALLOWED = 8 * MiB
JSON = {"Content-Type": "application/json"}
GZIP = {"Content-Encoding": "gzip"}
EVENTS = b'[{"name": "clicks", "value": 2}, {"name": "views", "value": 40}]'
NOT_GZIP = {"detail": "Request body is not valid gzip"}
TOO_LARGE = {"detail": "Request body is too large once decompressed"}
UNSUPPORTED = {"detail": "Content-Encoding must be gzip or identity"}

NOT_INFLATED = (
    "Does GzipRoute.get_route_handler return a handler that, for Content-Encoding: gzip, "
    "decompresses the body before calling the handler of super().get_route_handler()? "
    "The route must read the decompressed bytes, as a parsed body and with request.body()."
)
CODING_NAMES = (
    "Content codings have no letter case, and x-gzip is another name for gzip: is the "
    "header's value lowered before it is compared?"
)
IDENTITY = (
    "A body without Content-Encoding, with an empty one or with identity (in any letter "
    "case) is served as sent, whatever its size and whatever its bytes look like: is the "
    "decision taken from the header alone, lowered before every comparison?"
)
LIMIT_HELP = (
    "Is the body refused only when it decompresses to more than MAX_INFLATED bytes, so "
    "that exactly MAX_INFLATED bytes still pass?"
)
CORRUPT = (
    "zlib.decompressobj(wbits=16 + zlib.MAX_WBITS) raises zlib.error on bad data and "
    "checks the CRC at the end, but a stream that stops early raises nothing: is "
    "the inflater's eof checked too?"
)
BOMB = (
    "Is the body decompressed with a bound, e.g. decompressobj().decompress(data, "
    "MAX_INFLATED + 1), so that a bomb is stopped one byte past the limit instead of "
    "being inflated in full and measured afterwards?"
)
LIMIT_FIRST = (
    "The size is decided while inflating: once more than MAX_INFLATED bytes have come "
    "out, the answer is 413, whatever the rest of the stream holds."
)
UNSUPPORTED_HELP = (
    "Is any other Content-Encoding refused with HTTPException(415, ..., "
    'headers={"Accept-Encoding": "gzip"}) before the body is read?'
)
READ_FIRST = (
    "Is the 415 decided from the Content-Encoding header alone, before "
    "`await request.body()`? A body in a coding you refuse need not be received at all."
)
ONE_ROUTER = (
    "Is route_class=GzipRoute given to the ingest router only? Routes of other routers "
    "read their bodies as sent."
)


GUARD = 5.0  # seconds: a hang guard only, no check depends on it
DISCONNECT_PROBE = "/probe/disconnect"
DISCONNECT = (
    "Once the route has read the decompressed body, does the request it got hand on what "
    "the client sends next? Build it with a receive that gives the body once and then "
    "calls the original receive (replay does that)."
)


def digest(body: bytes) -> dict[str, Any]:
    return {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def compressible(size: int) -> bytes:
    """`size` bytes that are not all alike but compress well."""
    return (bytes(range(256)) * (size // 256 + 1))[:size]


@cache
def bomb(mebibytes: int) -> bytes:
    """Gzip of `mebibytes` MiB of zeros, built from one deflate block repeated."""
    chunk = bytes(MiB)
    deflate = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    first = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    again = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    end = deflate.flush()[:-8]  # the last block, without the trailer of 2 MiB
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(chunk, crc)
    trailer = struct.pack("<II", crc, mebibytes * MiB & 0xFFFFFFFF)
    return first + again * (mebibytes - 1) + end + trailer


def with_bad_crc(data: bytes) -> bytes:
    """The same gzip stream with its CRC-32 flipped: corrupt only at the very end."""
    return data[:-8] + bytes(byte ^ 0xFF for byte in data[-8:-4]) + data[-4:]


def help_for(response: Any, sent: bytes, otherwise: str) -> str:
    """NOT_INFLATED when the route read the compressed bytes as sent, else `otherwise`."""
    if response.status_code == 200 and response.json() == digest(sent):
        return NOT_INFLATED
    return otherwise


def raw_post(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """The scope of a POST to `path` as a server builds it, for a raw receive/send pair."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }


async def post(exercise: ModuleType, path: str, body: bytes, headers: dict[str, str]) -> Any:
    async with client_for(exercise.app) as client:
        return await client.post(path, content=body, headers=headers)


# -- gzip bodies are inflated --------------------------------------------------------------


@pytest.mark.parametrize("coding", ["gzip", "GZIP", "Gzip", "x-gzip"])
async def test_gzip_json_body(exercise: ModuleType, coding: str) -> None:
    """a gzip JSON body on an ingest route is parsed from its decompressed bytes"""
    headers = {**JSON, "Content-Encoding": coding}
    response = await post(exercise, "/ingest/events", gzip.compress(EVENTS), headers)
    help = CODING_NAMES if coding != "gzip" and response.status_code == 415 else NOT_INFLATED
    expect_status(response, 200, help=help)
    expect_json(response, {"count": 2, "total": 42})


async def test_gzip_raw_body(exercise: ModuleType) -> None:
    """a route that reads request.body() gets the decompressed bytes"""
    block = random.Random(7).randbytes(20_000)
    original = block + block  # the second copy points 20 000 bytes back: the full window
    response = await post(exercise, "/ingest/raw", gzip.compress(original), GZIP)
    expect_status(response, 200)
    expect_json(response, digest(original), help=NOT_INFLATED)


async def test_inflated_body_is_validated(exercise: ModuleType) -> None:
    """the decompressed JSON is validated as usual: a wrong field is FastAPI's 422 for that field"""
    body = gzip.compress(b'[{"name": "clicks", "value": "many"}]')
    response = await post(exercise, "/ingest/events", body, {**JSON, **GZIP})
    expect_status(response, 422, help=NOT_INFLATED)
    errors = response_json(response).get("detail", [])
    where = [(error.get("type"), error.get("loc")) for error in errors]
    expect_equal("errors (type, loc)", [("int_parsing", ["body", 0, "value"])], where)


# -- bodies without a coding ----------------------------------------------------------------


@pytest.mark.stub_may_pass("the stub serves every body as sent")
@pytest.mark.parametrize(
    ("headers", "body"),
    [
        pytest.param({}, gzip.compress(b"looks like gzip"), id="no-header-gzip-bytes"),
        pytest.param({"Content-Encoding": "identity"}, b"plain text", id="identity"),
        pytest.param({"Content-Encoding": "Identity"}, b"plain text", id="identity-capital"),
        pytest.param({"Content-Encoding": "IDENTITY"}, b"plain text", id="identity-upper"),
        pytest.param({"Content-Encoding": ""}, b"plain text", id="empty-header"),
        pytest.param({}, compressible(LIMIT + 1), id="no-header-over-the-limit"),
        pytest.param({}, b"", id="no-header-empty-body"),
    ],
)
async def test_bodies_without_coding_are_unchanged(
    exercise: ModuleType, headers: dict[str, str], body: bytes
) -> None:
    """without a content coding the body reaches the route as sent, whatever its size"""
    response = await post(exercise, "/ingest/raw", body, headers)
    expect_status(response, 200, help=IDENTITY)
    expect_json(response, digest(body), help=IDENTITY)


# -- the limit --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "status"),
    [pytest.param(LIMIT, 200, id="exactly-the-limit"), pytest.param(LIMIT + 1, 413, id="one-more")],
)
async def test_limit_on_the_decompressed_size(exercise: ModuleType, size: int, status: int) -> None:
    """a body that decompresses to more than MAX_INFLATED (1 MiB) bytes is a 413"""
    original = compressible(size)
    compressed = gzip.compress(original)
    response = await post(exercise, "/ingest/raw", compressed, GZIP)
    expect_status(response, status, help=help_for(response, compressed, LIMIT_HELP))
    expect_json(response, digest(original) if status == 200 else TOO_LARGE, help=NOT_INFLATED)


async def test_bomb_is_refused_while_inflating(exercise: ModuleType) -> None:
    """a 16 KiB bomb of 16 MiB is refused with 413 without being decompressed in full"""
    data = bomb(BOMB_MIB)
    async with client_for(exercise.app) as client:
        tracemalloc.start()
        try:
            response = await client.post("/ingest/raw", content=data, headers=GZIP)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    expect_status(response, 413, help=help_for(response, data, BOMB))
    expect_json(response, TOO_LARGE)
    expect(
        peak <= PEAK_ALLOWED,
        f"expected at most {PEAK_ALLOWED / MiB:.0f} MiB allocated while refusing the bomb, "
        f"not {peak / MiB:.1f} MiB",
        help=BOMB,
    )


async def test_limit_is_decided_before_a_late_error(exercise: ModuleType) -> None:
    """a bomb whose CRC at the very end is wrong is still a 413: the limit comes first"""
    data = with_bad_crc(bomb(BOMB_MIB))
    response = await post(exercise, "/ingest/raw", data, GZIP)
    expect_status(response, 413, help=help_for(response, data, LIMIT_FIRST))
    expect_json(response, TOO_LARGE)


# -- corrupt and unsupported bodies -----------------------------------------------------------

SAMPLE = gzip.compress(b"a sample body that is long enough to be cut in places")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"plain text, not gzip", id="not-gzip"),
        pytest.param(b"", id="empty"),
        pytest.param(SAMPLE[:10], id="header-only"),
        pytest.param(SAMPLE[:-8], id="no-trailer"),
        pytest.param(SAMPLE[:-1], id="cut-in-the-trailer"),
        pytest.param(with_bad_crc(SAMPLE), id="bad-crc"),
        pytest.param(zlib.compress(b"zlib, not gzip"), id="zlib-format"),
    ],
)
async def test_corrupt_gzip_is_400(exercise: ModuleType, body: bytes) -> None:
    """a gzip body that is not one complete, valid gzip stream is a 400"""
    response = await post(exercise, "/ingest/raw", body, GZIP)
    expect_status(response, 400, help=help_for(response, body, CORRUPT))
    expect_json(response, NOT_GZIP)


@pytest.mark.parametrize("coding", ["br", "deflate", "compress", "gzip, br", "identity, gzip"])
async def test_unsupported_coding_is_415(exercise: ModuleType, coding: str) -> None:
    """any other Content-Encoding is a 415 with Accept-Encoding: gzip, before the body is read"""
    headers = {**JSON, "Content-Encoding": coding}
    response = await post(exercise, "/ingest/events", b"not a body of that coding", headers)
    expect_status(response, 415, help=UNSUPPORTED_HELP)
    expect_json(response, UNSUPPORTED)
    expect_header(response, "accept-encoding", "gzip", help=UNSUPPORTED_HELP)


async def test_unsupported_coding_leaves_the_body_unread(exercise: ModuleType) -> None:
    """a 415 is decided from the header alone: the body is not read first"""
    reads: list[str] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        reads.append("http.request")
        return {"type": "http.request", "body": b"brotli bytes", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = raw_post("/ingest/raw", [(b"content-encoding", b"br")])
    with anyio.fail_after(GUARD):
        async with LifespanManager(exercise.app) as manager:
            await manager.app(scope, receive, send)
    expect_equal("status", 415, sent[0].get("status") if sent else None, help=UNSUPPORTED_HELP)
    expect_equal("body messages read before the 415", 0, len(reads), help=READ_FIRST)


# -- one router only ----------------------------------------------------------------------


@pytest.mark.stub_may_pass("the stub serves every body as sent")
@pytest.mark.parametrize("coding", ["gzip", "br"])
async def test_other_routers_read_bodies_as_sent(exercise: ModuleType, coding: str) -> None:
    """a route outside the ingest router reads the body as sent, whatever its Content-Encoding"""
    body = gzip.compress(b"compressed, and left that way")
    response = await post(exercise, "/plain/raw", body, {"Content-Encoding": coding})
    expect_status(response, 200, help=ONE_ROUTER)
    expect_json(response, digest(body), help=ONE_ROUTER)


# -- after the body ---------------------------------------------------------------------------


def add_disconnect_probe(exercise: ModuleType) -> None:
    """A route of the checks' own with GzipRoute: it reads the body, then asks for the client."""
    app = exercise.app
    if any(getattr(route, "path", None) == DISCONNECT_PROBE for route in app.routes):
        return

    async def probe(request: Request) -> dict[str, Any]:
        body = await request.body()
        return {**digest(body), "disconnected": await request.is_disconnected()}

    app.router.add_api_route(
        DISCONNECT_PROBE, probe, methods=["POST"], route_class_override=exercise.GzipRoute
    )


async def test_disconnect_seen_after_the_body(exercise: ModuleType) -> None:
    """after the decompressed body, the route still sees that the client has gone"""
    add_disconnect_probe(exercise)
    original = b"sent, then the client leaves"
    messages = [{"type": "http.request", "body": gzip.compress(original), "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = raw_post(DISCONNECT_PROBE, [(b"content-encoding", b"gzip")])
    with anyio.fail_after(GUARD):
        async with LifespanManager(exercise.app) as manager:
            await manager.app(scope, receive, send)
    body = b"".join(message.get("body", b"") for message in sent[1:])
    expected = {**digest(original), "disconnected": True}
    expect_equal("status", 200, sent[0].get("status") if sent else None, help=NOT_INFLATED)
    answer = json.loads(body)
    help = DISCONNECT if answer.get("disconnected") is not True else NOT_INFLATED
    expect_equal("body", expected, answer, help=help)
