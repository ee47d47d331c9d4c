"""Shut down as Kubernetes expects: unready at once, drain the work, then close in reverse."""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Self, TypedDict

import anyio
from anyio.abc import TaskGroup
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import Field
from pydantic_settings import BaseSettings

EVENTS: list[str] = []  # "open database", "cancelled job nightly", "close cache", ...


class Settings(BaseSettings):
    drain_timeout: float = Field(default=20.0, ge=0)  # DRAIN_TIMEOUT, in seconds


class Resource:
    """A fake resource that writes its opening and its closing to EVENTS."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def __aenter__(self) -> Self:
        EVENTS.append(f"open {self.name}")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        EVENTS.append(f"close {self.name}")


async def work(name: str) -> None:
    """The slow part of a report or a job: the checks replace it."""
    await anyio.sleep(0.1)


class Draining:
    """The work in flight, each in a cancel scope, and whether the app is shutting down."""

    def __init__(self) -> None:
        self.shutting_down = False
        self.in_flight: dict[anyio.CancelScope, str] = {}
        self.changed = anyio.Event()

    @contextmanager
    def track(self, what: str) -> Iterator[anyio.CancelScope]:
        with anyio.CancelScope() as scope:
            self.in_flight[scope] = what
            try:
                yield scope
            finally:
                del self.in_flight[scope]
                self.changed.set()

    async def wait_idle(self) -> None:
        while self.in_flight:
            self.changed = anyio.Event()
            await self.changed.wait()

    async def drain(self, seconds: float) -> None:
        self.shutting_down = True  # first, before any wait: the probe must fail at once
        with anyio.move_on_after(seconds):
            await self.wait_idle()
        for scope, what in list(self.in_flight.items()):
            EVENTS.append(f"cancelled {what}")
            scope.cancel()
        await self.wait_idle()  # the cancelled work may still use the resources as it unwinds


class State(TypedDict):
    draining: Draining
    jobs: TaskGroup


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    settings = Settings()
    draining = Draining()
    # exits run in reverse: drain, then wait for the jobs, then close cache, then database
    async with Resource("database"), Resource("cache"), anyio.create_task_group() as jobs:
        yield {"draining": draining, "jobs": jobs}
        await draining.drain(settings.drain_timeout)


async def get_draining(request: Request) -> Draining:
    return request.state.draining


DrainingDep = Annotated[Draining, Depends(get_draining)]


async def open_for_work(draining: DrainingDep) -> Draining:
    if draining.shutting_down:
        raise HTTPException(503, "Shutting down")
    return draining


OpenDep = Annotated[Draining, Depends(open_for_work)]

app = FastAPI(lifespan=lifespan)


async def run_job(draining: Draining, name: str) -> None:
    with draining.track(f"job {name}"):
        await work(name)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/readyz")
async def readyz(draining: DrainingDep) -> JSONResponse:
    if draining.shutting_down:
        return JSONResponse({"status": "draining"}, status_code=503)
    return JSONResponse({"status": "ready"})


@app.post("/reports/{name}")
async def report(name: str, draining: OpenDep) -> dict[str, str]:
    with draining.track(f"report {name}") as scope:
        await work(name)
    if scope.cancel_called:
        raise HTTPException(503, "Shutting down")
    return {"report": name}


@app.post("/jobs/{name}", status_code=202)
async def start_job(name: str, draining: OpenDep, request: Request) -> dict[str, str]:
    request.state.jobs.start_soon(run_job, draining, name)
    return {"job": name}
