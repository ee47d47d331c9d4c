"""Hidden suite for 07_middleware_context/04_behind_a_proxy: forwarded headers and root path.

Each check drives the app with a raw ASGI scope, as Uvicorn builds one behind the proxy:
the peer in `client`, the server's root path in `root_path` and at the start of `path`.
"""

from typing import Any

import anyio
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import Request

from workbook.testing import (
    AppStartError,
    expect,
    expect_equal,
    expect_header,
    expect_json,
    expect_status,
    response_json,
)

WAIT_S = 5.0
PROXY = ("10.0.0.2", 41000)
INTERNAL_HOST = "app.internal:8000"
INTERNAL = f"http://{INTERNAL_HOST}"
PUBLIC = "https://shop.example.com"
FORWARDED = {
    "x-forwarded-for": "203.0.113.7",
    "x-forwarded-proto": "https",
    "x-forwarded-host": "shop.example.com",
}
Headers = dict[str, str] | list[tuple[str, str]]

TRUST = (
    "Is a peer inside one of the trusted networks believed? Compare it as an IP address "
    "(ipaddress.ip_address(peer) in ipaddress.ip_network(entry)), never as text."
)
IGNORED = (
    "Forwarded headers from a peer that is not a trusted proxy are the client's own words: "
    "are all of them ignored then?"
)
WALK = (
    "Do you walk X-Forwarded-For from the right, skipping trusted addresses? The leftmost "
    "entries are whatever the client chose to send."
)
ALL_TRUSTED = "When every entry is a trusted proxy, is the leftmost one the client?"
LINES = "Are several X-Forwarded-For lines joined into one list (Headers.getlist), in order?"
EMPTY = "Does an empty entry, or an empty header, leave request.client as the peer?"
PROTO = (
    "Is X-Forwarded-Proto taken only when it is exactly http or https: lowercase, and no "
    "other scheme (ws and wss included)?"
)
LIFESPAN = "Does the middleware pass every scope that is not HTTP (the lifespan) straight on?"
HOST = (
    "Does X-Forwarded-Host replace the Host header in the scope's headers (not add a second "
    "one), and only when it is one non-empty value?"
)
OTHER_LINES = (
    "Does the middleware replace only the Host line, keeping every other header line as "
    "it was, repeated ones included? A dict of the headers keeps one line per name."
)
REDIRECT = (
    "Starlette builds this redirect from the scope it is given: does the middleware call the "
    "app with the rewritten scope, so that every layer inside sees the public URL?"
)
URL_FOR = (
    "Is the url built with request.url_for('read_order', order_id=...)? It adds the scheme, "
    "the host and the root path; app.url_path_for knows none of them."
)
ROOT_PATH = (
    "Is the app free of any prefix of its own (no root_path=, no prefix= on the routes)? "
    "The server gives the root path in the scope."
)


async def call(
    app: Any,
    path: str,
    *,
    peer: tuple[str, int] | None = PROXY,
    headers: Headers = (),  # type: ignore[assignment]
    root_path: str = "/shop",
    scheme: str = "http",
) -> httpx.Response:
    """GET `root_path + path` as Uvicorn would pass it on, from `peer`, with `headers`."""
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers)
    full_path = root_path + path
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": scheme,
        "path": full_path,
        "raw_path": full_path.encode(),
        "root_path": root_path,
        "query_string": b"",
        "headers": [(b"host", INTERNAL_HOST.encode())]
        + [(name.lower().encode(), value.encode()) for name, value in pairs],
        "client": peer,
        "server": ("10.0.0.20", 8000),
    }
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    with anyio.fail_after(WAIT_S):
        try:
            manager = await LifespanManager(app).__aenter__()
        except Exception as exc:
            cause = exc.__cause__ or exc.__context__ or exc
            raise AppStartError(f"{type(cause).__name__}: {cause}. {LIFESPAN}") from exc
        try:
            await manager.app(scope, receive, send)
        finally:
            await manager.__aexit__(None, None, None)
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    request = httpx.Request("GET", f"{scheme}://{INTERNAL_HOST}{full_path}")
    return httpx.Response(start["status"], headers=start["headers"], content=body, request=request)


