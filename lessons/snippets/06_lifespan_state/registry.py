from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Self

from fastapi import FastAPI

log: list[str] = []


class Resource:
    """A stand-in for a pool, a cache or a client: opened and closed as a context manager."""

    def __init__(self, name: str, *, fail_open: bool = False, fail_close: bool = False) -> None:
        self.name, self.fail_open, self.fail_close = name, fail_open, fail_close

    async def __aenter__(self) -> Self:
        if self.fail_open:
            raise ConnectionError(f"{self.name} is unreachable")
        log.append(f"open {self.name}")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        log.append(f"close {self.name}")
        if self.fail_close:
            raise RuntimeError(f"{self.name} did not close cleanly")


class StartupError(RuntimeError):
    """A resource could not be opened, so the app must not serve."""


def create_app(*resources: Resource) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Resource]]:
        async with AsyncExitStack() as stack:
            opened = {}
            for resource in resources:
                try:
                    opened[resource.name] = await stack.enter_async_context(resource)
                except Exception as exc:
                    raise StartupError(f"could not open {resource.name}: {exc}") from exc
            yield opened

    return FastAPI(lifespan=lifespan)
