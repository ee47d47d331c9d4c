"""Authenticate the handshake: the token is checked before accept(), and again at every frame.

Task: `/ws` accepts everyone as "anonymous" and echoes every frame. Refuse a bad token
before `accept()`, welcome the token's user, and close a session once its token has expired.

The contract (the checks rely on it):
- Given, keep these names: `Grant`, `GRANTS` (the tokens the login service issued, each
  with its user and the moment it expires, in seconds since the epoch), `get_clock` (a
  dependency returning the clock, a function giving "now" in seconds), `app` and the
  route `/ws`. The checks override `get_clock` with a clock they move by hand: read the
  time through it, never otherwise.
- A token is valid while `now < expires_at`: at `expires_at` it has expired.
- The client sends its token in the query string, `/ws?token=<token>`, because a
  browser's WebSocket API cannot set headers. A missing, empty, unknown (case counts) or
  expired token, by the clock as the connection arrives, closes the connection with code
  1008 before `accept()`: the client never gets a frame, and nothing is raised (the close
  reason is not graded).
- A valid token: accept, then send `{"type": "welcome", "user": <user>}`.
- Every text frame the client sends afterwards is checked against the clock as it arrives:
  - the token is still valid: answer `{"type": "echo", "user": <user>, "text": <text>}`,
    the text exactly as sent;
  - it has expired: close with code 1008 and reason `"token expired"`, echo nothing, and
    return without raising.
- A client that leaves ends the handler without raising. What a binary frame does is not
  graded.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, WebSocket


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

# TODO: Write a dependency that reads the token from the query string and returns its Grant,
#       raising WebSocketException with code 1008 for a missing, empty, unknown or expired token.

app = FastAPI()


@app.websocket("/ws")
async def chat(websocket: WebSocket, clock: ClockDep) -> None:
    # TODO: Take the Grant from your dependency, so that a bad token never gets this far.
    await websocket.accept()
    user = "anonymous"
    await websocket.send_json({"type": "welcome", "user": user})
    async for text in websocket.iter_text():
        # TODO: Close with code 1008 and reason "token expired" once the token has expired.
        await websocket.send_json({"type": "echo", "user": user, "text": text})
