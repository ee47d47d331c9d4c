"""Webhooks and callbacks: the requests the venue sends to its partners, documented."""

from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Header, HTTPException
from pydantic import BaseModel, HttpUrl


class TicketSold(BaseModel):
    ticket_id: int
    concert_id: str
    seats: int


class ConcertCancelled(BaseModel):
    concert_id: str
    reason: str


class RefundRequest(BaseModel):
    ticket_id: int
    callback_url: HttpUrl


class Refund(BaseModel):
    id: int
    ticket_id: int
    status: Literal["pending"]


class RefundSettled(BaseModel):
    refund_id: int
    outcome: Literal["paid", "refused"]


REFUNDS: dict[int, Refund] = {}
SIGNATURE_HELP = "HMAC-SHA256 of the body, keyed with the partner's secret, in hex."
RETRY_NOTE = "Not received: the event is sent again, up to 5 times in 24 hours."

Signature = Annotated[str, Header(description=SIGNATURE_HELP)]
# the partner's answers; declaring `default` also drops FastAPI's 422, which no partner sends
PARTNER_ANSWERS = {"default": {"description": RETRY_NOTE}}

app = FastAPI(title="Venue partner API", version="1.4.0")


# a webhook goes to the address a partner registered in the portal: documented, never served
@app.webhooks.post(
    "ticket-sold",
    status_code=204,
    summary="Ticket sold",
    response_description="Received.",
    responses=PARTNER_ANSWERS,
)
async def ticket_sold(event: TicketSold, x_venue_signature: Signature) -> None:
    """Sent to every partner when one of its customers buys tickets."""


@app.webhooks.post(
    "concert-cancelled",
    status_code=204,
    summary="Concert cancelled",
    response_description="Received.",
    responses=PARTNER_ANSWERS,
)
async def concert_cancelled(event: ConcertCancelled, x_venue_signature: Signature) -> None:
    """Sent to every partner when a concert is cancelled: refund its tickets."""


# a callback goes to the address its triggering request carried: the body's callback_url
refund_callbacks = APIRouter()


@refund_callbacks.post(
    "{$request.body#/callback_url}",
    status_code=204,
    summary="Refund settled",
    response_description="Received.",
    responses=PARTNER_ANSWERS,
)
async def refund_settled(event: RefundSettled, x_venue_signature: Signature) -> None:
    """Sent to the refund's callback_url once the refund is paid or refused."""


@app.post("/refunds", status_code=202, callbacks=refund_callbacks.routes)
async def request_refund(refund: RefundRequest) -> Refund:
    """Ask for a refund; its outcome is sent to `callback_url` later."""
    created = Refund(id=len(REFUNDS) + 1, ticket_id=refund.ticket_id, status="pending")
    REFUNDS[created.id] = created
    return created


@app.get("/refunds/{refund_id}")
async def read_refund(refund_id: int) -> Refund:
    if refund_id not in REFUNDS:
        raise HTTPException(404, "No such refund.")
    return REFUNDS[refund_id]