async def whoami(exercise: Any, **options: Any) -> dict[str, Any]:
    response = await call(exercise.app, "/whoami", **options)
    expect_status(response, 200)
    return response_json(response)


async def expect_client(exercise: Any, expected: str | None, help: str, **options: Any) -> None:
    seen = await whoami(exercise, **options)
    expect_equal("request.client.host", expected, seen.get("client"), help=help)


async def expect_url(exercise: Any, expected: str, help: str, **options: Any) -> None:
    seen = await whoami(exercise, **options)
    expect_equal("request.url", expected, seen.get("url"), help=help)


# -- which peers are trusted -----------------------------------------------------------------


@pytest.mark.parametrize(
    "peer",
    ["10.0.0.1", "10.255.255.254", "192.0.2.10", "fd00::1", "fdff:ffff::9"],
    ids=["network-low", "network-high", "single-address", "ipv6", "ipv6-high"],
)
async def test_trusted_proxy_is_believed(exercise, peer):
    """a trusted proxy's forwarded client, scheme and host are the request's"""
    seen = await whoami(exercise, peer=(peer, 41000), headers=FORWARDED)
    expected = {"client": "203.0.113.7", "url": f"{PUBLIC}/shop/whoami"}
    expect_equal("answer of /whoami", expected, seen, help=TRUST)


UNTRUSTED = [
    ("11.0.0.1", "above-network"),
    ("9.255.255.255", "below-network"),
    ("100.1.2.3", "text-prefix-10"),
    ("192.0.2.100", "text-prefix-of-peer"),
    ("192.0.2.1", "peer-prefix-of-trusted"),
    ("192.0.2.11", "next-address"),
    ("fe00::1", "ipv6-outside"),
    ("testclient", "not-an-address"),
    (None, "no-client"),
]


@pytest.mark.stub_may_pass("the stub ignores every forwarded header, which is right here")
@pytest.mark.parametrize("peer", [peer for peer, _ in UNTRUSTED], ids=[i for _, i in UNTRUSTED])
async def test_untrusted_peer_is_not_believed(exercise, peer):
    """from any other peer the forwarded headers are ignored"""
    seen = await whoami(exercise, peer=(peer, 41000) if peer else None, headers=FORWARDED)
    expected = {"client": peer, "url": f"{INTERNAL}/shop/whoami"}
    expect_equal("answer of /whoami", expected, seen, help=IGNORED)


# -- X-Forwarded-For -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("forwarded_for", "client"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("198.51.100.9, 203.0.113.7", "203.0.113.7"),
        ("203.0.113.7, 10.0.0.3", "203.0.113.7"),
        ("203.0.113.7, 192.0.2.10, 10.0.0.3", "203.0.113.7"),
        ("10.0.0.9, 192.0.2.100, 10.0.0.3", "192.0.2.100"),
        (" 198.51.100.9 ,203.0.113.7 ", "203.0.113.7"),
        ("2001:db8::7, fd00::3", "2001:db8::7"),
    ],
    ids=[
        "one",
        "forged-left",
        "our-proxy-right",
        "two-proxies",
        "nearest-untrusted",
        "spaces",
        "v6",
    ],
)
async def test_client_is_the_nearest_untrusted_hop(exercise, forwarded_for, client):
    """the client is the first untrusted address from the right of X-Forwarded-For"""
    headers = {"x-forwarded-for": forwarded_for}
    await expect_client(exercise, client, WALK, headers=headers)


