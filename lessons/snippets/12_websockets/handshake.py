"""Who is calling, decided before accept: a token in the query or in the subprotocol list."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Query, WebSocket, WebSocketException, status


@dataclass(frozen=True)
class Grant:
    user: str
    expires_at: float


# stands in for module 11's verify_access_token: token -> who, until when
GRANTS = {"t-alice": Grant("alice", expires_at=1_000.0)}


def get_clock() -> Callable[[], float]:
    return time.time


Clock = Annotated[Callable[[], float], Depends(get_clock)]


def check(token: str | None, now: float) -> Grant:
    grant = GRANTS.get(token or "")
    if grant is None or now >= grant.expires_at:
        raise WebSocketException(status.WS_1008_POLICY_VIOLATION, "invalid or expired token")
    return grant


def from_query(token: Annotated[str | None, Query()] = None, *, clock: Clock) -> Grant:
    return check(token, clock())


def from_subprotocol(websocket: WebSocket, clock: Clock) -> Grant:
    match websocket.scope["subprotocols"]:
        case ["bearer", token]:
            return check(token, clock())
    raise WebSocketException(status.WS_1008_POLICY_VIOLATION, "expected: bearer, <token>")


app = FastAPI()


async def serve(websocket: WebSocket, grant: Grant, clock: Clock) -> None:
    await websocket.send_json({"type": "hello", "user": grant.user})
    async for text in websocket.iter_text():
        if clock() >= grant.expires_at:
            await websocket.close(status.WS_1008_POLICY_VIOLATION, "token expired")
            return
        await websocket.send_json({"type": "said", "user": grant.user, "text": text})


@app.websocket("/ws")
async def chat(
    websocket: WebSocket, grant: Annotated[Grant, Depends(from_query)], clock: Clock
) -> None:
    await websocket.accept()
    await serve(websocket, grant, clock)


@app.websocket("/ws-protocol")
async def chat_protocol(
    websocket: WebSocket, grant: Annotated[Grant, Depends(from_subprotocol)], clock: Clock
) -> None:
    await websocket.accept(subprotocol="bearer")
    await serve(websocket, grant, clock)
