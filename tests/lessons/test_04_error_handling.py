"""Every snippet of lessons/04-error-handling.md runs and does what the page says."""

import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated, Any

import aiosqlite
import httpx
import pytest
from fastapi import Cookie, Depends, FastAPI, HTTPException
from fastapi.exceptions import (
    DependencyScopeError,
    FastAPIError,
    RequestValidationError,
    ResponseValidationError,
)
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException as StarletteHTTPException

from workbook.loader import load
from workbook.testing import client_for

SNIPPETS = Path(__file__).resolve().parents[2] / "lessons" / "snippets" / "04_error_handling"
PROBLEM_JSON = "application/problem+json"
HEX_ID = re.compile(r"[0-9a-f]{32}")


def snippet(name: str) -> Any:
    return load(SNIPPETS / name)


async def call(app: Any, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request; an exception that escapes the app becomes the 500 a server sends."""
    async with client_for(app, raise_app_exceptions=False) as client:
        return await client.request(method, url, **kwargs)


# -- handler_lookup.py: which handler runs ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "text"),
    [
        ("not-found", 400, "domain handler: NotFound"),
        ("conflict", 409, "conflict handler: Conflict"),
        ("insufficient-funds", 409, "conflict handler: InsufficientFunds"),
    ],
)
async def test_the_nearest_registered_class_in_the_mro_wins(name, status, text):
    response = await call(snippet("handler_lookup.py").app, "GET", f"/raise/{name}")
    assert (response.status_code, response.text) == (status, text)


def test_the_handlers_were_registered_subclass_first():
    module = snippet("handler_lookup.py")
    classes = [key for key in module.app.exception_handlers if isinstance(key, type)]
    assert classes.index(module.Conflict) < classes.index(module.DomainError)


async def test_a_subclass_defined_later_gets_its_nearest_parents_handler():
    module = snippet("handler_lookup.py")

    class Overdrawn(module.InsufficientFunds): ...

    module.ERRORS["overdrawn"] = Overdrawn
    response = await call(module.app, "GET", "/raise/overdrawn")
    assert (response.status_code, response.text) == (409, "conflict handler: Overdrawn")


async def test_an_exception_without_a_handler_escapes_as_a_500():
    app = snippet("handler_lookup.py").app
    response = await call(app, "GET", "/raise/key-error")
    assert (response.status_code, response.text) == (500, "Internal Server Error")
    async with client_for(app) as client:
        with pytest.raises(KeyError):
            await client.get("/raise/key-error")


@pytest.mark.parametrize(
    ("url", "status", "text"),
    [
        ("/http-404", 404, "404 handler: no such order"),
        ("/no-such-route", 404, "404 handler: Not Found"),
        ("/raise/not-found", 400, "domain handler: NotFound"),  # not an HTTPException
    ],
)
async def test_a_status_code_handler_takes_http_exceptions_with_that_status(url, status, text):
    response = await call(snippet("handler_lookup.py").app, "GET", url)
    assert (response.status_code, response.text) == (status, text)


# -- problems.py: domain errors as problem details -----------------------------------------

WITHDRAWALS = "/accounts/{}/withdrawals"


@pytest.mark.parametrize(
    ("account", "amount", "status", "problem"),
    [
        (
            "acc-9",
            1,
            404,
            {
                "type": "https://bank.example/problems/not-found",
                "title": "Resource not found",
                "detail": "There is no account acc-9.",
            },
        ),
        (
            "acc-2",
            1,
            403,
            {
                "type": "https://bank.example/problems/permission-denied",
                "title": "Permission denied",
                "detail": "This account is frozen.",
            },
        ),
        (
            "acc-1",
            31,
            409,
            {
                "type": "https://bank.example/problems/insufficient-funds",
                "title": "Insufficient funds",
                "detail": "31 is more than the balance.",
                "balance": 30,
            },
        ),
    ],
)
async def test_domain_errors_become_problem_details(account, amount, status, problem):
    url = WITHDRAWALS.format(account)
    response = await call(snippet("problems.py").app, "POST", url, params={"amount": amount})
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON  # exactly: no charset
    expected = {**problem, "status": status, "instance": url}
    assert response.json() == expected
    assert list(response.json())[:5] == ["type", "title", "status", "detail", "instance"]


async def test_a_withdrawal_within_the_balance_succeeds_as_json():
    app = snippet("problems.py").app
    response = await call(app, "POST", WITHDRAWALS.format("acc-1"), params={"amount": 30})
    assert (response.status_code, response.json()) == (200, {"balance": 0})
    assert response.headers["content-type"] == "application/json"


async def test_install_problem_handlers_serves_a_subclass_defined_elsewhere():
    module = snippet("problems.py")

    class AccountClosed(module.Conflict): ...

    app = FastAPI()
    module.install_problem_handlers(app)

    @app.delete("/accounts/{account_id}")
    async def close(account_id: str) -> None:
        raise AccountClosed("Closed on 2026-03-01.")

    response = await call(app, "DELETE", "/accounts/acc-3")
    assert response.status_code == 409
    assert response.json() == {
        "type": "https://bank.example/problems/conflict",
        "title": "The request conflicts with the resource's state",
        "status": 409,
        "detail": "Closed on 2026-03-01.",
        "instance": "/accounts/acc-3",
    }


async def test_the_domain_handler_leaves_fastapis_422_alone():
    app = snippet("problems.py").app
    response = await call(app, "POST", WITHDRAWALS.format("acc-1"), params={"amount": 0})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    assert response.json()["detail"][0]["loc"] == ["query", "amount"]


# -- validation_problems.py: a reshaped RequestValidationError ------------------------------

TRANSFERS = "/accounts/7/transfers"
KEY = {"x-idempotency-key": "k-123456"}
INVALID = {
    "type": "https://bank.example/problems/invalid-request",
    "title": "The request is not valid",
    "status": 422,
    "detail": "See errors for each value that was refused.",
}


async def invalid(url: str, **kwargs: Any) -> list[dict[str, str]]:
    response = await call(snippet("validation_problems.py").app, "POST", url, **kwargs)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body == {**INVALID, "instance": url, "errors": body["errors"]}
    return body["errors"]


async def test_each_refused_value_is_one_error_with_pointer_type_and_message():
    errors = await invalid(
        TRANSFERS, json={"amount": -5, "labels": {"cost/centre": 7}}, headers=KEY
    )
    assert errors == [
        {"pointer": "/body/to", "type": "missing", "message": "Field required"},
        {
            "pointer": "/body/amount",
            "type": "greater_than",
            "message": "Input should be greater than 0",
        },
        {
            "pointer": "/body/labels/cost~1centre",
            "type": "string_type",
            "message": "Input should be a valid string",
        },
    ]


def test_the_pointer_escapes_tilde_before_slash():
    pointer = snippet("validation_problems.py").pointer
    assert pointer(("body", "labels", "~/")) == "/body/labels/~0~1"
    assert pointer(("body", "items", 0)) == "/body/items/0"


async def test_errors_come_path_query_header_then_body():
    errors = await invalid(
        "/accounts/x/transfers",
        params={"dry_run": "maybe"},
        json={"to": "bob", "amount": "lots"},
        headers={"x-idempotency-key": "short"},
    )
    assert [(e["pointer"], e["type"]) for e in errors] == [
        ("/path/account_id", "int_parsing"),
        ("/query/dry_run", "bool_parsing"),
        ("/header/x-idempotency-key", "string_too_short"),
        ("/body/amount", "int_parsing"),
    ]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        (
            {"content": b'{"to": ', "headers": {**KEY, "content-type": "application/json"}},
            {"pointer": "/body", "type": "json_invalid", "message": "JSON decode error"},
        ),
        ({"headers": KEY}, {"pointer": "/body", "type": "missing", "message": "Field required"}),
    ],
)
async def test_broken_or_missing_json_is_a_problem_at_the_body(kwargs, error):
    assert await invalid(TRANSFERS, **kwargs) == [error]


async def test_the_problem_never_echoes_what_was_sent():
    response = await call(
        snippet("validation_problems.py").app,
        "POST",
        TRANSFERS,
        json={"to": "bob", "amount": "hunter2-secret", "labels": {"pin": 1234}},
        headers={"x-idempotency-key": "sk_live"},
    )
    assert response.status_code == 422
    for sent in ("hunter2-secret", "1234", "sk_live", "bob"):
        assert sent not in response.text


async def test_str_of_the_exception_holds_every_input_and_the_endpoints_file():
    module = snippet("validation_problems.py")
    seen: list[str] = []

    async def spy(request: Any, exc: RequestValidationError) -> Any:
        seen.append(str(exc))
        return await module.validation_problem(request, exc)

    app = FastAPI()
    app.add_exception_handler(RequestValidationError, spy)
    app.post("/accounts/{account_id}/transfers")(module.create_transfer)
    body = {"to": "bob", "amount": "hunter2-secret"}
    response = await call(app, "POST", TRANSFERS, json=body, headers=KEY)
    assert response.status_code == 422
    assert "'input': 'hunter2-secret'" in seen[0]
    assert re.search(r'File ".*validation_problems\.py", line \d+, in create_transfer', seen[0])


async def test_a_dependencys_parameters_are_checked_before_the_endpoints_own():
    module = snippet("validation_problems.py")

    async def page(page: int) -> int:
        return page

    app = FastAPI()
    app.add_exception_handler(RequestValidationError, module.validation_problem)

    @app.post("/items/{item_id}")
    async def endpoint(
        item_id: int,
        limit: int,
        session: Annotated[int, Cookie()],
        transfer: module.Transfer,
        page: Annotated[int, Depends(page)],
    ) -> None: ...

    response = await call(app, "POST", "/items/x", params={"limit": "y", "page": "z"})
    errors = response.json()["errors"]
    assert [e["pointer"] for e in errors] == [
        "/query/page",
        "/path/item_id",
        "/query/limit",
        "/cookie/session",
        "/body",
    ]


def test_openapi_still_documents_fastapis_422_shape():
    document = snippet("validation_problems.py").app.openapi()
    responses = document["paths"][TRANSFERS.replace("7", "{account_id}")]["post"]["responses"]
    schema = responses["422"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/HTTPValidationError"}


# -- http_problems.py: one envelope for HTTP errors ----------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "status", "detail", "headers"),
    [
        ("GET", "/orders/8", 404, "There is no order 8.", {}),
        ("GET", "/no-such-route", 404, "Not Found", {}),
        ("GET", "/orders", 405, "Method Not Allowed", {"allow": "POST"}),
        ("PUT", "/orders/7", 405, "Method Not Allowed", {"allow": "GET"}),  # not DELETE
        ("GET", "/me", 401, "Not authenticated", {"www-authenticate": "Bearer"}),
        ("GET", "/reports", 503, "Reports are being rebuilt.", {"retry-after": "120"}),
    ],
)
async def test_http_errors_share_the_problem_envelope_and_keep_their_headers(
    method, url, status, detail, headers
):
    response = await call(snippet("http_problems.py").app, method, url)
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON
    titles = {401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed"}
    titles |= {503: "Service Unavailable"}
    assert response.json() == {
        "type": "about:blank",
        "title": titles[status],
        "status": status,
        "detail": detail,
        "instance": url,
    }
    for name, value in headers.items():
        assert response.headers[name] == value


async def test_a_detail_that_is_not_a_string_moves_to_the_context_member():
    response = await call(snippet("http_problems.py").app, "DELETE", "/orders/7")
    assert response.status_code == 409
    assert response.json() == {
        "type": "about:blank",
        "title": "Conflict",
        "status": 409,
        "detail": "Conflict",
        "instance": "/orders/7",
        "context": {"reason": "shipped", "order": 7},
    }


async def test_the_http_handler_does_not_touch_validation_errors():
    response = await call(snippet("http_problems.py").app, "GET", "/orders/x")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"


async def test_a_found_order_is_plain_json():
    response = await call(snippet("http_problems.py").app, "GET", "/orders/7")
    assert (response.status_code, response.json()) == (200, {"id": 7, "total": 40})


@pytest.mark.parametrize("status", [204, 205, 304])
async def test_a_status_without_content_has_no_body_and_keeps_its_headers(status):
    app = FastAPI()
    app.add_exception_handler(StarletteHTTPException, snippet("http_problems.py").http_problem)

    @app.get("/orders/{order_id}")
    async def read_order(order_id: int) -> None:
        raise HTTPException(status, headers={"ETag": '"v7"'})

    response = await call(app, "GET", "/orders/7")
    assert (response.status_code, response.content) == (status, b"")
    assert response.headers["etag"] == '"v7"'
    assert "content-type" not in response.headers


def test_fastapis_http_exception_is_a_subclass_of_starlettes():
    assert issubclass(HTTPException, StarletteHTTPException)
    assert not issubclass(StarletteHTTPException, HTTPException)


async def test_a_handler_for_fastapis_class_misses_routing_errors():
    app = snippet("wrong_http_class.py").app
    raised = await call(app, "GET", "/orders/8")
    assert (raised.status_code, raised.headers["content-type"]) == (404, PROBLEM_JSON)
    assert raised.json() == {"status": 404, "detail": "There is no order 8."}
    unknown = await call(app, "GET", "/no-such-route")
    assert unknown.headers["content-type"] == "application/json"
    assert unknown.json() == {"detail": "Not Found"}
    wrong_method = await call(app, "POST", "/orders/8")
    assert wrong_method.json() == {"detail": "Method Not Allowed"}
    assert wrong_method.headers["allow"] == "GET"


# -- safe_500.py: an unhandled error becomes a safe problem ---------------------------------

LEAKS = ("hunter2", "SELECT", "reports_2026", "rates.internal", "Traceback", "None", "Error:")


@pytest.mark.parametrize(
    ("url", "exception"),
    [
        ("/reports/2026", sqlite3.OperationalError),  # in the endpoint
        ("/rates", ConnectionError),  # in a dependency
        ("/accounts/acc-1", ResponseValidationError),  # the endpoint returned bad data
    ],
)
async def test_an_unhandled_error_is_a_500_problem_with_a_logged_correlation_id(
    url, exception, caplog
):
    caplog.set_level(logging.ERROR, logger="bank.errors")
    response = await call(snippet("safe_500.py").app, "GET", url)
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    correlation_id = body["correlation_id"]
    assert HEX_ID.fullmatch(correlation_id)
    assert response.headers["x-correlation-id"] == correlation_id
    assert body == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "Something went wrong on our side. Quote the correlation id if you report it.",
        "instance": url,
        "correlation_id": correlation_id,
    }
    for leak in LEAKS:
        assert leak not in response.text
    [record] = [r for r in caplog.records if r.name == "bank.errors"]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == f"unhandled error {correlation_id} on GET {url}"
    assert record.correlation_id == correlation_id
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], exception)


async def test_each_500_gets_its_own_correlation_id():
    app = snippet("safe_500.py").app
    first, second = [await call(app, "GET", "/rates") for _ in range(2)]
    assert first.json()["correlation_id"] != second.json()["correlation_id"]


def test_a_response_validation_error_is_not_a_request_validation_error():
    assert not issubclass(ResponseValidationError, RequestValidationError)


async def test_the_handler_runs_and_then_the_exception_is_raised_again(caplog):
    caplog.set_level(logging.ERROR, logger="bank.errors")
    async with client_for(snippet("safe_500.py").app) as client:  # raise_app_exceptions=True
        with pytest.raises(sqlite3.OperationalError):
            await client.get("/reports/2026")
    assert [r.name for r in caplog.records] == ["bank.errors"]


async def test_logger_exception_in_a_def_handler_logs_no_exception(caplog):
    caplog.set_level(logging.ERROR, logger="bank.sync")
    response = await call(snippet("sync_handler.py").app, "GET", "/boom")
    assert response.status_code == 500
    [record] = caplog.records
    assert record.exc_info == (None, None, None)
    assert caplog.text.rstrip().endswith("NoneType: None")


def test_testclient_raises_unless_told_otherwise():
    app = snippet("safe_500.py").app
    with TestClient(app) as client, pytest.raises(ConnectionError):
        client.get("/rates")
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/rates")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON


async def test_a_real_server_logs_the_reraised_exception_a_second_time(caplog, real_server):
    caplog.set_level(logging.INFO)
    app = snippet("safe_500.py").app
    async with real_server(app, access_log=False) as client:
        response = await client.get("/reports/2026")
    assert response.status_code == 500
    correlation_id = response.json()["correlation_id"]
    errors = [(r.name, r.getMessage()) for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [
        ("bank.errors", f"unhandled error {correlation_id} on GET /reports/2026"),
        ("uvicorn.error", "Exception in ASGI application\n"),
    ]


# -- outside_middleware.py and debug_traceback.py: what the 500 handler does not get ----------


async def test_the_500_does_not_pass_through_user_middleware():
    app = snippet("outside_middleware.py").app
    ok, missing, boom = [await call(app, "GET", url) for url in ("/ok", "/nope", "/boom")]
    assert ok.headers["x-served-by"] == "api-1"
    assert missing.headers["x-served-by"] == "api-1"  # 404: handled inside the middleware
    assert boom.status_code == 500
    assert "x-served-by" not in boom.headers


async def test_debug_mode_answers_with_a_traceback_instead_of_the_handler():
    response = await call(snippet("debug_traceback.py").app, "GET", "/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text.startswith("Traceback (most recent call last):")
    assert "RuntimeError: password=hunter2 rejected by the ledger" in response.text


# -- error_timeline.py: what runs before and after the response ------------------------------


@pytest.mark.parametrize(
    ("url", "events"),
    [
        (
            "/ok",
            [
                "request-scoped dependency: enter",
                "function-scoped dependency: enter",
                "endpoint returns",
                "function-scoped dependency: exit",
                "response sent: 200",
                "request-scoped dependency: exit",
            ],
        ),
        (
            "/refused",
            [
                "request-scoped dependency: enter",
                "function-scoped dependency: enter",
                "endpoint raises Refused",
                "function-scoped dependency: sees Refused",
                "request-scoped dependency: sees Refused",
                "exception handler",
                "response sent: 409",
            ],
        ),
    ],
)
async def test_the_order_of_teardown_handler_and_response(url, events):
    module = snippet("error_timeline.py")
    module.events.clear()
    async with client_for(module.app, lifespan=False) as client:
        await client.get(url)
    assert module.events == events


# -- unit_of_work.py and late_commit.py: commit, rollback, and when -------------------------


@pytest.fixture
async def database(tmp_path: Path) -> Path:
    path = tmp_path / "bank.sqlite3"
    async with aiosqlite.connect(path) as db:
        await db.executescript(snippet("unit_of_work.py").SCHEMA)
        await db.execute("INSERT INTO accounts VALUES ('alice', 100), ('bob', 0)")
        await db.commit()
    return path


@pytest.fixture
def bank(database: Path) -> Iterator[Any]:
    module = snippet("unit_of_work.py")
    module.app.dependency_overrides[module.database_path] = lambda: str(database)
    yield module.app
    module.app.dependency_overrides.clear()


@pytest.fixture
def late(database: Path) -> Iterator[Any]:
    module = snippet("late_commit.py")
    module.app.dependency_overrides[module.database_path] = lambda: str(database)
    yield module.app
    module.app.dependency_overrides.clear()


def rows(database: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(database) as connection:
        return connection.execute(query).fetchall()


BALANCES = "SELECT id, balance FROM accounts ORDER BY id"


async def test_a_transfer_that_succeeds_is_committed(bank, database):
    transfer = {"source": "alice", "target": "bob", "amount": 30}
    response = await call(bank, "POST", "/transfers", json=transfer)
    assert (response.status_code, response.json()) == (201, transfer)
    assert rows(database, BALANCES) == [("alice", 70), ("bob", 30)]
    assert (await call(bank, "GET", "/accounts/bob")).json() == {"balance": 30}


async def test_a_domain_error_after_the_debit_rolls_the_debit_back(bank, database):
    transfer = {"source": "alice", "target": "carol", "amount": 30}
    response = await call(bank, "POST", "/transfers", json=transfer)
    assert response.status_code == 404
    assert response.json() == {
        "type": "https://bank.example/problems/unknown-account",
        "title": "Unknown account",
        "status": 404,
        "detail": "There is no account carol.",
        "instance": "/transfers",
    }
    assert rows(database, BALANCES) == [("alice", 100), ("bob", 0)]


async def test_an_unhandled_error_rolls_back_and_reaches_the_server(bank, database):
    transfer = {"source": "alice", "target": "bob", "amount": 101}
    response = await call(bank, "POST", "/transfers", json=transfer)
    assert response.status_code == 500
    async with client_for(bank) as client:
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
            await client.post("/transfers", json=transfer)
    assert rows(database, BALANCES) == [("alice", 100), ("bob", 0)]


async def test_a_failed_commit_is_a_500_when_the_dependency_is_function_scoped(bank, database):
    stored = await call(bank, "POST", "/accounts/alice/notes", params={"text": "vip"})
    assert stored.status_code == 201
    refused = await call(bank, "POST", "/accounts/nobody/notes", params={"text": "ghost"})
    assert refused.status_code == 500
    async with client_for(bank) as client:
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY constraint failed"):
            await client.post("/accounts/nobody/notes", params={"text": "ghost"})
    assert rows(database, "SELECT * FROM notes") == [("alice", "vip")]


async def test_a_failed_late_commit_is_reported_as_success(late, database):
    response = await call(late, "POST", "/accounts/nobody/notes", params={"text": "ghost"})
    assert (response.status_code, response.json()) == (201, {"account": "nobody", "text": "ghost"})
    assert rows(database, "SELECT * FROM notes") == []


async def test_a_handler_for_the_late_error_cannot_answer_any_more(late, database):
    async with client_for(late) as client:
        with pytest.raises(RuntimeError, match="response already started") as caught:
            await client.post("/accounts/nobody/notes", params={"text": "ghost"})
    assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)
    ok = await call(late, "POST", "/accounts/alice/notes", params={"text": "vip"})
    assert ok.status_code == 201
    assert rows(database, "SELECT * FROM notes") == [("alice", "vip")]


async def test_writes_left_on_a_shared_connection_are_committed_by_the_next_user(database):
    async with aiosqlite.connect(database) as shared:  # as a pool would hand it out twice
        await shared.execute("UPDATE accounts SET balance = 0 WHERE id = 'alice'")  # no rollback
        await shared.execute("UPDATE accounts SET balance = 1 WHERE id = 'bob'")
        await shared.commit()  # the second request's commit
    assert rows(database, BALANCES) == [("alice", 0), ("bob", 1)]


def test_a_request_scoped_yield_dependency_cannot_use_a_function_scoped_one():
    module = snippet("unit_of_work.py")

    async def audit(db: module.UnitOfWork) -> AsyncIterator[None]:
        yield

    async def endpoint(audited: Annotated[None, Depends(audit)]) -> None: ...

    with pytest.raises(DependencyScopeError, match='"audit" has a scope of "request"'):
        FastAPI().get("/")(endpoint)


async def test_a_plain_dependency_may_use_the_function_scoped_unit_of_work(bank):
    module = snippet("unit_of_work.py")

    async def alice_balance(db: module.UnitOfWork) -> int:
        async with db.execute("SELECT balance FROM accounts WHERE id = 'alice'") as cursor:
            return (await cursor.fetchone())[0]

    app = FastAPI()
    app.dependency_overrides = bank.dependency_overrides

    @app.get("/alice")
    async def endpoint(balance: Annotated[int, Depends(alice_balance)]) -> int:
        return balance

    assert (await call(app, "GET", "/alice")).json() == 100


# -- broken_stream.py: an error after the first byte ---------------------------------------


async def test_an_error_mid_stream_cannot_become_a_500():
    module = snippet("broken_stream.py")
    module.handled.clear()
    response = await call(module.app, "GET", "/export.csv")
    assert response.status_code == 200
    assert response.text == "id,amount\n1,40\n"  # cut short, and nothing says so
    assert module.handled == ["ConnectionError"]


async def test_with_function_scope_an_integrity_error_handler_can_still_answer(bank, database):
    module = snippet("unit_of_work.py")
    app = FastAPI()
    app.dependency_overrides = bank.dependency_overrides

    @app.exception_handler(sqlite3.IntegrityError)
    async def conflict(request: Any, exc: sqlite3.IntegrityError) -> Any:
        return JSONResponse({"title": "Conflict", "status": 409}, status_code=409)

    app.post("/accounts/{account_id}/notes", status_code=201)(module.add_note)
    response = await call(app, "POST", "/accounts/nobody/notes", params={"text": "ghost"})
    assert (response.status_code, response.json()) == (409, {"title": "Conflict", "status": 409})
    assert rows(database, "SELECT * FROM notes") == []


# -- swallowed.py: a unit of work that forgets to raise again --------------------------------


@pytest.mark.parametrize("url", ["/transfers", "/transfers/request-scoped"])
async def test_a_swallowed_exception_is_a_500_not_the_handlers_answer(url):
    module = snippet("swallowed.py")
    module.rolled_back.clear()
    response = await call(module.app, "POST", url)
    assert (response.status_code, response.text) == (500, "Internal Server Error")
    assert module.rolled_back == ["TransferRefused"]


@pytest.mark.parametrize(
    ("url", "exception", "message"),
    [
        ("/transfers/request-scoped", FastAPIError, "Response not awaited"),
        ("/transfers", UnboundLocalError, "cannot access local variable 'response'"),
    ],
)
async def test_what_reaches_the_server_when_the_exception_was_swallowed(url, exception, message):
    async with client_for(snippet("swallowed.py").app) as client:
        with pytest.raises(exception, match=message):
            await client.post(url)