@pytest.mark.parametrize(
    ("forwarded_for", "client"),
    [("10.0.0.9, 10.0.0.3", "10.0.0.9"), ("192.0.2.10,10.0.0.3,10.0.0.4", "192.0.2.10")],
    ids=["two", "three"],
)
async def test_all_trusted_means_leftmost(exercise, forwarded_for, client):
    """when every address is a trusted proxy, the leftmost is the client"""
    await expect_client(exercise, client, ALL_TRUSTED, headers={"x-forwarded-for": forwarded_for})


@pytest.mark.parametrize(
    "lines",
    [
        [("x-forwarded-for", "198.51.100.9"), ("x-forwarded-for", "203.0.113.7")],
        [("x-forwarded-for", "203.0.113.7"), ("x-forwarded-for", "10.0.0.3")],
    ],
    ids=["second-line-decides", "first-line-decides"],
)
async def test_several_lines_make_one_list(exercise, lines):
    """several X-Forwarded-For lines are one list, in order"""
    await expect_client(exercise, "203.0.113.7", LINES, headers=lines)


@pytest.mark.stub_may_pass("the stub leaves the peer as the client, which is right here")
@pytest.mark.parametrize(
    "headers",
    [{}, {"x-forwarded-for": ""}, {"x-forwarded-for": "203.0.113.7, "}],
    ids=["no-header", "empty-header", "empty-last-entry"],
)
async def test_no_usable_address_keeps_the_peer(exercise, headers):
    """without a usable address in X-Forwarded-For the client stays the peer"""
    await expect_client(exercise, PROXY[0], EMPTY, headers=headers)


# -- X-Forwarded-Proto and X-Forwarded-Host --------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "proto", "expected"),
    [("http", "https", "https"), ("https", "http", "http")],
    ids=["to-https", "to-http"],
)
async def test_forwarded_proto_sets_the_scheme(exercise, scheme, proto, expected):
    """X-Forwarded-Proto http or https becomes the scheme"""
    url = f"{expected}://{INTERNAL_HOST}/shop/whoami"
    await expect_url(exercise, url, PROTO, scheme=scheme, headers={"x-forwarded-proto": proto})


@pytest.mark.stub_may_pass("the stub keeps the server's scheme, which is right here")
@pytest.mark.parametrize(
    ("scheme", "proto"),
    [
        ("http", "ftp"),
        ("http", "https, http"),
        ("https", "http, https"),
        ("http", ""),
        ("http", "HTTPS"),
        ("https", "Http"),
        ("http", "wss"),
    ],
    ids=["other-word", "list", "list-reversed", "empty", "capitals", "capital", "websocket"],
)
async def test_other_proto_values_are_ignored(exercise, scheme, proto):
    """any other X-Forwarded-Proto leaves the scheme alone"""
    url = f"{scheme}://{INTERNAL_HOST}/shop/whoami"
    await expect_url(exercise, url, PROTO, scheme=scheme, headers={"x-forwarded-proto": proto})


@pytest.mark.parametrize(
    "host", ["shop.example.com", "shop.example.com:8443", "[2001:db8::5]:8080"]
)
async def test_forwarded_host_sets_the_host(exercise, host):
    """X-Forwarded-Host becomes the host of request.url"""
    url = f"http://{host}/shop/whoami"
    await expect_url(exercise, url, HOST, headers={"x-forwarded-host": host})


HEADERS_PROBE = "/probe/headers"


def add_headers_probe(exercise: Any) -> None:
    """A route of the checks' own: it answers the header lines it got, but Host."""
    app = exercise.app
    if any(getattr(route, "path", None) == HEADERS_PROBE for route in app.routes):
        return

    async def lines(request: Request) -> list[list[str]]:
        raw = request.headers.raw
        return [[name.decode(), value.decode()] for name, value in raw if name != b"host"]

    app.add_api_route(HEADERS_PROBE, lines, methods=["GET"], include_in_schema=False)


