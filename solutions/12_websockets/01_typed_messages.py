"""Typed messages: every frame a client sends is validated by a discriminated union."""

from typing import Annotated, Literal

from fastapi import FastAPI, WebSocket
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

MAX_TEXT = 200  # characters
BINARY = "binary frames are not accepted"
NOT_JSON = "invalid JSON"
INVALID = "invalid message"


class Say(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["say"]
    text: str = Field(min_length=1, max_length=MAX_TEXT)


class Ping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["ping"]


ClientMessage = Annotated[Say | Ping, Field(discriminator="type")]
client_message = TypeAdapter(ClientMessage)

app = FastAPI()


def answer(frame: str | None) -> dict[str, str]:
    """The reply to one frame: ``None`` stands for a binary frame."""
    if frame is None:
        return {"type": "error", "detail": BINARY}
    try:
        message = client_message.validate_json(frame)
    except ValidationError as error:
        # validate_json reports text that is not JSON at all as one "json_invalid" error
        json_broken = error.errors()[0]["type"] == "json_invalid"
        return {"type": "error", "detail": NOT_JSON if json_broken else INVALID}
    if isinstance(message, Say):
        return {"type": "said", "text": message.text}
    return {"type": "pong"}


@app.websocket("/ws")
async def chat(websocket: WebSocket) -> None:
    await websocket.accept()
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        await websocket.send_json(answer(message.get("text")))
