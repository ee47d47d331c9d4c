"""Every snippet of lessons/05-responses-streaming.md runs and does what the page says."""

import contextlib
import sys
import threading
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import fastapi
import fastapi.encoders
import fastapi.responses
import fastapi.routing
import fastapi.sse
import h11
import pytest
import uvicorn
from fastapi.exceptions import FastAPIDeprecationWarning, ResponseValidationError
from fastapi.responses import ORJSONResponse, UJSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES

from workbook.loader import load
from workbook.testing import client_for

SNIPPETS = Path(__file__).resolve().parents[2] / "lessons" / "snippets" / "05_responses_streaming"
HANG_GUARD_S = 5  # only ever reached when a stream hangs: the tests wait on events, not time


def snippet(name: str) -> Any:
    return load(SNIPPETS / name)


async def get(app: Any, url: str, **kwargs: Any) -> Any:
    async with client_for(app) as client:
        return await client.get(url, **kwargs)


def open_stream(app: Any, path: str, headers: dict[str, str] | None = None) -> Any:
    return snippet("asgi_stream.py").open_stream(app, path, headers)


# -- exports.py: a Response subclass for CSV; JSON Lines two ways ------------------------

CSV_BODY = (
    b"isbn,title,author,price\r\n"
    b"9780441013593,Dune,Frank Herbert,9.99\r\n"
    b'9781861972712,"Eats, Shoots & Leaves",Lynne Truss,\r\n'
    b'9780261102217,"The ""Hobbit""",J. R. R. Tolkien,8.5\r\n'
    b"9782070360024,L'\xc3\x89tranger,Albert Camus,7.2\r\n"
)
JSONL_BODY = (
    b'{"isbn":"9780441013593","title":"Dune","author":"Frank Herbert","price":9.99}\n'
    b'{"isbn":"9781861972712","title":"Eats, Shoots & Leaves","author":"Lynne Truss",'
    b'"price":null}\n'
    b'{"isbn":"9780261102217","title":"The \\"Hobbit\\"","author":"J. R. R. Tolkien",'
    b'"price":8.5}\n'
    b'{"isbn":"9782070360024","title":"L\'\xc3\x89tranger","author":"Albert Camus","price":7.2}\n'
)


async def test_csv_export_is_exact_bytes_with_quoting_crlf_and_utf8():
    response = await get(snippet("exports.py").app, "/books.csv")
    assert response.status_code == 200
    assert response.content == CSV_BODY
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="books.csv"'
    assert response.headers["content-length"] == str(len(CSV_BODY))


async def test_csv_export_of_nothing_is_the_header_row_alone():
    response = await get(snippet("exports.py").app, "/books.csv", params={"author": "Nobody"})
    assert response.content == b"isbn,title,author,price\r\n"


def test_csv_response_renders_when_it_is_created_and_quotes_newlines():
    csv_response = snippet("exports.py").CSVResponse
    created = csv_response([["a\nb", "plain", None, 'say "hi"']])
    assert created.body == b'"a\nb",plain,,"say ""hi"""\r\n'  # the body exists before sending


def test_starlette_adds_a_charset_to_text_types_only():
    exports = snippet("exports.py")
    assert exports.CSVResponse(()).headers["content-type"] == "text/csv; charset=utf-8"
    ndjson = exports.NDJSONResponse(iter(()))
    assert ndjson.headers["content-type"] == "application/x-ndjson"


async def test_returning_rows_to_a_response_class_goes_through_jsonable_encoder(encoder_calls):
    exports = snippet("exports.py")
    calls = encoder_calls()
    app = fastapi.FastAPI()

    @app.get("/books.csv", response_class=exports.CSVResponse)
    async def export_csv() -> exports.CSVResponse:
        return [
            list(exports.Book.model_fields),
            *(list(b.model_dump().values()) for b in exports.BOOKS),
        ]

    response = await get(app, "/books.csv")
    assert response.content == CSV_BODY
    assert calls == ["fastapi"]