@pytest.mark.stub_may_pass("the stub changes no header line, which is right here")
async def test_forwarded_host_keeps_the_other_lines(exercise):
    """X-Forwarded-Host replaces the Host line only: every other line stays, repeated ones too"""
    add_headers_probe(exercise)
    sent = [("accept", "text/plain"), ("x-trace", "one"), ("x-trace", "two")]
    response = await call(exercise.app, HEADERS_PROBE, headers=[*sent, *FORWARDED.items()])
    expect_status(response, 200)
    kept = [line for line in response_json(response) if not line[0].startswith("x-forwarded-")]
    expect_equal(
        "other header lines, in order", [list(line) for line in sent], kept, help=OTHER_LINES
    )


@pytest.mark.stub_may_pass("the stub keeps the Host header, which is right here")
@pytest.mark.parametrize("host", ["shop.example.com, app.internal", ""], ids=["list", "empty"])
async def test_other_host_values_are_ignored(exercise, host):
    """an empty or listed X-Forwarded-Host leaves the host alone"""
    url = f"{INTERNAL}/shop/whoami"
    await expect_url(exercise, url, HOST, headers={"x-forwarded-host": host})


async def test_redirects_use_the_forwarded_url(exercise):
    """Starlette's slash redirect points at the public URL"""
    response = await call(exercise.app, "/whoami/", headers=FORWARDED)
    expect_status(response, 307)
    expect_header(response, "location", f"{PUBLIC}/shop/whoami", help=REDIRECT)


# -- links and the root path -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("root_path", "options", "expected"),
    [
        ("/shop", {"headers": FORWARDED}, f"{PUBLIC}/shop/orders/7"),
        ("/api/v2", {"headers": FORWARDED}, f"{PUBLIC}/api/v2/orders/7"),
        ("", {"headers": FORWARDED}, f"{PUBLIC}/orders/7"),
        ("/shop", {"headers": FORWARDED, "peer": ("198.51.100.9", 5)}, f"{INTERNAL}/shop/orders/7"),
    ],
    ids=["shop", "other-root-path", "no-root-path", "untrusted-peer"],
)
async def test_order_url_is_external(exercise, root_path, options, expected):
    """an order's url is its absolute external URL, under the server's root path"""
    response = await call(exercise.app, "/orders/7", root_path=root_path, **options)
    expect_status(response, 200, help=ROOT_PATH)
    expect_json(response, {"id": 7, "url": expected}, help=URL_FOR)


@pytest.mark.stub_may_pass("FastAPI lists the root path by itself; the app must not break it")
@pytest.mark.parametrize("root_path", ["/shop", "/api/v2"])
async def test_openapi_lists_the_root_path(exercise, root_path):
    """the OpenAPI document names the root path as its server, with the app's own paths"""
    response = await call(exercise.app, "/openapi.json", root_path=root_path, headers=FORWARDED)
    expect_status(response, 200, help=ROOT_PATH)
    document = response_json(response)
    expect_equal("servers", [{"url": root_path}], document.get("servers"), help=ROOT_PATH)
    paths = sorted(document.get("paths", {}))
    expect_equal("paths", ["/orders/{order_id}", "/whoami"], paths, help=ROOT_PATH)


@pytest.mark.stub_may_pass("FastAPI lists the root path by itself; the app must not break it")
async def test_openapi_without_root_path_has_no_servers(exercise):
    """without a root path the OpenAPI document has no servers"""
    response = await call(exercise.app, "/openapi.json", root_path="")
    expect_status(response, 200, help=ROOT_PATH)
    expect("servers" not in response_json(response), "expected no servers", help=ROOT_PATH)


@pytest.mark.stub_may_pass("FastAPI points the docs at the root path by itself")
async def test_docs_load_the_schema_under_the_root_path(exercise):
    """the docs page loads the schema from under the root path"""
    response = await call(exercise.app, "/docs", headers=FORWARDED)
    expect_status(response, 200, help=ROOT_PATH)
    expect("'/shop/openapi.json'" in response.text, "expected the docs to load /shop/openapi.json")
