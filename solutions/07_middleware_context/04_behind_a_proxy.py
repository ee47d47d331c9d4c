"""Behind a proxy: forwarded headers count only when a trusted proxy sent them."""

import ipaddress
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from pydantic import BaseModel
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

TRUSTED_PROXIES = ("10.0.0.0/8", "192.0.2.10", "fd00::/8")


class OrderLink(BaseModel):
    id: int
    url: str


class ForwardedHeadersMiddleware:
    def __init__(self, app: ASGIApp, trusted: Iterable[str]) -> None:
        self.app = app
        self.networks = [ipaddress.ip_network(entry) for entry in trusted]

    def trusts(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False  # a name, a socket path or an empty entry is no proxy of ours
        return any(address in network for network in self.networks)

    def client_of(self, hops: list[str]) -> str:
        # each proxy appends the address it saw: anything left of an untrusted hop may be forged
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop
        return hops[0]

    def forwarded(self, scope: Scope) -> dict[str, Any]:
        headers, changes = Headers(scope=scope), {}
        hops = ",".join(headers.getlist("x-forwarded-for")).split(",")
        if client := self.client_of([hop.strip() for hop in hops]):
            changes["client"] = (client, 0)
        if (proto := headers.get("x-forwarded-proto")) in ("http", "https"):
            changes["scheme"] = proto
        host = headers.get("x-forwarded-host", "")
        if host and "," not in host:
            others = [(name, value) for name, value in scope["headers"] if name != b"host"]
            changes["headers"] = [*others, (b"host", host.encode("latin-1"))]
        return changes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = scope.get("client")
        if scope["type"] == "http" and peer and self.trusts(peer[0]):
            scope = scope | self.forwarded(scope)
        await self.app(scope, receive, send)


app = FastAPI()
app.add_middleware(ForwardedHeadersMiddleware, trusted=TRUSTED_PROXIES)


@app.get("/whoami")
async def whoami(request: Request) -> dict[str, str | None]:
    client = request.client.host if request.client else None
    return {"client": client, "url": str(request.url)}


@app.get("/orders/{order_id}")
async def read_order(order_id: int, request: Request) -> OrderLink:
    # url_for knows the scheme, the host and the root path the server was given
    url = request.url_for("read_order", order_id=order_id)
    return OrderLink(id=order_id, url=str(url))
