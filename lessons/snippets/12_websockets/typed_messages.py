"""Frames in and out as Pydantic models; a bad frame costs an error frame, not the socket."""

from typing import Annotated, Literal

from fastapi import FastAPI, WebSocket
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError


class Say(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["say"]
    text: Annotated[str, Field(min_length=1, max_length=200)]


class Ping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["ping"]


Incoming = Annotated[Say | Ping, Field(discriminator="type")]
incoming = TypeAdapter(Incoming)


class Said(BaseModel):
    type: Literal["said"] = "said"
    text: str


class Pong(BaseModel):
    type: Literal["pong"] = "pong"


class Error(BaseModel):
    type: Literal["error"] = "error"
    code: str
    loc: list[str | int] = []


def answer(message: Say | Ping) -> Said | Pong:
    match message:
        case Say(text=text):
            return Said(text=text)
        case Ping():
            return Pong()


def parse(text: str | None) -> Say | Ping | Error:
    if text is None:
        return Error(code="binary_frame")
    try:
        return incoming.validate_json(text)
    except ValidationError as invalid:
        first = invalid.errors()[0]
        return Error(code=first["type"], loc=list(first["loc"]))


app = FastAPI()


@app.websocket("/ws")
async def chat(websocket: WebSocket) -> None:
    await websocket.accept()
    while True:
        frame = await websocket.receive()
        if frame["type"] == "websocket.disconnect":
            return
        message = parse(frame.get("text"))
        reply = message if isinstance(message, Error) else answer(message)
        await websocket.send_text(reply.model_dump_json())
