from catalogue import Product, ProductIn, ProductRow, RedisDep, SessionDep, lifespan
from fastapi import FastAPI, HTTPException, Response
from pydantic import TypeAdapter
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

# --8<-- [start:keys]
PRODUCT_TTL = 300
LIST_TTL = 60
LIST_VERSION_KEY = "shop:v1:products:version"
Products = TypeAdapter(list[Product])


def product_key(product_id: int) -> str:
    return f"shop:v1:product:{product_id}"


async def list_key(redis: Redis) -> str:
    version = await redis.get(LIST_VERSION_KEY) or "0"
    return f"shop:v1:products:{version}"


async def forget(redis: Redis, product_id: int) -> None:
    await redis.delete(product_key(product_id))
    await redis.incr(LIST_VERSION_KEY)  # every cached list is now under an old name
    # --8<-- [end:keys]


app = FastAPI(lifespan=lifespan)


async def find(session: AsyncSession, product_id: int) -> ProductRow:
    if (row := await session.get(ProductRow, product_id)) is None:
        raise HTTPException(status_code=404, detail="Product not found")
    return row


# --8<-- [start:reads]
@app.get("/products")
async def list_products(session: SessionDep, redis: RedisDep) -> list[Product]:
    key = await list_key(redis)
    if (cached := await redis.get(key)) is not None:
        return Products.validate_json(cached)
    rows = await session.scalars(select(ProductRow).order_by(ProductRow.id))
    products = [Product.model_validate(row) for row in rows]
    await redis.set(key, Products.dump_json(products), ex=LIST_TTL)
    return products


@app.get("/products/{product_id}")
async def read_product(product_id: int, session: SessionDep, redis: RedisDep) -> Product:
    key = product_key(product_id)
    if (cached := await redis.get(key)) is not None:
        return Product.model_validate_json(cached)
    product = Product.model_validate(await find(session, product_id))
    await redis.set(key, product.model_dump_json(), ex=PRODUCT_TTL)
    return product
    # --8<-- [end:reads]


# --8<-- [start:writes]
@app.put("/products/{product_id}")
async def replace_product(
    product_id: int, change: ProductIn, session: SessionDep, redis: RedisDep
) -> Product:
    row = await find(session, product_id)
    row.name, row.price_cents = change.name, change.price_cents
    await session.commit()
    await forget(redis, product_id)  # after the commit: nobody can cache the old row again
    return Product.model_validate(row)


@app.delete("/products/{product_id}", status_code=204)
async def delete_product(product_id: int, session: SessionDep, redis: RedisDep) -> Response:
    await session.delete(await find(session, product_id))
    await session.commit()
    await forget(redis, product_id)
    return Response(status_code=204)
    # --8<-- [end:writes]
