"""Every snippet of lessons/08-openapi-customization.md runs and does what the page says."""

import copy
import json
import os
import subprocess
import sys
import warnings
from collections.abc import AsyncIterable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import fastapi.applications
import httpx
import pytest
from fastapi import APIRouter, Body, FastAPI
from fastapi.openapi.utils import get_openapi
from openapi_spec_validator import OpenAPIV32SpecValidator, validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.errors import PydanticInvalidForJsonSchema

from workbook.loader import load
from workbook.testing import client_for

SNIPPETS = Path(__file__).resolve().parents[2] / "lessons" / "snippets" / "08_openapi_customization"


def snippet(name: str) -> Any:
    return load(SNIPPETS / name)


class StreamedBook(BaseModel):
    isbn: str


def errors_of(document: dict[str, Any]) -> list[str]:
    return snippet("validation.py").openapi_errors(document)


async def get(app: Any, url: str, **kwargs: Any) -> httpx.Response:
    async with client_for(app) as client:
        return await client.get(url, **kwargs)


def operation_ids(document: dict[str, Any]) -> dict[tuple[str, str], str]:
    return snippet("default_ids.py").operation_ids(document)


# -- the document: built on demand, cached ----------------------------------------------


def test_a_broken_contact_email_fails_when_the_document_is_built_not_at_start_up():
    app = FastAPI(title="t", version="1", contact={"email": "not-an-email"})  # no error yet
    with pytest.raises(ValidationError, match=r"contact\.email"):
        app.openapi()


async def test_the_broken_document_is_a_500_on_openapi_json():
    app = FastAPI(title="t", version="1", contact={"email": "not-an-email"})
    async with client_for(app, raise_app_exceptions=False) as client:
        assert (await client.get("/docs")).status_code == 200
        assert (await client.get("/openapi.json")).status_code == 500


def test_serving_docs_needs_a_title_and_a_version():
    with pytest.raises(AssertionError, match="title"):
        FastAPI(title="")
    with pytest.raises(AssertionError, match="version"):
        FastAPI(version="")
    FastAPI(title="", openapi_url=None)  # nothing to document: nothing required


# -- metadata.py ------------------------------------------------------------------------


def test_metadata_lands_in_info_with_the_contact_url_normalised():
    document = snippet("metadata.py").app.openapi()
    assert document["openapi"] == "3.1.0"
    assert document["info"] == {
        "title": "Bookshop API",
        "summary": "Books, stock and orders of a small bookshop.",
        "description": "Prices are in **cents**. Every list is sorted by title.",
        "termsOfService": "https://example.com/terms",
        "contact": {
            "name": "Bookshop team",
            "url": "https://example.com/",
            "email": "api@example.com",
        },
        "license": {"name": "Apache 2.0", "identifier": "Apache-2.0"},
        "version": "2.4.0",
    }
    assert errors_of(document) == []


def test_tags_keep_their_order_descriptions_and_external_docs():
    metadata = snippet("metadata.py")
    assert metadata.app.openapi()["tags"] == metadata.TAGS
    handbook = {"description": "Handbook", "url": "https://example.com/handbook"}
    assert FastAPI(openapi_external_docs=handbook).openapi()["externalDocs"] == handbook
    assert [tag["name"] for tag in metadata.app.openapi()["tags"]] == ["books", "orders"]


def test_a_license_with_both_identifier_and_url_is_accepted_by_fastapi_refused_by_the_validator():
    license_info = {"name": "MIT", "identifier": "MIT", "url": "https://opensource.org/license/mit"}
    document = FastAPI(title="t", version="1", license_info=license_info).openapi()
    assert document["info"]["license"]["identifier"] == "MIT"
    (error,) = errors_of(document)
    assert error.startswith("$.info.license:")


def test_a_license_needs_a_name():
    with pytest.raises(ValidationError, match=r"license\.name"):
        FastAPI(title="t", version="1", license_info={"identifier": "MIT"}).openapi()


def test_summary_description_deprecated_and_hidden_routes():
    paths = snippet("metadata.py").app.openapi()["paths"]
    assert set(paths) == {"/books", "/books/search", "/orders"}
    list_books = paths["/books"]["get"]
    assert list_books["summary"] == "List Books"
    assert list_books["description"] == (
        "List the books in stock.\n\nBooks that are out of print are left out."
    )
    assert paths["/books/search"]["get"]["deprecated"] is True
    assert "deprecated" not in list_books
    assert paths["/orders"]["post"]["summary"] == "Place an order"
    assert set(paths["/orders"]["post"]["responses"]) == {"201", "422"}


