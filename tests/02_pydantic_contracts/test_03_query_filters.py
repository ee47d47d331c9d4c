"""Hidden suite for 02_pydantic_contracts/03_query_filters: a strict query-parameter model."""

from typing import Any

import pytest

from workbook.testing import (
    Failure,
    client_for,
    expect,
    expect_equal,
    expect_json,
    expect_status,
    response_json,
)

FILTERS = ["category", "tag", "max_price", "sort", "limit", "offset"]

NOT_A_QUERY_MODEL = (
    "Is the model declared as `Annotated[Filters, Query()]`? Without Query() FastAPI reads "
    "a model from the body, and Depends() ignores parameters it does not know."
)
EXTRA_ALLOWED = (
    "Does the model's config forbid extra fields, and is the model a Query() parameter? "
    "Depends() only looks for the parameters the model declares."
)


async def get(app: Any, query: str) -> Any:
    async with client_for(app) as client:
        return await client.get(f"/products{query}")


def names(response: Any) -> list[Any]:
    body = response_json(response)
    if not isinstance(body, list):
        raise Failure(f"expected a JSON list of products, not {body!r}")
    return [product.get("name") if isinstance(product, dict) else product for product in body]


def body_help(response: Any) -> str | None:
    """The question that fits a 422 saying the body is missing: the model is read as a body."""
    body = response_json(response) if response.status_code == 422 else None
    errors = body.get("detail") if isinstance(body, dict) else None
    if any(isinstance(e, dict) and e.get("loc") == ["body"] for e in errors or []):
        return NOT_A_QUERY_MODEL
    return None


async def test_defaults_are_the_first_ten_by_name(exercise):
    """without filters: the first 10 products, sorted by name"""
    response = await get(exercise.app, "")
    expect_status(response, 200, help=body_help(response))
    expected = [
        "Azul",
        "Blue Train",
        "Catan",
        "Chess",
        "Dune",
        "Emma",
        "Go",
        "Hanabi",
        "Kind of Blue",
        "Neuromancer",
    ]
    expect_equal("product names", expected, names(response))


async def test_filters_combine(exercise):
    """category, repeated tag and max_price filters all apply together"""
    query = "?category=games&tag=strategy&tag=abstract&max_price=2999"
    response = await get(exercise.app, query)
    expect_status(response, 200, help=body_help(response))
    tag_lost = names(response) == ["Chess", "Go", "Hanabi"]
    help = NOT_A_QUERY_MODEL if tag_lost else None
    expect_equal(f"product names for {query}", ["Chess", "Go"], names(response), help=help)


async def test_sort_by_price(exercise):
    """sort=price lists the cheapest products first"""
    response = await get(exercise.app, "?sort=price&limit=3")
    expect_status(response, 200, help=body_help(response))
    expect_equal("product names", ["Emma", "Hanabi", "Neuromancer"], names(response))


async def test_limit_and_offset_page(exercise):
    """limit and offset select one page of the sorted list"""
    response = await get(exercise.app, "?limit=3&offset=8")
    expect_status(response, 200, help=body_help(response))
    expect_equal("product names", ["Kind of Blue", "Neuromancer", "OK Computer"], names(response))


async def test_unknown_filter_is_forbidden(exercise):
    """an unknown filter is one extra_forbidden error"""
    response = await get(exercise.app, "?colour=red")
    expect_status(response, 422, help=EXTRA_ALLOWED)
    error = {
        "type": "extra_forbidden",
        "loc": ["query", "colour"],
        "msg": "Extra inputs are not permitted",
        "input": "red",
    }
    expect_json(response, {"detail": [error]}, help=body_help(response))


def bound_error(name: str, value: str, kind: str, bound: int) -> dict[str, Any]:
    words = {"ge": "greater than or equal to", "le": "less than or equal to"}
    error_type = {"ge": "greater_than_equal", "le": "less_than_equal"}[kind]
    return {
        "type": error_type,
        "loc": ["query", name],
        "msg": f"Input should be {words[kind]} {bound}",
        "input": value,
        "ctx": {kind: bound},
    }


def literal_error(name: str, value: str, expected: str) -> dict[str, Any]:
    return {
        "type": "literal_error",
        "loc": ["query", name],
        "msg": f"Input should be {expected}",
        "input": value,
        "ctx": {"expected": expected},
    }


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("limit=0", bound_error("limit", "0", "ge", 1)),
        ("limit=51", bound_error("limit", "51", "le", 50)),
        ("offset=-1", bound_error("offset", "-1", "ge", 0)),
        ("max_price=-1", bound_error("max_price", "-1", "ge", 0)),
        ("sort=date", literal_error("sort", "date", "'name' or 'price'")),
        ("category=food", literal_error("category", "food", "'books', 'games' or 'music'")),
    ],
    ids=["limit-0", "limit-51", "offset", "max_price", "sort", "category"],
)
async def test_out_of_contract_value_is_rejected(exercise, query, error):
    """?{query} is rejected with one error of type {error[type]}"""
    response = await get(exercise.app, f"?{query}")
    expect_status(response, 422, help=body_help(response))
    expect_json(response, {"detail": [error]}, help=body_help(response))


def parameters(document: Any) -> dict[str, dict[str, Any]]:
    try:
        listed = document["paths"]["/products"]["get"].get("parameters", [])
        return {parameter["name"]: parameter for parameter in listed}
    except (KeyError, TypeError, AttributeError):
        raise Failure("expected the OpenAPI document to describe GET /products") from None


def flat(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema of an optional value without its `anyOf: [..., {"type": "null"}]` wrapper."""
    options = [option for option in schema.get("anyOf", []) if option.get("type") != "null"]
    return {**schema, **options[0]} if len(options) == 1 else schema


async def openapi(app: Any) -> Any:
    async with client_for(app) as client:
        response = await client.get("/openapi.json")
    expect_status(response, 200)
    return response_json(response)


async def test_openapi_lists_every_filter(exercise):
    """OpenAPI lists exactly the six filters, each an optional query parameter"""
    listed = parameters(await openapi(exercise.app))
    expect_equal("query parameters", sorted(FILTERS), sorted(listed))
    for name, parameter in listed.items():
        expect_equal(f"`in` of {name}", "query", parameter.get("in"))
        expect(not parameter.get("required"), f"expected {name} to be optional, not required")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("limit", {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}),
        ("offset", {"type": "integer", "minimum": 0, "default": 0}),
        ("max_price", {"type": "integer", "minimum": 0}),
        ("sort", {"type": "string", "enum": ["name", "price"], "default": "name"}),
        ("tag", {"type": "array", "items": {"type": "string"}}),
        ("category", {"type": "string", "enum": ["books", "games", "music"]}),
    ],
    ids=["limit", "offset", "max_price", "sort", "tag", "category"],
)
async def test_openapi_documents_constraints(exercise, name, expected):
    """OpenAPI documents the {name} filter with its type, bounds and default"""
    parameter = parameters(await openapi(exercise.app)).get(name)
    if parameter is None:
        raise Failure(f"expected OpenAPI to list the query parameter {name}")
    schema = flat(parameter.get("schema", {}))
    documented = {key: schema.get(key) for key in expected}
    expect_equal(f"schema of {name}", expected, documented)
