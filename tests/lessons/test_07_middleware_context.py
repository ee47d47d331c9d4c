"""Every snippet of lessons/07-middleware-context.md runs and does what the page says."""

import gzip
import importlib
import importlib.util
import inspect
import io
import json
import logging
import logging.config
import re
import sys
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import anyio
import httpx
import pytest
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import FastAPIDeprecationWarning
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.gzip import GZipMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from workbook.loader import load
from workbook.testing import client_for

SNIPPETS = Path(__file__).resolve().parents[2] / "lessons" / "snippets" / "07_middleware_context"
HANG_GUARD_S = 5  # only ever reached when something hangs: the tests wait on events, not time
# snippets that import their neighbours by name, so they are imported by name too
BY_NAME = ("request_id", "interleave", "global_id", "id_on_500", "wire")


def snippet(name: str) -> Any:
    return load(SNIPPETS / name)


@pytest.fixture
def neighbours(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Any]]:
    """Import snippets by module name, as they import each other; forget them afterwards."""
    monkeypatch.syspath_prepend(str(SNIPPETS))

    def by_name(filename: str) -> Any:
        return importlib.import_module(filename.removesuffix(".py"))

    yield by_name
    for name in BY_NAME:
        sys.modules.pop(name, None)


async def call(app: Any, method: str, url: str, **kwargs: Any) -> httpx.Response:
    async with client_for(app, raise_app_exceptions=False) as client:
        return await client.request(method, url, **kwargs)


async def with_id(method: str, url: str, rid: str) -> httpx.Response:
    """A request to request_id.py's app, sent with `X-Request-ID: rid`."""
    return await call(snippet("request_id.py").app, method, url, headers={"X-Request-ID": rid})


@pytest.fixture
def shop_log() -> Iterator[io.StringIO]:
    """What the "shop" loggers write through the request id handler."""
    stream = io.StringIO()
    handler = snippet("request_id.py").request_id_handler(stream)
    shop = logging.getLogger("shop")
    shop.addHandler(handler)
    shop.setLevel(logging.INFO)
    yield stream
    shop.removeHandler(handler)
    shop.setLevel(logging.NOTSET)


@contextmanager
def configured(config: dict[str, Any]) -> Iterator[None]:
    """Logging configured with `config` as in a fresh process; all as it was afterwards.

    Other tests in this worker may have run uvicorn with its default logging (or with
    `access_log=False`), which leaves uvicorn's loggers with handlers of their own and
    `propagate` off: a fresh process starts without either.
    """
    loggers = [
        logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.access", "uvicorn.error")
    ]
    saved = [(lg, lg.handlers[:], lg.level, lg.propagate, lg.disabled) for lg in loggers]
    for logger in loggers[1:]:
        logger.handlers[:], logger.propagate, logger.disabled = [], True, False
        logger.setLevel(logging.NOTSET)
    try:
        logging.config.dictConfig(config)
        yield
    finally:
        for logger, handlers, level, propagate, disabled in saved:
            logger.handlers[:], logger.propagate, logger.disabled = handlers, propagate, disabled
            logger.setLevel(level)


# -- security_headers.py and wire.py: a pure ASGI middleware wraps `send` ----------------------


async def test_http_response_start_carries_the_status_and_raw_header_pairs(neighbours):
    wire = neighbours("wire.py")
    messages = await wire.serve_once(snippet("security_headers.py").app, "/products/lamp")
    assert messages == [
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-length", b"14"),
                (b"content-type", b"application/json"),
                (b"x-content-type-options", b"nosniff"),
                (b"referrer-policy", b"no-referrer"),
            ],
        },
        {"type": "http.response.body", "body": b'{"sku":"lamp"}'},
    ]


async def test_a_streamed_response_has_one_start_and_several_body_messages(neighbours):
    wire = neighbours("wire.py")
    start, *body = await wire.serve_once(snippet("security_headers.py").app, "/catalog.txt")
    assert (b"x-content-type-options", b"nosniff") in start["headers"]
    assert not any(name == b"content-length" for name, _ in start["headers"])
    assert body == [
        {"type": "http.response.body", "body": b"lamp\n", "more_body": True},
        {"type": "http.response.body", "body": b"desk\n", "more_body": True},
        {"type": "http.response.body", "body": b"", "more_body": False},
    ]


@pytest.mark.parametrize(
    ("method", "url", "status"), [("GET", "/nope", 404), ("POST", "/products/a", 405)]
)
async def test_the_headers_are_on_error_responses_built_inside_the_stack(method, url, status):
    response = await call(snippet("security_headers.py").app, method, url)
    assert response.status_code == status
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_the_lifespan_passes_through_the_middleware():
    async with client_for(snippet("security_headers.py").app) as client:  # runs the lifespan
        assert (await client.get("/products/a")).status_code == 200


