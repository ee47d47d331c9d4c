"""A bounded outbox per connection, a policy for the slow, and 1001 for everyone at shutdown."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

import anyio
from fastapi import Depends, FastAPI, WebSocket, status

QUEUE_SIZE = 4


class Outbox:
    """One connection's outgoing frames: a bounded queue that its own task drains."""

    def __init__(self, websocket: WebSocket, size: int = QUEUE_SIZE) -> None:
        self.websocket = websocket
        self._queue, self._pending = anyio.create_memory_object_stream[str](size)
        self.stopped = anyio.CancelScope()
        self.close_code: int | None = None

    def offer(self, text: str) -> None:
        """Queue a frame without ever waiting; a full queue stops this connection."""
        try:
            self._queue.send_nowait(text)
        except anyio.WouldBlock:
            self.stop(status.WS_1013_TRY_AGAIN_LATER)

    def stop(self, code: int) -> None:
        self.close_code = code
        self.stopped.cancel()

    async def drain(self) -> None:
        async for text in self._pending:
            await self.websocket.send_text(text)

    def close(self) -> None:
        self._queue.close()
        self._pending.close()


class Hub:
    def __init__(self) -> None:
        self.outboxes: set[Outbox] = set()

    def publish(self, text: str) -> None:
        for outbox in list(self.outboxes):
            outbox.offer(text)

    def shut_down(self) -> None:
        for outbox in list(self.outboxes):
            outbox.stop(status.WS_1001_GOING_AWAY)


class State(TypedDict):
    hub: Hub


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    hub = Hub()
    try:
        yield {"hub": hub}
    finally:
        hub.shut_down()


def get_hub(websocket: WebSocket) -> Hub:
    return websocket.state.hub


app = FastAPI(lifespan=lifespan)


@app.websocket("/feed")
async def feed(websocket: WebSocket, hub: Annotated[Hub, Depends(get_hub)]) -> None:
    await websocket.accept()
    outbox = Outbox(websocket)
    hub.outboxes.add(outbox)
    try:
        with outbox.stopped:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(outbox.drain)
                async for text in websocket.iter_text():
                    hub.publish(text)
                tasks.cancel_scope.cancel()
    finally:
        hub.outboxes.discard(outbox)
        outbox.close()
    if outbox.close_code is not None:
        await websocket.close(outbox.close_code)
