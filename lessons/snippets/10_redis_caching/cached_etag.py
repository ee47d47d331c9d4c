import hashlib
from typing import Annotated

from catalogue import Product, ProductIn, ProductRow, RedisDep, SessionDep, lifespan
from fastapi import FastAPI, Header, HTTPException, Response
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

PRODUCT_TTL = 300


def product_key(product_id: int) -> str:
    return f"shop:v2:product:{product_id}"  # v2: the entry is now a hash of body and etag


def strong_etag(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()}"'


def none_match(if_none_match: str | None, etag: str) -> bool:
    """True when If-None-Match is * or lists `etag`; weak comparison ignores W/."""
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True
    return etag in {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}


async def cached_entry(product_id: int, session: AsyncSession, redis: Redis) -> dict[str, str]:
    key = product_key(product_id)
    if entry := await redis.hgetall(key):
        return entry
    if (row := await session.get(ProductRow, product_id)) is None:
        raise HTTPException(status_code=404, detail="Product not found")
    body = Product.model_validate(row).model_dump_json()
    entry = {"body": body, "etag": strong_etag(body.encode())}
    async with redis.pipeline(transaction=True) as pipe:  # MULTI ... EXEC: both or neither
        pipe.hset(key, mapping=entry).expire(key, PRODUCT_TTL)
        await pipe.execute()
    return entry


app = FastAPI(lifespan=lifespan)


@app.get("/products/{product_id}", response_model=Product)
async def read_product(
    product_id: int,
    session: SessionDep,
    redis: RedisDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    entry = await cached_entry(product_id, session, redis)
    headers = {"ETag": entry["etag"], "Cache-Control": "no-cache"}
    if none_match(if_none_match, entry["etag"]):
        return Response(status_code=304, headers=headers)
    return Response(entry["body"], media_type="application/json", headers=headers)


@app.put("/products/{product_id}")
async def replace_product(
    product_id: int, change: ProductIn, session: SessionDep, redis: RedisDep
) -> Product:
    if (row := await session.get(ProductRow, product_id)) is None:
        raise HTTPException(status_code=404, detail="Product not found")
    row.name, row.price_cents = change.name, change.price_cents
    await session.commit()
    await redis.delete(product_key(product_id))
    return Product.model_validate(row)
