"""Keep every deposit and withdrawal when requests for one balance arrive together."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, Field


class Ledger:
    """A remote store of balances in cents (given: do not edit)."""

    def __init__(self) -> None:
        self._balances = {"alice": 10_000}

    async def read(self, account: str) -> int:
        return self._balances[account]  # the stand-in answers at once; a real one awaits I/O

    async def write(self, account: str, balance: int) -> None:
        self._balances[account] = balance


class Amount(BaseModel):
    amount: int = Field(ge=1)


class Balance(BaseModel):
    account: str
    balance: int


ledger = Ledger()


async def get_ledger() -> Ledger:
    return ledger


async def get_lock(request: Request) -> asyncio.Lock:
    return request.state.ledger_lock


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
LockDep = Annotated[asyncio.Lock, Depends(get_lock)]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, asyncio.Lock]]:
    yield {"ledger_lock": asyncio.Lock()}  # one lock for every request, made on the app's loop


app = FastAPI(lifespan=lifespan)


async def read_balance(ledger: Ledger, account: str) -> int:
    try:
        return await ledger.read(account)
    except KeyError:
        raise HTTPException(404, "unknown account") from None


@app.post("/accounts/{account}/deposits")
async def deposit(account: str, body: Amount, ledger: LedgerDep, lock: LockDep) -> Balance:
    # no other request may read or write between this read and this write
    async with lock:
        balance = await read_balance(ledger, account) + body.amount
        await ledger.write(account, balance)
    return Balance(account=account, balance=balance)


@app.post("/accounts/{account}/withdrawals")
async def withdraw(account: str, body: Amount, ledger: LedgerDep, lock: LockDep) -> Balance:
    async with lock:  # the check and the write see the same balance
        balance = await read_balance(ledger, account)
        if body.amount > balance:
            raise HTTPException(409, "insufficient funds")
        balance -= body.amount
        await ledger.write(account, balance)
    return Balance(account=account, balance=balance)
