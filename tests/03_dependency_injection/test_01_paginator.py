"""Hidden suite for 03_dependency_injection/01_paginator: a parameterised paginator.

Every check goes through HTTP or the named `Paginator`, `Page`, `orders_paginator` and
`customers_paginator`; a check that needs a paginator of its own builds one on a fresh app.
"""

from types import ModuleType
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI

from workbook.testing import (
    Failure,
    client_for,
    expect,
    expect_equal,
    expect_json,
    expect_status,
    response_json,
)

ROUTES = {  # path -> (default limit, max limit, number of ids)
    "/orders": (20, 100, 150),
    "/customers": (10, 50, 60),
}
SHARED_HELP = (
    "Do both routes get the same bounds? FastAPI reads a dependency's parameters from its "
    "signature, and every instance shares the class's __call__: each instance needs a "
    "signature of its own."
)
CLAMPED_HELP = (
    "Is a limit above the maximum cut down to it? The contract asks for FastAPI's 422 "
    "naming the instance's maximum, so the client learns the bound."
)
HAND_MADE_HELP = (
    "Is the 422 built by hand? Let FastAPI validate the parameter (a Query with ge/le "
    "bounds): it writes every error in one body, in its own shape."
)
CONFIG_HELP = (
    "Is the configuration checked with assert, or with another exception class? Callers "
    "catch the ValueError the contract names, and python -O removes every assert."
)
INLINE_HELP = (
    "Does the route build its own Paginator inside Depends(...)? An override keyed on "
    "orders_paginator only replaces that very object: use the module-level instance "
    "through an Annotated alias."
)


async def get(app: Any, url: str) -> httpx.Response:
    async with client_for(app) as client:
        return await client.get(url)


def listing(ids: list[int], limit: int, offset: int) -> dict[str, Any]:
    return {"items": ids[offset : offset + limit], "limit": limit, "offset": offset}


def ids(path: str) -> list[int]:
    return list(range(1, ROUTES[path][2] + 1))


def bound_error(name: str, value: str, kind: str, bound: int) -> dict[str, Any]:
    words = {"ge": "greater than or equal to", "le": "less than or equal to"}
    return {
        "type": {"ge": "greater_than_equal", "le": "less_than_equal"}[kind],
        "loc": ["query", name],
        "msg": f"Input should be {words[kind]} {bound}",
        "input": value,
        "ctx": {kind: bound},
    }


def rejection_help(response: httpx.Response, wanted: str) -> str | None:
    """The question that fits a wrong answer to an out-of-range limit."""
    if response.status_code == 200:
        body = response_json(response)
        if isinstance(body, dict) and str(body.get("limit")) != wanted:
            return CLAMPED_HELP
        return SHARED_HELP
    if response.status_code == 422:
        body = response_json(response)
        if not (isinstance(body, dict) and isinstance(body.get("detail"), list)):
            return HAND_MADE_HELP
    return None


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/orders", marks=pytest.mark.stub_may_pass("the stub's default is 20")),
        "/customers",
    ],
)
async def test_default_page(exercise: ModuleType, path: str) -> None:
    """GET {path} without parameters answers the route's default page"""
    default = ROUTES[path][0]
    response = await get(exercise.app, path)
    expect_status(response, 200)
    expect_json(response, listing(ids(path), default, 0), help=SHARED_HELP)


@pytest.mark.stub_may_pass("the stub accepts any limit")
@pytest.mark.parametrize(
    ("path", "limit"),
    [("/orders", 1), ("/orders", 100), ("/customers", 1), ("/customers", 50)],
)
async def test_limit_in_range_is_accepted(exercise: ModuleType, path: str, limit: int) -> None:
    """GET {path}?limit={limit} is accepted: the bounds are inclusive"""
    response = await get(exercise.app, f"{path}?limit={limit}")
    expect_status(response, 200, help=SHARED_HELP)
    expect_json(response, listing(ids(path), limit, 0))


