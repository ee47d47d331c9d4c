"""Behind a proxy: forwarded headers count only when a trusted proxy sent them.

Task: in production this app runs as `uvicorn app:app --root-path /shop --no-proxy-headers`
behind reverse proxies. The public address is https://shop.example.com/shop/...; the proxy
strips `/shop`, speaks plain HTTP to Uvicorn and says where the request came from in
`X-Forwarded-*` headers, which Uvicorn is told to leave to the app. Today the app ignores
them, so it reports the proxy as the client, and its links are wrong. Make it honour those
headers when one of your own proxies sent them, and only then, and make its links external.

The contract (the checks rely on it):
- `app` (keep this name) is served as Uvicorn serves it: the server's root path (say `/shop`)
  is the scope's `root_path` and the start of its `path` (`/shop/whoami`). Do not set a root
  path or a prefix in the app itself: the same app must work under any root path, or none.
  The checks add routes of their own to `app`.
- The peer is the address that opened the connection, `scope["client"]`. It is trusted when
  it is an IP address inside one of the networks or equal to one of the addresses of
  `TRUSTED_PROXIES` (keep this name and its value). No client (`None`), or a peer that is not
  an IP address (say `testclient`), is never trusted.
- From an untrusted peer every forwarded header is ignored: `request.client` stays the peer,
  and the scheme and host stay the server's.
- From a trusted peer each of these headers, when present, changes the request for
  everything inside the app (routes, `request.url`, `url_for`, Starlette's redirects):
  - `X-Forwarded-For` lists the addresses the request passed through, each proxy appending
    the one it received it from; several `X-Forwarded-For` lines make one list, in order.
    Entries are separated by commas, with spaces around them ignored. Walk the list from the
    right: skip each trusted address; the first entry that is not one is the client, and
    `request.client.host` becomes it. If every entry is trusted, the leftmost one is the
    client. If the walk stops at an empty entry (an empty header is one), the client stays
    the peer. The port of `request.client` is not graded (0 is fine).
  - `X-Forwarded-Proto`: exactly `http` or `https` (in lowercase) becomes the scheme; any
    other value (say `HTTPS`, `wss`, `ftp`, or a list such as `https, http`) is ignored.
  - `X-Forwarded-Host`: a value that is not empty and holds no comma replaces the `Host`
    header, so it becomes the host (and port, if it names one) of every URL the app makes;
    any other value is ignored. Every other header line reaches the app as it was sent,
    repeated ones included (whether the `X-Forwarded-*` lines stay is not graded).
  Proxies send `X-Forwarded-Proto` and `X-Forwarded-Host` once, and servers strip the spaces
  around header values: the checks send neither repeated nor padded values of these two.
- Every other scope (the lifespan, say) passes through untouched.
- `GET /whoami` answers `{"client": <request.client.host, or null>, "url": <str(request.url)>}`
  (already written).
- `GET /orders/{order_id}` answers `{"id": <order_id>, "url": <the absolute URL of this very
  order, as the client outside reaches it>}`: for a trusted proxy that forwarded
  `https` and `shop.example.com` under the root path `/shop`, order 7's is
  `https://shop.example.com/shop/orders/7`.
- The OpenAPI document at `<root path>/openapi.json` lists the root path as its only server,
  `"servers": [{"url": "/shop"}]`, with the paths as the app declares them (`/whoami`), and
  has no `servers` without a root path; `<root path>/docs` loads `<root path>/openapi.json`.
"""

from collections.abc import Iterable

from fastapi import FastAPI, Request
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

TRUSTED_PROXIES = ("10.0.0.0/8", "192.0.2.10", "fd00::/8")


class OrderLink(BaseModel):
    id: int
    url: str


class ForwardedHeadersMiddleware:
    def __init__(self, app: ASGIApp, trusted: Iterable[str]) -> None:
        self.app = app
        self.trusted = list(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # TODO: Decide whether the peer in scope["client"] is one of the trusted proxies.
        # TODO: If it is, pass on a copy of the scope with the client, scheme and Host header
        #       the forwarded headers name, following the rules of the contract.
        await self.app(scope, receive, send)


app = FastAPI()
app.add_middleware(ForwardedHeadersMiddleware, trusted=TRUSTED_PROXIES)


@app.get("/whoami")
async def whoami(request: Request) -> dict[str, str | None]:
    client = request.client.host if request.client else None
    return {"client": client, "url": str(request.url)}


@app.get("/orders/{order_id}")
async def read_order(order_id: int, request: Request) -> OrderLink:
    # TODO: Make `url` the order's absolute external URL, built with request.url_for.
    return OrderLink(id=order_id, url=f"/orders/{order_id}")