async def test_deprecated_and_hidden_routes_still_answer():
    app = snippet("metadata.py").app
    assert (await get(app, "/books/search", params={"q": "x"})).status_code == 200
    assert (await get(app, "/healthz")).json() == {"status": "ok"}


def test_undeclared_tags_are_valid_openapi_and_found_by_the_check():
    metadata = snippet("metadata.py")
    assert metadata.undeclared_tags(metadata.app.openapi()) == set()
    app = FastAPI(openapi_tags=[{"name": "books"}])

    @app.get("/a", tags=["books", "stock"])
    async def a() -> None: ...

    document = app.openapi()
    assert metadata.undeclared_tags(document) == {"stock"}
    assert errors_of(document) == []


def test_duplicate_tag_names_are_refused_by_the_validator():
    document = FastAPI(openapi_tags=[{"name": "books"}, {"name": "books"}]).openapi()
    assert errors_of(document) == ["$: Duplicate tag name 'books'"]


# -- default_ids.py and operation_ids.py --------------------------------------------------


def test_the_default_ids_glue_name_path_and_method():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ids = operation_ids(snippet("default_ids.py").app.openapi())
    assert ids[("GET", "/v1/books/{isbn}")] == "read_book_v1_books__isbn__get"
    assert ids[("GET", "/v1/books/{isbn}/reviews")] == "list_reviews_v1_books__isbn__reviews_get"
    assert ids[("GET", "/stock")] == ids[("POST", "/stock")]  # one id for two operations


def test_a_route_with_two_methods_warns_of_a_duplicate_and_fails_validation():
    app = FastAPI()

    @app.api_route("/stock", methods=["GET", "POST"])
    async def stock() -> None: ...

    with pytest.warns(UserWarning, match="Duplicate Operation ID stock_stock_"):
        document = app.openapi()
    (error,) = errors_of(document)
    assert "is not unique" in error


@pytest.mark.parametrize(("seed", "method"), [("1", "get"), ("2", "post")])
def test_which_method_names_the_shared_id_depends_on_the_hash_seed(seed, method):
    done = subprocess.run(
        [sys.executable, str(SNIPPETS / "default_ids.py")],
        env={**os.environ, "PYTHONHASHSEED": seed},
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout) == f"stock_stock_{method}"


