from typing import Any

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.routing import Router
from starlette.types import ASGIApp, Receive, Scope, Send

trace: list[str] = []


class Layer:
    """Writes to `trace` when a request enters it and when it leaves."""

    def __init__(self, app: ASGIApp, name: str) -> None:
        self.app = app
        self.name = name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trace.append(f"enter {self.name}")
        await self.app(scope, receive, send)
        trace.append(f"leave {self.name}")


app = FastAPI(
    middleware=[Middleware(Layer, name="listed first"), Middleware(Layer, name="listed second")]
)
app.add_middleware(Layer, name="added first")
app.add_middleware(Layer, name="added last")


@app.get("/")
async def home() -> dict[str, bool]:
    trace.append("endpoint")
    return {"ok": True}


def layers(app: FastAPI) -> list[str]:
    """The stack from the outside in: each layer's class, and its name if it has one."""
    found = []
    layer: Any = app.middleware_stack or app.build_middleware_stack()  # built on first use
    while layer is not None and not isinstance(layer, Router):
        name = getattr(layer, "name", None)
        found.append(type(layer).__name__ + (f" ({name})" if name else ""))
        layer = getattr(layer, "app", None)
    return found
