"""A registry of rooms per app, a broadcast that survives dead peers, and no trace left behind."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Protocol, TypedDict

from fastapi import Depends, FastAPI, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketDisconnected


class Peer(Protocol):
    async def send_text(self, data: str) -> None: ...


class Rooms:
    """Who is in which room, in this process."""

    def __init__(self) -> None:
        self._members: dict[str, set[Peer]] = {}

    def join(self, room: str, peer: Peer) -> None:
        self._members.setdefault(room, set()).add(peer)

    def leave(self, room: str, peer: Peer) -> None:
        members = self._members.get(room, set())
        members.discard(peer)
        if not members:
            self._members.pop(room, None)

    def sizes(self) -> dict[str, int]:
        return {room: len(members) for room, members in self._members.items()}

    async def broadcast(self, room: str, text: str) -> None:
        for peer in list(self._members.get(room, ())):
            try:
                await peer.send_text(text)
            except (WebSocketDisconnect, WebSocketDisconnected):
                self.leave(room, peer)


class State(TypedDict):
    rooms: Rooms


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    yield {"rooms": Rooms()}


def get_rooms(websocket: WebSocket) -> Rooms:
    return websocket.state.rooms


RoomsDep = Annotated[Rooms, Depends(get_rooms)]
app = FastAPI(lifespan=lifespan)


@app.websocket("/rooms/{room}")
async def room_chat(websocket: WebSocket, room: str, rooms: RoomsDep) -> None:
    await websocket.accept()
    rooms.join(room, websocket)
    try:
        async for text in websocket.iter_text():
            await rooms.broadcast(room, text)
    finally:
        rooms.leave(room, websocket)
