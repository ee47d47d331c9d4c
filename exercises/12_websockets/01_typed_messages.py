"""Typed messages: every frame a client sends is validated by a discriminated union.

Task: `/ws` accepts, then answers the first text frame as if it were valid, and stops.
Make it a typed protocol: validate every frame against a union of Pydantic models told
apart by their "type", answer each frame with exactly one frame, answer a bad frame with
an error frame instead of dropping the connection, and end cleanly when the client leaves.

The contract (the checks rely on it):
- Given, keep these names: `MAX_TEXT` (200), the error details `BINARY`, `NOT_JSON`,
  `INVALID`, the models `Say` and `Ping`, `answer`, `app` and the route `/ws`.
- The client sends text frames holding one JSON object each:
  `{"type": "say", "text": T}` where T is a string of 1 to `MAX_TEXT` characters (counted
  as Python's `len` counts them), or `{"type": "ping"}`. Any other key, a missing key, a
  `type` other than these two (case counts), a text that is not a string, empty, or longer
  than `MAX_TEXT`, or JSON that is not an object, is an invalid message.
- Every frame the client sends gets exactly one text frame back, holding a JSON object, in
  the order the frames came:
  - say: `{"type": "said", "text": T}`, T exactly as sent (spaces kept);
  - ping: `{"type": "pong"}`;
  - a binary frame, whatever it holds (even a valid message):
    `{"type": "error", "detail": BINARY}`;
  - a text frame that is not JSON at all (`""`, `"hello"`, `"{"`):
    `{"type": "error", "detail": NOT_JSON}`;
  - JSON that is not a valid message: `{"type": "error", "detail": INVALID}`.
- After an error frame the connection stays open: the next frame is answered as usual.
- When the client leaves (any close code), the handler returns without raising.
"""

from typing import Literal

from fastapi import FastAPI, WebSocket
from pydantic import BaseModel

MAX_TEXT = 200  # characters
BINARY = "binary frames are not accepted"
NOT_JSON = "invalid JSON"
INVALID = "invalid message"


class Say(BaseModel):
    # TODO: Refuse keys other than these, and a text that is empty or over MAX_TEXT characters.
    type: Literal["say"]
    text: str


class Ping(BaseModel):
    type: Literal["ping"]


# TODO: Define ClientMessage, Say | Ping discriminated by "type", and one TypeAdapter for it.

app = FastAPI()


def answer(frame: str | None) -> dict[str, str]:
    """The reply to one frame: ``None`` stands for a binary frame."""
    # TODO: Validate the frame's JSON and answer it, or say which of the three errors it is.
    return {"type": "said", "text": frame or ""}


@app.websocket("/ws")
async def chat(websocket: WebSocket) -> None:
    await websocket.accept()
    # TODO: Answer every frame, text or binary, until the client leaves; then return.
    text = await websocket.receive_text()
    await websocket.send_json(answer(text))
