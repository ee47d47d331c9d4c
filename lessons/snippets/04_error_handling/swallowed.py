from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse


class TransferRefused(Exception): ...


rolled_back: list[str] = []


async def forgiving_unit_of_work() -> AsyncIterator[None]:
    try:
        yield
    except Exception as exc:
        rolled_back.append(type(exc).__name__)  # the bug: it never raises again


app = FastAPI()


@app.exception_handler(TransferRefused)
async def refused(request: Request, exc: TransferRefused) -> JSONResponse:
    return JSONResponse({"title": "Transfer refused", "status": 409}, status_code=409)


@app.post("/transfers")
async def transfer(
    uow: Annotated[None, Depends(forgiving_unit_of_work, scope="function")],
) -> None:
    raise TransferRefused


@app.post("/transfers/request-scoped")
async def transfer_request_scoped(
    uow: Annotated[None, Depends(forgiving_unit_of_work)],
) -> None:
    raise TransferRefused