def test_csv_route_documents_text_csv_in_openapi():
    operation = snippet("exports.py").app.openapi()["paths"]["/books.csv"]["get"]
    assert operation["responses"]["200"]["content"] == {"text/csv": {"schema": {"type": "string"}}}


async def test_a_yielding_path_operation_streams_json_lines():
    response = await get(snippet("exports.py").app, "/books.jsonl")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/jsonl"
    assert "content-length" not in response.headers
    assert response.content == JSONL_BODY


async def test_json_lines_of_nothing_is_an_empty_body():
    response = await get(snippet("exports.py").app, "/books.jsonl", params={"author": "Nobody"})
    assert response.status_code == 200
    assert response.content == b""


def test_json_lines_route_documents_its_item_schema():
    operation = snippet("exports.py").app.openapi()["paths"]["/books.jsonl"]["get"]
    assert operation["responses"]["200"]["content"] == {
        "application/jsonl": {"itemSchema": {"$ref": "#/components/schemas/Book"}}
    }


async def test_json_lines_items_are_validated_against_the_item_type():
    exports = snippet("exports.py")
    app = fastapi.FastAPI()

    @app.get("/books")
    async def books() -> AsyncIterable[exports.Book]:
        yield {"isbn": "1", "title": "T", "author": "A", "price": "2"}
        yield {"isbn": 2, "title": "T", "author": "A", "price": None}  # isbn is not a str

    async with client_for(app, raise_app_exceptions=False) as client:
        response = await client.get("/books")
    assert response.status_code == 200
    assert response.content == b'{"isbn":"1","title":"T","author":"A","price":2.0}\n'
    with pytest.raises(ResponseValidationError):
        await get(app, "/books")


async def test_other_generator_annotations_stream_json_lines_the_same_way():
    exports = snippet("exports.py")
    app = fastapi.FastAPI()
    threads: list[int] = []

    @app.get("/iterator")
    async def iterator() -> AsyncIterator[exports.Book]:
        for book in exports.BOOKS:
            yield book

    @app.get("/generator")
    async def generator() -> AsyncGenerator[exports.Book, None]:
        for book in exports.BOOKS:
            yield book

    @app.get("/sync")
    def sync() -> Iterator[exports.Book]:
        for book in exports.BOOKS:
            threads.append(threading.get_ident())
            yield book

    for url in ("/iterator", "/generator", "/sync"):
        response = await get(app, url)
        assert response.headers["content-type"] == "application/jsonl"
        assert response.content == JSONL_BODY
        content = app.openapi()["paths"][url]["get"]["responses"]["200"]["content"]
        assert content["application/jsonl"]["itemSchema"] == {"$ref": "#/components/schemas/Book"}
    assert threading.get_ident() not in threads  # the sync generator ran in worker threads


async def test_a_streaming_response_class_sends_the_chunks_as_they_are():
    exports = snippet("exports.py")
    response = await get(exports.app, "/books.ndjson")
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.content == JSONL_BODY
    operation = exports.app.openapi()["paths"]["/books.ndjson"]["get"]
    assert operation["responses"]["200"]["content"] == {
        "application/x-ndjson": {"schema": {"type": "string"}}
    }


async def test_a_generator_without_response_class_quotes_strings_as_json_lines():
    app = fastapi.FastAPI()

    @app.get("/report")
    async def report():
        yield "a,b\n"
        yield b"raw"
        yield {"a": 1}

    response = await get(app, "/report")
    assert response.headers["content-type"] == "application/jsonl"
    assert response.content == b'"a,b\\n"\n"raw"\n{"a": 1}\n'


async def test_a_generator_with_plain_streaming_response_has_no_content_type():
    app = fastapi.FastAPI()

    @app.get("/raw", response_class=fastapi.responses.StreamingResponse)
    async def raw():
        yield b"x"

    response = await get(app, "/raw")
    assert response.content == b"x"
    assert "content-type" not in response.headers


