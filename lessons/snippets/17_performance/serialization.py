"""Three ways to answer the same model; only the declared return type takes the fast path."""

from datetime import date

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel


class Item(BaseModel):
    id: int
    name: str
    added: date


ITEMS = [Item(id=i, name=f"item {i}", added=date(2026, 1, 1 + i % 28)) for i in range(50)]

app = FastAPI()


# --8<-- [start:fast]
@app.get("/items")
async def list_items() -> list[Item]:
    return ITEMS  # validated by the return type, then written to JSON bytes by pydantic-core


# --8<-- [end:fast]


# --8<-- [start:slow]
@app.get("/items/encoded")
async def list_items_encoded() -> JSONResponse:
    return JSONResponse(jsonable_encoder(ITEMS))  # Python dicts first, then json.dumps


@app.get("/items/untyped")
async def list_items_untyped():  # no return type, on purpose
    return ITEMS  # FastAPI has no type to use: it calls jsonable_encoder itself


# --8<-- [end:slow]