def test_the_tag_and_name_scheme():
    document = snippet("operation_ids.py").app.openapi()
    assert operation_ids(document) == {
        ("GET", "/v1/books/{isbn}"): "books-read_book",
        ("POST", "/v1/books"): "books-create_book",
        ("GET", "/ping"): "ping",
    }
    ping = document["paths"]["/ping"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ping["schema"]["title"] == "Response Ping"  # the id names the response schema


def test_the_id_names_the_body_model_of_a_route_with_two_body_parameters():
    app = FastAPI(generate_unique_id_function=snippet("operation_ids.py").tag_and_name)

    class Note(BaseModel):
        text: str

    @app.post("/notes", tags=["notes"])
    async def add_note(note: Note, author: Annotated[str, Body()]) -> None: ...

    assert "Body_notes-add_note" in app.openapi()["components"]["schemas"]
    default = FastAPI()
    default.add_api_route("/notes", add_note, methods=["POST"], tags=["notes"])
    assert "Body_add_note_notes_post" in default.openapi()["components"]["schemas"]


def test_ids_do_not_depend_on_the_order_or_the_prefix_of_routes():
    scheme = snippet("operation_ids.py").tag_and_name

    def build(prefix: str, reverse: bool) -> dict[str, str]:
        app = FastAPI(generate_unique_id_function=scheme)
        router = APIRouter(prefix=prefix, tags=["books"])

        async def read_book(isbn: str) -> None: ...

        async def list_books() -> None: ...

        routes = [("/{isbn}", read_book), ("", list_books)]
        for path, endpoint in reversed(routes) if reverse else routes:
            router.add_api_route(path, endpoint)
        app.include_router(router)
        ids = operation_ids(app.openapi())
        return {path.removeprefix(prefix): ids[("GET", path)] for _, path in ids}

    assert build("/v1/books", False) == build("/v2/catalogue", True)


def test_the_most_specific_scheme_wins_and_operation_id_beats_them_all():
    app = FastAPI(generate_unique_id_function=lambda route: f"app-{route.name}")
    router = APIRouter(generate_unique_id_function=lambda route: f"router-{route.name}")

    @router.get("/a")
    async def a() -> None: ...

    @router.get("/b", generate_unique_id_function=lambda route: f"route-{route.name}")
    async def b() -> None: ...

    @router.get("/c", operation_id="chosen")
    async def c() -> None: ...

    app.include_router(router)

    @app.get("/d")
    async def d() -> None: ...

    ids = {path: op for (_, path), op in operation_ids(app.openapi()).items()}
    assert ids == {"/a": "router-a", "/b": "route-b", "/c": "chosen", "/d": "app-d"}


def test_the_app_scheme_does_not_reach_webhooks_or_callbacks():
    scheme = snippet("operation_ids.py").tag_and_name
    callbacks = APIRouter()

    @callbacks.post("{$request.body#/url}", tags=["partners"])
    async def notified() -> None: ...

    app = FastAPI(generate_unique_id_function=scheme)

    @app.webhooks.post("shipped", tags=["partners"])
    async def shipped() -> None: ...

    @app.post("/orders", tags=["orders"], callbacks=callbacks.routes)
    async def create_order() -> None: ...

    document = app.openapi()
    assert document["paths"]["/orders"]["post"]["operationId"] == "orders-create_order"
    assert document["webhooks"]["shipped"]["post"]["operationId"] == "shippedshipped_post"
    callback = document["paths"]["/orders"]["post"]["callbacks"]["notified"]
    assert (
        callback["{$request.body#/url}"]["post"]["operationId"]
        == "notified__request_body__url__post"
    )
    fixed = FastAPI(webhooks=APIRouter(generate_unique_id_function=scheme))

    @fixed.webhooks.post("shipped", tags=["partners"])
    async def shipped_again() -> None: ...

    assert fixed.openapi()["webhooks"]["shipped"]["post"]["operationId"] == "partners-shipped_again"


def test_the_duplicate_checker_counts_paths_and_webhooks():
    checker = snippet("operation_ids.py").duplicate_operation_ids
    assert checker(snippet("operation_ids.py").app.openapi()) == {}
    app = FastAPI()

    @app.get("/a", operation_id="same")
    async def a() -> None: ...

    @app.webhooks.post("hook", operation_id="same")
    async def hook() -> None: ...

    with pytest.warns(UserWarning, match="Duplicate Operation ID same"):
        document = app.openapi()
    assert checker(document) == {"same": 2}


def test_a_duplicate_id_is_an_error_where_warnings_are_errors():
    app = FastAPI()

    @app.api_route("/stock", methods=["GET", "POST"])
    async def stock() -> None: ...

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning):
            app.openapi()


# -- examples.py -------------------------------------------------------------------------


def test_examples_land_in_three_places():
    examples = snippet("examples.py")
    document = examples.app.openapi()
    book = document["components"]["schemas"]["NewBook"]
    assert book["properties"]["isbn"]["examples"] == ["9780441013593"]
    assert book["examples"] == [{"isbn": "9780441013593", "title": "Dune", "price_cents": 999}]
    media = document["paths"]["/books"]["post"]["requestBody"]["content"]["application/json"]
    assert media["schema"] == {"$ref": "#/components/schemas/NewBook"}
    assert media["examples"] == {
        "dune": {"summary": "A paperback", "value": examples.DUNE},
        "free": {
            "summary": "A free book",
            "description": "A price of 0 is allowed: the shop gives leaflets away.",
            "value": examples.FREE,
        },
    }
    assert errors_of(document) == []


def test_every_example_of_the_snippet_fits_its_schema():
    document = snippet("examples.py").app.openapi()
    schema_errors = snippet("documented_errors.py").schema_errors
    media = document["paths"]["/books"]["post"]["requestBody"]["content"]["application/json"]
    book = document["components"]["schemas"]["NewBook"]
    values = [example["value"] for example in media["examples"].values()] + book["examples"]
    for value in values:
        assert schema_errors(document, media["schema"], value) == []


def test_nobody_checks_an_example_against_its_schema():
    class Book(BaseModel):
        pages: int

    app = FastAPI()

    @app.post("/books")
    async def create(book: Annotated[Book, Body(examples=[{"pages": "many"}])]) -> None: ...

    document = app.openapi()
    assert errors_of(document) == []  # the validator does not look
    schema = document["paths"]["/books"]["post"]["requestBody"]["content"]["application/json"]
    errors = snippet("documented_errors.py").schema_errors(
        document, schema["schema"], {"pages": "many"}
    )
    assert errors == ["'many' is not of type 'integer'"]