# -- progress.py + asgi_stream.py: the harness buffers, a receive/send pair does not -----


async def test_asgi_transport_runs_the_whole_stream_before_the_test_sees_headers():
    progress = snippet("progress.py")
    progress.log.clear()
    async with client_for(progress.app) as client, client.stream("GET", "/progress") as response:
        assert response.status_code == 200
        assert progress.log == ["step 1", "step 2", "step 3", "finished"]


async def test_the_receive_send_pair_hands_over_each_chunk():
    progress = snippet("progress.py")
    with anyio.fail_after(HANG_GUARD_S):
        async with open_stream(progress.app, "/progress") as response:
            assert response.status == 200
            assert response.headers["content-type"] == "application/jsonl"
            chunks = [await response.next_chunk() for _ in range(4)]
            assert await response.next_chunk() == b""  # and it stays at the end
    assert chunks == [
        b'{"done":1,"of":3}\n',
        b'{"done":2,"of":3}\n',
        b'{"done":3,"of":3}\n',
        b"",
    ]


async def test_the_generator_runs_only_as_far_as_the_client_reads():
    progress = snippet("progress.py")
    progress.log.clear()
    with anyio.fail_after(HANG_GUARD_S):
        async with open_stream(progress.app, "/progress") as response:
            assert await response.next_chunk() == b'{"done":1,"of":3}\n'
            assert "step 3" not in progress.log
    assert "finished" not in progress.log  # the client left: the loop never completed


def test_starlette_test_client_streams_from_another_thread():
    progress = snippet("progress.py")
    progress.log.clear()
    threads: list[int] = []
    app = fastapi.FastAPI()

    @app.get("/thread")
    async def thread() -> None:
        threads.append(threading.get_ident())  # an async endpoint runs on the loop's thread

    with TestClient(progress.app) as client, client.stream("GET", "/progress") as response:
        assert "finished" not in progress.log  # unlike ASGITransport, the body is still coming
        assert len(list(response.iter_bytes())) == 3
    with TestClient(app) as client:
        client.get("/thread")
    assert threads != [threading.get_ident()]


async def test_feed_checks_snippet_passes(monkeypatch):
    monkeypatch.syspath_prepend(str(SNIPPETS))  # it imports its neighbours by name
    try:
        await snippet("feed_checks.py").test_resumes_after_last_event_id()
    finally:
        for name in ("asgi_stream", "sse_feed"):
            sys.modules.pop(name, None)


async def test_a_client_leaving_closes_yield_dependencies_but_not_the_generator():
    cleanup = snippet("cleanup.py")
    cleanup.log.clear()
    with anyio.fail_after(HANG_GUARD_S):
        async with open_stream(cleanup.app, "/rows") as response:
            assert await response.next_chunk() == b"1\n"
    assert cleanup.log == ["cursor opened", "cursor closed"]  # no "generator finally" yet


async def test_a_stream_read_to_the_end_runs_everything_in_order():
    cleanup = snippet("cleanup.py")
    cleanup.log.clear()
    with anyio.fail_after(HANG_GUARD_S):
        async with open_stream(cleanup.app, "/rows") as response:
            chunks = [await response.next_chunk() for _ in range(4)]
    assert chunks == [b"1\n", b"2\n", b"3\n", b""]
    assert cleanup.log == ["cursor opened", "loop finished", "generator finally", "cursor closed"]


# -- sse_wire.py: the wire format --------------------------------------------------------

MATCH_BODY = (
    b": kick-off\nretry: 5000\n\n"
    b'event: goal\ndata: {"home":1,"away":0}\nid: 17\n\n'
    b'data: "half time"\n\n'
    b"data: line one\ndata: line two\n\n"
    b'data: {"minute": 90}\n\n'
)


async def test_server_sent_events_wire_format():
    response = await get(snippet("sse_wire.py").app, "/match")
    assert response.status_code == 200
    assert response.content == MATCH_BODY


async def test_event_source_response_headers():
    response = await get(snippet("sse_wire.py").app, "/match")
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert "content-length" not in response.headers


