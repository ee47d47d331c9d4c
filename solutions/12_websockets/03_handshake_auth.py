"""Authenticate the handshake: the token is checked before accept(), and again at every frame."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Query, WebSocket, WebSocketException, status


@dataclass(frozen=True)
class Grant:
    user: str
    expires_at: float  # seconds since the epoch


GRANTS = {
    "tok-alice": Grant(user="alice", expires_at=1_900_000_000.0),
    "tok-bob": Grant(user="bob", expires_at=1_900_003_600.0),
}

Clock = Callable[[], float]


def get_clock() -> Clock:
    return time.time


ClockDep = Annotated[Clock, Depends(get_clock)]


def authenticate(clock: ClockDep, token: Annotated[str, Query()] = "") -> Grant:
    grant = GRANTS.get(token)
    if grant is None or clock() >= grant.expires_at:
        # Raised before accept(): the handshake is refused and no frame ever reaches the client.
        raise WebSocketException(status.WS_1008_POLICY_VIOLATION, "invalid token")
    return grant


app = FastAPI()


@app.websocket("/ws")
async def chat(
    websocket: WebSocket, grant: Annotated[Grant, Depends(authenticate)], clock: ClockDep
) -> None:
    await websocket.accept()
    await websocket.send_json({"type": "welcome", "user": grant.user})
    async for text in websocket.iter_text():
        if clock() >= grant.expires_at:
            await websocket.close(status.WS_1008_POLICY_VIOLATION, "token expired")
            return
        await websocket.send_json({"type": "echo", "user": grant.user, "text": text})
