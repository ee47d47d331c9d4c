import sqlite3
from collections.abc import AsyncIterator
from typing import Annotated

import aiosqlite
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse


def database_path() -> str:
    return "bank.sqlite3"


async def unit_of_work(
    path: Annotated[str, Depends(database_path)],
) -> AsyncIterator[aiosqlite.Connection]:
    async with aiosqlite.connect(path) as db:
        await db.execute("PRAGMA foreign_keys = ON")
        try:
            yield db
            await db.commit()  # default scope: this runs after the response was sent
        except Exception:
            await db.rollback()
            raise


LateUnitOfWork = Annotated[aiosqlite.Connection, Depends(unit_of_work)]

app = FastAPI()


@app.exception_handler(sqlite3.IntegrityError)
async def integrity_error(request: Request, exc: sqlite3.IntegrityError) -> JSONResponse:
    return JSONResponse({"title": "Conflict", "status": 409}, status_code=409)


@app.post("/accounts/{account_id}/notes", status_code=201)
async def add_note(account_id: str, text: str, db: LateUnitOfWork) -> dict[str, str]:
    await db.execute("INSERT INTO notes VALUES (?, ?)", (account_id, text))
    return {"account": account_id, "text": text}