async def test_plain_items_are_validated_and_sent_as_data_only():
    response = await get(snippet("sse_wire.py").app, "/scores")
    assert response.content == b'data: {"home":2,"away":1}\n\ndata: {"home":3,"away":1}\n\n'


def test_sse_openapi_describes_the_event_and_its_json_data():
    content = snippet("sse_wire.py").app.openapi()["paths"]["/scores"]["get"]["responses"]["200"]
    item = content["content"]["text/event-stream"]["itemSchema"]
    assert item["required"] == ["data"]
    assert item["properties"]["data"] == {
        "type": "string",
        "contentMediaType": "application/json",
        "contentSchema": {"$ref": "#/components/schemas/Score"},
    }
    assert item["properties"]["retry"] == {"type": "integer", "minimum": 0}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"event": "a\nb"}, "SSE 'event' must be a single line"),
        ({"id": "1\r2"}, "SSE 'id' must be a single line"),
        ({"id": "a\0"}, "SSE 'id' must not contain null characters"),
        ({"data": 1, "raw_data": "1"}, "Cannot set both 'data' and 'raw_data'"),
        ({"retry": -1}, "greater than or equal to 0"),
    ],
)
def test_server_sent_event_refuses_what_would_break_the_stream(fields, message):
    with pytest.raises(ValidationError, match=message):
        ServerSentEvent(**fields)


def test_gzip_middleware_leaves_event_streams_alone_by_default():
    assert "text/event-stream" in DEFAULT_EXCLUDED_CONTENT_TYPES
    assert "application/jsonl" not in DEFAULT_EXCLUDED_CONTENT_TYPES


def test_the_keep_alive_is_a_comment_sent_after_15_idle_seconds():
    assert fastapi.sse.KEEPALIVE_COMMENT == b": ping\n\n"
    assert fastapi.sse._PING_INTERVAL == 15.0
    assert fastapi.routing._PING_INTERVAL == 15.0  # a copy: routing imported the value


async def test_event_source_response_works_with_post():
    app = fastapi.FastAPI()

    @app.post("/mcp", response_class=EventSourceResponse)
    async def mcp() -> AsyncIterable[ServerSentEvent]:
        yield ServerSentEvent(data={"ok": True})

    async with client_for(app) as client:
        response = await client.post("/mcp")
    assert response.status_code == 200
    assert response.content == b'data: {"ok": true}\n\n'


def test_uvicorn_announces_asgi_spec_2_3_and_logs_exceptions_from_the_app():
    for protocol in ("h11_impl", "httptools_impl"):
        source = Path(uvicorn.__file__).parent / "protocols" / "http" / f"{protocol}.py"
        assert '"spec_version": "2.3"' in source.read_text()
        assert '"Exception in ASGI application' in source.read_text()


# -- sse_feed.py: resume from Last-Event-ID, event by event ------------------------------


@pytest.fixture
def feed_app() -> Any:
    """The feed app with a fresh feed of three notices, removed again after the test."""
    sse_feed = snippet("sse_feed.py")
    feed = sse_feed.Feed()
    for text in ("opening", "first goal", "half time"):
        feed.publish(text)
    sse_feed.app.dependency_overrides[sse_feed.get_feed] = lambda: feed
    yield sse_feed.app, feed
    sse_feed.app.dependency_overrides.clear()


def notice(number: int, text: str) -> bytes:
    return f'event: notice\ndata: {{"id":{number},"text":"{text}"}}\nid: {number}\n\n'.encode()


async def test_stream_resumes_after_last_event_id_and_delivers_new_events(feed_app):
    app, feed = feed_app
    with anyio.fail_after(HANG_GUARD_S):
        async with open_stream(app, "/notices", {"Last-Event-ID": "1"}) as response:
            assert response.status == 200
            assert await response.next_chunk() == notice(2, "first goal")
            assert await response.next_chunk() == notice(3, "half time")
            feed.publish("second goal")  # the generator was waiting for exactly this
            assert await response.next_chunk() == notice(4, "second goal")


