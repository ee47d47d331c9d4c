"""A unit of work: a transfer is stored whole, or not at all.

Task: `POST /transfers` debits the source, then credits the target, on one SQLite connection
from `get_connection`. Nothing is committed yet, and when the transfer fails after the debit,
nothing is rolled back either. Make `unit_of_work` a unit of work: commit when the endpoint
succeeds, in time; roll back when it raises, and let the error go on.

The contract (the checks rely on it):
- `app` (keep this name) serves `POST /transfers`, body `{"source": str, "target": str,
  "amount": int}`, on the table `accounts (id TEXT PRIMARY KEY, balance INTEGER NOT NULL)`.
  Keep the models, the handlers, `add` and the endpoint as they are.
- `get_connection` (keep this name) provides the connection. The checks replace it, through
  `app.dependency_overrides`, with connections of their own to a database they created,
  opened as `aiosqlite.connect(path)` opens one (a transaction begins by itself at the first
  write): sometimes one connection for each request, sometimes the same connection for several
  requests (as a pool would hand it out), sometimes one whose COMMIT fails. Take the
  connection from it, open no other, and leave closing it to `get_connection`.
- The endpoint writes the debit first. An unknown source answers 404 (problem `not-found`);
  a debit that takes the balance below zero answers 409 (problem `insufficient-funds`, with
  `balance`, the balance before the transfer); an unknown target answers 404 after the debit
  was written. A balance may end at exactly 0. An amount of 0 or less is FastAPI's 422.
- A transfer that succeeds answers 201 with the transfer as sent, and both changes are
  committed before the response starts: a client that reads the database the moment the
  response begins already sees them.
- When the endpoint raises, whatever it raises (one of the errors above, an unexpected
  database error, or any other exception, such as a bug's `KeyError`), nothing it wrote is
  kept, not even on a connection that then serves the next request: roll the transaction
  back, then raise the same exception again, so that its handler answers it (404 or 409 as
  above) or, for an unexpected error, the server gets it as it was raised and the client
  gets a 500 (the body of a 500 is not graded).
- When the commit itself fails, the client gets a 500, never the 201, and nothing is stored,
  not even by the next request on the same connection.
"""

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
    # TODO: Commit when the endpoint succeeds, before the response is sent.
    # TODO: When the endpoint or the commit raises, roll back and raise the same exception.
    yield connection


UnitOfWork = Annotated[aiosqlite.Connection, Depends(unit_of_work)]


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