# -- documented_errors.py ----------------------------------------------------------------


def test_a_model_in_responses_goes_under_the_routes_media_type():
    document = snippet("documented_errors.py").app.openapi()
    answer = document["paths"]["/v1/books/{isbn}"]["get"]["responses"]["404"]
    assert answer == {
        "description": "Not Found",
        "content": {
            "application/problem+json": {},
            "application/json": {"schema": {"$ref": "#/components/schemas/Problem"}},
        },
    }


def test_the_problem_helper_documents_the_model_under_problem_json_only():
    errors = snippet("documented_errors.py")
    document = errors.app.openapi()
    answer = document["paths"]["/books/{isbn}"]["get"]["responses"]["404"]
    assert answer["description"] == "No book has this ISBN"
    assert list(answer["content"]) == ["application/problem+json"]
    media = answer["content"]["application/problem+json"]
    assert media["schema"]["required"] == ["title", "status", "detail"]
    assert media["example"] == errors.NOT_FOUND
    assert errors.schema_errors(document, media["schema"], media["example"]) == []
    assert errors_of(document) == []


async def test_the_real_404_fits_the_documented_one():
    errors = snippet("documented_errors.py")
    document = errors.app.openapi()
    response = await get(errors.app, "/books/9780000000000")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    media = document["paths"]["/books/{isbn}"]["get"]["responses"]["404"]["content"]
    schema = media[response.headers["content-type"]]["schema"]
    assert errors.schema_errors(document, schema, response.json()) == []
    found = await get(errors.app, "/books/9780441013593")
    ok_schema = document["paths"]["/books/{isbn}"]["get"]["responses"]["200"]["content"]
    assert (
        errors.schema_errors(document, ok_schema["application/json"]["schema"], found.json()) == []
    )


async def test_fastapis_own_404_does_not_fit_the_documented_problem():
    errors = snippet("documented_errors.py")
    document = errors.app.openapi()
    response = await get(errors.app, "/no-such-page")
    schema = document["paths"]["/books/{isbn}"]["get"]["responses"]["404"]["content"]
    found = errors.schema_errors(
        document, schema["application/problem+json"]["schema"], response.json()
    )
    assert response.json() == {"detail": "Not Found"}
    assert sorted(found) == ["'status' is a required property", "'title' is a required property"]


def test_schema_errors_follows_refs_into_components():
    errors = snippet("documented_errors.py")
    document = errors.app.openapi()
    ref = {"$ref": "#/components/schemas/Book"}
    assert errors.schema_errors(document, ref, {"isbn": "1", "title": "Dune"}) == []
    found = errors.schema_errors(document, ref, {"isbn": 1})
    assert sorted(found) == ["'title' is a required property", "1 is not of type 'string'"]


# -- openapi_extra.py --------------------------------------------------------------------


def test_openapi_extra_adds_and_merges():
    extra = snippet("openapi_extra.py")
    operation = extra.app.openapi()["paths"]["/books/import"]["post"]
    assert operation["requestBody"] == extra.CSV_BODY
    assert operation["x-rate-limit"] == {"per-minute": 10}
    ok = operation["responses"]["200"]
    assert ok["description"] == "How many rows were read"  # replaced
    assert "schema" in ok["content"]["application/json"]  # kept: the dicts were merged
    assert "422" not in operation["responses"]  # no declared parameters, no body: no 422
    assert errors_of(extra.app.openapi()) == []


async def test_the_raw_body_is_read_by_hand_and_never_validated():
    app = snippet("openapi_extra.py").app
    async with client_for(app) as client:
        csv_body = b"isbn,title\n1,Dune\n2,Emma\n"
        response = await client.post("/books/import", content=csv_body)
        assert response.json() == {"rows": 2}
        response = await client.post("/books/import", json={"not": "csv"})
        assert response.status_code == 200  # the documented text/csv is not enforced


def test_an_unknown_key_without_x_is_refused_by_the_validator():
    app = FastAPI()

    @app.get("/a", openapi_extra={"internal": True})
    async def a() -> None: ...

    (error,) = errors_of(app.openapi())
    assert "'internal' was unexpected" in error


# -- in_out_schemas.py -------------------------------------------------------------------


def schemas_of(app: FastAPI) -> dict[str, Any]:
    schemas = app.openapi()["components"]["schemas"]
    return {name: schema for name, schema in schemas.items() if "ValidationError" not in name}


