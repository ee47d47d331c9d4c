"""Hidden suite for 14_uploads_background/02_body_limits: 413 before it costs you.

Each route gets bodies of exactly its limit and of one byte more, sent three ways: with a
Content-Length (httpx adds it to bytes), chunked from a generator with no Content-Length,
and chunked with a Content-Length that says less than is sent. Generators count the chunks
the app pulls, which shows how much of a refused body was read. `GET /stats` counts the
requests each route accepted, which shows whether a refused request reached the endpoint's
work. Multipart bodies are built by hand (`multipart`, below) so their size is exact.
"""

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest

from workbook.testing import (
    HANG_GUARD,
    expect,
    expect_equal,
    expect_json,
    expect_status,
    response_json,
    running,
)

# The contract says warnings are errors in the checks.
pytestmark = pytest.mark.filterwarnings("error")

KIB = 1024
APP_LIMIT = 4 * KIB
FEEDBACK_LIMIT = 512
UPLOAD_LIMIT = 256 * KIB
AVATAR_LIMIT = 16 * KIB
PIECE = KIB  # the size of each chunk a generator sends
TOO_LARGE_TEXT = "Content Too Large"
TOO_LARGE_JSON = {"detail": "Content Too Large"}
BOUNDARY = "workbook-form-boundary"
ROUTES = ("items", "feedback", "files", "avatar", "albums")

LIMITS = (
    "Are the limits FastAPI's own? FastAPI(max_body_size=APP_LIMIT) for the app, "
    "APIRouter(prefix='/uploads', max_body_size=UPLOAD_LIMIT) for the uploads router, and "
    "max_body_size=... on the @app.post/@uploads.put of POST /feedback (FEEDBACK_LIMIT) and "
    "PUT /uploads/avatar (AVATAR_LIMIT). The most specific limit wins, larger or smaller."
)
UNANNOUNCED = (
    "Is the limit checked only against the Content-Length header? A chunked body has none, "
    "and a header can lie: FastAPI's max_body_size counts the bytes as they arrive."
)
ANNOUNCED = (
    "A Content-Length above the limit is refused before a single byte is read: FastAPI's "
    "max_body_size does that, with the plain-text answer 'Content Too Large'."
)
WORK = (
    "A refused request must not reach the endpoint's work: GET /stats counts only the "
    "requests each route accepted. Is a counter bumped before the whole body was read?"
)
FORMS = (
    "Does POST /albums pass form_limits=ALBUM_FORM_LIMITS (max_files 2, max_fields 3, "
    "max_part_size 1024)? FastAPI then answers a form over a limit with 400 and the "
    "parser's message."
)
ANSWER = "The routes' answers are given: keep them as they are."


# -- bodies of an exact size -------------------------------------------------------------


def json_body(key: str, size: int) -> bytes:
    """A JSON object ``{key: "aaa…"}`` of exactly ``size`` bytes."""
    frame = f'{{"{key}":""}}'
    return f'{{"{key}":"{"a" * (size - len(frame))}"}}'.encode()


