from collections.abc import Sequence
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Response
from fastapi.responses import JSONResponse, PlainTextResponse

# --8<-- [start:negotiate]
OFFERS = ("application/json", "text/csv", "text/plain")  # the server's order of preference


def parse_q(value: str) -> float | None:
    """A weight from 0 to 1, or None when the value is anything else."""
    try:
        q = float(value)
    except ValueError:
        return None
    return q if 0.0 <= q <= 1.0 else None


def parse_accept(header: str) -> list[tuple[str, float]]:
    """(media range, q) pairs; a range with an unreadable q is left out."""
    ranges = []
    for part in header.split(","):
        media_range, *params = (piece.strip() for piece in part.split(";"))
        q: float | None = 1.0
        for name, _, value in (param.partition("=") for param in params):
            if name.strip().lower() == "q":
                q = parse_q(value)
        if "/" in media_range and q is not None:
            ranges.append((media_range.lower(), q))
    return ranges


def quality(offer: str, ranges: list[tuple[str, float]]) -> float:
    """The q of the most specific range that matches `offer`, 0 if none does."""
    kind = offer.split("/")[0]
    best_specificity, best_q = -1, 0.0
    for media_range, q in ranges:
        if media_range == offer:
            specificity = 2
        elif media_range == f"{kind}/*":
            specificity = 1
        elif media_range == "*/*":
            specificity = 0
        else:
            continue
        if specificity > best_specificity:
            best_specificity, best_q = specificity, q
    return best_q


def negotiate(accept: str | None, offers: Sequence[str] = OFFERS) -> str | None:
    """The offer the client prefers most, ties going to the server's order; None: 406."""
    if not accept or not accept.strip():
        return offers[0]
    ranges = parse_accept(accept)
    best = max(offers, key=lambda offer: quality(offer, ranges))  # max keeps the first of ties
    return best if quality(best, ranges) > 0 else None


# --8<-- [end:negotiate]
# --8<-- [start:app]
def chosen_type(accept: Annotated[str | None, Header()] = None) -> str:
    media_type = negotiate(accept)
    if media_type is None:
        raise HTTPException(
            status_code=406,
            detail={"supported": list(OFFERS)},
            headers={"Vary": "Accept"},
        )
    return media_type


ChosenType = Annotated[str, Depends(chosen_type)]
app = FastAPI()
TEMPERATURES = [("Oslo", -3.5), ("Lisbon", 16.0)]


@app.get(
    "/temperatures",
    responses={
        200: {"content": {"text/csv": {}, "text/plain": {}}},
        406: {"description": "None of the supported media types is acceptable"},
    },
)
async def temperatures(media_type: ChosenType) -> Response:
    vary = {"Vary": "Accept"}
    if media_type == "text/csv":
        lines = ["city,celsius", *(f"{city},{c}" for city, c in TEMPERATURES)]
        return Response("\r\n".join(lines) + "\r\n", media_type="text/csv", headers=vary)
    if media_type == "text/plain":
        text = "\n".join(f"{city}: {c} °C" for city, c in TEMPERATURES)
        return PlainTextResponse(text, headers=vary)
    rows = [{"city": city, "celsius": c} for city, c in TEMPERATURES]
    return JSONResponse(rows, headers=vary)


# --8<-- [end:app]
