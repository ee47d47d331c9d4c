"""A unit of work: a transfer is stored whole, or not at all."""

from collections.abc import AsyncIterator
from typing import Annotated

import aiosqlite
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, PositiveInt

DATABASE = "bank.db"
PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://example.com/problems/"


class Transfer(BaseModel):
    source: str
    target: str
    amount: PositiveInt


class UnknownAccount(Exception):
    def __init__(self, account: str) -> None:
        self.account = account


class InsufficientFunds(Exception):
    def __init__(self, account: str, balance: int) -> None:
        self.account = account
        self.balance = balance


async def get_connection() -> AsyncIterator[aiosqlite.Connection]:
    async with aiosqlite.connect(DATABASE) as connection:
        yield connection


async def unit_of_work(
    connection: Annotated[aiosqlite.Connection, Depends(get_connection)],
) -> AsyncIterator[aiosqlite.Connection]:
    try:
        yield connection
        await connection.commit()
    except Exception:
        await connection.rollback()
        raise


# scope="function": the commit runs before the response is sent, so a failed one is a 500
UnitOfWork = Annotated[aiosqlite.Connection, Depends(unit_of_work, scope="function")]


async def add(db: aiosqlite.Connection, account: str, amount: int) -> int:
    sql = "UPDATE accounts SET balance = balance + ? WHERE id = ? RETURNING balance"
    async with db.execute(sql, (amount, account)) as cursor:
        row = await cursor.fetchone()
    if row is None:
        raise UnknownAccount(account)
    return row[0]


def problem(
    request: Request, status: int, slug: str, title: str, detail: str, **extensions: object
) -> JSONResponse:
    body = {"type": PROBLEMS + slug, "title": title, "status": status, "detail": detail}
    body["instance"] = request.url.path
    return JSONResponse(body | extensions, status_code=status, media_type=PROBLEM_JSON)


app = FastAPI()


@app.exception_handler(UnknownAccount)
async def unknown_account(request: Request, exc: UnknownAccount) -> JSONResponse:
    detail = f"Account {exc.account} does not exist."
    return problem(request, 404, "not-found", "Resource not found", detail)


@app.exception_handler(InsufficientFunds)
async def insufficient_funds(request: Request, exc: InsufficientFunds) -> JSONResponse:
    detail = f"Account {exc.account} cannot cover this transfer."
    return problem(
        request, 409, "insufficient-funds", "Insufficient funds", detail, balance=exc.balance
    )


@app.post("/transfers", status_code=201)
async def transfer(transfer: Transfer, db: UnitOfWork) -> Transfer:
    if (balance := await add(db, transfer.source, -transfer.amount)) < 0:
        raise InsufficientFunds(transfer.source, balance + transfer.amount)
    await add(db, transfer.target, transfer.amount)
    return transfer