async def test_without_last_event_id_the_stream_starts_at_the_beginning(feed_app):
    app, _ = feed_app
    with anyio.fail_after(HANG_GUARD_S):
        async with open_stream(app, "/notices") as response:
            assert await response.next_chunk() == notice(1, "opening")
            assert await response.next_chunk() == notice(2, "first goal")
            assert await response.next_chunk() == notice(3, "half time")


async def test_leaving_a_stream_with_events_still_queued_raises_in_the_app(feed_app):
    app, feed = feed_app
    for minute in range(7):
        feed.publish(f"minute {minute}")
    with (
        anyio.fail_after(HANG_GUARD_S),
        pytest.RaisesGroup(anyio.BrokenResourceError, flatten_subgroups=True),
    ):
        async with open_stream(app, "/notices") as response:
            assert await response.next_chunk() == notice(1, "opening")
            # the rest are queued inside FastAPI when the client leaves


async def test_headers_arrive_while_the_generator_waits(feed_app):
    app, _ = feed_app
    with anyio.fail_after(HANG_GUARD_S):
        async with open_stream(app, "/notices", {"Last-Event-ID": "3"}) as response:
            assert response.status == 200  # nothing to send yet, and the headers are out
            assert response.headers["content-type"] == "text/event-stream; charset=utf-8"


async def test_a_last_event_id_that_is_not_a_number_is_a_422(feed_app):
    app, _ = feed_app
    with anyio.fail_after(HANG_GUARD_S):
        async with open_stream(app, "/notices", {"Last-Event-ID": "abc"}) as response:
            assert response.status == 422
            body = await response.next_chunk()
    assert b'"loc":["header","last-event-id"]' in body


async def test_an_idle_stream_sends_keep_alive_comments(feed_app, monkeypatch):
    app, _ = feed_app
    monkeypatch.setattr(fastapi.sse, "_PING_INTERVAL", 0.01)  # no effect: not where it is read
    monkeypatch.setattr(fastapi.routing, "_PING_INTERVAL", 0.01)
    with anyio.fail_after(HANG_GUARD_S):
        async with open_stream(app, "/notices", {"Last-Event-ID": "3"}) as response:
            assert await response.next_chunk() == b": ping\n\n"


async def test_patching_the_interval_in_fastapi_sse_changes_nothing(feed_app, monkeypatch):
    app, feed = feed_app
    monkeypatch.setattr(fastapi.sse, "_PING_INTERVAL", 0.0)
    async with open_stream(app, "/notices", {"Last-Event-ID": "3"}) as response:
        feed.publish("full time")
        with anyio.fail_after(HANG_GUARD_S):
            assert await response.next_chunk() == notice(4, "full time")  # no ping came first


# -- negotiation.py: Accept, q-values, wildcards, 406, Vary ------------------------------

NEGOTIATION_TABLE = [
    (None, "application/json"),
    ("", "application/json"),
    ("*/*", "application/json"),
    ("text/csv", "text/csv"),
    ("TEXT/CSV", "text/csv"),
    ("text/*", "text/csv"),
    ("text/*;q=0.5, application/json;q=0.4", "text/csv"),
    ("application/json;q=0, */*", "text/csv"),
    ("*/*;q=0.1, text/plain", "text/plain"),
    ("text/*, text/csv;q=0", "text/plain"),
    ("application/*;q=0.2, text/plain;q=0.2", "application/json"),
    ("text/csv;q=abc, text/plain;q=0.1", "text/plain"),
    ("text/csv;q=abc, text/*;q=0.5", "text/csv"),
    ("text/csv;Q=0.3, text/plain;q=0.2", "text/csv"),
    ("text/csv;charset=utf-8;q=0.9, application/json;q=0.8", "text/csv"),
    ("json, */json, text/", None),
    ("application/jsonl", None),
    ("text/csv;q=1.5", None),
    ("image/png", None),
    ("*/*;q=0", None),
    ("text/html, application/xhtml+xml, application/xml;q=0.9, */*;q=0.8", "application/json"),
]


