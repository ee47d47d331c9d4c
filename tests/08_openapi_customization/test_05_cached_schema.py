"""Hidden suite for 08_openapi_customization/05_cached_schema: processed once, hidden in prod."""

import json
from collections import Counter
from collections.abc import AsyncIterable
from types import ModuleType
from typing import Any

import fastapi.applications
import fastapi.openapi.utils
import openapi_spec_validator  # noqa: F401  (seconds to import: at collection, not in a check)
import pydantic
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.sse import EventSourceResponse
from pydantic import BaseModel

from workbook.openapi_checks import expect_valid_openapi, fetch_document
from workbook.testing import (
    Failure,
    client_for,
    expect,
    expect_equal,
    expect_status,
)

LOGO = {"url": "https://venue.example.com/logo.png", "altText": "Blue Door venue"}
SERVERS = {
    "development": "http://localhost:8000",
    "staging": "https://staging.api.venue.example.com",
    "production": "https://api.venue.example.com",
}
TAGS = [
    {"name": "concerts", "description": "What is on, and when."},
    {"name": "sales", "description": "Tickets as they sell."},
]
INFO = {
    "title": "Venue API",
    "version": "3.0.0",
    "summary": "Concerts and ticket sales of the Blue Door venue.",
    "x-logo": LOGO,
}
ENVIRONMENTS = list(SERVERS)
PUBLIC = ["development", "staging"]
DOC_URLS = ["/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"]
STREAMS = {
    "jsonl": ("/concerts.jsonl", "application/jsonl"),
    "sse": ("/sales/live", "text/event-stream"),
}
ROUTES = {
    "/concerts": '[{"id":"c-1","artist":"Nina Simone"},{"id":"c-2","artist":"Bill Evans"}]',
    "/concerts.jsonl": '{"id":"c-1","artist":"Nina Simone"}\n{"id":"c-2","artist":"Bill Evans"}\n',
    "/sales/live": (
        'data: {"concert_id":"c-1","seats":2}\n\ndata: {"concert_id":"c-2","seats":1}\n\n'
    ),
}

NOT_BUILT = (
    "GET /openapi.json failed: an exception in your openapi() or postprocess() reaches "
    "the client as a 500."
)
INVALID = (
    "The validator names the member it refuses: an `itemSchema` left in a media type is "
    "OpenAPI 3.2, not 3.1."
)
NOT_PROCESSED = (
    "Is app.openapi replaced, in create_app, by a function of yours that returns "
    "postprocess() of the generated document?"
)
METADATA = (
    "get_openapi() knows only what it is given: is every setting of the app passed to it "
    "(summary, tags, servers), or is FastAPI's own openapi() called?"
)
ONCE = (
    "The document is built on the first call of app.openapi() and kept in "
    "app.openapi_schema: is it built again on each request?"
)
NEVER_BUILT = (
    "The checks count the calls of fastapi.openapi.utils.get_openapi: does your openapi() "
    "call it (directly, or through FastAPI's own openapi())?"
)
POSTPROCESS_ONCE = (
    "postprocess() runs when the document is built, not on each request: is its result "
    "kept, and returned from then on?"
)
POSTPROCESS_CALLED = (
    "The checks replace postprocess in your module with a counting wrapper: does your "
    "openapi() call it by that name?"
)
PER_APP = (
    "Each app keeps its own document: is it kept in something shared by every app, such "
    "as a module-level variable or a cache on a function defined outside create_app?"
)
HIDDEN = (
    "openapi_url=None removes the document and the pages that load it; docs_url=None and "
    "redoc_url=None alone leave /openapi.json public."
)
SHOWN = "The document and the docs are public in every environment but production."
REUSED = (
    "Is an app kept and handed out again? create_app builds a new app on every call, and "
    "each app builds its own document once."
)
RENAMED = (
    "Each itemSchema of a media type is renamed x-oai-itemSchema, its value unchanged: is "
    "it moved, rather than dropped or copied?"
)
EVERY_MEDIA_TYPE = (
    "Every media type of every operation: request bodies and responses, under paths and "
    "webhooks, and inside their callbacks (a webhook's too) at any depth."
)
ONLY_MEDIA_TYPES = (
    "Only a Media Type Object's own `itemSchema` member is renamed: is every key of that "
    "name renamed, wherever it is (a model's property too)?"
)
PURE = (
    "postprocess() must leave its argument as it was, at any depth: does it work on a "
    "deep copy (copy.deepcopy)?"
)
STILL_SERVED = "The routes are given: they answer in every environment."
SETTINGS_GIVEN = "Settings is given: keep its Literal environment."


