"""Rooms: a registry of connections per room, with no trace left of a connection that is gone.

Task: clients connect to `/ws/{room}` and chat with the others in that room. Write the
registry, `Rooms`, and make sure a connection leaves it however the connection ends: a
client that closes, a handler that fails, a peer that vanished while a message was being
sent to it.

The contract (the checks rely on it):
- Given, keep these names: `MAX_TEXT`, `Say`, `Rooms` (and its method `sizes`), `State`,
  `lifespan`, `get_rooms`, `app` and the route `/ws/{room}`.
- The lifespan creates one `Rooms` at each start of the app and yields it as
  `{"rooms": ...}`: two running apps never share one (no registry at module level).
- `Rooms.sizes()` returns `{room: number of connections}` for every room that holds at
  least one connection, and nothing for a room that has none: `{}` when nobody is in.
- A client at `/ws/{room}` is accepted and put in the room; then, and only then, it gets
  `{"type": "joined", "room": room, "members": n}`, n counting the room's connections,
  itself included.
- A valid text frame `{"type": "say", "text": T}` (as `Say` validates it) is sent as
  `{"type": "message", "room": room, "text": T}` once to every connection of that room,
  the sender included, and to no other room. A text frame `Say.model_validate_json`
  refuses (text that is not JSON included) gets
  `{"type": "error", "detail": "invalid message"}`, to the sender only, and the
  connection stays open. What a binary frame does is not graded.
- When a send to a member fails during a broadcast, whatever it raises (a peer that
  vanished: `WebSocketDisconnect`; a socket already closed: `RuntimeError`), that member
  is removed from the room at once and every other member still gets the message.
- However a handler ends (the client closed with any code, an error was raised under it,
  a send to its own client failed, the "joined" frame's included), its connection is no
  longer in the registry afterwards, and every other connection still is. Leaving is
  harmless when the connection is already gone (a broadcast may have removed it first):
  the handler of a client that leaves returns without raising.
"""

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
        # TODO: Add the connection to the room; return how many connections the room holds.
        return 1

    def leave(self, room: str, websocket: WebSocket) -> None:
        # TODO: Remove the connection if it is there, and the room once it is empty.
        pass

    def sizes(self) -> dict[str, int]:
        return {room: len(members) for room, members in self._members.items()}

    async def broadcast(self, room: str, message: dict[str, Any]) -> None:
        # TODO: Send to every member; one whose send raises leaves, the others still get it.
        pass


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
    await websocket.send_json({"type": "joined", "room": room, "members": members})
    # TODO: Leave the room however this handler ends: a disconnect, an error, a return.
    try:
        while True:
            try:
                say = Say.model_validate_json(await websocket.receive_text())
            except ValidationError:
                await websocket.send_json({"type": "error", "detail": "invalid message"})
                continue
            await rooms.broadcast(room, {"type": "message", "room": room, "text": say.text})
    except WebSocketDisconnect:
        pass