def test_input_and_output_schemas_differ_where_the_model_does():
    schemas = schemas_of(snippet("in_out_schemas.py").create_app())
    assert set(schemas) == {"Price-Input", "Price-Output", "Book-Input", "Book-Output"}
    assert schemas["Price-Input"]["properties"]["amount"]["anyOf"] == [
        {"type": "number"},
        {"type": "string"},
    ]
    assert schemas["Price-Output"]["properties"]["amount"]["type"] == "string"
    assert schemas["Price-Input"]["required"] == ["amount"]
    assert schemas["Price-Output"]["required"] == ["amount", "currency"]
    assert "url" not in schemas["Book-Input"]["properties"]
    assert schemas["Book-Output"]["properties"]["url"]["readOnly"] is True
    assert schemas["Book-Output"]["required"] == ["isbn", "title", "url"]


def test_requests_refer_to_the_input_schema_responses_to_the_output_one():
    operation = snippet("in_out_schemas.py").create_app().openapi()["paths"]["/books/{isbn}/price"]
    body = operation["put"]["requestBody"]["content"]["application/json"]["schema"]
    answer = operation["put"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Price-Input"}
    assert answer == {"$ref": "#/components/schemas/Price-Output"}


def test_turned_off_one_validation_schema_except_for_computed_fields():
    schemas = schemas_of(snippet("in_out_schemas.py").create_app(False))
    assert set(schemas) == {"Price", "Book-Input", "Book-Output"}
    assert schemas["Price"]["properties"]["amount"]["anyOf"] == [
        {"type": "number"},
        {"type": "string"},
    ]
    assert schemas["Price"]["required"] == ["amount"]


async def test_the_price_always_goes_out_as_a_string():
    app = snippet("in_out_schemas.py").app
    async with client_for(app) as client:
        response = await client.put("/books/1/price", json={"amount": 9.5})
    assert response.json() == {"amount": "9.5", "currency": "EUR"}


def test_a_default_alone_no_longer_splits_a_model():
    class Item(BaseModel):
        name: str
        description: str | None = None

    app = FastAPI()

    @app.post("/items")
    async def create(item: Item) -> Item:
        return item

    schemas = schemas_of(app)
    assert set(schemas) == {"Item"}
    assert schemas["Item"]["required"] == ["name"]


def test_decimal_has_two_json_schemas_in_pydantic():
    class Price(BaseModel):
        amount: Decimal

    assert Price.model_json_schema(mode="serialization")["properties"]["amount"]["type"] == "string"
    assert "anyOf" in Price.model_json_schema(mode="validation")["properties"]["amount"]


# -- webhooks.py -------------------------------------------------------------------------


def test_the_webhook_is_documented_at_the_top_under_its_name():
    document = snippet("webhooks.py").app.openapi()
    webhook = document["webhooks"]["order-shipped"]["post"]
    assert webhook["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OrderEvent"
    }
    assert webhook["responses"] == {
        "204": {"description": "Received."},
        "default": {"description": "Any other answer: delivered again later."},
    }
    (signature,) = webhook["parameters"]
    assert (signature["name"], signature["in"], signature["required"]) == (
        "x-bookshop-signature",
        "header",
        True,
    )
    assert signature["description"] == "HMAC-SHA256 of the body, in hex."
    assert webhook["operationId"] == "order_shippedorder_shipped_post"
    assert "order-shipped" not in document["paths"]


def test_the_callback_is_documented_under_its_operation_with_the_runtime_expression():
    document = snippet("webhooks.py").app.openapi()
    callbacks = document["paths"]["/orders"]["post"]["callbacks"]
    assert list(callbacks) == ["order_status_changed"]
    assert list(callbacks["order_status_changed"]) == ["{$request.body#/notify_url}"]
    callback = callbacks["order_status_changed"]["{$request.body#/notify_url}"]["post"]
    assert (
        callback["description"] == "Sent to the order's `notify_url` each time its status changes."
    )
    assert set(callback["responses"]) == {"204", "422"}  # FastAPI's own 422, as for any body
    assert "notify_url" in document["components"]["schemas"]["NewOrder"]["properties"]


def test_the_webhooks_document_is_valid_openapi_3_1_and_matches_its_snapshot():
    document = snippet("webhooks.py").app.openapi()
    assert errors_of(document) == []
    snippet("snapshot.py").check_snapshot(document, SNIPPETS / "webhooks.openapi.json")


async def test_webhooks_and_callbacks_are_documentation_only():
    app = snippet("webhooks.py").app
    async with client_for(app) as client:
        assert (await client.post("/order-shipped", json={})).status_code == 404
        assert (
            await client.post("/orders", json={"isbn": "1", "notify_url": "https://p.example/x"})
        ).status_code == 201
    assert {route.path for route in app.routes} >= {"/orders"}
    assert "{$request.body#/notify_url}" not in {route.path for route in app.routes}


# -- snapshot.py -------------------------------------------------------------------------


def test_a_changed_document_fails_with_a_diff(tmp_path, monkeypatch):
    check = snippet("snapshot.py").check_snapshot
    document = snippet("webhooks.py").app.openapi()
    stored = tmp_path / "doc.json"
    monkeypatch.setenv("UPDATE_SNAPSHOTS", "1")
    check(document, stored)
    monkeypatch.delenv("UPDATE_SNAPSHOTS")
    check(copy.deepcopy(document), stored)
    changed = copy.deepcopy(document)
    changed["webhooks"]["order-shipped"]["post"]["operationId"] = "partners-order_shipped"
    with pytest.raises(AssertionError) as failure:
        check(changed, stored)
    assert '-        "operationId": "order_shippedorder_shipped_post",' in str(failure.value)
    assert '+        "operationId": "partners-order_shipped",' in str(failure.value)


def test_paths_follow_the_routes_and_the_snapshot_text_does_not():
    as_text = snippet("snapshot.py").as_text

    def build(reverse: bool) -> dict[str, Any]:
        app = FastAPI()

        async def books() -> None: ...

        async def orders() -> None: ...

        routes = [("/books", books), ("/orders", orders)]
        for path, endpoint in reversed(routes) if reverse else routes:
            app.add_api_route(path, endpoint)
        return app.openapi()

    first, second = build(False), build(True)
    assert list(first["paths"]) == ["/books", "/orders"]
    assert list(second["paths"]) == ["/orders", "/books"]
    assert first == second
    assert json.dumps(first) != json.dumps(second)
    assert as_text(first) == as_text(second)


# -- validation.py and streaming.py -------------------------------------------------------


def test_streaming_routes_carry_item_schema_which_3_1_refuses():
    document = snippet("streaming.py").app.openapi()
    assert document["openapi"] == "3.1.0"
    jsonl = document["paths"]["/books.jsonl"]["get"]["responses"]["200"]["content"]
    assert jsonl == {"application/jsonl": {"itemSchema": {"$ref": "#/components/schemas/Book"}}}
    assert errors_of(document) == [
        "$.paths['/books.jsonl'].get.responses['200'].content['application/jsonl']: "
        "Unevaluated properties are not allowed ('itemSchema' was unexpected)",
        "$.paths['/books/arrivals'].get.responses['200'].content['text/event-stream']: "
        "Unevaluated properties are not allowed ('itemSchema' was unexpected)",
    ]


def test_the_same_document_is_valid_openapi_3_2():
    document = {**snippet("streaming.py").app.openapi(), "openapi": "3.2.0"}
    assert list(OpenAPIV32SpecValidator(document).iter_errors()) == []


# -- custom_openapi.py -------------------------------------------------------------------


@pytest.fixture
def count_calls(monkeypatch) -> Callable[[Any], list[int]]:
    """Wrap `get_openapi` where `module` looks it up; the list grows by one per call."""

    def patch(module: Any) -> list[int]:
        calls: list[int] = []

        def counting(**kwargs: Any) -> dict[str, Any]:
            calls.append(1)
            return get_openapi(**kwargs)

        monkeypatch.setattr(module, "get_openapi", counting)
        return calls

    return patch


async def test_fastapi_builds_the_document_once_and_rebuilds_when_routes_change(count_calls):
    calls = count_calls(fastapi.applications)
    app = FastAPI()

    @app.get("/a")
    async def a() -> None: ...

    async with client_for(app) as client:
        for url in ["/openapi.json"] * 3 + ["/docs", "/redoc"]:
            assert (await client.get(url)).status_code == 200
        assert len(calls) == 1

        @app.get("/b")
        async def b() -> None: ...

        assert set((await client.get("/openapi.json")).json()["paths"]) == {"/a", "/b"}
        assert len(calls) == 2


async def test_docs_pages_build_nothing(count_calls):
    calls = count_calls(fastapi.applications)
    app = FastAPI()
    for url in ("/docs", "/redoc"):
        response = await get(app, url)
        assert "/openapi.json" in response.text
    assert calls == []


async def test_every_caller_gets_the_same_dict():
    app = FastAPI(title="Bookshop")
    app.openapi()["info"]["title"] = "Changed"
    assert (await get(app, "/openapi.json")).json()["info"]["title"] == "Changed"


async def test_the_custom_openapi_is_computed_once(count_calls):
    custom = snippet("custom_openapi.py")
    calls = count_calls(custom)
    app = custom.create_app()
    async with client_for(app) as client:
        bodies = [(await client.get("/openapi.json")).json() for _ in range(5)]
        await client.get("/docs")
    assert len(calls) == 1
    assert all(body == bodies[0] for body in bodies)
    assert app.openapi() is app.openapi()


async def test_the_custom_openapi_is_valid_3_1_with_a_logo_and_the_item_schema_kept():
    app = snippet("custom_openapi.py").create_app()
    document = (await get(app, "/openapi.json")).json()
    assert errors_of(document) == []
    assert document["info"]["x-logo"] == {
        "url": "https://bookshop.example/logo.png",
        "altText": "Bookshop",
    }
    assert document["info"]["summary"] == "Books of a small bookshop."
    media = document["paths"]["/books.jsonl"]["get"]["responses"]["200"]["content"][
        "application/jsonl"
    ]
    assert media == {"x-oai-itemSchema": {"$ref": "#/components/schemas/Book"}}


def test_postprocess_fixes_every_streaming_route_and_leaves_its_input_alone():
    postprocess = snippet("custom_openapi.py").postprocess
    generated = snippet("streaming.py").app.openapi()
    before = copy.deepcopy(generated)
    fixed = postprocess(generated)
    assert generated == before
    assert errors_of(fixed) == []
    sse = fixed["paths"]["/books/arrivals"]["get"]["responses"]["200"]["content"][
        "text/event-stream"
    ]
    assert sse["x-oai-itemSchema"]["properties"]["data"]["contentSchema"] == {
        "$ref": "#/components/schemas/Book"
    }


def test_postprocess_reaches_webhooks_and_callbacks():
    callbacks = APIRouter()

    @callbacks.post("{$request.body#/url}")
    async def pushed() -> AsyncIterable[StreamedBook]:
        yield StreamedBook(isbn="1")

    app = FastAPI()

    @app.webhooks.post("feed")
    async def feed() -> AsyncIterable[StreamedBook]:
        yield StreamedBook(isbn="1")

    @app.post("/subscriptions", callbacks=callbacks.routes)
    async def subscribe() -> None: ...

    document = app.openapi()
    assert len(errors_of(document)) == 2
    assert errors_of(snippet("custom_openapi.py").postprocess(document)) == []


async def test_the_custom_openapi_never_sees_routes_added_later():
    app = snippet("custom_openapi.py").create_app()
    app.openapi()

    @app.get("/late")
    async def late() -> None: ...

    assert "/late" not in (await get(app, "/openapi.json")).json()["paths"]


def test_get_openapi_knows_only_what_it_is_given():
    app = FastAPI(
        title="t",
        version="1",
        openapi_tags=[{"name": "books"}],
        servers=[{"url": "https://api.example.com"}],
        contact={"name": "Shop"},
        license_info={"name": "MIT", "identifier": "MIT"},
    )

    @app.webhooks.post("shipped")
    async def shipped() -> None: ...

    full = app.openapi()
    assert {"tags", "webhooks", "servers"} <= set(full)
    assert {"contact", "license"} <= set(full["info"])
    partial = get_openapi(title=app.title, version=app.version, routes=app.routes)
    assert not {"tags", "webhooks", "servers"} & set(partial)
    assert not {"contact", "license"} & set(partial["info"])


async def test_behind_a_proxy_the_served_document_gains_a_server(count_calls):
    app = snippet("metadata.py").app
    transport = httpx.ASGITransport(app=app, root_path="/shop")
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        served = (await client.get("/openapi.json")).json()
    assert served["servers"] == [{"url": "/shop"}]
    assert "servers" not in app.openapi()


# -- docs_by_settings.py -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "status"), [("development", 200), ("staging", 200), ("production", 404)]
)
async def test_docs_and_schema_follow_the_environment(environment, status):
    docs = snippet("docs_by_settings.py")
    app = docs.create_app(docs.Settings(environment=environment))
    async with client_for(app) as client:
        for url in ("/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"):
            assert (await client.get(url)).status_code == status, url
        assert (await client.get("/books")).json() == ["Dune"]
    assert set(app.openapi()["paths"]) == {"/books"}  # still there for an export


