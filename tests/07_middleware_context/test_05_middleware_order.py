"""Hidden suite for 07_middleware_context/05_middleware_order: each rule needs its order."""

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from workbook.testing import (
    client_for,
    expect,
    expect_equal,
    expect_header,
    expect_json,
    expect_status,
)

ORIGIN = "https://app.example.com"
EXPOSED = "X-Request-ID, Content-Digest"
REJECTED = {"detail": "Missing or wrong API key"}
ORDERS = [{"id": n, "item": "Squared notebook, A5", "quantity": n} for n in range(1, 21)]
PREFLIGHT = {
    "origin": ORIGIN,
    "access-control-request-method": "GET",
    "access-control-request-headers": "x-api-key",
}

OUTERMOST = (
    "With app.add_middleware the last added is the outermost: which layers must a request "
    "meet before the one that answered here?"
)
CORS_FIRST = (
    "A preflight carries no API key: does the request meet CORSMiddleware before "
    "ApiKeyMiddleware, so that CORS answers it?"
)
LABELS = (
    "A layer can only add headers to answers made inside it: is {layer} outside the layer "
    "that made this {status}?"
)
DIGEST_AFTER_GZIP = (
    "Does ContentDigestMiddleware sit outside GZipMiddleware, so that it hashes the "
    "compressed bytes the client receives?"
)
KEPT = "Are the five layers all still added, once each, with their arguments unchanged?"
CLASSES_KEPT = (
    "Is every class still as it was written? Only the order of the layers is yours to "
    "change: a layer that lets some requests skip the key refuses too few."
)


class Crash(Exception):
    """The unhandled error the checks cause in get_orders."""


async def crash() -> Any:
    raise Crash("the database went away")


@pytest.fixture
def app(exercise) -> Iterator[Any]:
    """The app, with every override taken away again after the test."""
    yield exercise.app
    exercise.app.dependency_overrides.clear()


async def fetch(app: Any, method: str, headers: dict[str, str]) -> tuple[httpx.Response, bytes]:
    """The answer to `method /orders` and its body bytes exactly as they were sent."""
    async with (
        client_for(app, raise_app_exceptions=False) as client,
        client.stream(method, "/orders", headers=headers) as response,
    ):
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    headers, request = response.headers, response.request
    return httpx.Response(response.status_code, headers=headers, content=raw, request=request), raw


def request_headers(*, key: str | None = None, encoding: str = "identity") -> dict[str, str]:
    headers = {"origin": ORIGIN, "accept-encoding": encoding}
    return headers if key is None else headers | {"x-api-key": key}


async def answer(app: Any, exercise: Any, kind: str, encoding: str = "identity") -> Any:
    """One answer of each kind: the 200, the guard's 401, or the 500 of an unhandled error."""
    if kind == "500":
        app.dependency_overrides[exercise.get_orders] = crash
    key = None if kind == "401" else exercise.API_KEY
    response, raw = await fetch(app, "GET", request_headers(key=key, encoding=encoding))
    expect_status(response, int(kind), help=KEPT)
    return response, raw


def digest_of(raw: bytes) -> str:
    return f"sha-256=:{base64.b64encode(hashlib.sha256(raw).digest()).decode()}:"


def labels_help(layer: str, kind: str) -> str:
    return LABELS.format(layer=layer, status=kind) if kind != "200" else OUTERMOST


# -- the preflight ---------------------------------------------------------------------------


async def test_preflight_needs_no_key(app):
    """a CORS preflight is answered by CORS, without an API key"""
    response, _ = await fetch(app, "OPTIONS", PREFLIGHT)
    expect_status(response, 200, help=CORS_FIRST)
    expect_header(response, "access-control-allow-origin", ORIGIN, help=CORS_FIRST)


# -- what each layer answers by itself -------------------------------------------------------


@pytest.mark.stub_may_pass("the guard refuses these in every order")
@pytest.mark.parametrize("key", [None, "k-7f3a9d", ""], ids=["missing", "wrong", "empty"])
async def test_guard_refuses_without_the_key(app, key):
    """a request without the right API key gets the guard's 401"""
    response, _ = await fetch(app, "GET", request_headers(key=key))
    expect_status(response, 401, help=KEPT)
    expect_json(response, REJECTED, help=KEPT)
    expect_header(response, "www-authenticate", "ApiKey", help=KEPT)


