"""Slow consumers and shutdown: one bounded queue and one sender task per connection.

Contract (the names the checks use are marked "keep this name"):

* ``QUEUE_SIZE = 8`` (keep this name and value): how many frames may wait for one connection.
* ``WS /ws``: accept, then the first frame is ``{"type": "joined"}``, sent once the connection
  is registered, so it receives every broadcast that comes after it.
* Every text frame a client sends is broadcast, in the order received, to every connection
  (the sender included) as ``{"type": "message", "text": <text>}``.
* Each connection has its own queue of frames waiting to be sent, drained by its own sender
  task. Broadcasting never waits for a send: a client that stops reading never holds up the
  others. At most ``QUEUE_SIZE`` frames wait in a queue (the one being sent is no longer in
  it); when a frame arrives for a full queue, the oldest waiting frame is dropped, so a
  slow client that catches up gets the frame it was being sent, then the newest
  ``QUEUE_SIZE``, in order.
* A client that leaves ends its handler quietly, and its sender task ends with it.
* Shutdown: when the lifespan exits, every connection still open is sent a close with code
  1001 and reason ``"server shutting down"``; a close that fails (the peer is already gone)
  does not stop the others. Once the clients have answered, no task the app started is left.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Annotated, Any, TypedDict

import anyio
from fastapi import Depends, FastAPI, WebSocket, WebSocketDisconnect, status

QUEUE_SIZE = 8

Frame = dict[str, Any]


class Outbox:
    """The frames waiting for one connection, and the task that sends them."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.queue: asyncio.Queue[Frame] = asyncio.Queue(QUEUE_SIZE)

    def offer(self, frame: Frame) -> None:
        if self.queue.full():
            self.queue.get_nowait()  # drop the oldest: the broadcaster never waits for a reader
        self.queue.put_nowait(frame)

    async def drain(self) -> None:
        while True:
            await self.websocket.send_json(await self.queue.get())


class Hub:
    def __init__(self) -> None:
        self.outboxes: set[Outbox] = set()

    def broadcast(self, frame: Frame) -> None:
        for outbox in self.outboxes:
            outbox.offer(frame)

    async def close_all(self) -> None:
        for outbox in list(self.outboxes):
            with suppress(WebSocketDisconnect, RuntimeError):  # that peer is gone already
                await outbox.websocket.close(status.WS_1001_GOING_AWAY, "server shutting down")


class State(TypedDict):
    hub: Hub


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    hub = Hub()
    yield {"hub": hub}
    await hub.close_all()


def get_hub(websocket: WebSocket) -> Hub:
    return websocket.state.hub


app = FastAPI(lifespan=lifespan)


@app.websocket("/ws")
async def feed(websocket: WebSocket, hub: Annotated[Hub, Depends(get_hub)]) -> None:
    await websocket.accept()
    outbox = Outbox(websocket)
    outbox.offer({"type": "joined"})
    hub.outboxes.add(outbox)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(outbox.drain)
            async for text in websocket.iter_text():
                hub.broadcast({"type": "message", "text": text})
            tg.cancel_scope.cancel()
    finally:
        hub.outboxes.discard(outbox)