def test_settings_come_from_the_environment_and_refuse_unknown_values(monkeypatch):
    settings = snippet("docs_by_settings.py").Settings
    monkeypatch.setenv("BOOKSHOP_ENVIRONMENT", "production")
    assert settings().environment == "production"
    monkeypatch.setenv("BOOKSHOP_ENVIRONMENT", "prod")
    with pytest.raises(ValidationError, match="environment"):
        settings()


async def test_docs_url_none_alone_leaves_the_schema_public():
    app = FastAPI(docs_url=None, redoc_url=None)
    async with client_for(app) as client:
        assert (await client.get("/openapi.json")).status_code == 200
        assert (await client.get("/docs")).status_code == 404
        assert (await client.get("/redoc")).status_code == 404


# -- claims of the page without a snippet of their own ----------------------------------


def test_a_model_pydantic_cannot_describe_fails_only_when_the_document_is_built():
    class Cover:
        pass

    class Book(BaseModel):
        model_config = ConfigDict(arbitrary_types_allowed=True)
        cover: Cover

    app = FastAPI()

    @app.post("/books")
    async def create(book: Book) -> None: ...

    with pytest.raises(PydanticInvalidForJsonSchema):
        app.openapi()


def test_include_router_tags_then_router_tags_then_the_routes_own():
    app = FastAPI()
    router = APIRouter(tags=["books"])

    @router.get("/stock", tags=["stock"])
    async def stock() -> None: ...

    app.include_router(router)
    assert app.openapi()["paths"]["/stock"]["get"]["tags"] == ["books", "stock"]
    outer = FastAPI()
    outer.include_router(router, tags=["shop"])
    assert outer.openapi()["paths"]["/stock"]["get"]["tags"] == ["shop", "books", "stock"]