@pytest.mark.parametrize(("accept", "chosen"), NEGOTIATION_TABLE)
def test_negotiate_picks_the_documented_type(accept, chosen):
    assert snippet("negotiation.py").negotiate(accept) == chosen


@pytest.mark.parametrize(
    ("accept", "content_type", "body"),
    [
        (
            None,
            "application/json",
            b'[{"city":"Oslo","celsius":-3.5},{"city":"Lisbon","celsius":16.0}]',
        ),
        ("text/csv", "text/csv; charset=utf-8", b"city,celsius\r\nOslo,-3.5\r\nLisbon,16.0\r\n"),
        ("text/plain", "text/plain; charset=utf-8", "Oslo: -3.5 °C\nLisbon: 16.0 °C".encode()),
    ],
)
async def test_each_representation_says_vary_accept(accept, content_type, body):
    headers = {"Accept": accept} if accept else {}
    response = await get(snippet("negotiation.py").app, "/temperatures", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["vary"] == "Accept"
    assert response.content == body


async def test_nothing_acceptable_is_a_406_listing_the_supported_types_with_vary():
    app = snippet("negotiation.py").app
    response = await get(app, "/temperatures", headers={"Accept": "image/png"})
    assert response.status_code == 406
    assert response.json() == {
        "detail": {"supported": ["application/json", "text/csv", "text/plain"]}
    }
    assert response.headers["vary"] == "Accept"


def test_openapi_lists_every_media_type_under_200():
    operation = snippet("negotiation.py").app.openapi()["paths"]["/temperatures"]["get"]
    assert list(operation["responses"]["200"]["content"]) == [
        "application/json",
        "text/csv",
        "text/plain",
    ]
    assert "406" in operation["responses"]


async def test_lost_header_returning_a_response_drops_the_injected_headers():
    lost_header = snippet("lost_header.py")
    response = await get(lost_header.app, "/greeting")
    assert "vary" not in response.headers
    response = await get(lost_header.app, "/greeting.json")
    assert response.headers["vary"] == "Accept"


# -- conditional.py: ETag, If-None-Match, 304, Cache-Control -----------------------------

LAMP = b'{"sku":"lamp","name":"Desk lamp","price_cents":3900}'


@pytest.fixture
def conditional() -> Any:
    module = snippet("conditional.py")
    saved = dict(module.PRODUCTS)
    yield module
    module.PRODUCTS.clear()
    module.PRODUCTS.update(saved)


async def test_a_200_carries_a_strong_etag_of_its_bytes_and_cache_control(conditional):
    response = await get(conditional.app, "/products/lamp")
    assert response.status_code == 200
    assert response.content == LAMP
    etag = response.headers["etag"]
    assert etag == conditional.strong_etag(LAMP)
    assert etag.startswith('"')  # strong: no W/ prefix
    assert len(etag) == 66  # a sha256 in hex, quoted
    assert response.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    "if_none_match",
    ["{etag}", "W/{etag}", '"other", {etag}', "*", '  "other" ,W/{etag} '],
)
async def test_a_matching_if_none_match_is_a_304_without_a_body(conditional, if_none_match):
    async with client_for(conditional.app) as client:
        etag = (await client.get("/products/lamp")).headers["etag"]
        header = if_none_match.format(etag=etag)
        response = await client.get("/products/lamp", headers={"If-None-Match": header})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert response.headers["cache-control"] == "no-cache"
    assert "content-type" not in response.headers
    assert "content-length" not in response.headers


@pytest.mark.parametrize("if_none_match", ['"other"', "not-quoted", "", "W/"])
async def test_anything_else_gets_the_full_200(conditional, if_none_match):
    response = await get(
        conditional.app, "/products/lamp", headers={"If-None-Match": if_none_match}
    )
    assert response.status_code == 200
    assert response.content == LAMP


