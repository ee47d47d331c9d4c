import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Header
from starlette.types import ASGIApp, Message, Receive, Scope, Send

audit = logging.getLogger("audit")


@dataclass
class RequestInfo:
    user: str = "anonymous"


request_info: ContextVar[RequestInfo] = ContextVar("request_info")


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        info = RequestInfo()
        token = request_info.set(info)  # set once, before anything else runs
        try:
            await self.app(scope, receive, send_and_record)
        finally:
            request_info.reset(token)
        audit.info("%s %s -> %s by %s", scope["method"], scope["path"], status, info.user)


def authenticate(x_user: Annotated[str, Header()] = "anonymous") -> str:
    request_info.get().user = x_user  # fills in the holder; a worker thread can too
    return x_user


app = FastAPI(dependencies=[Depends(authenticate)])
app.add_middleware(AuditMiddleware)


@app.get("/orders")
def list_orders() -> list[str]:
    return [f"{request_info.get().user}-1"]
