from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException
from fastapi.responses import StreamingResponse

log: list[str] = []


async def request_scoped() -> AsyncIterator[None]:
    log.append("enter request-scoped")
    try:
        yield
    finally:
        log.append("exit request-scoped")


async def function_scoped() -> AsyncIterator[None]:
    log.append("enter function-scoped")
    try:
        yield
    finally:
        log.append("exit function-scoped")


RequestScoped = Annotated[None, Depends(request_scoped)]  # the default for yield: "request"
FunctionScoped = Annotated[None, Depends(function_scoped, scope="function")]
app = FastAPI()


async def rows() -> AsyncIterator[str]:
    for n in (1, 2):
        log.append(f"make row {n}")
        yield f"row {n}\n"


@app.get("/report")
async def report(
    _r: RequestScoped, _f: FunctionScoped, tasks: BackgroundTasks
) -> StreamingResponse:
    log.append("endpoint returns")
    tasks.add_task(log.append, "background task")
    return StreamingResponse(rows(), media_type="text/plain")


@app.get("/lines")
async def lines(_r: RequestScoped, _f: FunctionScoped) -> AsyncIterator[str]:
    log.append("endpoint starts")  # a streaming endpoint's body runs while the response is sent
    for n in (1, 2):
        yield f"line {n}"


@app.get("/broken")
async def broken(_r: RequestScoped, _f: FunctionScoped) -> None:
    raise HTTPException(status_code=503, detail="try again later")
