"""Rooms: a registry of connections per room, with no trace left of a connection that is gone."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal, TypedDict

from fastapi import Depends, FastAPI, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_TEXT = 200  # characters


class Say(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["say"]
    text: str = Field(min_length=1, max_length=MAX_TEXT)


class Rooms:
    """Which connections are in which room, for one app."""

    def __init__(self) -> None:
        self._members: dict[str, list[WebSocket]] = {}

    def join(self, room: str, websocket: WebSocket) -> int:
        members = self._members.setdefault(room, [])
        members.append(websocket)
        return len(members)

    def leave(self, room: str, websocket: WebSocket) -> None:
        members = self._members.get(room, [])
        if websocket in members:
            members.remove(websocket)
        if not members:
            self._members.pop(room, None)

    def sizes(self) -> dict[str, int]:
        return {room: len(members) for room, members in self._members.items()}

    async def broadcast(self, room: str, message: dict[str, Any]) -> None:
        for websocket in list(self._members.get(room, ())):
            try:
                await websocket.send_json(message)
            except Exception:  # a dead peer must not stop delivery to the others
                self.leave(room, websocket)


class State(TypedDict):
    rooms: Rooms


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    yield {"rooms": Rooms()}


async def get_rooms(websocket: WebSocket) -> Rooms:
    return websocket.state.rooms


RoomsDep = Annotated[Rooms, Depends(get_rooms)]

app = FastAPI(lifespan=lifespan)


@app.websocket("/ws/{room}")
async def chat(websocket: WebSocket, room: str, rooms: RoomsDep) -> None:
    await websocket.accept()
    members = rooms.join(room, websocket)
    try:
        await websocket.send_json({"type": "joined", "room": room, "members": members})
        while True:
            try:
                say = Say.model_validate_json(await websocket.receive_text())
            except ValidationError:
                await websocket.send_json({"type": "error", "detail": "invalid message"})
                continue
            await rooms.broadcast(room, {"type": "message", "room": room, "text": say.text})
    except WebSocketDisconnect:
        pass
    finally:
        rooms.leave(room, websocket)