async def test_a_changed_resource_has_a_new_etag_and_the_old_one_gets_a_200(conditional):
    async with client_for(conditional.app) as client:
        old = (await client.get("/products/lamp")).headers["etag"]
        cheaper = {"sku": "lamp", "name": "Desk lamp", "price_cents": 3500}
        assert (await client.put("/products/lamp", json=cheaper)).status_code == 200
        response = await client.get("/products/lamp", headers={"If-None-Match": old})
    assert response.status_code == 200
    assert response.headers["etag"] not in (old, f"W/{old}")


async def test_the_in_process_client_shows_a_304_body_that_http_forbids():
    response = await get(snippet("bad_304.py").app, "/report")
    assert response.status_code == 304
    assert response.content == b'{"status": "unchanged"}'  # in-process: nothing stops it
    server = h11.Connection(h11.SERVER)
    server.receive_data(b"GET /report HTTP/1.1\r\nHost: test\r\n\r\n")
    assert isinstance(server.next_event(), h11.Request)
    server.send(h11.Response(status_code=304, headers=[]))
    with pytest.raises(h11.LocalProtocolError, match="Too much data"):
        server.send(h11.Data(data=response.content))


# -- midstream_error.py: an error after the first chunk ----------------------------------


async def test_an_error_mid_stream_cannot_change_the_status_that_was_sent():
    app = snippet("midstream_error.py").app
    with pytest.RaisesGroup(RuntimeError, flatten_subgroups=True):
        async with open_stream(app, "/rows") as response:
            assert response.status == 200
            assert await response.next_chunk() == b'{"n":1}\n'
            await response.next_chunk()  # the app raises instead of sending more


async def test_a_client_sees_a_200_with_a_body_cut_short():
    app = snippet("midstream_error.py").app
    async with client_for(app, raise_app_exceptions=False) as client:
        response = await client.get("/rows")
    assert response.status_code == 200
    assert response.content == b'{"n":1}\n'


# -- fast_path.py + return_paths.py: who calls jsonable_encoder --------------------------


@pytest.fixture
def encoder_calls(monkeypatch) -> Callable[..., list[str]]:
    """Count calls to jsonable_encoder where FastAPI and a snippet look it up."""
    calls: list[str] = []
    real = fastapi.routing.jsonable_encoder

    def counting(where: str) -> Callable[..., Any]:
        def jsonable_encoder(*args: Any, **kwargs: Any) -> Any:
            calls.append(where)
            return real(*args, **kwargs)

        return jsonable_encoder

    monkeypatch.setattr(fastapi.routing, "jsonable_encoder", counting("fastapi"))

    def watch(module: Any = None) -> list[str]:
        if module is not None:  # the endpoint's own import, when it has one
            monkeypatch.setattr(module, "jsonable_encoder", counting("endpoint"))
        return calls

    return watch


async def test_both_invoice_versions_send_the_same_bytes(encoder_calls):
    fast_path = snippet("fast_path.py")
    calls = encoder_calls(fast_path)
    v1 = await get(fast_path.app, "/v1/invoices/A-1")
    assert calls == ["endpoint"]
    calls.clear()
    v2 = await get(fast_path.app, "/v2/invoices/A-1")
    assert calls == []
    assert v1.content == v2.content == b'{"number":"A-1","customer":"Ada","total_cents":1250}'
    assert v1.headers["content-type"] == v2.headers["content-type"] == "application/json"


def test_only_the_typed_version_documents_its_schema():
    paths = snippet("fast_path.py").app.openapi()["paths"]
    v1 = paths["/v1/invoices/{number}"]["get"]["responses"]["200"]["content"]
    v2 = paths["/v2/invoices/{number}"]["get"]["responses"]["200"]["content"]
    assert v1 == {"application/json": {"schema": {}}}
    assert v2 == {"application/json": {"schema": {"$ref": "#/components/schemas/Invoice"}}}


