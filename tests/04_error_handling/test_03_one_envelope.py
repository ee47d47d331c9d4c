"""Hidden suite for 04_error_handling/03_one_envelope: every HTTP error as a problem."""

from http import HTTPStatus
from types import ModuleType
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, HTTPException
from starlette.exceptions import HTTPException as StarletteHTTPException

from workbook.testing import (
    client_for,
    expect_equal,
    expect_header,
    expect_json,
    expect_status,
    response_json,
)

TOKEN = {"Authorization": "Bearer s3cr3t"}
PROBLEM_JSON = "application/problem+json"

FASTAPI_SHAPE = (
    'This is FastAPI\'s own answer, {"detail": ...}: is the handler installed for this '
    "exception? Routing raises Starlette's HTTPException, of which FastAPI's is a subclass."
)
HEADERS = "Does the handler pass the exception's headers to the response?"
ALL_HEADERS = (
    "Are only some headers passed on? Every header of the exception goes into the response, "
    "whatever its name."
)
# a 429 as a rate limiter raises it: one header HTTP defines, two of the limiter's own
LIMITED = {
    "Retry-After": "30",
    "RateLimit-Policy": '"burst";q=100;w=60',
    "Link": '<https://example.com/docs/limits>; rel="help"',
}
TITLE = "Is `title` the status's reason phrase (http.HTTPStatus(status).phrase)?"
NON_STRING = (
    "A detail that is not a string is not a sentence: `detail` is the title, and the value "
    "goes, as it is, into the extension member `context`."
)
NO_BODY = "204, 205 and 304 forbid a body: answer them with no body at all, keeping the headers."
MEDIA_TYPE = "JSONResponse sends application/json unless it is given another media_type."


def problem(status: int, detail: str, instance: str, **extensions: Any) -> dict[str, Any]:
    title = HTTPStatus(status).phrase
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    return body | extensions


async def send(app: Any, method: str, url: str, **kwargs: Any) -> httpx.Response:
    async with client_for(app, raise_app_exceptions=False) as client:
        return await client.request(method, url, **kwargs)


def expect_problem(response: httpx.Response, expected: dict[str, Any], help: str) -> None:
    """The status, then the whole body; FastAPI's own body gets its own question."""
    expect_status(response, expected["status"])
    body = response_json(response)
    if isinstance(body, dict) and set(body) == {"detail"}:
        help = FASTAPI_SHAPE
    expect_json(response, expected, help=help)


def app_raising(exercise: ModuleType, exc: Exception, *, in_dependency: bool = False) -> FastAPI:
    """A new app with the exercise's handlers and one route that raises ``exc``."""

    async def fail() -> None:
        raise exc

    app = FastAPI()
    exercise.install_problem_handlers(app)
    dependencies = [Depends(fail)] if in_dependency else []

    @app.get("/jobs/{job_id}", dependencies=dependencies)
    async def read_job(job_id: str) -> dict[str, str]:
        if not in_dependency:
            await fail()
        return {"id": job_id}

    return app


# -- the exercise's own app -----------------------------------------------------------------


@pytest.mark.stub_may_pass("the stub serves reports already")
async def test_report_is_served(exercise):
    """a report is served to a caller with the token"""
    response = await send(exercise.app, "GET", "/reports/r-1", headers=TOKEN)
    expect_status(response, 200)
    expect_json(response, {"id": "r-1", "title": "Q3 revenue"})


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}], ids=["no-token", "wrong-token"]
)
async def test_missing_token_is_a_401_problem(exercise, headers):
    """a caller without the token gets a 401 problem (raised in a dependency)"""
    response = await send(exercise.app, "GET", "/reports/r-1", headers=headers)
    expected = problem(401, "A valid bearer token is required.", "/reports/r-1")
    expect_problem(response, expected, help=TITLE)


async def test_401_keeps_www_authenticate(exercise):
    """the 401 problem keeps the exception's WWW-Authenticate header"""
    response = await send(exercise.app, "GET", "/reports/r-1")
    expected = problem(401, "A valid bearer token is required.", "/reports/r-1")
    expect_problem(response, expected, help=TITLE)
    expect_header(response, "www-authenticate", "Bearer", help=HEADERS)


async def test_unknown_report_is_a_404_problem(exercise):
    """an HTTPException raised by the endpoint is a problem with its detail"""
    response = await send(exercise.app, "GET", "/reports/r-9", headers=TOKEN)
    expect_problem(response, problem(404, "Report r-9 does not exist.", "/reports/r-9"), help=TITLE)


async def test_unknown_route_is_a_404_problem(exercise):
    """a path no route matches is a 404 problem, `instance` without the query string"""
    response = await send(exercise.app, "GET", "/nowhere", params={"page": "2"})
    expect_problem(
        response,
        problem(404, "Not Found", "/nowhere"),
        help="Is `instance` the path only? request.url holds the query string too.",
    )


async def test_wrong_method_is_a_405_problem(exercise):
    """a method the route does not serve is a 405 problem"""
    response = await send(exercise.app, "DELETE", "/reports/r-1", headers=TOKEN)
    expect_problem(response, problem(405, "Method Not Allowed", "/reports/r-1"), help=TITLE)


