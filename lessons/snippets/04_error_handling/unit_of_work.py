from collections.abc import AsyncIterator
from typing import Annotated

import aiosqlite
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, PositiveInt

SCHEMA = """
CREATE TABLE accounts (id TEXT PRIMARY KEY, balance INTEGER NOT NULL CHECK (balance >= 0));
CREATE TABLE notes (
    account TEXT NOT NULL REFERENCES accounts (id) DEFERRABLE INITIALLY DEFERRED,
    text TEXT NOT NULL
);
"""


def database_path() -> str:
    return "bank.sqlite3"  # tests and the notebook override this dependency


async def unit_of_work(
    path: Annotated[str, Depends(database_path)],
) -> AsyncIterator[aiosqlite.Connection]:
    async with aiosqlite.connect(path) as db:
        await db.execute("PRAGMA foreign_keys = ON")
        try:
            yield db
            await db.commit()
        except Exception:
            await db.rollback()
            raise


UnitOfWork = Annotated[aiosqlite.Connection, Depends(unit_of_work, scope="function")]


class UnknownAccount(Exception):
    def __init__(self, account_id: str) -> None:
        self.account_id = account_id


class Transfer(BaseModel):
    source: str
    target: str
    amount: PositiveInt


app = FastAPI()


@app.exception_handler(UnknownAccount)
async def unknown_account(request: Request, exc: UnknownAccount) -> JSONResponse:
    problem = {
        "type": "https://bank.example/problems/unknown-account",
        "title": "Unknown account",
        "status": 404,
        "detail": f"There is no account {exc.account_id}.",
        "instance": request.url.path,
    }
    return JSONResponse(problem, status_code=404, media_type="application/problem+json")


async def add(db: aiosqlite.Connection, account_id: str, amount: int) -> None:
    cursor = await db.execute(
        "UPDATE accounts SET balance = balance + ? WHERE id = ?", (amount, account_id)
    )
    if cursor.rowcount == 0:
        raise UnknownAccount(account_id)


@app.post("/transfers", status_code=201)
async def transfer(transfer: Transfer, db: UnitOfWork) -> Transfer:
    await add(db, transfer.source, -transfer.amount)  # debit first...
    await add(db, transfer.target, transfer.amount)  # ...so a failure here must undo it
    return transfer


@app.get("/accounts/{account_id}")
async def balance(account_id: str, db: UnitOfWork) -> dict[str, int]:
    async with db.execute("SELECT balance FROM accounts WHERE id = ?", (account_id,)) as rows:
        row = await rows.fetchone()
    if row is None:
        raise UnknownAccount(account_id)
    return {"balance": row[0]}


@app.post("/accounts/{account_id}/notes", status_code=201)
async def add_note(account_id: str, text: str, db: UnitOfWork) -> dict[str, str]:
    await db.execute("INSERT INTO notes VALUES (?, ?)", (account_id, text))
    return {"account": account_id, "text": text}  # the foreign key is checked at commit
