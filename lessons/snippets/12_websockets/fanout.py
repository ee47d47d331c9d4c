"""Rooms across instances: every message goes through Redis pub/sub, even to its own instance."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

import anyio
from fakeredis import FakeAsyncRedis
from fastapi import Depends, FastAPI, WebSocket
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

EMBEDDED_REDIS_URL = "redis://embedded-redis:6379/0"


def redis_from_env() -> Redis:
    """The Redis that REDIS_URL names, or fakeredis's in-process server, shared by every
    app of this process started without REDIS_URL (as instances share a real Redis)."""
    if url := os.environ.get("REDIS_URL"):
        return Redis.from_url(url, decode_responses=True)
    return FakeAsyncRedis.from_url(EMBEDDED_REDIS_URL, decode_responses=True)


class State(TypedDict):
    redis: Redis


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    redis = redis_from_env()
    try:
        yield {"redis": redis}
    finally:
        await redis.aclose()


def get_redis(websocket: WebSocket) -> Redis:
    return websocket.state.redis


RedisDep = Annotated[Redis, Depends(get_redis)]


async def relay(pubsub: PubSub, websocket: WebSocket) -> None:
    async for message in pubsub.listen():
        if message["type"] == "message":
            await websocket.send_text(message["data"])


async def room_chat(websocket: WebSocket, room: str, redis: RedisDep) -> None:
    channel = f"chat:room:{room}"
    await websocket.accept()
    async with redis.pubsub() as pubsub:
        await pubsub.subscribe(channel)
        await pubsub.get_message(timeout=None)  # waits for Redis's reply to SUBSCRIBE
        await websocket.send_json({"type": "joined", "room": room})
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(relay, pubsub, websocket)
                async for text in websocket.iter_text():
                    await redis.publish(channel, text)
                tasks.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await pubsub.unsubscribe(channel)


def create_app() -> FastAPI:
    app = FastAPI(lifespan=lifespan)
    app.add_api_websocket_route("/rooms/{room}", room_chat)
    return app
