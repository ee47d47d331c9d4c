"""Hidden suite for 17_performance/03_serialization_path: validated once, written once.

The work behind each answer is counted, never timed: the checks log every call of
`TypeAdapter.validate_python`, `dump_python` and `dump_json` made for a type that holds
`OrderOut`, every `jsonable_encoder` call (FastAPI's and the module's), every
`JSONResponse.render`, and every `model_validate`, `model_dump` and `model_dump_json` of
`OrderOut`. On FastAPI 0.165 a route with a response type and no `response_class` makes
exactly one `validate_python` (with `from_attributes=True`) and one `dump_json` per answer.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import fastapi.encoders
import fastapi.routing
import pytest
from pydantic import TypeAdapter
from starlette.responses import JSONResponse

from workbook.testing import expect_equal, expect_header, expect_status, provide, running

FAST = ["validate_python", "dump_json"]
SAME_BYTES = pytest.mark.stub_may_pass(
    "the slow routes answer the right bytes; only the path is wrong"
)
OFF_PATH = (
    "The fast path is one validate_python and one dump_json, both FastAPI's. jsonable_encoder "
    "or a JSONResponse means the route returns a response object or declares no type; "
    "dump_python means a response_class is set; model_validate or model_dump means the route "
    "converts the rows itself. Return the rows as they are and declare response_model."
)


@dataclass
class Row:
    """A row of the checks' own, with one attribute more than the module's rows."""

    id: int
    customer: str
    total_cents: int
    internal_note: str
    warehouse: str = "north"


ROWS = [
    Row(7, "Zoë “Z” Ørsted", 0, "secret"),
    Row(3, "Ana", 1999, "vip"),
    Row(5, "Li", 1, "late"),
]
LIST_BYTES = (
    '[{"id":7,"customer":"Zoë “Z” Ørsted","total_cents":0},'
    '{"id":3,"customer":"Ana","total_cents":1999},'
    '{"id":5,"customer":"Li","total_cents":1}]'
).encode()


@pytest.fixture
def work(exercise: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The serialization work done for OrderOut while a check runs, in order."""
    log: list[str] = []

    def adapter_method(name: str) -> Any:
        real = getattr(TypeAdapter, name)

        def logged(self: TypeAdapter[Any], *args: Any, **kwargs: Any) -> Any:
            if "OrderOut" in repr(self._type):
                log.append(name)
            return real(self, *args, **kwargs)

        return logged

    for name in ("validate_python", "dump_python", "dump_json"):
        monkeypatch.setattr(TypeAdapter, name, adapter_method(name))

    depth = [0]  # jsonable_encoder calls itself for every item: log the outer call only

    def encoder(real: Any) -> Any:
        def logged(*args: Any, **kwargs: Any) -> Any:
            if depth[0] == 0:
                log.append("jsonable_encoder")
            depth[0] += 1
            try:
                return real(*args, **kwargs)
            finally:
                depth[0] -= 1

        return logged

    monkeypatch.setattr(
        fastapi.routing, "jsonable_encoder", encoder(fastapi.routing.jsonable_encoder)
    )
    monkeypatch.setattr(
        fastapi.encoders, "jsonable_encoder", encoder(fastapi.encoders.jsonable_encoder)
    )
    if hasattr(exercise, "jsonable_encoder"):
        monkeypatch.setattr(exercise, "jsonable_encoder", encoder(exercise.jsonable_encoder))
    real_render = JSONResponse.render

    def render(self: JSONResponse, content: Any) -> bytes:
        log.append("JSONResponse.render")
        return real_render(self, content)

    monkeypatch.setattr(JSONResponse, "render", render)
    model = exercise.OrderOut
    for name in ("model_validate", "model_dump", "model_dump_json"):
        real = getattr(model, name)

        def logged(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            log.append(f"OrderOut.{_name}")
            return _real(*args, **kwargs)

        monkeypatch.setattr(model, name, logged)
    exercise.app.dependency_overrides[exercise.get_rows] = provide(ROWS)
    yield log
    exercise.app.dependency_overrides.clear()


async def get(exercise: ModuleType, path: str) -> Any:
    async with running(exercise.app) as (client, _):
        return await client.get(path)


@SAME_BYTES
async def test_the_list_is_exact_bytes(exercise: ModuleType, work: list[str]) -> None:
    response = await get(exercise, "/orders")
    expect_status(response, 200)
    expect_equal("body of GET /orders", LIST_BYTES, response.content)
    expect_header(response, "content-type", "application/json")


@SAME_BYTES
async def test_an_empty_list_is_brackets(exercise: ModuleType, work: list[str]) -> None:
    exercise.app.dependency_overrides[exercise.get_rows] = provide([])
    response = await get(exercise, "/orders")
    expect_status(response, 200)
    expect_equal("body of GET /orders with no rows", b"[]", response.content)


@SAME_BYTES
async def test_one_order_is_exact_bytes(exercise: ModuleType, work: list[str]) -> None:
    response = await get(exercise, "/orders/5")
    expect_status(response, 200)
    expect_equal(
        "body of GET /orders/5", b'{"id":5,"customer":"Li","total_cents":1}', response.content
    )
    expect_header(response, "content-type", "application/json")


@SAME_BYTES
async def test_an_unknown_order_is_404(exercise: ModuleType, work: list[str]) -> None:
    response = await get(exercise, "/orders/4")
    expect_status(response, 404)
    expect_equal("body of GET /orders/4", b'{"detail":"Order not found"}', response.content)


async def test_the_list_validates_once_and_dumps_json_once(
    exercise: ModuleType, work: list[str]
) -> None:
    response = await get(exercise, "/orders")
    expect_status(response, 200)
    expect_equal("serialization work of GET /orders", FAST, work, help=OFF_PATH)


async def test_one_order_validates_once_and_dumps_json_once(
    exercise: ModuleType, work: list[str]
) -> None:
    response = await get(exercise, "/orders/3")
    expect_status(response, 200)
    expect_equal("serialization work of GET /orders/3", FAST, work, help=OFF_PATH)


def schema_of(document: dict[str, Any], path: str) -> Any:
    operation = document["paths"][path]["get"]
    return operation["responses"]["200"]["content"]["application/json"]["schema"]


async def test_the_openapi_schema_stays_typed(exercise: ModuleType, work: list[str]) -> None:
    response = await get(exercise, "/openapi.json")
    document = response.json()
    ref = "#/components/schemas/OrderOut"
    untyped = "Does every route declare what it answers (response_model=..., or a return type)?"
    expect_equal(
        "200 schema of GET /orders",
        {"type": "array", "items": {"$ref": ref}},
        {k: v for k, v in schema_of(document, "/orders").items() if k != "title"},
        help=untyped,
    )
    expect_equal(
        "200 schema of GET /orders/{order_id}",
        {"$ref": ref},
        schema_of(document, "/orders/{order_id}"),
        help=untyped,
    )
    expect_equal(
        "properties of OrderOut",
        ["id", "customer", "total_cents"],
        list(document["components"]["schemas"]["OrderOut"]["properties"]),
    )