def build(exercise: ModuleType, environment: str) -> Any:
    return exercise.create_app(exercise.Settings(environment=environment))


async def document_of(exercise: ModuleType, environment: str) -> dict[str, Any]:
    """What clients get: GET /openapi.json, or app.openapi() in production (no such route)."""
    app = build(exercise, environment)
    if environment == "production":
        return app.openapi()
    return await fetch_document(app, help=NOT_BUILT)


def as_tree(document: dict[str, Any]) -> dict[str, Any]:
    """A fresh copy in which no two members share one dict, as a parsed document."""
    return json.loads(json.dumps(document))


def postprocessed(exercise: ModuleType, document: dict[str, Any]) -> Any:
    try:
        return exercise.postprocess(as_tree(document))
    except Exception as exc:
        raise Failure(
            f"postprocess(document) raised {type(exc).__name__}: {exc}",
            help="Does postprocess handle every document the contract describes?",
        ) from None


@pytest.fixture
def calls(exercise: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts of get_openapi (wherever it is called from) and of the module's postprocess."""
    counts: Counter[str] = Counter()
    original = fastapi.openapi.utils.get_openapi
    learner_postprocess = exercise.postprocess

    def get_openapi(*args: Any, **kwargs: Any) -> dict[str, Any]:
        counts["get_openapi"] += 1
        return original(*args, **kwargs)

    def postprocess(document: dict[str, Any]) -> Any:
        counts["postprocess"] += 1
        return learner_postprocess(document)

    monkeypatch.setattr(fastapi.openapi.utils, "get_openapi", get_openapi)
    monkeypatch.setattr(fastapi.applications, "get_openapi", get_openapi)
    for name, value in list(vars(exercise).items()):
        if value is original:
            monkeypatch.setattr(exercise, name, get_openapi)
    monkeypatch.setattr(exercise, "postprocess", postprocess)
    return counts


# -- postprocess, called directly -------------------------------------------------------------

INFO_IN = {"title": "Shop", "version": "1.0.0"}
OK = {"description": "OK"}


def doc(**members: Any) -> dict[str, Any]:
    return {"openapi": "3.1.0", "info": dict(INFO_IN), **members}


def done(**members: Any) -> dict[str, Any]:
    return {"openapi": "3.1.0", "info": {**INFO_IN, "x-logo": LOGO}, **members}


def answer(media_type: str, **members: Any) -> dict[str, Any]:
    return {"responses": {"200": {**OK, "content": {media_type: members}}}}


ITEM = {"$ref": "#/components/schemas/Item"}
SCHEMA = {"type": "array", "items": ITEM}
FEED_MODEL = {
    "type": "object",
    "properties": {"itemSchema": {"type": "string"}, "size": {"type": "integer"}},
}
LISTED = {"application/json": {"schema": {"properties": {"itemSchema": {"type": "string"}}}}}
CALLBACK_IN = {
    "{$request.body#/url}": {
        "post": {
            **answer("text/event-stream", itemSchema=ITEM),
            "callbacks": {
                "deeper": {"{$request.body#/next}": {"put": answer("a/b", itemSchema=ITEM)}}
            },
        }
    }
}
CALLBACK_OUT = {
    "{$request.body#/url}": {
        "post": {
            **answer("text/event-stream", **{"x-oai-itemSchema": ITEM}),
            "callbacks": {
                "deeper": {
                    "{$request.body#/next}": {"put": answer("a/b", **{"x-oai-itemSchema": ITEM})}
                }
            },
        }
    }
}
ITEMS_IN = {"application/json": {"schema": SCHEMA}, "application/jsonl": {"itemSchema": ITEM}}
ITEMS_OUT = {
    "application/json": {"schema": SCHEMA},
    "application/jsonl": {"x-oai-itemSchema": ITEM},
}

CASES = {
    "no-paths": (doc(), done()),
    "logo-replaced": (
        doc(info={**INFO_IN, "x-logo": {"url": "https://old.example.com/logo.png"}}),
        done(),
    ),
    "nothing-to-rename": (
        doc(paths={"/a": {"get": answer("application/json", schema=SCHEMA)}}),
        done(paths={"/a": {"get": answer("application/json", schema=SCHEMA)}}),
    ),
    "responses": (
        doc(
            paths={
                "/feed": {
                    "get": {
                        "responses": {
                            "200": {**OK, "content": ITEMS_IN},
                            "206": {**OK, "content": ITEMS_IN},
                        }
                    },
                    "post": answer("text/event-stream", itemSchema={"type": "object"}),
                },
                "/more": {"get": answer("application/jsonl", itemSchema={})},
            }
        ),
        done(
            paths={
                "/feed": {
                    "get": {
                        "responses": {
                            "200": {**OK, "content": ITEMS_OUT},
                            "206": {**OK, "content": ITEMS_OUT},
                        }
                    },
                    "post": answer("text/event-stream", **{"x-oai-itemSchema": {"type": "object"}}),
                },
                "/more": {"get": answer("application/jsonl", **{"x-oai-itemSchema": {}})},
            }
        ),
    ),
    "request-body": (
        doc(
            paths={
                "/upload": {
                    "post": {"requestBody": {"content": ITEMS_IN}, "responses": {"204": OK}}
                }
            }
        ),
        done(
            paths={
                "/upload": {
                    "post": {"requestBody": {"content": ITEMS_OUT}, "responses": {"204": OK}}
                }
            }
        ),
    ),
    "webhooks": (
        doc(webhooks={"sold": {"post": answer("application/jsonl", itemSchema=ITEM)}}),
        done(
            webhooks={"sold": {"post": answer("application/jsonl", **{"x-oai-itemSchema": ITEM})}}
        ),
    ),
    "callbacks": (
        doc(
            paths={
                "/subscribe": {
                    "post": {"responses": {"201": OK}, "callbacks": {"events": CALLBACK_IN}}
                }
            }
        ),
        done(
            paths={
                "/subscribe": {
                    "post": {"responses": {"201": OK}, "callbacks": {"events": CALLBACK_OUT}}
                }
            }
        ),
    ),
    "webhook-callbacks": (
        doc(
            webhooks={
                "subscribed": {
                    "post": {"responses": {"204": OK}, "callbacks": {"events": CALLBACK_IN}}
                }
            }
        ),
        done(
            webhooks={
                "subscribed": {
                    "post": {"responses": {"204": OK}, "callbacks": {"events": CALLBACK_OUT}}
                }
            }
        ),
    ),
    "properties-named-itemSchema": (
        doc(
            paths={"/feeds": {"get": {"responses": {"200": {**OK, "content": LISTED}}}}},
            components={"schemas": {"Feed": FEED_MODEL}},
        ),
        done(
            paths={"/feeds": {"get": {"responses": {"200": {**OK, "content": LISTED}}}}},
            components={"schemas": {"Feed": FEED_MODEL}},
        ),
    ),
}
CASE_HELP = {
    "no-paths": None,
    "logo-replaced": None,
    "nothing-to-rename": None,
    "responses": RENAMED,
    "request-body": EVERY_MEDIA_TYPE,
    "webhooks": EVERY_MEDIA_TYPE,
    "callbacks": EVERY_MEDIA_TYPE,
    "webhook-callbacks": EVERY_MEDIA_TYPE,
    "properties-named-itemSchema": ONLY_MEDIA_TYPES,
}


@pytest.mark.parametrize("case", list(CASES))
def test_postprocess(exercise, case):
    """postprocess adds the logo and renames each itemSchema of a media type, nothing else"""
    document, expected = CASES[case]
    actual = postprocessed(exercise, document)
    expect_equal("postprocess(document)", expected, actual, help=CASE_HELP[case])


@pytest.mark.stub_may_pass("the stub's postprocess changes nothing at all")
def test_postprocess_leaves_its_argument(exercise):
    """postprocess leaves the document it is given unchanged, at any depth"""
    document = CASES["callbacks"][0]
    document = {
        **document,
        "paths": {**document["paths"], "/feed": CASES["responses"][0]["paths"]["/feed"]},
    }
    document = as_tree(document)
    before = as_tree(document)
    try:
        exercise.postprocess(document)
    except Exception as exc:
        raise Failure(f"postprocess(document) raised {type(exc).__name__}: {exc}") from None
    expect_equal("argument of postprocess, after the call", before, document, help=PURE)


class Item(BaseModel):
    name: str


def streaming_app() -> FastAPI:
    """An app of the checks' own, streaming from a route, a webhook and a callback."""
    app = FastAPI(title="Streams", version="1.0.0")
    callbacks = APIRouter()

    @callbacks.post("{$request.body#/url}", response_class=EventSourceResponse)
    async def pushed() -> AsyncIterable[Item]:
        yield Item(name="a")

    @app.webhooks.post("items-exported")
    async def exported() -> AsyncIterable[Item]:
        yield Item(name="a")

    @app.get("/items.jsonl", callbacks=callbacks.routes)
    async def items() -> AsyncIterable[Item]:
        yield Item(name="a")

    return app


def test_postprocess_of_a_generated_document(exercise, reference):
    """postprocess makes a document FastAPI generated valid OpenAPI 3.1"""
    generated = streaming_app().openapi()
    actual = postprocessed(exercise, generated)
    expect_equal("postprocess(document)", reference.postprocess(generated), actual, help=RENAMED)
    expect_valid_openapi(actual, help=INVALID)


# -- the app's document ---------------------------------------------------------------------


@pytest.mark.parametrize("environment", ENVIRONMENTS)
async def test_document(exercise, reference, environment):
    """the app's document is the generated one, post-processed, in every environment"""
    expected = build(reference, environment).openapi()
    actual = await document_of(exercise, environment)
    expect_equal("document", expected, actual, help=NOT_PROCESSED)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
async def test_document_is_valid_openapi(exercise, environment):
    """the app's document is valid OpenAPI 3.1, in every environment"""
    expect_valid_openapi(await document_of(exercise, environment), help=INVALID)


async def test_info(exercise):
    """info holds the title, version and summary, and the logo"""
    info = (await document_of(exercise, "development")).get("info", {})
    help = NOT_PROCESSED if info == {**INFO, "x-logo": info.get("x-logo")} else METADATA
    expect_equal("info", INFO, info, help=help)


@pytest.mark.stub_may_pass("FastAPI's own document has the servers and the tags too")
@pytest.mark.parametrize("environment", ENVIRONMENTS)
async def test_servers(exercise, environment):
    """servers is the environment's one server"""
    document = await document_of(exercise, environment)
    expected = [{"url": SERVERS[environment]}]
    expect_equal("servers", expected, document.get("servers"), help=METADATA)


@pytest.mark.stub_may_pass("FastAPI's own document has the servers and the tags too")
async def test_tags(exercise):
    """tags are the two declared tags, with their descriptions, in order"""
    document = await document_of(exercise, "development")
    expect_equal("tags", TAGS, document.get("tags"), help=METADATA)


@pytest.mark.parametrize("stream", list(STREAMS))
async def test_stream_item_schema(exercise, stream):
    """each streaming route documents its items under x-oai-itemSchema"""
    path, media_type = STREAMS[stream]
    plain = FastAPI(title="Plain", version="1")
    plain.include_router(exercise.router)
    generated = plain.openapi()["paths"][path]["get"]["responses"]["200"]["content"][media_type]
    expected = {"x-oai-itemSchema": generated["itemSchema"]}
    document = await document_of(exercise, "development")
    content = document["paths"][path]["get"]["responses"]["200"]["content"]
    expect_equal(
        f"{media_type} media type of GET {path}",
        expected,
        content.get(media_type),
        help=RENAMED,
    )


# -- built once ---------------------------------------------------------------------------


@pytest.mark.stub_may_pass("the stub's create_app builds a new app on every call")
def test_a_new_app_every_time(exercise):
    """create_app returns a new app on every call, for the same settings too"""
    settings = exercise.Settings(environment="staging")
    first, second = exercise.create_app(settings), exercise.create_app(settings)
    expect(first is not second, "expected two calls of create_app to return two apps", help=REUSED)


async def request_all(app: Any, public: bool) -> None:
    """Ask for the document many ways: app.openapi() and, when public, every docs URL."""
    app.openapi()
    if public:
        async with client_for(app) as client:
            for url in [*DOC_URLS, "/openapi.json", "/docs", "/openapi.json"]:
                response = await client.get(url)
                expect_status(response, 200, help=SHOWN)
    app.openapi()


@pytest.mark.stub_may_pass("FastAPI's own openapi() also builds its document once")
@pytest.mark.parametrize("environment", ["development", "production"])
async def test_generated_once(exercise, calls, environment):
    """FastAPI's get_openapi runs once, however often the document is asked for"""
    app = build(exercise, environment)
    built_before = calls["get_openapi"] == 0 and app.openapi_schema is not None
    await request_all(app, environment != "production")
    help = NEVER_BUILT if calls["get_openapi"] == 0 else ONCE
    help = REUSED if built_before and calls["get_openapi"] == 0 else help
    expect_equal("calls of get_openapi", 1, calls["get_openapi"], help=help)


@pytest.mark.parametrize("environment", ["development", "production"])
async def test_postprocessed_once(exercise, calls, environment):
    """postprocess runs once, however often the document is asked for"""
    app = build(exercise, environment)
    built_before = calls["postprocess"] == 0 and app.openapi_schema is not None
    await request_all(app, environment != "production")
    help = POSTPROCESS_CALLED if calls["postprocess"] == 0 else POSTPROCESS_ONCE
    help = REUSED if built_before and calls["postprocess"] == 0 else help
    expect_equal("calls of postprocess", 1, calls["postprocess"], help=help)


async def test_each_app_builds_its_own(exercise, calls):
    """two apps each build their own document, once, with their own server"""
    apps = {environment: build(exercise, environment) for environment in PUBLIC}
    documents = {}
    for _ in range(2):
        for environment, app in apps.items():
            documents[environment] = await fetch_document(app, help=NOT_BUILT)
    servers = {environment: document.get("servers") for environment, document in documents.items()}
    expected = {environment: [{"url": SERVERS[environment]}] for environment in PUBLIC}
    expect_equal("servers of each app's document", expected, servers, help=PER_APP)
    builds = {"get_openapi": calls["get_openapi"], "postprocess": calls["postprocess"]}
    help = PER_APP
    if calls["postprocess"] == 0:
        help = POSTPROCESS_CALLED
    elif max(builds.values()) > len(PUBLIC):
        help = ONCE
    expect_equal("calls for two apps", {"get_openapi": 2, "postprocess": 2}, builds, help=help)


# -- docs by environment ------------------------------------------------------------------


@pytest.mark.parametrize("url", DOC_URLS)
async def test_docs_hidden_in_production(exercise, url):
    """in production, the document and the docs pages answer 404"""
    async with client_for(build(exercise, "production")) as client:
        response = await client.get(url)
    expect_status(response, 404, help=HIDDEN)


@pytest.mark.stub_may_pass("FastAPI serves the document and the docs by default")
@pytest.mark.parametrize("environment", PUBLIC)
@pytest.mark.parametrize("url", DOC_URLS)
async def test_docs_shown(exercise, environment, url):
    """in development and staging, the document and the docs pages answer 200"""
    async with client_for(build(exercise, environment)) as client:
        response = await client.get(url)
    expect_status(response, 200, help=SHOWN)


@pytest.mark.stub_may_pass("FastAPI's pages load /openapi.json by default")
@pytest.mark.parametrize("url", ["/docs", "/redoc"])
async def test_pages_load_the_document(exercise, url):
    """the docs pages load /openapi.json"""
    async with client_for(build(exercise, "staging")) as client:
        response = await client.get(url)
    expect_status(response, 200, help=SHOWN)
    expect(
        "'/openapi.json'" in response.text or '"/openapi.json"' in response.text,
        f"expected the page {url} to load '/openapi.json'",
        help=SHOWN,
    )


@pytest.mark.stub_may_pass("the routes are given: they answer on the stub too")
@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("path", list(ROUTES))
async def test_routes_still_answer(exercise, environment, path):
    """every route answers as before, in every environment"""
    async with client_for(build(exercise, environment)) as client:
        response = await client.get(path)
    expect_status(response, 200, help=STILL_SERVED)
    expect_equal(f"body of GET {path}", ROUTES[path], response.text, help=STILL_SERVED)


@pytest.mark.stub_may_pass("Settings is given")
def test_unknown_environment_is_refused(exercise, monkeypatch):
    """an environment other than the three fails before an app is built"""
    monkeypatch.setenv("VENUE_ENVIRONMENT", "prod")
    with pytest.raises(pydantic.ValidationError):
        exercise.Settings()
    monkeypatch.setenv("VENUE_ENVIRONMENT", "production")
    expect_equal(
        "Settings().environment", "production", exercise.Settings().environment, help=SETTINGS_GIVEN
    )
