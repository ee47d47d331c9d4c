from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI

log: list[str] = []


async def get_pool() -> AsyncIterator[str]:
    log.append("open pool")
    yield "pool"
    log.append("close pool")


async def get_connection(pool: Annotated[str, Depends(get_pool)]) -> AsyncIterator[str]:
    log.append("connect")
    yield f"connection from {pool}"
    log.append("disconnect")


async def get_transaction(conn: Annotated[str, Depends(get_connection)]) -> AsyncIterator[str]:
    log.append("begin")
    yield f"transaction on {conn}"
    log.append("commit")


async def audit() -> AsyncIterator[None]:
    log.append("start audit")
    yield
    log.append("flush audit")


app = FastAPI()


@app.post("/transfers")
async def transfer(
    tx: Annotated[str, Depends(get_transaction)], _: Annotated[None, Depends(audit)]
) -> dict[str, str]:
    log.append("endpoint")
    return {"ran in": tx}
