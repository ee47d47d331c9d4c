import logging
from io import StringIO

import anyio
import httpx
from request_id import Payments, app, get_payments, request_id_handler


class HeldPayments(Payments):
    """A payment provider the test controls: each charge waits until it is released."""

    def __init__(self) -> None:
        self.charging = {order: anyio.Event() for order in ("a", "b")}
        self.release = {order: anyio.Event() for order in ("a", "b")}

    async def charge(self, order: str) -> None:
        self.charging[order].set()
        await self.release[order].wait()


async def two_orders_interleaved() -> list[str]:
    """Orders a and b, each sent with its own X-Request-ID; a finishes while b waits."""
    payments = HeldPayments()
    app.dependency_overrides[get_payments] = lambda: payments
    stream = StringIO()
    handler = request_id_handler(stream)
    shop = logging.getLogger("shop")
    shop.addHandler(handler)
    shop.setLevel(logging.INFO)
    done = {order: anyio.Event() for order in ("a", "b")}
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

            async def place(order: str) -> None:
                await client.post(f"/orders/{order}", headers={"X-Request-ID": f"req-{order}"})
                done[order].set()

            with anyio.fail_after(5):  # a hang guard, not a timing assertion
                async with anyio.create_task_group() as requests:
                    requests.start_soon(place, "a")
                    await payments.charging["a"].wait()  # a has logged and is waiting
                    requests.start_soon(place, "b")
                    await payments.charging["b"].wait()  # b has logged and is waiting
                    payments.release["a"].set()
                    await done["a"].wait()  # a logs again while b is still in flight
                    payments.release["b"].set()
    finally:
        shop.removeHandler(handler)
        app.dependency_overrides.clear()
    return stream.getvalue().splitlines()


async def test_each_line_carries_its_own_request_id() -> None:
    assert await two_orders_interleaved() == [
        "req-a shop: charging a",
        "req-b shop: charging b",
        "req-a shop: charged a",
        "req-a shop: receipt sent for a",
        "req-b shop: charged b",
        "req-b shop: receipt sent for b",
    ]