# -- request_id.py: a ContextVar, the header, and a logging filter ------------------------------


async def test_an_acceptable_incoming_id_is_kept_and_echoed(shop_log):
    response = await with_id("GET", "/stock/lamp", "abc.DEF_12-3")
    assert response.headers["x-request-id"] == "abc.DEF_12-3"
    assert shop_log.getvalue() == "abc.DEF_12-3 shop: stock lookup for lamp\n"


@pytest.mark.parametrize(
    "incoming",
    ["", "x" * 65, "has space", "semi;colon", "line\nbreak", "caf\u00e9", "abc\n"],
    ids=["empty", "65 chars", "space", "semicolon", "newline", "non-ascii", "trailing newline"],
)
def test_the_rule_refuses_what_it_should(incoming):
    assert snippet("request_id.py").ACCEPTABLE_ID.fullmatch(incoming) is None


@pytest.mark.parametrize("incoming", ["x", "x" * 64, "a.b_c-D9"])
def test_the_rule_accepts_one_to_64_plain_characters(incoming):
    assert snippet("request_id.py").ACCEPTABLE_ID.fullmatch(incoming)


def test_dollar_and_backslash_w_let_through_what_fullmatch_refuses():
    assert re.match(r"^[A-Za-z0-9._-]{1,64}$", "abc\n")  # $ also matches before a final \n
    assert re.fullmatch(r"[\w.-]{1,64}", "caf\u00e9")  # \w is any Unicode letter


async def test_a_missing_or_refused_id_is_replaced_by_a_fresh_one(shop_log):
    app = snippet("request_id.py").app
    first = await call(app, "GET", "/stock/lamp")
    second = await call(app, "GET", "/stock/lamp", headers={"X-Request-ID": "x" * 65})
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in ids)
    assert ids[0] != ids[1]
    assert shop_log.getvalue().splitlines() == [f"{rid} shop: stock lookup for lamp" for rid in ids]


async def test_background_tasks_and_the_endpoint_see_the_id(shop_log):
    response = await with_id("POST", "/orders/a1", "req-1")
    assert response.json() == {"order": "a1", "request_id": "req-1"}
    assert shop_log.getvalue().splitlines() == [
        "req-1 shop: charging a1",
        "req-1 shop: charged a1",
        "req-1 shop: receipt sent for a1",
    ]


async def test_a_def_endpoint_in_a_worker_thread_sees_the_id(shop_log):
    await with_id("GET", "/stock/desk", "req-2")
    assert shop_log.getvalue() == "req-2 shop: stock lookup for desk\n"


async def test_lines_logged_by_a_streaming_body_carry_the_id(shop_log):
    response = await with_id("GET", "/orders.csv", "req-3")
    assert response.text == "a-1\na-2\n"
    assert shop_log.getvalue() == "req-3 shop: exporting a-1\nreq-3 shop: exporting a-2\n"


async def test_outside_a_request_the_filter_writes_a_dash(shop_log):
    logging.getLogger("shop").info("starting up")
    assert shop_log.getvalue() == "- shop: starting up\n"


async def test_the_500_of_an_added_middleware_has_no_id_but_its_log_lines_do(shop_log):
    response = await with_id("GET", "/crash", "req-4")
    assert response.status_code == 500
    assert "x-request-id" not in response.headers
    assert shop_log.getvalue() == "req-4 shop: about to fail\n"


def test_the_dict_config_installs_the_same_filter(capsys):
    module = snippet("request_id.py")
    with configured(module.LOGGING):  # its StreamHandler writes to sys.stderr
        token = module.request_id.set("req-5")
        try:
            logging.getLogger("shop.payments").info("charged")
        finally:
            module.request_id.reset(token)
    assert capsys.readouterr().err == "req-5 shop.payments: charged\n"


def test_a_filter_on_a_logger_misses_records_of_its_child_loggers():
    module = snippet("request_id.py")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(module.LOG_FORMAT, defaults={"request_id": "?"}))
    parent, child = logging.getLogger("filtered"), logging.getLogger("filtered.payments")
    parent.addFilter(module.RequestIdFilter())
    parent.addHandler(handler)
    parent.setLevel(logging.INFO)
    try:
        parent.info("from the parent")
        child.info("from the child")  # propagates to the parent's handler, not its filters
    finally:
        parent.removeHandler(handler)
        parent.filters.clear()
        parent.setLevel(logging.NOTSET)
    assert stream.getvalue().splitlines() == [
        "- filtered: from the parent",
        "? filtered.payments: from the child",
    ]


# -- interleave.py and global_id.py: concurrency, forced with events ----------------------------


async def test_interleave_snippet_passes(neighbours):
    await neighbours("interleave.py").test_each_line_carries_its_own_request_id()


