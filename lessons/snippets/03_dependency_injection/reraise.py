from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

events: list[str] = []


class InsufficientFunds(Exception):
    pass


async def get_transaction() -> AsyncIterator[None]:
    try:
        yield
    except InsufficientFunds:
        events.append("rollback")
        raise  # the handler below still gets the error and answers 409
    else:
        events.append("commit")


async def swallowing_transaction() -> AsyncIterator[None]:
    try:
        yield
    except InsufficientFunds:
        events.append("rollback")  # and no raise: the error stops here


app = FastAPI()


@app.exception_handler(InsufficientFunds)
async def insufficient_funds(request: Request, exc: InsufficientFunds) -> JSONResponse:
    return JSONResponse({"detail": "insufficient funds"}, status_code=409)


@app.post("/payments/{amount}")
async def pay(amount: int, _: Annotated[None, Depends(get_transaction)]) -> dict[str, int]:
    if amount > 100:
        raise InsufficientFunds
    return {"paid": amount}


@app.post("/swallowed/{amount}")
async def pay_swallowed(
    amount: int, _: Annotated[None, Depends(swallowing_transaction)]
) -> dict[str, int]:
    if amount > 100:
        raise InsufficientFunds
    return {"paid": amount}
