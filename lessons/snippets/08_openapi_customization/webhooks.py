from typing import Annotated

from fastapi import APIRouter, FastAPI, Header
from pydantic import BaseModel, HttpUrl


class OrderEvent(BaseModel):
    order_id: int
    status: str


class NewOrder(BaseModel):
    isbn: str
    notify_url: HttpUrl


class Order(BaseModel):
    id: int
    isbn: str


# --8<-- [start:webhook]
SignatureHeader = Annotated[str, Header(description="HMAC-SHA256 of the body, in hex.")]
app = FastAPI(title="Bookshop API", version="2.4.0")


@app.webhooks.post(
    "order-shipped",
    status_code=204,
    response_description="Received.",
    responses={"default": {"description": "Any other answer: delivered again later."}},
)
async def order_shipped(event: OrderEvent, x_bookshop_signature: SignatureHeader) -> None:
    """Sent to every partner subscribed to shipments when an order leaves the warehouse."""


# --8<-- [end:webhook]
# --8<-- [start:callback]
status_callbacks = APIRouter()


@status_callbacks.post("{$request.body#/notify_url}", status_code=204)
async def order_status_changed(event: OrderEvent) -> None:
    """Sent to the order's `notify_url` each time its status changes."""


@app.post("/orders", status_code=201, callbacks=status_callbacks.routes)
async def create_order(order: NewOrder) -> Order:
    return Order(id=1, isbn=order.isbn)


# --8<-- [end:callback]
