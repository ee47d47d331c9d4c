from collections.abc import AsyncIterable

from fastapi import FastAPI
from pydantic import BaseModel


class Step(BaseModel):
    done: int
    of: int


log: list[str] = []
app = FastAPI()


@app.get("/progress")
async def progress() -> AsyncIterable[Step]:
    for done in range(1, 4):
        log.append(f"step {done}")
        yield Step(done=done, of=3)
    log.append("finished")
