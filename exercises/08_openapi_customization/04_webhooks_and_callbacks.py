"""Webhooks and callbacks: the requests the venue sends to its partners, documented.

Task: the venue's partners (ticket resellers) receive requests from the venue: a webhook
to the address each partner registered in the portal when one of its customers buys
tickets or a concert is cancelled, and a callback to the `callback_url` of a refund
request once the refund is settled. Today none of this is in the document
(`GET /openapi.json`), so partners guess. Document the two webhooks and the callback, and
change nothing that the API serves.

The contract (the checks read the document served at `GET /openapi.json`):
- The models, `REFUNDS`, `SIGNATURE_HELP`, `RETRY_NOTE`, `app` and the two routes are
  given (keep these names, and keep the models as they are). The routes keep answering
  exactly as they do now; the document stays valid OpenAPI 3.1
  (`openapi_spec_validator.validate` accepts it).
- The document's `webhooks` holds exactly two webhooks (their order is not graded), and
  `POST /refunds` holds exactly one callback, `refund_settled`, under the runtime
  expression `{$request.body#/callback_url}` (the request body's `callback_url`). Each is
  one `post` operation and nothing else, with this summary, description and body model:
  - webhook `ticket-sold`: "Ticket sold"; "Sent to every partner when one of its
    customers buys tickets."; `TicketSold`.
  - webhook `concert-cancelled`: "Concert cancelled"; "Sent to every partner when a
    concert is cancelled: refund its tickets."; `ConcertCancelled`.
  - callback `refund_settled` of `POST /refunds`: "Refund settled"; "Sent to the refund's
    callback_url once the refund is paid or refused."; `RefundSettled`.
- Each of these three operations holds exactly `summary`, `description`, `operationId`,
  `parameters`, `requestBody` and `responses`, where:
  - `parameters` is one header parameter holding exactly `"name": "X-Venue-Signature"`
    (header names are compared without regard to case), `"in": "header"`,
    `"required": true`, `"description"`: the text of `SIGNATURE_HELP`, and a `schema` of
    `"type": "string"` (the schema's other members, such as its title, are not graded);
  - `requestBody` is required, with one media type, `application/json`, whose schema is
    the reference `{"$ref": "#/components/schemas/<the body's model>"}`;
  - `responses` is exactly the partner's two answers:
    `{"204": {"description": "Received."}, "default": {"description": <RETRY_NOTE>}}`,
    and nothing else: no `422`, which describes FastAPI's own validation, not anything a
    partner answers.
  - `operationId` is not graded: FastAPI's default or your own, as long as no two
    operations of the document share one.
- No other operation has callbacks: `GET /refunds/{refund_id}` has none.
- Webhooks and callbacks are documented, never served: `paths` holds exactly
  `POST /refunds` and `GET /refunds/{refund_id}`, and `POST /ticket-sold` and
  `POST /concert-cancelled` answer 404.
- `components.schemas` holds exactly `TicketSold`, `ConcertCancelled`, `RefundSettled`,
  `RefundRequest`, `Refund`, `HTTPValidationError` and `ValidationError`, each event model
  as Pydantic describes it.
"""

from typing import Literal

from fastapi import FastAPI, HTTPException
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

app = FastAPI(title="Venue partner API", version="1.4.0")

# TODO: Document the ticket-sold and concert-cancelled webhooks on app.webhooks.

# TODO: Declare the refund_settled callback on a router of its own, never included in the app.


# TODO: Attach the callback to this operation, and to no other.
@app.post("/refunds", status_code=202)
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