@pytest.mark.parametrize(
    ("path", "limit", "error"),
    [
        ("/orders", "0", bound_error("limit", "0", "ge", 1)),
        ("/orders", "101", bound_error("limit", "101", "le", 100)),
        ("/customers", "0", bound_error("limit", "0", "ge", 1)),
        ("/customers", "51", bound_error("limit", "51", "le", 50)),
        ("/customers", "100", bound_error("limit", "100", "le", 50)),
    ],
)
async def test_limit_out_of_range_is_rejected(
    exercise: ModuleType, path: str, limit: str, error: dict[str, Any]
) -> None:
    """GET {path}?limit={limit} is FastAPI's 422 naming the route's own bound"""
    response = await get(exercise.app, f"{path}?limit={limit}")
    expect_status(response, 422, help=rejection_help(response, limit))
    expect_json(response, {"detail": [error]}, help=rejection_help(response, limit))


@pytest.mark.stub_may_pass("FastAPI refuses a limit that is not an integer in the stub too")
async def test_limit_must_be_an_integer(exercise: ModuleType) -> None:
    """GET /orders?limit=ten is FastAPI's 422 for an integer it cannot parse"""
    response = await get(exercise.app, "/orders?limit=ten")
    expect_status(response, 422)
    error = {
        "type": "int_parsing",
        "loc": ["query", "limit"],
        "msg": "Input should be a valid integer, unable to parse string as an integer",
        "input": "ten",
    }
    expect_json(response, {"detail": [error]})


@pytest.mark.parametrize(
    ("path", "offset"),
    [
        *(
            pytest.param(
                "/orders", offset, marks=pytest.mark.stub_may_pass("the stub's default is 20")
            )
            for offset in (0, 7, 149)
        ),
        ("/customers", 59),
        ("/customers", 60),
    ],
)
async def test_offset_skips_items(exercise: ModuleType, path: str, offset: int) -> None:
    """GET {path}?offset={offset} starts the page at that offset (past the end: no items)"""
    default = ROUTES[path][0]
    response = await get(exercise.app, f"{path}?offset={offset}")
    expect_status(response, 200)
    expect_json(response, listing(ids(path), default, offset))


@pytest.mark.parametrize("path", ROUTES)
async def test_negative_offset_is_rejected(exercise: ModuleType, path: str) -> None:
    """GET {path}?offset=-1 is FastAPI's 422: an offset is at least 0"""
    response = await get(exercise.app, f"{path}?offset=-1")
    expect_status(response, 422)
    expect_json(response, {"detail": [bound_error("offset", "-1", "ge", 0)]})


@pytest.mark.parametrize(
    ("path", "limit", "bound"),
    [
        ("/orders", "0", ("ge", 1)),
        ("/orders", "101", ("le", 100)),
        ("/customers", "51", ("le", 50)),
    ],
)
async def test_both_errors_in_one_422(
    exercise: ModuleType, path: str, limit: str, bound: tuple[str, int]
) -> None:
    """GET {path}?limit={limit}&offset=-1 lists both errors in one 422, limit first"""
    response = await get(exercise.app, f"{path}?limit={limit}&offset=-1")
    expect_status(response, 422, help=rejection_help(response, limit))
    errors = [bound_error("limit", limit, *bound), bound_error("offset", "-1", "ge", 0)]
    expect_json(response, {"detail": errors}, help=HAND_MADE_HELP)


async def test_override_replaces_one_instance(exercise: ModuleType) -> None:
    """an override of orders_paginator changes the paging of /orders and not of /customers"""

    async def fixed_page() -> Any:
        return exercise.Page(limit=2, offset=5)

    overrides = exercise.app.dependency_overrides
    overrides[exercise.orders_paginator] = fixed_page
    try:
        orders = await get(exercise.app, "/orders")
        customers = await get(exercise.app, "/customers")
    finally:
        overrides.pop(exercise.orders_paginator, None)
    expect_status(orders, 200)
    expect_json(orders, listing(ids("/orders"), 2, 5), help=INLINE_HELP)
    expect_status(customers, 200)
    expect_json(customers, listing(ids("/customers"), 10, 0), help=SHARED_HELP)


