"""Hidden suite for 04_error_handling/01_domain_problems: domain errors as problem details."""

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException

from workbook.testing import (
    Failure,
    client_for,
    expect_equal,
    expect_header,
    expect_json,
    expect_status,
    response_json,
)

BASE = "https://example.com/problems/"
PROBLEM_JSON = "application/problem+json"
WITHDRAWALS = "/accounts/{}/withdrawals"
TELLER = {"X-Role": "teller"}

UNHANDLED = (
    "A 500 means the exception reached no handler: does install_problem_handlers register "
    "a handler that covers this class?"
)
NEAREST = (
    "Is the mapping looked up by the exception's exact class? A subclass nobody mapped gets "
    "the problem of its nearest mapped ancestor (walk type(exc).__mro__, or register a "
    "handler per mapped class and let Starlette walk it)."
)
STR_EXC = (
    "Is `detail` taken from str(exc)? The message is written for the logs; the problem's "
    "detail is the exception's `detail` attribute."
)
DEEPER = (
    "Is the mapping looked up on the class and its direct parent only? The nearest mapped "
    "ancestor may be further up: walk the whole of type(exc).__mro__."
)
BALANCE_ONLY = (
    "Is `balance` added to InsufficientFunds problems only (isinstance), or to any exception "
    "that has a balance attribute?"
)
GOES_ON = (
    "The client got the problem, but the exception went on to the server as well: is the "
    "handler registered for Exception? Starlette sends what a handler for Exception answers "
    "and then raises the exception again; register the handler for DomainError."
)
ONLY_DOMAIN = (
    "Is a handler registered for Exception? Only domain errors are mapped: any other "
    "exception is left to Starlette, whose 500 is plain text."
)
INSTANCE = "Is `instance` the path only? request.url holds the scheme, host and query string too."
MEDIA_TYPE = "JSONResponse sends application/json unless it is given another media_type."

# (class name in the exercise, status, type slug, title)
MAPPED = {
    "DomainError": (400, "rule-violated", "Business rule violated"),
    "NotFound": (404, "not-found", "Resource not found"),
    "Conflict": (409, "conflict", "Conflict with the current state"),
    "InsufficientFunds": (409, "insufficient-funds", "Insufficient funds"),
    "PermissionDenied": (403, "permission-denied", "Permission denied"),
}


