import hashlib
from typing import Annotated

from fastapi import FastAPI, Header, HTTPException, Response
from pydantic import BaseModel


class Product(BaseModel):
    sku: str
    name: str
    price_cents: int


PRODUCTS = {"lamp": Product(sku="lamp", name="Desk lamp", price_cents=3900)}
app = FastAPI()


def strong_etag(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()}"'


def none_match(if_none_match: str | None, etag: str) -> bool:
    """True when If-None-Match is * or lists `etag`; weak comparison ignores W/."""
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True
    listed = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag.removeprefix("W/") in listed


@app.get("/products/{sku}")
async def read_product(sku: str, if_none_match: Annotated[str | None, Header()] = None) -> Response:
    if sku not in PRODUCTS:
        raise HTTPException(status_code=404, detail="no such product")
    body = PRODUCTS[sku].model_dump_json().encode()
    headers = {"ETag": strong_etag(body), "Cache-Control": "no-cache"}
    if none_match(if_none_match, headers["ETag"]):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


@app.put("/products/{sku}")
async def replace_product(sku: str, product: Product) -> Product:
    PRODUCTS[sku] = product
    return product
