"""An endpoint slow for two reasons a profile shows, and the same endpoint fixed."""

import cProfile
import json
import pstats

import httpx
from fastapi import FastAPI
from pydantic import BaseModel

# the settings arrive as one JSON text, as a legacy column or a config service gives them
SETTINGS_BLOB = json.dumps({"vip": [f"c{i}" for i in range(0, 2000, 7)], "currency": "EUR"})
ORDERS = [{"id": i, "customer": f"c{i % 300}", "cents": 100 + i % 50} for i in range(2000)]


class Report(BaseModel):
    vip_orders: int
    vip_cents: int
    currency: str


app = FastAPI()


# --8<-- [start:slow]
@app.get("/report/slow")
async def slow_report() -> Report:
    count = cents = 0
    for order in ORDERS:
        settings = json.loads(SETTINGS_BLOB)  # parsed again for every order
        if order["customer"] in settings["vip"]:  # a list: each test walks it
            count += 1
            cents += order["cents"]
    return Report(vip_orders=count, vip_cents=cents, currency=json.loads(SETTINGS_BLOB)["currency"])


# --8<-- [end:slow]


# --8<-- [start:fast]
@app.get("/report")
async def report() -> Report:
    settings = json.loads(SETTINGS_BLOB)  # once per request (or once per app, in the lifespan)
    vip = set(settings["vip"])  # a set: each test is one hash lookup
    mine = [order for order in ORDERS if order["customer"] in vip]
    return Report(
        vip_orders=len(mine),
        vip_cents=sum(order["cents"] for order in mine),
        currency=settings["currency"],
    )


# --8<-- [end:fast]


# --8<-- [start:profile]
async def profile(path: str) -> pstats.Stats:
    """Profile one request, in-process, on this thread: the one the app runs on."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        await client.get(path)  # warm up first: the first request fills caches
        profiler = cProfile.Profile()
        profiler.enable()
        await client.get(path)
        profiler.disable()
    return pstats.Stats(profiler)


# --8<-- [end:profile]
