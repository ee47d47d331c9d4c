"""The notification service's main app: probes, a send queue, and a shutdown in order."""

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

logger = logging.getLogger("notify")

DRAIN_SECONDS = 10  # the longest the queue may take to empty at shutdown
SEND_SECONDS = 5  # the longest one send may take


class Note(BaseModel):
    to: str
    body: str


class Mailer(AbstractAsyncContextManager[Any], Protocol):
    async def send(self, note: Note) -> None: ...


# --8<-- [start:state]
@dataclass
class Service:
    queue: MemoryObjectSendStream[Note]
    ready: bool = True


def get_service(request: Request) -> Service:
    return request.state.service


ServiceDep = Annotated[Service, Depends(get_service)]
# --8<-- [end:state]


async def work(notes: MemoryObjectReceiveStream[Note], mailer: Mailer, done: anyio.Event) -> None:
    with notes:
        async for note in notes:  # ends once the queue is closed and empty
            try:
                with anyio.fail_after(SEND_SECONDS):
                    await mailer.send(note)
            except Exception:
                logger.exception("sending to %s failed", note.to)
    done.set()


# --8<-- [start:lifespan]
def create_app(
    store: AbstractAsyncContextManager[Any], mailer: Mailer, drain_seconds: float = DRAIN_SECONDS
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with AsyncExitStack() as stack:  # leaving it closes in reverse order
            await stack.enter_async_context(store)
            await stack.enter_async_context(mailer)
            queue, notes = anyio.create_memory_object_stream[Note](100)
            service = Service(queue)
            async with anyio.create_task_group() as workers:
                done = anyio.Event()
                workers.start_soon(work, notes, mailer, done)
                yield {"service": service}
                service.ready = False  # 1. /readyz answers 503, new work is refused
                logger.info("not ready")
                queue.close()  # 2. the worker sends what is queued, then stops
                with anyio.move_on_after(drain_seconds):
                    await done.wait()
                left = notes.statistics().current_buffer_used
                logger.info("drained" if done.is_set() else f"drain cut short, {left} unsent")
                workers.cancel_scope.cancel()
        # 3. the stack has closed the mailer, then the store

    # --8<-- [end:lifespan]
    app = FastAPI(lifespan=lifespan)

    # --8<-- [start:routes]
    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}  # alive: nothing to check but the process

    @app.get("/readyz")
    async def readyz(service: ServiceDep) -> JSONResponse:
        if not service.ready:
            return JSONResponse({"status": "draining"}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.post("/notifications", status_code=202)
    async def enqueue(note: Note, service: ServiceDep) -> dict[str, str]:
        if not service.ready:
            raise HTTPException(503, "shutting down", headers={"Retry-After": "1"})
        await service.queue.send(note)
        return {"status": "queued"}

    # --8<-- [end:routes]
    return app