async def test_a_module_global_gives_one_request_the_others_id(neighbours, monkeypatch):
    interleave = neighbours("interleave.py")
    request_id = neighbours("request_id.py")
    monkeypatch.setattr(request_id, "request_id", neighbours("global_id.py").ModuleGlobal("-"))
    assert await interleave.two_orders_interleaved() == [
        "req-a shop: charging a",
        "req-b shop: charging b",
        "req-b shop: charged a",
        "req-b shop: receipt sent for a",
        "- shop: charged b",
        "- shop: receipt sent for b",
    ]


async def test_in_process_a_value_set_without_reset_stays_set_in_the_caller():
    module = snippet("request_id.py")
    leaked: list[str] = []

    class NoReset:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                leaked.append(module.request_id.get())
                module.request_id.set("req-6")
            await self.app(scope, receive, send)

    app = FastAPI()
    app.add_middleware(NoReset)

    @app.get("/")
    async def home() -> None:
        return None

    token = module.request_id.set("-")
    try:
        transport = httpx.ASGITransport(app=app)  # runs the app in this very task
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await client.get("/")
            await client.get("/")
        assert leaked == ["-", "req-6"]  # the second request started with the first one's id
        assert module.request_id.get() == "req-6"  # and so does the test, afterwards
    finally:
        module.request_id.reset(token)


# -- id_on_500.py: the middleware outside ServerErrorMiddleware ---------------------------------


