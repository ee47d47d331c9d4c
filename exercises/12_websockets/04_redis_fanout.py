"""Two instances, one chat: room messages cross app instances through Redis pub/sub.

Run this app twice (two Uvicorn processes behind a load balancer) and a person connected
to one instance must hear a person connected to the other. Each instance keeps its own
sockets in a `Hub`; Redis carries every line to every instance with someone in the room.
Both instances read REDIS_URL when they start (`redis_from_env`, given): unset, every app
of the process shares fakeredis's in-process server, as instances share a real Redis.

The contract (the hidden tests check every line of it, on two copies of this module):

- `WS /ws/{room}`: the server accepts, then sends `{"type": "joined", "room": room,
  "members": n}`, where n counts the sockets in that room on THIS instance, the newcomer
  included (sockets on other instances do not count).
- joined is sent only once Redis has confirmed this instance's subscription to the room's
  channel `chat:<room>` (`channel_for`, keep this name): the pub/sub connection receives a
  message of type "subscribe" for the channel. A client that got joined hears every line
  said in the room from then on.
- Each instance holds ONE pub/sub connection (`Hub.pubsub`) and one subscription per room
  with sockets on it, however many sockets: the first socket of a room on an instance
  subscribes, the last one to leave (whatever way it leaves) unsubscribes before its
  handler returns, and a later newcomer subscribes again.
- A client sends `{"type": "say", "text": str}` frames (the checks send no other kind).
  Each line said reaches every socket of the room on every instance, the sender included,
  exactly once, as `{"type": "message", "room": room, "text": text}`; no socket of another
  room gets it. Lines arrive in the order Redis received them.
- A send that fails because the peer vanished (`WebSocketDisconnect`) removes that socket
  from its room at once (it no longer counts in members), and the others still get the
  line: one dead socket never stops an instance's deliveries.
- A client that closes, with any code, ends its handler quietly: the handler returns and
  raises nothing, whether its socket is still in the room or a failed send removed it.
- One listener task per instance reads the pub/sub connection. The lifespan starts it and,
  at shutdown, cancels it and waits for it, then closes the pub/sub connection and the
  client: the shutdown raises nothing and leaves no task running.

Keep these names: `app`, `redis_from_env`, `EMBEDDED_REDIS_URL`, `channel_for`, the route
path, and the frames' shapes. Warnings are errors in the checks.
"""

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Literal, TypedDict

from fakeredis import FakeAsyncRedis
from fastapi import Depends, FastAPI, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis

EMBEDDED_REDIS_URL = "redis://embedded-redis:6379/0"


def redis_from_env() -> Redis:
    """Given: the Redis that REDIS_URL names, or fakeredis's in-process server: every app
    of this process started without REDIS_URL shares it, as instances share a real Redis."""
    if url := os.environ.get("REDIS_URL"):
        return Redis.from_url(url, decode_responses=True)
    return FakeAsyncRedis.from_url(EMBEDDED_REDIS_URL, decode_responses=True)


def channel_for(room: str) -> str:
    """Given: the Redis channel that carries a room's lines (keep this name)."""
    return f"chat:{room}"


class Say(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["say"]
    text: str


class Hub:
    """This instance's sockets, room by room, and its one pub/sub connection to Redis."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.pubsub = redis.pubsub()
        self.rooms: dict[str, list[WebSocket]] = {}  # in joining order
        self.subscribed: dict[str, asyncio.Event] = {}  # set once Redis confirms

    async def listen(self) -> None:
        """Hand every message of a subscribed channel to this instance's sockets."""
        # TODO: read self.pubsub forever (get_message(timeout=None) blocks until one comes);
        #  a "subscribe" message confirms a channel, a "message" carries a room's frame.

    async def deliver(self, room: str, frame: str) -> None:
        # TODO: send the frame to every socket of the room on this instance; a socket whose
        #  send raises WebSocketDisconnect leaves the room, and the others still get it.
        pass

    async def join(self, room: str, websocket: WebSocket) -> int:
        """Add the socket; the first of its room here subscribes. Returns the room's size."""
        # TODO: the first socket of a room subscribes to channel_for(room); every joiner
        #  waits until Redis has confirmed that subscription.
        self.rooms.setdefault(room, []).append(websocket)
        return len(self.rooms[room])

    async def leave(self, room: str, websocket: WebSocket) -> None:
        """Remove the socket; the last of its room here unsubscribes."""
        members = self.rooms.get(room)
        if members is None or websocket not in members:
            return
        members.remove(websocket)
        # TODO: when the room is empty here, forget it and unsubscribe from its channel.

    async def publish(self, room: str, text: str) -> None:
        # TODO: publish {"type": "message", "room": room, "text": text}, as JSON text, on
        #  the room's channel: Redis hands it to every instance subscribed to the room, this
        #  one included, and each hands it to its own sockets.
        pass


class State(TypedDict):
    redis: Redis
    hub: Hub


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    redis = redis_from_env()
    hub = Hub(redis)
    # TODO: connect the pub/sub connection, then start hub.listen() as a task; at shutdown,
    #  cancel it and wait for it before closing the pub/sub connection.
    try:
        yield {"redis": redis, "hub": hub}
    finally:
        await hub.pubsub.aclose()
        await redis.aclose()


async def get_hub(websocket: WebSocket) -> Hub:
    return websocket.state.hub


HubDep = Annotated[Hub, Depends(get_hub)]

app = FastAPI(lifespan=lifespan)


@app.websocket("/ws/{room}")
async def chat(websocket: WebSocket, room: str, hub: HubDep) -> None:
    await websocket.accept()
    try:
        members = await hub.join(room, websocket)
        await websocket.send_json({"type": "joined", "room": room, "members": members})
        while True:
            say = Say.model_validate_json(await websocket.receive_text())
            await hub.publish(room, say.text)
    except WebSocketDisconnect:
        pass
    finally:
        await hub.leave(room, websocket)
