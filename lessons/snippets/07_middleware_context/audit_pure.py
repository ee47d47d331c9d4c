import logging
from contextvars import ContextVar
from typing import Annotated

from fastapi import Depends, FastAPI, Header
from starlette.types import ASGIApp, Message, Receive, Scope, Send

current_user: ContextVar[str] = ContextVar("current_user", default="anonymous")
audit = logging.getLogger("audit")


async def authenticate(x_user: Annotated[str, Header()] = "anonymous") -> str:
    current_user.set(x_user)
    return x_user


# --8<-- [start:middleware]
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

        await self.app(scope, receive, send_and_record)
        user = current_user.get()  # the dependency ran in this same task: "ada"
        audit.info("%s %s -> %s by %s", scope["method"], scope["path"], status, user)


# --8<-- [end:middleware]
app = FastAPI(dependencies=[Depends(authenticate)])
app.add_middleware(AuditMiddleware)


@app.get("/orders")
async def list_orders() -> list[str]:
    return [f"{current_user.get()}-1"]
