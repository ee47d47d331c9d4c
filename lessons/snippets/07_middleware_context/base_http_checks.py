from collections.abc import AsyncIterator

import anyio
from fastapi import BackgroundTasks, FastAPI, HTTPException, Request, Response
from fastapi.responses import StreamingResponse
from starlette.middleware.base import RequestResponseEndpoint

events: list[str] = []
released = anyio.Event()

app = FastAPI()


@app.middleware("http")
async def stamp(request: Request, call_next: RequestResponseEndpoint) -> Response:
    if request.url.path == "/admin":
        raise HTTPException(status_code=403)  # no handler out here: this becomes a 500
    try:
        response = await call_next(request)
    except RuntimeError:
        events.append("dispatch saw RuntimeError")  # the endpoint's exception, re-raised
        raise
    response.headers["x-stamped"] = "yes"
    return response


@app.get("/ticker")
async def ticker() -> StreamingResponse:
    async def ticks() -> AsyncIterator[str]:
        yield "tick 1\n"
        events.append("generator waits")
        await released.wait()
        yield "tick 2\n"

    return StreamingResponse(ticks(), media_type="text/plain")


@app.post("/signup")
async def signup(tasks: BackgroundTasks) -> dict[str, bool]:
    tasks.add_task(events.append, "welcome mail sent")
    return {"ok": True}


@app.get("/boom")
async def boom() -> None:
    raise RuntimeError("boom")


@app.get("/admin")
async def admin() -> dict[str, bool]:
    return {"ok": True}
