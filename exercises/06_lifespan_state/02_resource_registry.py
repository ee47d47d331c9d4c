"""Opening and closing in order: three resources that must all be closed, whatever fails.

Task: the app needs a database, a cache and an HTTP client (fakes here). The lifespan below
opens them but never closes them. Make it close them in the reverse order of opening,
every one of them even when a close fails, and make a resource that fails to open stop
the start-up cleanly, with an error that names it.

The contract (the checks rely on it):
- Given, keep as they are: `RESOURCES`, `EVENTS`, `FAULTS`, `StartupError`, `Resource`,
  `app` and `GET /health`. A `Resource(name)` has `await open()` and `await close()`;
  each step appends "open <name>" or "close <name>" to `EVENTS`, then raises the
  exception `FAULTS` maps that step to, if any (the checks fill `FAULTS`).
- `lifespan` (keep this name) makes `Resource(name)` for each name of `RESOURCES` and
  opens them in that order: database, cache, client. It yields the state
  `{"database": ..., "cache": ..., "client": ...}`, the three open resources.
- At shutdown it closes them in the reverse order: client, cache, database.
- A close that raises (any `Exception`) does not stop the others: every open resource is
  closed. Each failed close is logged on `logging.getLogger("resources")` at ERROR level
  with the message "<name> failed to close" and the exception attached
  (`logger.exception` does both), in the order the closes happen. The shutdown then
  completes normally: nothing is raised.
- Failed closes are the only records at ERROR level or above: nothing is logged at ERROR
  when all goes well, and a failed start-up is reported by raising (the server logs it),
  not by logging as well.
- An open that raises (any `Exception`) stops the start-up:
  - the resources opened before it are closed, in reverse order, the same way (a failed
    close is logged and the others still close);
  - the resource that failed to open is not closed, and those after it are never
    opened;
  - then the lifespan raises `StartupError("<name> failed to start")`, e.g.
    `StartupError("cache failed to start")`, with the open's exception as its
    `__cause__` (`raise ... from exc`). That is what reaches the server (or
    `LifespanManager`), even when a close failed on the way.
- Every start opens the three resources again, also after a start-up that failed.
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

RESOURCES = ("database", "cache", "client")  # opened in this order
EVENTS: list[str] = []  # what the resources did: "open database", "close cache", ...
FAULTS: dict[str, Exception] = {}  # a step ("open cache") -> what it raises

logger = logging.getLogger("resources")


class StartupError(Exception):
    """A resource could not be opened, so the app cannot start."""


class Resource:
    """A fake resource that logs each step to EVENTS and raises where FAULTS says."""

    is_open = False

    def __init__(self, name: str) -> None:
        self.name = name

    async def open(self) -> None:
        self._step("open")
        self.is_open = True

    async def close(self) -> None:
        self._step("close")
        self.is_open = False

    def _step(self, action: str) -> None:
        step = f"{action} {self.name}"
        EVENTS.append(step)
        if step in FAULTS:
            raise FAULTS[step]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Resource]]:
    # TODO: Turn a failed open into StartupError("<name> failed to start") from its error.
    # TODO: Close what is open in reverse order at shutdown, and when a later open fails.
    # TODO: Log each failed close with logger.exception and go on closing the others.
    state = {}
    for name in RESOURCES:
        resource = Resource(name)
        await resource.open()
        state[name] = resource
    yield state


app = FastAPI(lifespan=lifespan)


@app.get("/health")
async def health(request: Request) -> dict[str, bool]:
    return {name: request.state[name].is_open for name in RESOURCES}
