"""Two instances, one chat: room messages cross app instances through Redis pub/sub."""

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
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
        while True:
            message = await self.pubsub.get_message(timeout=None)
            if message is None:
                continue
            channel = message["channel"]
            if message["type"] == "subscribe" and channel in self.subscribed:
                self.subscribed[channel].set()
            elif message["type"] == "message":
                await self.deliver(channel.removeprefix("chat:"), message["data"])

    async def deliver(self, room: str, frame: str) -> None:
        for websocket in list(self.rooms.get(room, ())):
            try:
                await websocket.send_text(frame)
            except WebSocketDisconnect:  # its peer vanished: it leaves, the others still hear
                await self.leave(room, websocket)

    async def join(self, room: str, websocket: WebSocket) -> int:
        """Add the socket; the first of its room here subscribes. Returns the room's size."""
        channel = channel_for(room)
        if room not in self.rooms:
            self.rooms[room] = []
            self.subscribed[channel] = asyncio.Event()
            await self.pubsub.subscribe(channel)
        self.rooms[room].append(websocket)
        await self.subscribed[channel].wait()
        return len(self.rooms[room])

    async def leave(self, room: str, websocket: WebSocket) -> None:
        """Remove the socket; the last of its room here unsubscribes."""
        members = self.rooms.get(room)
        if members is None or websocket not in members:
            return
        members.remove(websocket)
        if not members:
            del self.rooms[room]
            del self.subscribed[channel_for(room)]
            await self.pubsub.unsubscribe(channel_for(room))

    async def publish(self, room: str, text: str) -> None:
        frame = {"type": "message", "room": room, "text": text}
        await self.redis.publish(channel_for(room), json.dumps(frame))


class State(TypedDict):
    redis: Redis
    hub: Hub


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    redis = redis_from_env()
    hub = Hub(redis)
    await hub.pubsub.connect()  # before the listener reads it and any join subscribes on it
    listener = asyncio.create_task(hub.listen())
    try:
        yield {"redis": redis, "hub": hub}
    finally:
        listener.cancel()
        with suppress(asyncio.CancelledError):
            await listener
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
