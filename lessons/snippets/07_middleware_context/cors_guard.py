from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send


class ApiKeyGuard:
    """Answers 401 itself unless the request carries the right X-API-Key."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app = app
        self.key = key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and Headers(scope=scope).get("x-api-key") != self.key:
            response = JSONResponse({"detail": "missing or wrong API key"}, status_code=401)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(*, cors_outside: bool) -> FastAPI:
    app = FastAPI()

    @app.get("/orders")
    async def list_orders() -> list[int]:
        return [1, 2]

    def add_cors() -> None:
        app.add_middleware(
            CORSMiddleware, allow_origins=["https://shop.example"], allow_headers=["x-api-key"]
        )

    if cors_outside:  # the last one added is the outermost
        app.add_middleware(ApiKeyGuard, key="s3cret")
        add_cors()
    else:
        add_cors()
        app.add_middleware(ApiKeyGuard, key="s3cret")
    return app
