from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ServedBy:
    """Adds `X-Served-By` to every response that passes through it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], (b"x-served-by", b"api-1")]
            await send(message)

        await self.app(scope, receive, stamped)


async def unhandled(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"title": "Internal Server Error", "status": 500}, status_code=500)


app = FastAPI()
app.add_middleware(ServedBy)
app.add_exception_handler(Exception, unhandled)


@app.get("/ok")
async def ok() -> dict[str, bool]:
    return {"ok": True}


@app.get("/boom")
async def boom() -> None:
    raise RuntimeError("boom")