def problem(name: str, detail: str, instance: str, **extensions: Any) -> dict[str, Any]:
    status, slug, title = MAPPED[name]
    body = {
        "type": BASE + slug,
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
    """The status, then the whole body; a known mistake gets its question."""
    expect_status(
        response, expected["status"], help=UNHANDLED if response.is_server_error else help
    )
    body = response_json(response)
    if isinstance(body, dict) and body.get("detail") != expected["detail"]:
        help = STR_EXC
    expect_json(response, expected, help=help)


@pytest.fixture(autouse=True)
def accounts(exercise: ModuleType) -> Iterator[dict[str, int]]:
    """The exercise's ACCOUNTS, restored after each check (withdrawals change it)."""
    saved = dict(exercise.ACCOUNTS)
    yield exercise.ACCOUNTS
    exercise.ACCOUNTS.clear()
    exercise.ACCOUNTS.update(saved)


def app_raising(exercise: ModuleType, exc: Exception) -> FastAPI:
    """A new app with the exercise's handlers installed and one route that raises ``exc``."""
    app = FastAPI()
    exercise.install_problem_handlers(app)

    @app.get("/cards/{card_id}")
    async def read_card(card_id: str) -> None:
        raise exc

    return app


def domain_error(exercise: ModuleType, name: str, generations: int, **fields: Any) -> Exception:
    """An instance of the exercise's class ``name``, or of a descendant defined only here.

    ``generations`` is how far below ``name`` the class is: 0 is ``name`` itself, 1 a
    subclass, 2 a subclass of a subclass.
    """
    cls = getattr(exercise, name)
    for generation in range(generations):
        cls = type(f"Custom{name}{generation}", (cls,), {})
    return cls(f"internal: {name} for card c-7 (row 812)", detail=f"{name} for card c-7.", **fields)


# -- the exercise's own app -----------------------------------------------------------------


@pytest.mark.stub_may_pass("the stub serves existing accounts already")
async def test_existing_account_is_served(exercise):
    """an existing account is answered 200 with its balance"""
    response = await send(exercise.app, "GET", "/accounts/acc-1")
    expect_status(response, 200)
    expect_json(response, {"id": "acc-1", "balance": 5000})


async def test_unknown_account_is_a_404_problem(exercise):
    """an unknown account (NotFound, raised in a dependency) is a 404 not-found problem"""
    response = await send(exercise.app, "GET", "/accounts/acc-9")
    expected = problem("NotFound", "Account acc-9 does not exist.", "/accounts/acc-9")
    expect_problem(response, expected, help=STR_EXC)


async def test_instance_is_the_path_without_query_string(exercise):
    """`instance` is the request path, without the query string"""
    response = await send(exercise.app, "GET", "/accounts/acc-9", params={"verbose": "1"})
    expected = problem("NotFound", "Account acc-9 does not exist.", "/accounts/acc-9")
    expect_problem(response, expected, help=INSTANCE)


@pytest.mark.parametrize(
    "headers", [{}, {"X-Role": ""}, {"X-Role": "clerk"}], ids=["no-role", "empty", "clerk"]
)
async def test_only_tellers_withdraw(exercise, headers):
    """a withdrawal by anyone but a teller is a 403 permission-denied problem"""
    url = WITHDRAWALS.format("acc-1")
    response = await send(exercise.app, "POST", url, json={"amount": 1}, headers=headers)
    expected = problem("PermissionDenied", "Only tellers may withdraw.", url)
    expect_problem(response, expected, help=STR_EXC)


@pytest.mark.stub_may_pass("the stub serves withdrawals already")
@pytest.mark.parametrize(
    ("account", "amount", "left"),
    [("acc-1", 1, 4999), ("acc-2", 250, 0)],
    ids=["one-cent", "whole-balance"],
)
async def test_withdrawal_within_balance_is_served(exercise, account, amount, left):
    """a teller's withdrawal up to the whole balance is served and lowers the balance"""
    url = WITHDRAWALS.format(account)
    response = await send(exercise.app, "POST", url, json={"amount": amount}, headers=TELLER)
    expect_status(response, 200)
    expect_json(response, {"id": account, "balance": left})
    response = await send(exercise.app, "GET", f"/accounts/{account}")
    expect_json(response, {"id": account, "balance": left})


async def test_withdrawal_above_balance_is_insufficient_funds(exercise):
    """one cent more than the balance is a 409 insufficient-funds problem with `balance`"""
    url = WITHDRAWALS.format("acc-2")
    response = await send(exercise.app, "POST", url, json={"amount": 251}, headers=TELLER)
    detail = "Account acc-2 cannot cover this withdrawal."
    expected = problem("InsufficientFunds", detail, url, balance=250)
    expect_problem(response, expected, help="Does an InsufficientFunds problem carry `balance`?")


async def test_teller_check_comes_before_the_account(exercise):
    """a non-teller withdrawing from an unknown account gets the 403, not the 404"""
    url = WITHDRAWALS.format("acc-9")
    response = await send(exercise.app, "POST", url, json={"amount": 1})
    expected = problem("PermissionDenied", "Only tellers may withdraw.", url)
    expect_problem(response, expected, help=STR_EXC)


async def test_unknown_account_comes_before_the_body(exercise):
    """a teller's withdrawal from an unknown account gets the 404, even with an invalid amount"""
    url = WITHDRAWALS.format("acc-9")
    response = await send(exercise.app, "POST", url, json={"amount": 0}, headers=TELLER)
    expected = problem("NotFound", "Account acc-9 does not exist.", url)
    expect_problem(response, expected, help=STR_EXC)


# -- the mapping, installed on any app ------------------------------------------------------


@pytest.mark.parametrize("name", ["NotFound", "Conflict", "PermissionDenied", "DomainError"])
async def test_each_class_has_its_problem(exercise, name):
    """each domain error class is answered with its own status, type and title"""
    app = app_raising(exercise, domain_error(exercise, name, generations=0))
    response = await send(app, "GET", "/cards/c-7")
    expect_problem(response, problem(name, f"{name} for card c-7.", "/cards/c-7"), help=STR_EXC)


async def test_insufficient_funds_has_its_problem_and_balance(exercise):
    """InsufficientFunds is a 409 insufficient-funds problem carrying `balance`, even 0"""
    exc = domain_error(exercise, "InsufficientFunds", generations=0, balance=0)
    response = await send(app_raising(exercise, exc), "GET", "/cards/c-7")
    detail = "InsufficientFunds for card c-7."
    expected = problem("InsufficientFunds", detail, "/cards/c-7", balance=0)
    expect_problem(response, expected, help="Does an InsufficientFunds problem carry `balance`?")


@pytest.mark.parametrize("name", list(MAPPED))
async def test_subclass_gets_its_parents_problem(exercise, name):
    """a subclass defined later, and mapped nowhere, gets its nearest mapped ancestor's problem"""
    fields = {"balance": 75} if name == "InsufficientFunds" else {}
    exc = domain_error(exercise, name, generations=1, **fields)
    response = await send(app_raising(exercise, exc), "GET", "/cards/c-7")
    expected = problem(name, f"{name} for card c-7.", "/cards/c-7", **fields)
    expect_problem(response, expected, help=NEAREST)


@pytest.mark.parametrize("name", list(MAPPED))
async def test_deeper_subclass_gets_its_ancestors_problem(exercise, name):
    """a subclass of a subclass, mapped nowhere, gets its nearest mapped ancestor's problem too"""
    fields = {"balance": 75} if name == "InsufficientFunds" else {}
    exc = domain_error(exercise, name, generations=2, **fields)
    response = await send(app_raising(exercise, exc), "GET", "/cards/c-7")
    expected = problem(name, f"{name} for card c-7.", "/cards/c-7", **fields)
    expect_problem(response, expected, help=DEEPER)


@pytest.mark.parametrize("name", ["NotFound", "DomainError"])
async def test_only_insufficient_funds_has_balance(exercise, name):
    """another domain error has no `balance` member, even when it has a balance attribute"""
    exc = domain_error(exercise, name, generations=1)
    exc.balance = 75  # type: ignore[attr-defined]
    response = await send(app_raising(exercise, exc), "GET", "/cards/c-7")
    expected = problem(name, f"{name} for card c-7.", "/cards/c-7")
    expect_problem(response, expected, help=BALANCE_ONLY)


async def test_domain_error_ends_at_its_handler(exercise):
    """a domain error ends at its handler: it does not go on to the server as well"""
    app = app_raising(exercise, domain_error(exercise, "NotFound", generations=0))
    expected = problem("NotFound", "NotFound for card c-7.", "/cards/c-7")
    expect_problem(await send(app, "GET", "/cards/c-7"), expected, help=STR_EXC)
    async with client_for(app) as client:  # the app's exceptions reach this client
        try:
            await client.get("/cards/c-7")
        except Exception as error:
            message = f"expected {error!r} to end at its handler, not to go on to the server"
            raise Failure(message, help=GOES_ON) from None


@pytest.mark.parametrize(
    ("name", "fields"),
    [("NotFound", {}), ("InsufficientFunds", {"balance": 75})],
    ids=["not-found", "insufficient-funds"],
)
async def test_problems_are_problem_json(exercise, name, fields):
    """every problem is sent with Content-Type application/problem+json"""
    exc = domain_error(exercise, name, generations=0, **fields)
    response = await send(app_raising(exercise, exc), "GET", "/cards/c-7")
    expect_status(response, MAPPED[name][0], help=UNHANDLED)
    expect_header(response, "content-type", PROBLEM_JSON, help=MEDIA_TYPE)


@pytest.mark.stub_may_pass("without handlers, other exceptions keep their default handling")
async def test_other_exceptions_are_left_alone(exercise):
    """an HTTPException keeps FastAPI's own answer, and any other exception stays a 500"""
    response = await send(
        app_raising(exercise, HTTPException(418, "No coffee.")), "GET", "/cards/x"
    )
    expect_status(response, 418)
    expect_header(response, "content-type", "application/json")
    expect_json(response, {"detail": "No coffee."})
    response = await send(app_raising(exercise, ValueError("boom")), "GET", "/cards/x")
    expect_status(response, 500, help=ONLY_DOMAIN)
    expect_header(response, "content-type", "text/plain; charset=utf-8", help=ONLY_DOMAIN)
    expect_equal("body", "Internal Server Error", response.text, help=ONLY_DOMAIN)


@pytest.mark.stub_may_pass("the stub's install_problem_handlers returns None already")
async def test_install_returns_none(exercise):
    """install_problem_handlers installs the mapping on the app it is given and returns None"""
    returned = exercise.install_problem_handlers(FastAPI())
    expect_equal("install_problem_handlers to return", None, returned)
