from collections.abc import AsyncIterable

from fastapi import FastAPI
from pydantic import BaseModel


class Row(BaseModel):
    n: int


app = FastAPI()


@app.get("/rows")
async def rows() -> AsyncIterable[Row]:
    yield Row(n=1)
    raise RuntimeError("the database went away")
