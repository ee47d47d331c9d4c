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
ANY_TAG = (
    "Does the tag filter keep a product only when it carries every tag given? A product "
    "with just one of them must be left out."
)
ZERO_IS_NO_BOUND = (
    "Is max_price=0 read as no bound at all? 0 is falsy: test `is None`, not truthiness."
)
PAGED_TOO_EARLY = "Is the list paged before it is filtered or sorted? Page last."
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


CATALOGUE = [
    {"name": "Azul", "category": "games", "price": 3499, "tags": ["family", "abstract"]},
    {"name": "Blue Train", "category": "music", "price": 1999, "tags": ["jazz", "classic"]},
    {"name": "Catan", "category": "games", "price": 3999, "tags": ["strategy", "family"]},
    {
        "name": "Chess",
        "category": "games",
        "price": 2499,
        "tags": ["strategy", "abstract", "classic"],
    },
    {"name": "Dune", "category": "books", "price": 1299, "tags": ["scifi", "classic"]},
    {"name": "Emma", "category": "books", "price": 899, "tags": ["classic", "romance"]},
    {"name": "Go", "category": "games", "price": 2999, "tags": ["strategy", "abstract"]},
    {"name": "Hanabi", "category": "games", "price": 999, "tags": ["family", "cooperative"]},
    {"name": "Kind of Blue", "category": "music", "price": 1899, "tags": ["jazz", "classic"]},
    {"name": "Neuromancer", "category": "books", "price": 1099, "tags": ["scifi", "cyberpunk"]},
    {"name": "OK Computer", "category": "music", "price": 1599, "tags": ["rock"]},
    {"name": "Piranesi", "category": "books", "price": 1499, "tags": ["fantasy"]},
]
ALL_NAMES = [product["name"] for product in CATALOGUE]


@pytest.mark.stub_may_pass("the stub already lists the whole catalogue as it is")
async def test_products_come_back_whole(exercise):
    """each product comes back whole: name, category, price in cents and tags"""
    response = await get(exercise.app, "?limit=50")
    expect_status(response, 200, help=body_help(response))
    expect_json(response, CATALOGUE)


@pytest.mark.stub_may_pass("the stub already filters by category")
@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("books", ["Dune", "Emma", "Neuromancer", "Piranesi"]),
        ("games", ["Azul", "Catan", "Chess", "Go", "Hanabi"]),
        ("music", ["Blue Train", "Kind of Blue", "OK Computer"]),
    ],
)
async def test_category_filter(exercise, category, expected):
    """category={category} lists only the products of that category"""
    response = await get(exercise.app, f"?category={category}")
    expect_status(response, 200, help=body_help(response))
    expect_equal("product names", expected, names(response))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("tag=jazz", ["Blue Train", "Kind of Blue"]),
        ("tag=scifi&tag=classic", ["Dune"]),
        ("tag=classic&tag=scifi", ["Dune"]),
        ("tag=strategy&tag=abstract&tag=classic", ["Chess"]),
        ("tag=rock&tag=jazz", []),
    ],
    ids=["one", "two", "two-reversed", "three", "none-has-both"],
)
async def test_every_tag_must_match(exercise, query, expected):
    """?{query} lists only the products that carry every tag given"""
    response = await get(exercise.app, f"?{query}")
    expect_status(response, 200, help=body_help(response))
    found = names(response)
    if found == ALL_NAMES[:10]:
        help = NOT_A_QUERY_MODEL
    elif set(expected) < set(found):
        help = ANY_TAG
    else:
        help = None
    expect_equal(f"product names for ?{query}", expected, found, help=help)


@pytest.mark.parametrize(
    ("max_price", "expected"),
    [
        (1099, ["Emma", "Hanabi", "Neuromancer"]),
        (1098, ["Emma", "Hanabi"]),
        (899, ["Emma"]),
        (898, []),
        (0, []),
    ],
)
async def test_max_price_is_inclusive(exercise, max_price, expected):
    """max_price={max_price} lists only the products that cost at most {max_price} cents"""
    response = await get(exercise.app, f"?max_price={max_price}")
    expect_status(response, 200, help=body_help(response))
    help = ZERO_IS_NO_BOUND if max_price == 0 and names(response) else None
    expect_equal(f"product names for ?max_price={max_price}", expected, names(response), help=help)


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


