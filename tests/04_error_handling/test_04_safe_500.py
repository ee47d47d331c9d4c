"""Hidden suite for 04_error_handling/04_safe_500: unhandled errors as safe 500 problems."""

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from workbook.testing import (
    client_for,
    expect,
    expect_equal,
    expect_header,
    expect_json,
    expect_status,
    response_json,
)

LOGGER = "shop.errors"
PROBLEM_JSON = "application/problem+json"
SAFE_DETAIL = "Something went wrong on our side. Quote the correlation id if you report it."
LEAK = "SELECT card_number FROM payments WHERE owner = 'ada@example.com'"

NO_HANDLER = (
    "An error nobody handles ends in Starlette's plain-text 500: did you register a handler "
    "for Exception on the app?"
)
SAME_ID = "Is the correlation id made once per error, and that one value sent and logged?"
FRESH_ID = "Is the id made inside the handler, for each error, and not once for the whole app?"
NOT_THEIRS = (
    "Is the X-Correlation-ID the client sent reused? The id is made by the server, fresh for "
    "each error: a client must not choose what the log says."
)
TRACEBACK = (
    "Does the record's exc_info carry the traceback? Pass the exception itself "
    "(exc_info=exc): logging formats its __traceback__."
)
LEAKED = "Does the body say only what the contract says, with nothing taken from the exception?"
ONE_RECORD = (
    "Is the error logged once, with logger.error(..., exc_info=exc) or logger.exception(...), "
    "on the logger named shop.errors?"
)
EXTRA = 'Is the id also passed as extra={"correlation_id": ...}, so the record has it as a field?'
UNTOUCHED = (
    "Only errors that nothing else handles are yours: are HTTPException and the domain "
    "errors left to their own handlers?"
)


class DatabaseMeltdown(Exception):
    """An exception whose text holds what a client must never see."""


class BrokenStore:
    """A store whose every read fails, as a database that went away would."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def get(self, order_id: int) -> Any:
        raise self.error


@pytest.fixture
def app(exercise) -> Iterator[Any]:
    """The app, with every override taken away again after the test."""
    yield exercise.app
    exercise.app.dependency_overrides.clear()


def failing_in(app: Any, exercise: Any, where: str, error: Exception) -> None:
    """Make the next request raise `error`: in the endpoint, or in a dependency."""

    async def async_dependency() -> Any:
        raise error

    def sync_dependency() -> Any:
        raise error

    async def yield_dependency() -> AsyncIterator[Any]:
        raise error
        yield

    overrides = {
        "endpoint": lambda: BrokenStore(error),
        "async dependency": async_dependency,
        "sync dependency": sync_dependency,
        "yield dependency": yield_dependency,
    }
    app.dependency_overrides[exercise.get_orders] = overrides[where]


async def get(app: Any, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    async with client_for(app, lifespan=False, raise_app_exceptions=False) as client:
        return await client.get(url, headers=headers)


def logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == LOGGER]


def correlation_id(response: httpx.Response) -> str:
    """The id in the X-Correlation-ID header, checked to be a UUID4 as 32 hex digits."""
    value = response.headers.get("x-correlation-id")
    expect(value is not None, "expected an X-Correlation-ID header on the 500", help=NO_HANDLER)
    try:
        parsed = uuid.UUID(hex=value)
    except ValueError:
        parsed = None
    expect(
        parsed is not None and parsed.version == 4 and parsed.hex == value,
        f"expected the correlation id to be uuid.uuid4().hex, 32 hex digits, not {value!r}",
    )
    return value


def internal_error(instance: str, correlation_id: str) -> dict[str, Any]:
    return {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": SAFE_DETAIL,
        "instance": instance,
        "correlation_id": correlation_id,
    }


WHERE = ["endpoint", "async dependency", "sync dependency", "yield dependency"]


# -- the 500 problem -----------------------------------------------------------------------


@pytest.mark.parametrize("where", WHERE)
async def test_unhandled_error_is_a_500_problem(app, exercise, where):
    """an unhandled error, in the endpoint or in a dependency, answers the 500 problem"""
    failing_in(app, exercise, where, DatabaseMeltdown(LEAK))
    response = await get(app, "/orders/1")
    expect_status(response, 500, help=NO_HANDLER)
    expect_header(response, "content-type", PROBLEM_JSON, help=NO_HANDLER)
    expected = internal_error("/orders/1", correlation_id(response))
    expect_json(response, expected, help=SAME_ID)


async def test_instance_is_the_path_without_query(app, exercise):
    """the problem's instance is the request path, without the query string"""
    failing_in(app, exercise, "endpoint", DatabaseMeltdown(LEAK))
    response = await get(app, "/orders/42?card=4111111111111111")
    expect_status(response, 500, help=NO_HANDLER)
    expect_equal("instance", "/orders/42", response_json(response).get("instance"))


async def test_each_error_gets_a_fresh_id(app, exercise):
    """each error gets a new correlation id"""
    failing_in(app, exercise, "endpoint", DatabaseMeltdown(LEAK))
    first, second = await get(app, "/orders/1"), await get(app, "/orders/1")
    expect_status(first, 500, help=NO_HANDLER)
    ids = {correlation_id(first), correlation_id(second)}
    expect(
        len(ids) == 2, f"expected two different correlation ids, not {sorted(ids)}", help=FRESH_ID
    )


