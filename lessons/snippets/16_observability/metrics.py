import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# --8<-- [start:registry]
UNMATCHED = "<unmatched>"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(frozen=True)
class HttpMetrics:
    registry: CollectorRegistry
    requests: Counter
    duration: Histogram


def new_metrics() -> HttpMetrics:
    """Metrics of one app, in a registry of their own (never the global REGISTRY)."""
    registry = CollectorRegistry()
    requests = Counter(
        "http_requests",  # exposed as http_requests_total
        "HTTP requests answered.",
        ["method", "route", "status"],
        registry=registry,
    )
    duration = Histogram(
        "http_request_duration_seconds",
        "Time to answer an HTTP request.",
        ["method", "route"],
        buckets=BUCKETS,
        registry=registry,
    )
    return HttpMetrics(registry, requests, duration)


# --8<-- [end:registry]
# --8<-- [start:middleware]
class MetricsMiddleware:
    def __init__(self, app: ASGIApp, clock: Callable[[], float] = time.perf_counter) -> None:
        self.app = app
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = self.clock()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except Exception:
            status = 500
            raise
        finally:
            route = getattr(scope.get("route"), "path", UNMATCHED)
            if route != "/metrics":  # scrapes are not traffic
                metrics: HttpMetrics = scope["state"]["metrics"]
                method = scope["method"]
                metrics.requests.labels(method, route, str(status)).inc()
                metrics.duration.labels(method, route).observe(self.clock() - started)


# --8<-- [end:middleware]
# --8<-- [start:app]
@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    yield {"metrics": new_metrics()}


def get_metrics(request: Request) -> HttpMetrics:
    return request.state.metrics


def create_app(clock: Callable[[], float] = time.perf_counter) -> FastAPI:
    app = FastAPI(lifespan=lifespan)
    app.add_middleware(MetricsMiddleware, clock=clock)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(m: Annotated[HttpMetrics, Depends(get_metrics)]) -> Response:
        return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/items/{item_id}")
    async def read_item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("broken")

    return app


# --8<-- [end:app]
