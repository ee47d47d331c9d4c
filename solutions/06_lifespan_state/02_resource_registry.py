"""Three resources opened in order at start-up and closed in reverse, whatever fails."""

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

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


async def close_logged(resource: Resource) -> None:
    try:
        await resource.close()
    except Exception:
        # logged, not raised: the resources opened before this one still need closing
        logger.exception("%s failed to close", resource.name)


async def open_resource(stack: AsyncExitStack, name: str) -> Resource:
    resource = Resource(name)
    try:
        await resource.open()
    except Exception as exc:
        raise StartupError(f"{name} failed to start") from exc
    stack.push_async_callback(close_logged, resource)  # only once it is open
    return resource


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Resource]]:
    async with AsyncExitStack() as stack:
        yield {name: await open_resource(stack, name) for name in RESOURCES}


app = FastAPI(lifespan=lifespan)


@app.get("/health")
async def health(request: Request) -> dict[str, bool]:
    return {name: request.state[name].is_open for name in RESOURCES}