def multipart(fields: list[tuple[str, str]], files: list[tuple[str, bytes]]) -> bytes:
    """A multipart/form-data body; every file part is named "photos"."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields
    ]
    parts += [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="photos"; '
        f'filename="{filename}"\r\nContent-Type: image/png\r\n\r\n'.encode()
        + data
        + b"\r\n"
        for filename, data in files
    ]
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def album_body(size: int) -> bytes:
    """An album titled "summer" with one photo, padded to exactly ``size`` bytes."""
    frame = len(multipart([("title", "summer")], [("beach.png", b"")]))
    return multipart([("title", "summer")], [("beach.png", b"p" * (size - frame))])


def album_photo(size: int) -> int:
    return size - len(multipart([("title", "summer")], [("beach.png", b"")]))


@dataclass(frozen=True)
class Route:
    name: str  # its count in GET /stats
    method: str
    path: str
    limit: int
    body: Callable[[int], bytes]
    answer: Callable[[int], Any]  # the 201 body for a body of this size, the first accepted
    content_type: str


JSON = "application/json"
FORM = f"multipart/form-data; boundary={BOUNDARY}"
RAW = "application/octet-stream"


ALL = {
    "items": Route(
        "items",
        "POST",
        "/items",
        APP_LIMIT,
        lambda n: json_body("name", n),
        lambda n: {"id": 1},
        JSON,
    ),
    "feedback": Route(
        "feedback",
        "POST",
        "/feedback",
        FEEDBACK_LIMIT,
        lambda n: json_body("message", n),
        lambda n: {"id": 1},
        JSON,
    ),
    "files": Route(
        "files",
        "PUT",
        "/uploads/files/report.bin",
        UPLOAD_LIMIT,
        lambda n: b"f" * n,
        lambda n: {"size": n},
        RAW,
    ),
    "avatar": Route(
        "avatar",
        "PUT",
        "/uploads/avatar",
        AVATAR_LIMIT,
        lambda n: b"a" * n,
        lambda n: {"size": n},
        RAW,
    ),
    "albums": Route(
        "albums",
        "POST",
        "/albums",
        APP_LIMIT,
        album_body,
        lambda n: {"title": "summer", "tags": [], "photos": [album_photo(n)]},
        FORM,
    ),
}


class Pulled:
    """A chunked body that counts the chunks the app asked for."""

    def __init__(self, data: bytes) -> None:
        self.chunks = [data[start : start + PIECE] for start in range(0, len(data), PIECE)]
        self.pulled = 0

    async def body(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.pulled += 1
            yield chunk


async def send(
    client: httpx.AsyncClient, route: Route, content: Any, **headers: str
) -> httpx.Response:
    with anyio.fail_after(HANG_GUARD):
        return await client.request(
            route.method,
            route.path,
            content=content,
            headers={"content-type": route.content_type, **headers},
        )


async def expect_accepted(client: httpx.AsyncClient, expected: dict[str, int]) -> None:
    """GET /stats counts exactly these accepted requests (every other route 0)."""
    response = await client.get("/stats")
    expect_status(response, 200, help=ANSWER)
    counts = {route: expected.get(route, 0) for route in ROUTES}
    expect_equal("the accepted requests in GET /stats", counts, response_json(response), help=WORK)


def expect_too_large(response: httpx.Response, announced: bool, help: str) -> None:
    expect_status(response, 413, help=help)
    if announced:
        expect_equal("the 413 body", TOO_LARGE_TEXT, response.text, help=ANNOUNCED)
    else:
        expect_json(response, TOO_LARGE_JSON, help=UNANNOUNCED)


ROUTE_PARAMS = [pytest.param(route, id=name) for name, route in ALL.items()]


# -- each route's limit, both sides -------------------------------------------------------


@pytest.mark.parametrize("route", ROUTE_PARAMS)
async def test_limit_with_content_length(exercise, route):
    """a body of exactly the route's limit is accepted; one byte more answers 413"""
    async with running(exercise.app) as (client, _):
        accepted = await send(client, route, route.body(route.limit))
        refused = await send(client, route, route.body(route.limit + 1))
        expect_status(accepted, 201, help=LIMITS)
        expect_json(accepted, route.answer(route.limit), help=ANSWER)
        expect_too_large(refused, announced=True, help=LIMITS)
        await expect_accepted(client, {route.name: 1})


@pytest.mark.parametrize("route", ROUTE_PARAMS)
async def test_limit_without_content_length(exercise, route):
    """without a Content-Length too, the limit is accepted and one byte more answers 413"""
    exact, over = Pulled(route.body(route.limit)), Pulled(route.body(route.limit + 1))
    async with running(exercise.app) as (client, _):
        accepted = await send(client, route, exact.body())
        refused = await send(client, route, over.body())
        expect_status(accepted, 201, help=LIMITS)
        expect_json(accepted, route.answer(route.limit), help=ANSWER)
        expect_too_large(refused, announced=False, help=UNANNOUNCED)
        await expect_accepted(client, {route.name: 1})


# -- how much of a refused body is read ---------------------------------------------------


@pytest.mark.parametrize("route", ROUTE_PARAMS)
async def test_announced_excess_is_refused_unread(exercise, route):
    """a Content-Length above the limit answers 413 before one chunk of the body is read"""
    over = Pulled(route.body(route.limit + 1))
    async with running(exercise.app) as (client, _):
        refused = await send(client, route, over.body(), **{"content-length": str(route.limit + 1)})
        expect_too_large(refused, announced=True, help=ANNOUNCED)
        await expect_accepted(client, {})
    expect_equal("chunks of the body read", 0, over.pulled, help=ANNOUNCED)