async def test_wrapping_the_app_puts_the_id_on_the_500_and_in_the_handler(neighbours, caplog):
    app = neighbours("id_on_500.py").app
    with caplog.at_level(logging.ERROR, logger="shop.errors"):
        response = await call(app, "GET", "/crash", headers={"X-Request-ID": "req-8"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-8"
    assert response.json() == {"detail": "Internal Server Error", "request_id": "req-8"}
    [record] = caplog.records
    assert record.getMessage() == "unhandled error on /crash"
    assert record.exc_info is not None


async def test_uvicorn_writes_its_access_line_inside_the_middleware(capsys, real_server):
    module = snippet("request_id.py")
    with configured(module.LOGGING):  # uvicorn's own loggers now propagate to it
        async with real_server(module.app, log_config=module.LOGGING) as client:
            await client.get("/stock/lamp", headers={"X-Request-ID": "req-9"})
    lines = capsys.readouterr().err.splitlines()
    assert "req-9 shop: stock lookup for lamp" in lines
    [access] = [line for line in lines if "uvicorn.access" in line]
    assert re.fullmatch(
        r'req-9 uvicorn\.access: 127\.0\.0\.1:\d+ - "GET /stock/lamp HTTP/1\.1" 200', access
    )
    assert "- uvicorn.error: Shutting down" in lines  # outside any request: the default


# -- audit_base.py, audit_pure.py, request_info.py: what a middleware sees after the app ---------


@pytest.mark.parametrize(
    ("name", "logged_user"),
    [("audit_base.py", "anonymous"), ("audit_pure.py", "ada"), ("request_info.py", "ada")],
)
async def test_what_the_audit_middleware_logs_after_the_app(name, logged_user, caplog):
    with caplog.at_level(logging.INFO, logger="audit"):
        response = await call(snippet(name).app, "GET", "/orders", headers={"X-User": "ada"})
    assert response.json() == ["ada-1"]  # the endpoint always sees the dependency's value
    assert [r.getMessage() for r in caplog.records] == [f"GET /orders -> 200 by {logged_user}"]


async def test_base_http_middleware_passes_values_set_before_call_next_down():
    seen: list[str] = []
    module = snippet("audit_base.py")

    async def dispatch(request: Any, call_next: Any) -> Any:
        module.current_user.set("set in dispatch")
        return await call_next(request)

    app = FastAPI()
    app.add_middleware(BaseHTTPMiddleware, dispatch=dispatch)

    @app.get("/")
    async def home() -> None:
        seen.append(module.current_user.get())

    await call(app, "GET", "/")
    assert seen == ["set in dispatch"]


async def test_pure_asgi_does_not_see_what_a_def_dependency_sets(caplog):
    module = snippet("audit_pure.py")

    def authenticate_in_a_thread(x_user: Annotated[str, Header()] = "anonymous") -> str:
        module.current_user.set(x_user)
        return x_user

    module.app.dependency_overrides[module.authenticate] = authenticate_in_a_thread
    try:
        with caplog.at_level(logging.INFO, logger="audit"):
            response = await call(module.app, "GET", "/orders", headers={"X-User": "ada"})
    finally:
        module.app.dependency_overrides.clear()
    assert response.json() == ["anonymous-1"]  # the endpoint does not see it either
    assert [r.getMessage() for r in caplog.records] == ["GET /orders -> 200 by anonymous"]


async def test_a_mutable_holder_works_under_base_http_middleware_too(caplog):
    module = snippet("request_info.py")

    async def dispatch(request: Any, call_next: Any) -> Any:
        info = module.RequestInfo()
        module.request_info.set(info)
        response = await call_next(request)
        module.audit.info("dispatch saw %s", info.user)
        return response

    app = FastAPI(dependencies=[Depends(module.authenticate)])
    app.add_middleware(BaseHTTPMiddleware, dispatch=dispatch)

    @app.get("/")
    async def home() -> None:
        return None

    with caplog.at_level(logging.INFO, logger="audit"):
        await call(app, "GET", "/", headers={"X-User": "grace"})
    assert [r.getMessage() for r in caplog.records] == ["dispatch saw grace"]


# -- base_http_checks.py: what BaseHTTPMiddleware still gets wrong on Starlette 1.10, and not ----


@pytest.fixture
def checks() -> Iterator[Any]:
    module = snippet("base_http_checks.py")
    module.events.clear()
    module.released = anyio.Event()
    yield module
    module.events.clear()


async def test_a_stream_flows_chunk_by_chunk_through_base_http_middleware(checks):
    open_stream = load(SNIPPETS.parent / "05_responses_streaming" / "asgi_stream.py").open_stream
    with anyio.fail_after(HANG_GUARD_S):
        async with open_stream(checks.app, "/ticker") as response:
            assert response.headers["x-stamped"] == "yes"
            assert await response.next_chunk() == b"tick 1\n"  # the generator is still paused
            assert checks.events == ["generator waits"]
            checks.released.set()
            assert await response.next_chunk() == b"tick 2\n"


async def test_the_body_is_complete_before_the_background_task_runs(checks, neighbours):
    wire = neighbours("wire.py")
    sent: list[str] = []

    class Recorder:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            async def record(message: Any) -> None:
                if message["type"] == "http.response.body" and not message.get("more_body"):
                    sent.append(f"end of body, events so far: {list(checks.events)}")
                await send(message)

            await self.app(scope, receive, record)

    messages = await wire.serve_once(Recorder(checks.app), "/signup", method="POST")
    assert sent == ["end of body, events so far: []"]
    assert checks.events == ["welcome mail sent"]
    assert [m.get("body") for m in messages[1:]] == [b'{"ok":true}', b""]  # re-chunked
    assert (b"content-length", b"11") in messages[0]["headers"]


async def test_call_next_reraises_the_endpoints_exception(checks):
    response = await call(checks.app, "GET", "/boom")
    assert response.status_code == 500
    assert "x-stamped" not in response.headers
    assert checks.events == ["dispatch saw RuntimeError"]


async def test_an_http_exception_raised_in_dispatch_is_a_500(checks):
    with pytest.raises(Exception, match="403"):
        async with client_for(checks.app) as client:
            await client.get("/admin")
    response = await call(checks.app, "GET", "/admin")
    assert response.status_code == 500


# -- timed_route.py: a custom APIRoute with an injected clock -----------------------------------


class FakeClock:
    """Each reading is 0.25 s later than the one before."""

    def __init__(self) -> None:
        self.now = 100.0
        self.readings = 0

    def __call__(self) -> float:
        self.readings += 1
        self.now += 0.25
        return self.now


@pytest.mark.parametrize(
    ("url", "status", "timing", "readings"),
    [
        ("/reports/2026", 200, "app;dur=250.0", 2),
        ("/reports/1999", 404, None, 1),  # the handler raised: no response to put it on
        ("/reports/abc", 422, None, 1),  # validation raises inside the handler too
        ("/reports.csv", 200, "app;dur=250.0", 3),  # the stream ran after the handler
        ("/health", 200, None, 0),  # not on the timed router
    ],
)
async def test_the_timed_route(url, status, timing, readings):
    clock = FakeClock()
    response = await call(snippet("timed_route.py").create_app(clock), "GET", url)
    assert response.status_code == status
    assert response.headers.get("server-timing") == timing
    assert clock.readings == readings


# -- gzip_route.py: a Request subclass swapped in by the route class ----------------------------

READINGS = json.dumps([{"sensor": "s1", "celsius": 21.5}, {"sensor": "s2", "celsius": 19}]).encode()
JSON = {"content-type": "application/json"}
GZIP_JSON = {**JSON, "content-encoding": "gzip"}
STORED = {"stored": 2}
PARSE_ERROR = {"detail": "There was an error parsing the body"}


@pytest.mark.parametrize(
    ("url", "body", "headers", "status", "answer"),
    [
        ("/ingest/readings", gzip.compress(READINGS), GZIP_JSON, 200, STORED),
        ("/ingest/readings", READINGS, JSON, 200, STORED),
        ("/ingest/readings", b"not gzip at all", GZIP_JSON, 400, PARSE_ERROR),
        ("/feedback", READINGS, JSON, 200, STORED),
        ("/feedback", gzip.compress(READINGS), GZIP_JSON, 400, PARSE_ERROR),
    ],
    ids=["gzip, gzip router", "identity, gzip router", "corrupt", "identity, app", "gzip, app"],
)
async def test_the_gzip_route(url, body, headers, status, answer):
    response = await call(snippet("gzip_route.py").app, "POST", url, content=body, headers=headers)
    assert (response.status_code, response.json()) == (status, answer)


def test_a_small_gzip_body_can_inflate_to_megabytes_and_max_length_bounds_it():
    bomb = gzip.compress(bytes(10_000_000))
    assert len(bomb) < 20_000
    inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)  # | 16: expect the gzip header
    first = inflater.decompress(bomb, 1025)
    assert len(first) == 1025  # stopped there; the rest waits in unconsumed_tail
    assert inflater.unconsumed_tail


async def test_an_http_exception_from_body_keeps_its_status():
    module = snippet("gzip_route.py")

    class Refusing(module.GzipRequest):
        async def body(self) -> bytes:
            raise HTTPException(status_code=415, detail="unsupported encoding")

    class RefusingRoute(module.GzipRoute):
        def get_route_handler(self) -> Any:
            handler = super(module.GzipRoute, self).get_route_handler()

            async def refusing(request: Any) -> Any:
                return await handler(Refusing(request.scope, request.receive))

            return refusing

    router = APIRouter(route_class=RefusingRoute)

    @router.post("/r")
    async def r(readings: list[module.Reading]) -> int:
        return len(readings)

    @router.post("/no-body")
    async def no_body() -> int:
        return 0

    app = FastAPI()
    app.include_router(router)
    refused = await call(app, "POST", "/r", content=b"[]", headers=JSON)
    assert (refused.status_code, refused.json()) == (415, {"detail": "unsupported encoding"})
    assert (await call(app, "POST", "/no-body", content=b"x", headers=GZIP_JSON)).status_code == 200


# -- proxy.py: root_path, forwarded headers from trusted peers, url_for --------------------------

FORWARDED = {
    "host": "billing.example",
    "x-forwarded-for": "203.0.113.7",
    "x-forwarded-proto": "https",
}


async def through_proxy(wire: Any, headers: dict[str, str], peer: str, **scope: Any) -> Any:
    """The JSON body proxy.py's app answers when `peer` sends GET /invoices/7."""
    app = snippet("proxy.py").app
    messages = await wire.serve_once(
        app, "/invoices/7", headers=headers, client=(peer, 5000), **scope
    )
    assert messages[0]["status"] == 200
    return json.loads(messages[1]["body"])


async def test_a_trusted_proxy_sets_the_client_and_scheme(neighbours):
    answer = await through_proxy(neighbours("wire.py"), FORWARDED, "10.0.0.2", root_path="/billing")
    assert answer == {
        "client": "203.0.113.7",
        "url": "https://billing.example/billing/invoices/7",
        "pdf": "https://billing.example/billing/invoices/7/pdf",
    }


async def test_forwarded_headers_from_anyone_else_are_ignored(neighbours):
    wire = neighbours("wire.py")
    answer = await through_proxy(wire, FORWARDED, "198.51.100.9", root_path="/billing")
    assert answer == {
        "client": "198.51.100.9",
        "url": "http://billing.example/billing/invoices/7",
        "pdf": "http://billing.example/billing/invoices/7/pdf",
    }


@pytest.mark.parametrize(
    ("chain", "client"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("203.0.113.7, 10.0.0.9", "203.0.113.7"),  # an inner proxy: trusted, skipped
        ("1.1.1.1, 203.0.113.7", "203.0.113.7"),  # 1.1.1.1 was written by the client itself
        ("10.0.0.8, 10.0.0.9", "10.0.0.8"),  # all trusted: the first one
        ("203.0.113.7:4321", "203.0.113.7"),
    ],
)
async def test_the_client_is_the_rightmost_untrusted_address(neighbours, chain, client):
    answer = await through_proxy(neighbours("wire.py"), {"x-forwarded-for": chain}, "10.0.0.2")
    assert answer["client"] == client


async def test_uvicorns_middleware_ignores_x_forwarded_host_and_port(neighbours):
    headers = {"host": "billing.example", "x-forwarded-host": "evil.example"}
    headers["x-forwarded-port"] = "8443"
    answer = await through_proxy(neighbours("wire.py"), headers, "10.0.0.2")
    assert answer["url"] == "http://billing.example/invoices/7"


def test_uvicorn_trusts_only_localhost_by_default(monkeypatch):
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    config = uvicorn.Config(snippet("proxy.py").api, log_config=None)
    assert config.proxy_headers is True
    assert config.forwarded_allow_ips == "127.0.0.1,::1"
    config.load()
    assert isinstance(config.loaded_app, ProxyHeadersMiddleware)
    assert httpx.ASGITransport(app=config.loaded_app).client == ("127.0.0.1", 123)  # trusted!


async def test_uvicorn_puts_root_path_in_front_of_the_path_and_reads_forwarded_headers(
    real_server,
):
    api = snippet("proxy.py").api
    async with real_server(api, root_path="/billing") as client:
        answer = (await client.get("/invoices/7", headers=FORWARDED)).json()
    assert answer == {  # the test client is 127.0.0.1: trusted by default
        "client": "203.0.113.7",
        "url": "https://billing.example/billing/invoices/7",
        "pdf": "https://billing.example/billing/invoices/7/pdf",
    }


async def test_openapi_servers_and_the_docs_page_follow_root_path():
    app = snippet("proxy.py").app
    transport = httpx.ASGITransport(app=app, root_path="/billing", client=("10.0.0.2", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://billing.example") as client:
        document = (await client.get("/billing/openapi.json")).json()
        docs = (await client.get("/billing/docs")).text
        direct = await client.get("/invoices/7")  # the path without the prefix is routed too...
    assert document["servers"] == [{"url": "/billing"}]
    assert "url: '/billing/openapi.json'" in docs
    assert direct.json()["url"] == "http://billing.example/invoices/7"  # ...but its URL lacks it
    assert "servers" not in snippet("proxy.py").api.openapi()  # only the served copy has it


def test_the_root_path_argument_of_fastapi_is_deprecated():
    with pytest.warns(FastAPIDeprecationWarning, match="root_path"):
        FastAPI(root_path="/billing")


# -- middleware_order.py and cors_guard.py -------------------------------------------------------


async def test_the_last_added_middleware_is_the_outermost():
    module = snippet("middleware_order.py")
    module.trace.clear()
    await call(module.app, "GET", "/")
    assert module.trace == [
        "enter added last",
        "enter added first",
        "enter listed first",
        "enter listed second",
        "endpoint",
        "leave listed second",
        "leave listed first",
        "leave added first",
        "leave added last",
    ]


def test_the_stack_from_the_outside_in():
    module = snippet("middleware_order.py")
    assert module.layers(module.app) == [
        "ServerErrorMiddleware",
        "ExceptionTelemetryMiddleware",
        "AppBodyLimitMiddleware",
        "Layer (added last)",
        "Layer (added first)",
        "Layer (listed first)",
        "Layer (listed second)",
        "ExceptionMiddleware",
        "AsyncExitStackMiddleware",
    ]


async def test_no_middleware_can_be_added_once_the_app_has_served():
    module = snippet("middleware_order.py")
    await call(module.app, "GET", "/")
    with pytest.raises(RuntimeError, match="Cannot add middleware after an application has"):
        module.app.add_middleware(module.Layer, name="too late")


def test_the_decorator_adds_a_base_http_middleware():
    app = FastAPI()

    @app.middleware("http")
    async def noop(request: Any, call_next: Any) -> Any:
        return await call_next(request)

    [middleware] = app.user_middleware
    assert middleware.cls is BaseHTTPMiddleware


ORIGIN = {"origin": "https://shop.example"}
PREFLIGHT = {**ORIGIN, "access-control-request-method": "GET"}


@pytest.mark.parametrize(
    ("cors_outside", "method", "headers", "status", "allow_origin"),
    [
        (True, "OPTIONS", PREFLIGHT, 200, "https://shop.example"),
        (True, "GET", ORIGIN, 401, "https://shop.example"),
        (True, "GET", {**ORIGIN, "x-api-key": "s3cret"}, 200, "https://shop.example"),
        (False, "OPTIONS", PREFLIGHT, 401, None),
        (False, "GET", ORIGIN, 401, None),
        (False, "GET", {**ORIGIN, "x-api-key": "s3cret"}, 200, "https://shop.example"),
    ],
)
async def test_cors_and_the_guard_in_both_orders(
    cors_outside, method, headers, status, allow_origin
):
    app = snippet("cors_guard.py").create_app(cors_outside=cors_outside)
    response = await call(app, method, "/orders", headers=headers)
    assert response.status_code == status
    assert response.headers.get("access-control-allow-origin") == allow_origin


# -- claims of the page checked without a snippet of their own ----------------------------------


async def test_a_middleware_inside_can_send_the_500_itself_and_the_handler_still_runs(neighbours):
    module = neighbours("request_id.py")
    handled: list[str] = []

    class AnswersTheError:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            started = False

            async def watch(message: Any) -> None:
                nonlocal started
                started = started or message["type"] == "http.response.start"
                await send(message)

            try:
                await self.app(scope, receive, watch)
            except Exception:
                if not started:
                    await PlainTextResponse("Internal Server Error", 500)(scope, receive, watch)
                raise

    app = FastAPI()
    app.add_middleware(AnswersTheError)
    app.add_middleware(module.RequestIdMiddleware)  # outside: it stamps the middleware's 500

    @app.exception_handler(Exception)
    async def unhandled(request: Any, exc: Exception) -> JSONResponse:
        handled.append(type(exc).__name__)
        return JSONResponse({"detail": "never sent"}, status_code=500)

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("boom")

    response = await call(app, "GET", "/crash", headers={"X-Request-ID": "req-10"})
    assert (response.status_code, response.text) == (500, "Internal Server Error")
    assert response.headers["x-request-id"] == "req-10"
    assert handled == ["RuntimeError"]  # it ran (and could log), but its response was not sent
    with pytest.raises(RuntimeError, match="boom"):
        async with client_for(app) as client:
            await client.get("/crash")  # and the exception still reaches the server


async def test_uvicorns_proxy_middleware_changes_the_scope_it_was_given():
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    scope = {
        "type": "http",
        "client": ("10.0.0.2", 5000),
        "scheme": "http",
        "headers": [(b"x-forwarded-for", b"203.0.113.7")],
    }
    await ProxyHeadersMiddleware(app, trusted_hosts=["10.0.0.0/8"])(scope, None, None)
    assert seen == [scope]
    assert scope["client"] == ("203.0.113.7", 0)


async def test_a_route_class_for_the_whole_app_goes_on_app_router():
    clock = FakeClock()
    app = FastAPI()
    app.router.route_class = snippet("timed_route.py").timed_route(clock)

    @app.get("/")
    async def home() -> dict[str, bool]:
        return {"ok": True}

    assert (await call(app, "GET", "/")).headers["server-timing"] == "app;dur=250.0"


async def test_an_exception_handler_for_500_runs_outside_the_added_middleware():
    module = snippet("request_id.py")
    seen: list[str] = []
    app = FastAPI()
    app.add_middleware(module.RequestIdMiddleware)

    @app.exception_handler(Exception)
    async def unhandled(request: Any, exc: Exception) -> JSONResponse:
        seen.append(module.request_id.get())
        return JSONResponse({"detail": "Internal Server Error"}, status_code=500)

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("boom")

    await call(app, "GET", "/crash", headers={"X-Request-ID": "req-11"})
    assert seen == ["-"]


async def test_uvicorns_exception_line_is_written_outside_the_middleware(capsys, real_server):
    module = snippet("request_id.py")
    with configured(module.LOGGING):
        async with real_server(module.app, log_config=module.LOGGING) as client:
            await client.get("/crash", headers={"X-Request-ID": "req-12"})
    lines = capsys.readouterr().err.splitlines()
    assert "req-12 shop: about to fail" in lines
    assert "- uvicorn.error: Exception in ASGI application" in lines


async def test_request_state_set_by_the_endpoint_is_seen_after_call_next():
    seen: list[str] = []

    async def dispatch(request: Any, call_next: Any) -> Any:
        response = await call_next(request)
        seen.append(request.state.user)
        return response

    app = FastAPI()
    app.add_middleware(BaseHTTPMiddleware, dispatch=dispatch)

    @app.get("/")
    async def home(request: Request) -> None:
        request.state.user = "ada"

    await call(app, "GET", "/")
    assert seen == ["ada"]


async def test_an_http_exception_raised_in_a_pure_asgi_middleware_is_a_500():
    class Refuses:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                raise HTTPException(status_code=403)
            await self.app(scope, receive, send)

    app = FastAPI()
    app.add_middleware(Refuses)
    assert (await call(app, "GET", "/")).status_code == 500


async def test_max_body_size_counts_the_compressed_bytes():
    module = snippet("gzip_route.py")
    big = json.dumps([{"sensor": "s" * 50, "celsius": 1.0}] * 100).encode()  # about 6 KB
    app = FastAPI()
    router = APIRouter(route_class=module.GzipRoute, max_body_size=1_000)

    @router.post("/readings")
    async def readings(items: list[module.Reading]) -> int:
        return len(items)

    app.include_router(router)
    packed = await call(app, "POST", "/readings", content=gzip.compress(big), headers=GZIP_JSON)
    plain = await call(app, "POST", "/readings", content=big, headers=JSON)
    assert len(gzip.compress(big)) < 1_000 < len(big)
    assert (packed.status_code, packed.json()) == (200, 100)
    assert plain.status_code == 413


def test_ten_megabytes_of_zeros_compress_to_about_ten_kilobytes():
    assert 5_000 < len(gzip.compress(bytes(10_000_000))) < 15_000


@pytest.mark.parametrize(
    ("proto", "scheme"), [("https", "https"), ("http", "http"), ("ftp", "http"), ("HTTPS", "http")]
)
async def test_only_known_forwarded_protos_become_the_scheme(neighbours, proto, scheme):
    headers = {"host": "billing.example", "x-forwarded-proto": proto}
    answer = await through_proxy(neighbours("wire.py"), headers, "10.0.0.2")
    assert answer["url"] == f"{scheme}://billing.example/invoices/7"


def test_the_environment_variable_sets_the_trusted_proxies(monkeypatch):
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.2")
    config = uvicorn.Config(snippet("proxy.py").api, log_config=None)
    assert config.forwarded_allow_ips == "10.0.0.2"


def test_fastapi_run_passes_the_proxy_options_and_mentions_a_port_header_uvicorn_ignores():
    spec = importlib.util.find_spec("fastapi_cli.cli")  # read, not imported: a slow import
    assert spec is not None
    assert spec.origin is not None
    source = Path(spec.origin).read_text()
    for option in ("root_path=root_path", "proxy_headers=proxy_headers", "forwarded_allow_ips="):
        assert option in source
    assert "X-Forwarded-Port" in source
    assert "x-forwarded-port" not in inspect.getsource(ProxyHeadersMiddleware).lower()


async def test_the_stack_is_built_by_the_lifespan_already():
    app = FastAPI()
    assert app.middleware_stack is None
    async with client_for(app):  # start-up only, no request yet
        assert app.middleware_stack is not None


@pytest.mark.parametrize("gzip_outside", [True, False])
async def test_gzip_keeps_the_headers_and_layers_outside_see_compressed_bytes(gzip_outside):
    seen: list[bytes] = []

    class Peek:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            async def peek(message: Any) -> None:
                if message["type"] == "http.response.body":
                    seen.append(message["body"][:2])
                await send(message)

            await self.app(scope, receive, peek)

    headers_layer = snippet("security_headers.py").SecurityHeadersMiddleware
    app = FastAPI()

    @app.get("/big")
    async def big() -> list[str]:
        return ["lamp"] * 200

    if gzip_outside:
        app.add_middleware(Peek)
        app.add_middleware(headers_layer)
        app.add_middleware(GZipMiddleware)
    else:
        app.add_middleware(GZipMiddleware)
        app.add_middleware(headers_layer)
        app.add_middleware(Peek)
    response = await call(app, "GET", "/big", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.json() == ["lamp"] * 200
    assert seen[0] == (b'["' if gzip_outside else b"\x1f\x8b")  # the gzip magic number


async def test_a_middleware_with_its_own_server_error_layer_answers_the_500_itself():
    module = snippet("request_id.py")

    class Stamped(module.RequestIdMiddleware):
        def __init__(self, app: Any) -> None:
            super().__init__(ServerErrorMiddleware(app))

    app = FastAPI()
    app.add_middleware(Stamped)

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("boom")

    response = await call(app, "GET", "/crash", headers={"X-Request-ID": "req-13"})
    assert (response.status_code, response.text) == (500, "Internal Server Error")
    assert response.headers["x-request-id"] == "req-13"


async def test_a_replayed_receive_changes_what_every_reader_of_the_body_gets():
    async def replaying(request: Request, body: bytes) -> Request:
        delivered = False

        async def receive() -> Any:
            nonlocal delivered
            if delivered:
                return await request.receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        return Request(request.scope, receive)

    class InflateRoute(APIRoute):
        def get_route_handler(self) -> Any:
            handler = super().get_route_handler()

            async def inflate(request: Request) -> Any:
                return await handler(
                    await replaying(request, gzip.decompress(await request.body()))
                )

            return inflate

    router = APIRouter(route_class=InflateRoute)

    @router.post("/parsed")
    async def parsed(readings: list[dict[str, Any]]) -> int:
        return len(readings)

    @router.post("/streamed")
    async def streamed(request: Request) -> int:
        return sum([len(chunk) async for chunk in request.stream()])

    app = FastAPI()
    app.include_router(router)
    packed = gzip.compress(READINGS)
    assert (await call(app, "POST", "/parsed", content=packed, headers=GZIP_JSON)).json() == 2
    streamed_size = await call(app, "POST", "/streamed", content=packed, headers=GZIP_JSON)
    assert streamed_size.json() == len(READINGS)


def test_a_lifespan_scope_has_no_headers():
    with pytest.raises(KeyError, match="headers"):
        Headers(scope={"type": "lifespan", "asgi": {"version": "3.0"}})


def test_a_record_without_the_attribute_cannot_be_formatted(capsys):
    module = snippet("request_id.py")
    record = logging.LogRecord("shop", logging.INFO, __file__, 1, "charged", None, None)
    with pytest.raises(ValueError, match="request_id"):
        logging.Formatter(module.LOG_FORMAT).format(record)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(module.LOG_FORMAT))
    handler.handle(record)  # logging reports the error on stderr; the line is lost
    assert stream.getvalue() == ""
    assert "--- Logging error ---" in capsys.readouterr().err