@pytest.mark.stub_may_pass("the guard refuses these in every order")
@pytest.mark.parametrize(
    "headers", [{"origin": ORIGIN}, {}], ids=["origin-without-request-method", "no-origin"]
)
async def test_plain_options_needs_the_key(app, headers):
    """an OPTIONS request that is no CORS preflight needs the API key like any other"""
    response, _ = await fetch(app, "OPTIONS", headers)
    expect_status(response, 401, help=CLASSES_KEPT)
    expect_json(response, REJECTED, help=CLASSES_KEPT)
    expect_header(response, "www-authenticate", "ApiKey", help=CLASSES_KEPT)


def layers(app: Any) -> list[str]:
    """The layers added to `app`, each as its class name and arguments, sorted."""
    return sorted(
        " ".join(
            [
                layer.cls.__name__,
                *map(json.dumps, layer.args),
                json.dumps(layer.kwargs, sort_keys=True),
            ]
        )
        for layer in app.user_middleware
    )


@pytest.mark.stub_may_pass("the stub adds the five layers, in another order")
async def test_the_five_layers_are_kept(app, reference):
    """the five layers are each added once, with the arguments they were written with"""
    expect_equal(
        "layers added (class and arguments)", layers(reference.app), layers(app), help=KEPT
    )


@pytest.mark.stub_may_pass("the request id layer makes this 500 in every order")
async def test_unhandled_error_is_the_request_id_500(app, exercise):
    """an unhandled error gets the request id layer's plain-text 500"""
    response, raw = await answer(app, exercise, "500")
    expect_header(response, "content-type", "text/plain; charset=utf-8", help=KEPT)
    expect_equal("body", "Internal Server Error", raw.decode(errors="replace"), help=KEPT)


@pytest.mark.stub_may_pass("every order lets the right key through to the route")
@pytest.mark.parametrize("encoding", ["gzip", "identity"])
async def test_orders_with_the_key(app, exercise, encoding):
    """with the right key the orders come back, gzip-compressed when asked"""
    response, _ = await answer(app, exercise, "200", encoding)
    expected_encoding = "gzip" if encoding == "gzip" else None
    expect_header(response, "content-encoding", expected_encoding, help=KEPT)
    expect_json(response, ORDERS, help=KEPT)


# -- the headers on every answer but a preflight's -------------------------------------------

IN_ANY_ORDER = "the route's plain 200 passes through every layer, whatever their order"
ROUTE_200 = pytest.param("200", marks=pytest.mark.stub_may_pass(IN_ANY_ORDER))
OWN_500 = pytest.mark.stub_may_pass("the request id layer labels the 500 it makes, in any order")


@pytest.mark.parametrize("kind", [ROUTE_200, "401", pytest.param("500", marks=OWN_500)])
async def test_answers_carry_a_request_id(app, exercise, kind):
    """the 200, the 401 and the 500 carry a request id"""
    response, _ = await answer(app, exercise, kind)
    value = response.headers.get("x-request-id", "")
    expect(
        re.fullmatch(r"[0-9a-f]{32}", value) is not None,
        f"expected X-Request-ID of 32 lowercase hex digits on the {kind}, not {value!r}",
        help=labels_help("RequestIdMiddleware", kind),
    )


@pytest.mark.stub_may_pass("the request id layer is not moved by reordering")
async def test_request_ids_are_fresh(app, exercise):
    """each request gets its own request id"""
    first, _ = await answer(app, exercise, "200")
    second, _ = await answer(app, exercise, "200")
    ids = {first.headers.get("x-request-id"), second.headers.get("x-request-id")}
    expect(len(ids) == 2, f"expected two different request ids, not {sorted(map(str, ids))}")


@pytest.mark.parametrize("kind", [ROUTE_200, "401", "500"])
async def test_answers_carry_the_cors_headers(app, exercise, kind):
    """the 200, the 401 and the 500 carry the CORS headers the page needs"""
    response, _ = await answer(app, exercise, kind)
    help = labels_help("CORSMiddleware", kind)
    expect_header(response, "access-control-allow-origin", ORIGIN, help=help)
    expect_header(response, "access-control-expose-headers", EXPOSED, help=help)


@pytest.mark.parametrize("kind", [ROUTE_200, "401", "500"])
async def test_answers_carry_their_digest(app, exercise, kind):
    """the 200, the 401 and the 500 carry the digest of their bytes"""
    response, raw = await answer(app, exercise, kind)
    help = labels_help("ContentDigestMiddleware", kind)
    expect_header(response, "content-digest", digest_of(raw), help=help)


async def test_compressed_answer_digest_is_of_the_sent_bytes(app, exercise):
    """a compressed answer's digest is of the compressed bytes"""
    response, raw = await answer(app, exercise, "200", "gzip")
    expect_header(response, "content-encoding", "gzip", help=KEPT)
    expect_header(response, "content-digest", digest_of(raw), help=DIGEST_AFTER_GZIP)
