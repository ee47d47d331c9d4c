from collections import Counter
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, FastAPI
from pydantic import BaseModel

calls: Counter[str] = Counter()


class Settings(BaseModel):
    database_url: str = "sqlite://"


class Connection:
    def __init__(self, url: str) -> None:
        self.url = url


@lru_cache
def get_settings() -> Settings:  # once per process
    calls["get_settings"] += 1
    return Settings()


async def get_connection(settings: Annotated[Settings, Depends(get_settings)]) -> Connection:
    calls["get_connection"] += 1  # once per request
    return Connection(settings.database_url)


async def stamp() -> int:
    calls["stamp"] += 1  # once per use: use_cache=False
    return calls["stamp"]


ConnectionDep = Annotated[Connection, Depends(get_connection)]
Stamp = Annotated[int, Depends(stamp, use_cache=False)]


async def load_user(conn: ConnectionDep, at: Stamp) -> dict[str, int]:
    return {"user": id(conn), "at": at}


async def load_orders(conn: ConnectionDep, at: Stamp) -> dict[str, int]:
    return {"orders": id(conn), "at": at}


async def load_prices(conn: ConnectionDep) -> dict[str, int]:
    return {"prices": id(conn)}


app = FastAPI(dependencies=[Depends(get_connection)])  # shares the request's cache too


@app.get("/dashboard")
async def dashboard(
    user: Annotated[dict[str, int], Depends(load_user)],
    orders: Annotated[dict[str, int], Depends(load_orders)],
    prices: Annotated[dict[str, int], Depends(load_prices)],
    conn: ConnectionDep,
    at: Stamp,
) -> dict[str, object]:
    ids = {user["user"], orders["orders"], prices["prices"], id(conn)}
    return {"connections": len(ids), "stamps": [user["at"], orders["at"], at]}