@pytest.mark.parametrize(
    ("url", "encoder", "validations"),
    [
        ("/encoded", ["endpoint"], 1),  # 1: the Invoice(...) in the endpoint
        ("/untyped", ["fastapi"], 1),
        ("/model", [], 1),  # the returned instance is not validated again
        ("/dict", [], 1),  # the dict is validated into an Invoice
        ("/model-json-class", [], 1),
    ],
)
async def test_return_paths_count_encoder_calls_and_validations(
    encoder_calls, url, encoder, validations
):
    return_paths = snippet("return_paths.py")
    calls = encoder_calls(return_paths)
    return_paths.validated.clear()
    response = await get(return_paths.app, url)
    assert response.content == b'{"number":"A-1","total_cents":1250}'
    assert calls == encoder
    assert len(return_paths.validated) == validations


async def test_an_instance_of_a_subclass_is_not_validated_again_and_is_cut_to_the_model():
    return_paths = snippet("return_paths.py")

    class Detailed(return_paths.Invoice):
        secret: str

    app = fastapi.FastAPI()

    @app.get("/detailed")
    async def detailed() -> return_paths.Invoice:
        return Detailed(number="A-1", total_cents=1250, secret="s")

    return_paths.validated.clear()
    response = await get(app, "/detailed")
    assert response.content == b'{"number":"A-1","total_cents":1250}'
    assert return_paths.validated == ["A-1"]  # building it, nothing more


async def test_patching_jsonable_encoder_in_fastapi_encoders_counts_its_recursion(
    monkeypatch,
):
    calls: list[str] = []
    real = fastapi.encoders.jsonable_encoder

    def jsonable_encoder(*args: Any, **kwargs: Any) -> Any:
        calls.append("called")
        return real(*args, **kwargs)

    monkeypatch.setattr(fastapi.encoders, "jsonable_encoder", jsonable_encoder)
    response = await get(snippet("return_paths.py").app, "/untyped")
    assert response.status_code == 200
    assert len(calls) == 5  # not FastAPI's call: the encoder's calls to itself, one per value


async def test_response_model_options_apply_on_the_fast_path(encoder_calls):
    module = snippet("return_paths.py")
    calls = encoder_calls(module)

    class Item(BaseModel):
        name: str
        note: str | None = None

    app = fastapi.FastAPI()

    @app.get("/item", response_model_exclude_none=True)
    async def item() -> Item:
        return Item(name="lamp")

    response = await get(app, "/item")
    assert response.content == b'{"name":"lamp"}'
    assert calls == []


async def test_the_fast_path_serializes_with_pydantic_in_one_step(monkeypatch):
    return_paths = snippet("return_paths.py")
    rendered: list[str] = []
    real_render = fastapi.responses.JSONResponse.render

    def render(self: Any, content: Any) -> bytes:
        rendered.append(type(self).__name__)
        return real_render(self, content)

    monkeypatch.setattr(fastapi.responses.JSONResponse, "render", render)
    await get(return_paths.app, "/model")
    assert rendered == []  # Pydantic's JSON bytes go out in a plain Response
    await get(return_paths.app, "/model-json-class")
    assert rendered == ["JSONResponse"]  # a Python dict first, then json.dumps


@pytest.mark.parametrize("response_class", [ORJSONResponse, UJSONResponse])
def test_orjson_and_ujson_responses_warn_when_created(response_class):
    assert issubclass(FastAPIDeprecationWarning, UserWarning)  # shown by default
    with (
        pytest.warns(FastAPIDeprecationWarning, match="is deprecated"),
        contextlib.suppress(AssertionError),  # orjson / ujson not installed: warned first
    ):
        response_class({"a": 1})


def test_declaring_an_orjson_route_does_not_warn():
    app = fastapi.FastAPI()

    @app.get("/legacy", response_class=ORJSONResponse)
    async def legacy() -> dict[str, int]:
        return {"a": 1}

    app.openapi()  # filterwarnings=error: any warning so far would have failed the test