async def test_client_id_is_not_reused(app, exercise):
    """an X-Correlation-ID the client sends is not reused: the error gets a fresh id"""
    failing_in(app, exercise, "endpoint", DatabaseMeltdown(LEAK))
    theirs = uuid.uuid4().hex
    response = await get(app, "/orders/1", headers={"X-Correlation-ID": theirs})
    expect_status(response, 500, help=NO_HANDLER)
    ours = correlation_id(response)
    expect(
        ours != theirs,
        f"expected a fresh correlation id, not the client's {theirs}",
        help=NOT_THEIRS,
    )
    expect_json(response, internal_error("/orders/1", ours), help=SAME_ID)


@pytest.mark.stub_may_pass("Starlette's own plain-text 500 leaks nothing either")
@pytest.mark.parametrize("where", ["endpoint", "async dependency"])
async def test_nothing_of_the_exception_leaks(app, exercise, where):
    """no exception text, class name or traceback in the body or the headers"""
    failing_in(app, exercise, where, DatabaseMeltdown(LEAK))
    response = await get(app, "/orders/1")
    expect_status(response, 500, help=NO_HANDLER)
    seen = [("body", response.text), *response.headers.items()]
    for where_seen, text in seen:
        for secret in (LEAK, "ada@example.com", "DatabaseMeltdown", "Traceback"):
            expect(secret not in text, f"expected no {secret!r} in the {where_seen}", help=LEAKED)


# -- the log record ------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["endpoint", "yield dependency"])
async def test_one_error_record_with_the_exception(app, exercise, caplog, where):
    """each unhandled error is logged once on shop.errors, at ERROR, with its traceback"""
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    error = DatabaseMeltdown(LEAK)
    failing_in(app, exercise, where, error)
    response = await get(app, "/orders/1")
    expect_status(response, 500, help=NO_HANDLER)
    records = logged(caplog)
    expect_equal("records on shop.errors", 1, len(records), help=ONE_RECORD)
    (record,) = records
    expect_equal("level", "ERROR", record.levelname, help=ONE_RECORD)
    caught = record.exc_info[1] if record.exc_info else None
    expect(caught is error, f"expected the exception as exc_info, not {caught!r}", help=ONE_RECORD)
    logged_text = logging.Formatter().formatException(record.exc_info)
    expect(
        "Traceback (most recent call last)" in logged_text,
        f"expected the record to log the traceback, not only {logged_text!r}",
        help=TRACEBACK,
    )


async def test_log_record_carries_the_id(app, exercise, caplog):
    """the log record holds the client's correlation id, in its message and as an attribute"""
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    failing_in(app, exercise, "endpoint", DatabaseMeltdown(LEAK))
    response = await get(app, "/orders/1")
    expect_status(response, 500, help=NO_HANDLER)
    sent = correlation_id(response)
    records = logged(caplog)
    expect_equal("records on shop.errors", 1, len(records), help=ONE_RECORD)
    message = records[0].getMessage()
    expect(sent in message, f"expected the id {sent} in the log message {message!r}", help=SAME_ID)
    attribute = getattr(records[0], "correlation_id", None)
    expect_equal("the record's correlation_id", sent, attribute, help=EXTRA)


# -- everything else is left alone ---------------------------------------------------------

ARCHIVED = {
    "type": "https://example.com/problems/order-archived",
    "title": "Order archived",
    "status": 410,
    "detail": "Order 2 was archived.",
    "instance": "/orders/2",
}


@pytest.mark.stub_may_pass("the stub answers these already; the handler must not change them")
@pytest.mark.parametrize(
    ("url", "status", "content_type", "body"),
    [
        ("/orders/1", 200, "application/json", {"id": 1, "total_cents": 1250}),
        ("/orders/3", 404, "application/json", {"detail": "Order not found"}),
        ("/orders/2", 410, PROBLEM_JSON, ARCHIVED),
    ],
    ids=["found", "http-exception", "domain-error"],
)
async def test_other_answers_are_untouched(app, caplog, url, status, content_type, body):
    """other answers keep their status and body, with no correlation id and nothing logged"""
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    response = await get(app, url)
    expect_status(response, status, help=UNTOUCHED)
    expect_header(response, "content-type", content_type, help=UNTOUCHED)
    expect_json(response, body, help=UNTOUCHED)
    expect_header(response, "x-correlation-id", None, help=UNTOUCHED)
    expect_equal("records on shop.errors", 0, len(logged(caplog)), help=UNTOUCHED)


@pytest.mark.stub_may_pass("the stub answers these already; the handler must not change them")
async def test_validation_error_is_untouched(app, caplog):
    """a non-integer order id still gets FastAPI's 422, with no correlation id"""
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    response = await get(app, "/orders/one")
    expect_status(response, 422, help=UNTOUCHED)
    body = response_json(response)
    expect_equal("error types", ["int_parsing"], [e.get("type") for e in body.get("detail", [])])
    expect_header(response, "x-correlation-id", None, help=UNTOUCHED)
    expect_equal("records on shop.errors", 0, len(logged(caplog)), help=UNTOUCHED)