def test_the_id_function_gets_a_route_context_for_included_routes():
    seen: list[tuple[str, str, list[str]]] = []

    def scheme(route: Any) -> str:
        seen.append((type(route).__name__, route.path, list(route.tags)))
        return snippet("operation_ids.py").tag_and_name(route)

    app = FastAPI(generate_unique_id_function=scheme)
    router = APIRouter(prefix="/v1", tags=["books"])

    @router.get("/a", tags=["x"])
    async def a() -> None: ...

    app.include_router(router, tags=["shop"])

    @app.get("/b")
    async def b() -> None: ...

    assert operation_ids(app.openapi())[("GET", "/v1/a")] == "shop-a"
    assert ("APIRoute", "/b", []) in seen
    (included,) = [entry for entry in seen if entry[1] == "/v1/a"]
    assert included[0] != "APIRoute"  # a route context, seen from the app
    assert included[2] == ["shop", "books", "x"]


def test_responses_on_a_router_reach_its_routes_and_4xx_replaces_the_422():
    router = APIRouter(responses={401: {"description": "Sign in first"}})

    @router.post("/orders")
    async def create(isbn: str) -> None: ...

    @router.post("/quiet", responses={"4XX": {"description": "Refused"}})
    async def quiet(isbn: str) -> None: ...

    @router.post("/calm", responses={"default": {"description": "Anything else"}})
    async def calm(isbn: str) -> None: ...

    app = FastAPI()
    app.include_router(router, responses={403: {"description": "Not yours"}})
    paths = app.openapi()["paths"]
    assert set(paths["/orders"]["post"]["responses"]) == {"200", "401", "403", "422"}
    assert set(paths["/quiet"]["post"]["responses"]) == {"200", "401", "403", "4XX"}
    assert set(paths["/calm"]["post"]["responses"]) == {"200", "401", "403", "default"}


def test_validate_raises_the_first_error():
    with pytest.raises(OpenAPIValidationError, match="itemSchema"):
        validate(snippet("streaming.py").app.openapi())


def test_an_undeclared_path_parameter_is_refused():
    document = copy.deepcopy(snippet("documented_errors.py").app.openapi())
    del document["paths"]["/books/{isbn}"]["get"]["parameters"]
    assert errors_of(document) == [
        "$: Path parameter 'isbn' for 'get' operation in '/books/{isbn}' was not resolved"
    ]


def test_resetting_the_cache_makes_the_custom_openapi_build_again():
    app = snippet("custom_openapi.py").create_app()
    app.openapi()

    @app.get("/late")
    async def late() -> None: ...

    app.openapi_schema = None
    assert "/late" in app.openapi()["paths"]


def test_the_environment_defaults_to_development(monkeypatch):
    monkeypatch.delenv("BOOKSHOP_ENVIRONMENT", raising=False)
    assert snippet("docs_by_settings.py").Settings().environment == "development"
