"""Prometheus metrics labelled by route template, in a registry that belongs to the app.

Task: count every request and time it, for Prometheus to scrape, without the two classic
mistakes: labels that explode (one series per item id) and counts shared by every app in
the process (prometheus_client's global REGISTRY). Keep the metrics in a registry the
app's lifespan makes, and label them by the route template.

The contract (the checks rely on every line):
- Given, keep as it is: UNMATCHED ("<unmatched>"), METRICS_PATH ("/metrics"), BUCKETS,
  ITEMS and `create_app(clock=time.perf_counter)` (keep this name and the default, a
  monotonic clock) with the item routes below. The checks pass a clock of their own and
  add routes of their own.
- The lifespan makes a new `CollectorRegistry()` at each startup and yields it in its
  state as "registry" (the checks read it there); both metrics are registered in it, never
  in the global REGISTRY, so two apps in one process, or one app started twice, never
  share a count. Other state keys are yours.
- `http_requests_total`, a Counter labelled exactly `method`, `route`, `status`, and
  `http_request_duration_seconds`, a Histogram labelled exactly `method`, `route`, with
  `buckets=BUCKETS`. Their help texts are not graded.
- A pure ASGI middleware (module 07's style) counts every HTTP request exactly once, once
  the app has returned or raised, and observes its duration once:
  - method: the request method.
  - route: the path template of the route that matched, `scope["route"].path` once the app
    has run (`/items/{item_id}`, never `/items/42`: any number of ids is one series), also
    for a 404 raised by the route, a 422 and a 405; UNMATCHED when no route matched.
  - status (counter only): the status of the `http.response.start` the app sent, as a
    string ("200"); "500" when the app raised before starting a response. The exception
    is then raised again as it is, for the server.
  - the duration observed is `end - start` in seconds, `start = clock()` read before
    calling the app and `end = clock()` after it has returned or raised (a streamed
    response is timed to its last byte).
  Other scope types (the lifespan) pass through untouched.
- `GET /metrics` answers 200 with `generate_latest(<the app's registry>)` and the media
  type `CONTENT_TYPE_LATEST` (the Prometheus text format). Requests to /metrics are
  neither counted nor timed: a scraper must not see its own scrapes.
- Routes, given: `GET /items/{item_id}` answers an item or 404; `GET /items/export`
  streams every item as JSON Lines; `GET /boom` raises RuntimeError("boom").
"""

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp, Receive, Scope, Send

UNMATCHED = "<unmatched>"
METRICS_PATH = "/metrics"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)  # seconds

Clock = Callable[[], float]


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, clock: Clock = time.perf_counter) -> None:
        self.app = app
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # TODO: Let non-HTTP scopes through. Wrap send to remember the status of
        # TODO: http.response.start (500 if the app raises first), read the clock before
        # TODO: and after the app in a try/finally, and there count and time the request
        # TODO: with the metrics the lifespan made (scope["state"] holds its state),
        # TODO: unless the route is METRICS_PATH.
        await self.app(scope, receive, send)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    registry = CollectorRegistry()
    # TODO: Register the counter and the histogram in this registry, and yield them too.
    yield {"registry": registry}


ITEMS = {1: "tea", 2: "scones"}


def create_app(clock: Clock = time.perf_counter) -> FastAPI:
    app = FastAPI(lifespan=lifespan)
    app.add_middleware(MetricsMiddleware, clock=clock)

    # TODO: Add GET METRICS_PATH, answering the registry in the Prometheus text format.

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