def app_with(paginator: Any, page_type: Any) -> FastAPI:
    """A fresh app whose one route echoes the page that `paginator` hands it."""
    app = FastAPI()

    @app.get("/items")
    async def items(page: Annotated[page_type, Depends(paginator)]) -> dict[str, int]:
        return {"limit": page.limit, "offset": page.offset}

    return app


@pytest.mark.parametrize(
    ("query", "status", "expected"),
    [
        ("", 200, {"limit": 3, "offset": 0}),
        pytest.param(
            "?limit=7&offset=2",
            200,
            {"limit": 7, "offset": 2},
            marks=pytest.mark.stub_may_pass("the stub accepts any limit"),
        ),
        ("?limit=8", 422, {"detail": [bound_error("limit", "8", "le", 7)]}),
    ],
    ids=["default", "max", "past-max"],
)
async def test_any_instance_has_its_own_bounds(
    exercise: ModuleType, query: str, status: int, expected: dict[str, Any]
) -> None:
    """a Paginator(default_limit=3, max_limit=7) made by the checks pages with 3 and 7"""
    paginator = exercise.Paginator(default_limit=3, max_limit=7)
    response = await get(app_with(paginator, exercise.Page), f"/items{query}")
    expect_status(response, status, help=SHARED_HELP)
    expect_json(response, expected, help=SHARED_HELP)


@pytest.mark.parametrize(("default", "maximum"), [(1, 1), (10, 10), (1, 10)])
@pytest.mark.stub_may_pass("the stub accepts any configuration")
def test_valid_configuration_is_accepted(exercise: ModuleType, default: int, maximum: int) -> None:
    """Paginator(default_limit={default}, max_limit={maximum}) is a valid paginator"""
    try:
        exercise.Paginator(default_limit=default, max_limit=maximum)
    except ValueError as exc:
        raise Failure(f"expected a paginator, not ValueError: {exc}") from None


@pytest.mark.parametrize(("default", "maximum"), [(0, 10), (11, 10), (-1, 10)])
def test_invalid_configuration_is_refused(exercise: ModuleType, default: int, maximum: int) -> None:
    """Paginator(default_limit={default}, max_limit={maximum}) raises ValueError"""
    try:
        exercise.Paginator(default_limit=default, max_limit=maximum)
    except ValueError:
        return
    except Exception as exc:  # an assert or another class reaches the caller instead
        raise Failure(
            f"expected ValueError for a default_limit outside 1..max_limit, "
            f"not {type(exc).__name__}: {exc}",
            help=CONFIG_HELP,
        ) from None
    raise Failure(
        "expected ValueError for a default_limit outside 1..max_limit, but none was raised"
    )


async def openapi(app: Any) -> Any:
    response = await get(app, "/openapi.json")
    expect_status(response, 200)
    return response_json(response)


def parameters(document: Any, path: str) -> dict[str, dict[str, Any]]:
    try:
        listed = document["paths"][path]["get"].get("parameters", [])
        return {parameter["name"]: parameter for parameter in listed}
    except (KeyError, TypeError, AttributeError):
        raise Failure(f"expected the OpenAPI document to describe GET {path}") from None


@pytest.mark.parametrize("path", ROUTES)
async def test_openapi_documents_the_bounds(exercise: ModuleType, path: str) -> None:
    """OpenAPI lists limit and offset for {path}, optional, with the route's own bounds"""
    default, maximum, _ = ROUTES[path]
    listed = parameters(await openapi(exercise.app), path)
    expect_equal(f"query parameters of {path}", ["limit", "offset"], sorted(listed))
    expected = {
        "limit": {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
        "offset": {"type": "integer", "minimum": 0, "default": 0},
    }
    for name, schema in expected.items():
        parameter = listed[name]
        expect_equal(f"`in` of {name}", "query", parameter.get("in"))
        expect(not parameter.get("required"), f"expected {name} to be optional, not required")
        documented = {key: parameter.get("schema", {}).get(key) for key in schema}
        expect_equal(f"schema of {name} on {path}", schema, documented, help=SHARED_HELP)
