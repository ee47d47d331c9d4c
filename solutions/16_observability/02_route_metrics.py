"""Prometheus metrics labelled by route template, in a registry that belongs to the app."""

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import StreamingResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "<unmatched>"
METRICS_PATH = "/metrics"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)  # seconds

Clock = Callable[[], float]


@dataclass(frozen=True)
class RouteMetrics:
    requests: Counter
    durations: Histogram


def new_metrics(registry: CollectorRegistry) -> RouteMetrics:
    return RouteMetrics(
        requests=Counter(
            "http_requests_total",
            "HTTP requests served, by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
        ),
        durations=Histogram(
            "http_request_duration_seconds",
            "Time to serve an HTTP request, to its last byte, by method and route template.",
            ["method", "route"],
            buckets=BUCKETS,
            registry=registry,
        ),
    )


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, clock: Clock = time.perf_counter) -> None:
        self.app = app
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets when the app raises before a response starts

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        start = self.clock()
        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            elapsed = self.clock() - start
            route = getattr(scope.get("route"), "path", UNMATCHED)
            if route != METRICS_PATH:
                metrics: RouteMetrics = scope["state"]["metrics"]
                metrics.requests.labels(scope["method"], route, str(status)).inc()
                metrics.durations.labels(scope["method"], route).observe(elapsed)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    registry = CollectorRegistry()  # never the global REGISTRY: each app counts its own
    yield {"registry": registry, "metrics": new_metrics(registry)}


ITEMS = {1: "tea", 2: "scones"}


def create_app(clock: Clock = time.perf_counter) -> FastAPI:
    app = FastAPI(lifespan=lifespan)
    app.add_middleware(MetricsMiddleware, clock=clock)

    @app.get(METRICS_PATH)
    async def metrics(request: Request) -> Response:
        return Response(generate_latest(request.state.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/items/export")
    async def export_items() -> StreamingResponse:
        async def lines() -> AsyncIterator[str]:
            for item_id, name in ITEMS.items():
                yield json.dumps({"id": item_id, "name": name}) + "\n"

        return StreamingResponse(lines(), media_type="application/jsonl")

    @app.get("/items/{item_id}")
    async def read_item(item_id: int) -> dict[str, Any]:
        if (name := ITEMS.get(item_id)) is None:
            raise HTTPException(status_code=404, detail="Item not found")
        return {"id": item_id, "name": name}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    return app
