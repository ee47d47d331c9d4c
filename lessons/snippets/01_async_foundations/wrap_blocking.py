import functools
import threading

import anyio
from fastapi import FastAPI, HTTPException
from fastapi.concurrency import run_in_threadpool


class PriceClient:
    """A blocking SDK: every call holds its thread until the server answers."""

    def quote(self, sku: str, *, currency: str = "EUR") -> dict[str, str]:
        if sku != "tea":
            raise LookupError(sku)
        thread = threading.current_thread().name
        return {"sku": sku, "price": "4.20", "currency": currency, "thread": thread}


prices = PriceClient()
app = FastAPI()


@app.get("/quotes/{sku}")
async def quote(sku: str, currency: str = "EUR") -> dict[str, str]:
    try:
        return await run_in_threadpool(prices.quote, sku, currency=currency)
    except LookupError:  # raised in the worker thread, re-raised here
        raise HTTPException(404, "unknown sku") from None


@app.get("/quotes/{sku}/anyio")
async def quote_anyio(sku: str, currency: str = "EUR") -> dict[str, str]:
    call = functools.partial(prices.quote, sku, currency=currency)  # run_sync takes no kwargs
    return await anyio.to_thread.run_sync(call)