async def test_sort_by_name(exercise):
    """sort=name lists the products by name"""
    response = await get(exercise.app, "?sort=name&limit=3")
    expect_status(response, 200, help=body_help(response))
    expect_equal("product names", ["Azul", "Blue Train", "Catan"], names(response))


async def test_limit_and_offset_page(exercise):
    """limit and offset select one page of the sorted list"""
    response = await get(exercise.app, "?limit=3&offset=8")
    expect_status(response, 200, help=body_help(response))
    expect_equal("product names", ["Kind of Blue", "Neuromancer", "OK Computer"], names(response))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("limit=1", ["Azul"]),
        pytest.param(
            "limit=50",
            ALL_NAMES,
            marks=pytest.mark.stub_may_pass("the stub lists all 12 products whatever the limit"),
        ),
        ("offset=0&limit=2", ["Azul", "Blue Train"]),
        ("offset=11", ["Piranesi"]),
        ("offset=12", []),
    ],
    ids=["limit-1", "limit-50", "offset-0", "offset-last", "offset-past-end"],
)
async def test_page_bounds_are_accepted(exercise, query, expected):
    """?{query} is accepted and pages the list"""
    response = await get(exercise.app, f"?{query}")
    expect_status(response, 200, help=body_help(response))
    expect_equal(f"product names for ?{query}", expected, names(response))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("category=music&offset=1", ["Kind of Blue", "OK Computer"]),
        ("tag=classic&limit=2", ["Blue Train", "Chess"]),
        ("sort=price&offset=1&limit=2", ["Hanabi", "Neuromancer"]),
    ],
    ids=["filter-then-offset", "filter-then-limit", "sort-then-page"],
)
async def test_paging_comes_last(exercise, query, expected):
    """?{query} pages the list after it is filtered and sorted"""
    response = await get(exercise.app, f"?{query}")
    expect_status(response, 200, help=body_help(response))
    found = names(response)
    help = PAGED_TOO_EARLY if found != expected and len(found) <= len(expected) else None
    expect_equal(f"product names for ?{query}", expected, found, help=help)


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
        (
            "max_price=9.5",
            {
                "type": "int_parsing",
                "loc": ["query", "max_price"],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
                "input": "9.5",
            },
        ),
        ("sort=date", literal_error("sort", "date", "'name' or 'price'")),
        ("category=food", literal_error("category", "food", "'books', 'games' or 'music'")),
    ],
    ids=["limit-0", "limit-51", "offset", "max_price", "max_price-float", "sort", "category"],
)
async def test_out_of_contract_value_is_rejected(exercise, query, error):
    """?{query} is rejected with one error of type {error[type]}"""
    response = await get(exercise.app, f"?{query}")
    expect_status(response, 422, help=body_help(response))
    expect_json(response, {"detail": [error]}, help=body_help(response))


async def test_every_error_in_one_422(exercise):
    """several parameters out of contract get one error each, all in one 422"""
    response = await get(exercise.app, "?limit=0&sort=date&colour=red")
    expect_status(response, 422, help=body_help(response))
    body = response_json(response)
    errors = body.get("detail") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        raise Failure(f"expected a 422 body with a list of errors, not {body!r}")
    expected = [
        literal_error("sort", "date", "'name' or 'price'"),
        bound_error("limit", "0", "ge", 1),
        {
            "type": "extra_forbidden",
            "loc": ["query", "colour"],
            "msg": "Extra inputs are not permitted",
            "input": "red",
        },
    ]
    extra_found = any(isinstance(e, dict) and e.get("type") == "extra_forbidden" for e in errors)
    help = None if extra_found else EXTRA_ALLOWED
    expect_equal(
        "errors, in any order", sorted(expected, key=str), sorted(errors, key=str), help=help
    )


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