@pytest.mark.parametrize("lie", [False, True], ids=["no-content-length", "understated"])
@pytest.mark.parametrize("route", ROUTE_PARAMS)
async def test_unannounced_excess_stops_the_reading(exercise, route, lie):
    """a body that turns out too large answers 413 as soon as the limit is passed"""
    over = Pulled(route.body(4 * route.limit))
    headers = {"content-length": "1"} if lie else {}
    async with running(exercise.app) as (client, _):
        refused = await send(client, route, over.body(), **headers)
        expect_too_large(refused, announced=False, help=UNANNOUNCED)
        await expect_accepted(client, {})
    most = route.limit // PIECE + 1
    expect(
        over.pulled <= most,
        f"expected at most {most} chunks of {PIECE} bytes read from a body over the limit of "
        f"{route.limit} bytes, not {over.pulled} of {len(over.chunks)}",
        help=UNANNOUNCED,
    )


# -- which error wins ----------------------------------------------------------------------


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "chunked"])
@pytest.mark.parametrize("route", [ALL["items"], ALL["feedback"]], ids=["items", "feedback"])
async def test_size_is_checked_before_validation(exercise, route, announced):
    """a body over the limit answers 413 even when it is not valid JSON at all"""
    garbage = b"{" * (route.limit + 1)
    content = garbage if announced else Pulled(garbage).body()
    async with running(exercise.app) as (client, _):
        refused = await send(client, route, content)
        invalid = await send(client, route, b"{" * route.limit)
        expect_too_large(refused, announced=announced, help=LIMITS)
        expect_status(invalid, 422, help=ANSWER)
        await expect_accepted(client, {})


# -- form limits on POST /albums -----------------------------------------------------------

PHOTO = ("photo.png", b"\x89PNG")
EMPTY_PHOTO = ("empty.png", b"")
TOO_MANY_FILES = {"detail": "Too many files. Maximum number of files is 2."}
TOO_MANY_FIELDS = {"detail": "Too many fields. Maximum number of fields is 3."}
PART_TOO_LARGE = {"detail": "Part exceeded maximum size of 1KB."}
FORM_CASES = {
    "max-files": (
        ([("title", "t")], [PHOTO, EMPTY_PHOTO]),
        ([("title", "t")], [PHOTO, EMPTY_PHOTO, PHOTO]),
        {"title": "t", "tags": [], "photos": [4, 0]},
        TOO_MANY_FILES,
    ),
    "max-fields": (
        ([("title", "t"), ("tags", "sea"), ("tags", "sun")], [PHOTO]),
        ([("title", "t"), ("tags", "sea"), ("tags", "sun"), ("tags", "sand")], [PHOTO]),
        {"title": "t", "tags": ["sea", "sun"], "photos": [4]},
        TOO_MANY_FIELDS,
    ),
    "max-part-size": (
        ([("title", "T" * 1024)], []),
        ([("title", "T" * 1025)], []),
        {"title": "T" * 1024, "tags": [], "photos": []},
        PART_TOO_LARGE,
    ),
}


@pytest.mark.parametrize(
    ("within", "beyond", "answer", "refusal"), FORM_CASES.values(), ids=FORM_CASES.keys()
)
async def test_form_limits(exercise, within, beyond, answer, refusal):
    """a form at each of its limits is accepted; one more file, field or byte answers 400"""
    route = ALL["albums"]
    async with running(exercise.app) as (client, _):
        accepted = await send(client, route, multipart(*within))
        refused = await send(client, route, multipart(*beyond))
        expect_status(accepted, 201, help=FORMS)
        expect_json(accepted, answer, help=ANSWER)
        expect_status(refused, 400, help=FORMS)
        expect_json(refused, refusal, help=FORMS)
        await expect_accepted(client, {"albums": 1})


@pytest.mark.stub_may_pass("without form limits every file is accepted")
async def test_form_file_parts_are_not_capped_by_max_part_size(exercise):
    """max_part_size caps text fields only: a 3 KiB photo in an album is accepted"""
    route = ALL["albums"]
    async with running(exercise.app) as (client, _):
        accepted = await send(
            client, route, multipart([("title", "t")], [("big.png", b"b" * 3 * KIB)])
        )
        expect_status(accepted, 201, help=FORMS)
        expect_json(accepted, {"title": "t", "tags": [], "photos": [3 * KIB]}, help=ANSWER)
        await expect_accepted(client, {"albums": 1})
