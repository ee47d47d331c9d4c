import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from breaker import CircuitBreaker, CircuitOpenError, UpstreamError
from fastapi import FastAPI, HTTPException, Request

UPSTREAM = "http://quotes.internal"


def create_app(transport: httpx.AsyncBaseTransport, breaker: CircuitBreaker) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=UPSTREAM, transport=transport) as client:
            yield {"client": client}

    app = FastAPI(lifespan=lifespan)

    @app.get("/quote/{symbol}")
    async def read_quote(symbol: str, request: Request) -> dict[str, Any]:
        async def fetch() -> dict[str, Any]:
            response = await request.state.client.get(f"/quotes/{symbol}")
            if response.status_code >= 500:
                raise UpstreamError(response.status_code)
            return response.json()

        try:
            return await breaker.call(fetch)
        except CircuitOpenError as exc:
            wait = str(max(1, math.ceil(exc.retry_after)))
            raise HTTPException(503, "Quotes are unavailable", {"Retry-After": wait}) from None
        except (httpx.TransportError, UpstreamError):
            raise HTTPException(502, "The quotes service failed") from None

    return app
