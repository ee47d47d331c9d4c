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

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypedDict

from fastapi import Depends, FastAPI, WebSocket

QUEUE_SIZE = 8

Frame = dict[str, Any]


class Outbox:
    """The frames waiting for one connection, and the task that sends them."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        # TODO: Give the connection its own queue, where at most QUEUE_SIZE frames wait.

    def offer(self, frame: Frame) -> None:
        # TODO: Queue the frame without waiting; when the queue is full, drop the oldest first.
        pass

    async def drain(self) -> None:
        # TODO: Send the queued frames in order, one at a time, until the task is cancelled.
        pass


class Hub:
    def __init__(self) -> None:
        self.outboxes: set[Outbox] = set()

    async def broadcast(self, frame: Frame) -> None:
        # TODO: Offer the frame to every outbox instead of sending it here, so that nothing
        #  waits on a slow reader: then broadcast needs no await at all.
        for outbox in self.outboxes:
            await outbox.websocket.send_json(frame)

    async def close_all(self) -> None:
        # TODO: Close every connection still open with code 1001 and the reason "server
        #  shutting down"; a close that fails (that peer is gone) must not stop the others.
        pass


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
    # TODO: Offer the joined frame to the outbox before registering it, so that it comes
    #  first, and run outbox.drain() in a task group inside this handler: it ends with it.
    await websocket.send_json({"type": "joined"})
    hub.outboxes.add(outbox)
    try:
        async for text in websocket.iter_text():
            await hub.broadcast({"type": "message", "text": text})
    finally:
        hub.outboxes.discard(outbox)
