"""The OpenAPI checks of module 08's suites: fetch, validate, list operations."""

from typing import Any

import pytest
from fastapi import FastAPI
from referencing.exceptions import Unresolvable

from workbook.openapi_checks import expect_valid_openapi, fetch_document, operations
from workbook.testing import Failure

INFO = {"title": "Shop", "version": "1.0.0"}


def document(**answer: Any) -> dict[str, Any]:
    return {"openapi": "3.1.0", "info": INFO, "paths": {"/items": {"get": {"responses": answer}}}}


def app_with_one_id_twice() -> FastAPI:
    app = FastAPI()

    @app.api_route("/stock", methods=["GET", "POST"])
    async def stock() -> int:
        return 3

    return app


async def test_a_valid_document_passes():
    expect_valid_openapi(await fetch_document(FastAPI(), help="unused"), help="unused")


def test_an_invalid_document_fails_naming_the_place():
    with pytest.raises(Failure) as failed:
        expect_valid_openapi(document(**{"200": {}}), help="which member?")
    assert failed.value.message == (
        "expected a valid OpenAPI 3.1 document; at paths//items/get/responses/200: "
        "'description' is a required property"
    )
    assert failed.value.help == "which member?"


def test_a_dangling_ref_gets_its_own_failure():
    ref = {"$ref": "#/components/schemas/Item"}
    answer = {"description": "OK", "content": {"application/json": {"schema": ref}}}
    with pytest.raises(Failure) as failed:
        expect_valid_openapi(document(**{"200": answer}), help="unused", dangling="where is it?")
    assert failed.value.message == (
        "expected the $ref '#/components/schemas/Item' to point to a schema, not to nothing"
    )
    assert failed.value.help == "where is it?"
    with pytest.raises(Unresolvable):  # without the question, the validator's own error
        expect_valid_openapi(document(**{"200": answer}), help="unused")


async def test_a_document_that_cannot_be_built_fails_with_the_help():
    app = FastAPI()
    app.openapi = lambda: 1 / 0
    with pytest.raises(Failure) as failed:
        await fetch_document(app, help="did openapi() raise?")
    assert failed.value.message == "expected status 200, not 500"
    assert failed.value.help == "did openapi() raise?"


async def test_quiet_silences_fastapis_warnings_only_when_asked():
    with pytest.warns(UserWarning, match="Duplicate Operation ID"):
        await fetch_document(app_with_one_id_twice(), help="unused")
    # warnings are errors in these tests: the quiet fetch must pass without one
    await fetch_document(app_with_one_id_twice(), help="unused", quiet=True)


async def test_operations_are_keyed_method_and_path():
    found = operations(await fetch_document(app_with_one_id_twice(), help="unused", quiet=True))
    assert sorted(found) == ["GET /stock", "POST /stock"]
    assert found["GET /stock"]["operationId"] == found["POST /stock"]["operationId"]
