from collections.abc import AsyncIterable, AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI

log: list[str] = []


async def open_cursor() -> AsyncIterator[str]:
    log.append("cursor opened")
    try:
        yield "cursor"
    finally:
        log.append("cursor closed")  # runs when the response ends, the client leaving included


Cursor = Annotated[str, Depends(open_cursor)]
app = FastAPI()


@app.get("/rows")
async def rows(cursor: Cursor) -> AsyncIterable[int]:
    try:
        for n in range(1, 4):
            yield n
        log.append("loop finished")
    finally:
        log.append("generator finally")  # runs whenever the generator is collected