async def test_405_keeps_allow(exercise):
    """the 405 problem keeps the Allow header that lists the route's methods"""
    response = await send(exercise.app, "DELETE", "/reports/r-1", headers=TOKEN)
    expect_problem(response, problem(405, "Method Not Allowed", "/reports/r-1"), help=TITLE)
    expect_header(response, "allow", "GET", help=HEADERS)


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [("GET", "/nowhere", 404), ("GET", "/reports/r-9", 404), ("GET", "/reports/r-1", 401)],
    ids=["unknown-route", "endpoint", "dependency"],
)
async def test_problems_are_problem_json(exercise, method, url, status):
    """every problem is sent with Content-Type application/problem+json"""
    headers = TOKEN if url == "/reports/r-9" else {}
    response = await send(exercise.app, method, url, headers=headers)
    expect_status(response, status)
    body = response_json(response)
    help = FASTAPI_SHAPE if isinstance(body, dict) and set(body) == {"detail"} else MEDIA_TYPE
    expect_header(response, "content-type", PROBLEM_JSON, help=help)


# -- any HTTPException, on an app of the checks' own ------------------------------------------


@pytest.mark.parametrize(
    ("cls", "in_dependency"),
    [(HTTPException, False), (HTTPException, True), (StarletteHTTPException, False)],
    ids=["fastapi-endpoint", "fastapi-dependency", "starlette-endpoint"],
)
@pytest.mark.parametrize(("status", "seconds"), [(429, "30"), (503, "120")], ids=["429", "503"])
async def test_retry_after_is_kept(exercise, cls, in_dependency, status, seconds):
    """a 429 or 503 is a problem that keeps its Retry-After header"""
    exc = cls(status, "Try again later.", headers={"Retry-After": seconds})
    app = app_raising(exercise, exc, in_dependency=in_dependency)
    response = await send(app, "GET", "/jobs/j-1")
    expect_problem(response, problem(status, "Try again later.", "/jobs/j-1"), help=TITLE)
    expect_header(response, "retry-after", seconds, help=HEADERS)


async def test_every_header_is_kept(exercise):
    """every header of the exception is kept, not only Allow, WWW-Authenticate and Retry-After"""
    app = app_raising(exercise, HTTPException(429, "Slow down.", headers=LIMITED))
    response = await send(app, "GET", "/jobs/j-1")
    expect_problem(response, problem(429, "Slow down.", "/jobs/j-1"), help=TITLE)
    for name, value in LIMITED.items():
        expect_header(response, name.lower(), value, help=ALL_HEADERS)


@pytest.mark.parametrize("status", [400, 403, 409, 418, 500])
async def test_title_is_the_reason_phrase(exercise, status):
    """`title` is the status's reason phrase, whatever the detail says"""
    app = app_raising(exercise, HTTPException(status, "Job j-1 is locked."))
    response = await send(app, "GET", "/jobs/j-1")
    expect_problem(response, problem(status, "Job j-1 is locked.", "/jobs/j-1"), help=TITLE)


async def test_default_detail_is_the_reason_phrase(exercise):
    """an HTTPException raised without a detail has the reason phrase as its detail"""
    app = app_raising(exercise, HTTPException(409))
    response = await send(app, "GET", "/jobs/j-1")
    expect_problem(response, problem(409, "Conflict", "/jobs/j-1"), help=TITLE)


async def test_empty_detail_is_kept(exercise):
    """an empty string is a string detail: it is kept as it is"""
    app = app_raising(exercise, HTTPException(409, ""))
    response = await send(app, "GET", "/jobs/j-1")
    expect_problem(response, problem(409, "", "/jobs/j-1"), help="Is an empty detail replaced?")


@pytest.mark.parametrize(
    "detail",
    [{"reason": "stale", "version": 3}, ["j-1", "j-2"], 0, False],
    ids=["object", "list", "zero", "false"],
)
async def test_non_string_detail_goes_into_context(exercise, detail):
    """a detail that is not a string: `detail` is the title, the value is in `context`"""
    app = app_raising(exercise, HTTPException(409, detail))
    response = await send(app, "GET", "/jobs/j-1")
    expected = problem(409, "Conflict", "/jobs/j-1", context=detail)
    expect_problem(response, expected, help=NON_STRING)


@pytest.mark.stub_may_pass("the stub's install_problem_handlers returns None already")
async def test_install_returns_none(exercise):
    """install_problem_handlers installs the handler on the app it is given and returns None"""
    returned = exercise.install_problem_handlers(FastAPI())
    expect_equal("install_problem_handlers to return", None, returned)


@pytest.mark.stub_may_pass("FastAPI's own handler already answers these with no body")
@pytest.mark.parametrize("status", [204, 205, 304])
async def test_no_body_statuses_have_no_body(exercise, status):
    """a 204, 205 or 304 is answered with no body at all, its headers kept"""
    exc = HTTPException(status, headers={"ETag": '"v7"'})
    response = await send(app_raising(exercise, exc), "GET", "/jobs/j-1")
    expect_status(response, status)
    expect_equal("body", b"", response.content, help=NO_BODY)
    expect_header(response, "etag", '"v7"', help=HEADERS)
