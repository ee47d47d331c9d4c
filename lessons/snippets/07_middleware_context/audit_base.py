import logging
from contextvars import ContextVar
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request, Response
from starlette.middleware.base import RequestResponseEndpoint

current_user: ContextVar[str] = ContextVar("current_user", default="anonymous")
audit = logging.getLogger("audit")


async def authenticate(x_user: Annotated[str, Header()] = "anonymous") -> str:
    current_user.set(x_user)
    return x_user


app = FastAPI(dependencies=[Depends(authenticate)])


@app.middleware("http")  # a BaseHTTPMiddleware under the hood
async def audit_requests(request: Request, call_next: RequestResponseEndpoint) -> Response:
    response = await call_next(request)
    user = current_user.get()  # "anonymous": the endpoint ran in another task
    audit.info("%s %s -> %s by %s", request.method, request.url.path, response.status_code, user)
    return response


@app.get("/orders")
async def list_orders() -> list[str]:
    return [f"{current_user.get()}-1"]
