from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

events: list[str] = []


class Refused(Exception): ...


async def request_scoped() -> AsyncIterator[None]:
    events.append("request-scoped dependency: enter")
    try:
        yield
    except Exception as exc:
        events.append(f"request-scoped dependency: sees {type(exc).__name__}")
        raise
    events.append("request-scoped dependency: exit")


async def function_scoped() -> AsyncIterator[None]:
    events.append("function-scoped dependency: enter")
    try:
        yield
    except Exception as exc:
        events.append(f"function-scoped dependency: sees {type(exc).__name__}")
        raise
    events.append("function-scoped dependency: exit")


Deps = [Depends(request_scoped), Depends(function_scoped, scope="function")]
api = FastAPI(dependencies=Deps)


@api.exception_handler(Refused)
async def refused(request: Request, exc: Refused) -> JSONResponse:
    events.append("exception handler")
    return JSONResponse({"title": "Refused"}, status_code=409)


@api.get("/ok")
async def ok() -> dict[str, bool]:
    events.append("endpoint returns")
    return {"ok": True}


@api.get("/refused")
async def refuse() -> None:
    events.append("endpoint raises Refused")
    raise Refused


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The API, with a note in `events` when the response goes out."""

    async def recording_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            events.append(f"response sent: {message['status']}")
        await send(message)

    await api(scope, receive, recording_send)
