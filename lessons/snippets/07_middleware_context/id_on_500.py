import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from request_id import RequestIdMiddleware, request_id

logger = logging.getLogger("shop.errors")
api = FastAPI()


@api.exception_handler(Exception)
async def unhandled(request: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled error on %s", request.url.path, exc_info=exc)
    body = {"detail": "Internal Server Error", "request_id": request_id.get()}
    return JSONResponse(body, status_code=500)


@api.get("/crash")
async def crash() -> None:
    raise RuntimeError("database is down")


app = RequestIdMiddleware(api)  # outside ServerErrorMiddleware: the 500 passes through it
