from catalogue import Product, ProductRow, RedisDep, SessionDep, lifespan
from fastapi import FastAPI, HTTPException

PRODUCT_TTL = 300  # seconds


def product_key(product_id: int) -> str:
    return f"shop:v1:product:{product_id}"


app = FastAPI(lifespan=lifespan)


@app.get("/products/{product_id}")
async def read_product(product_id: int, session: SessionDep, redis: RedisDep) -> Product:
    key = product_key(product_id)
    if (cached := await redis.get(key)) is not None:
        return Product.model_validate_json(cached)
    row = await session.get(ProductRow, product_id)
    if row is None:
        raise HTTPException(status_code=404, detail="Product not found")
    product = Product.model_validate(row)
    await redis.set(key, product.model_dump_json(), ex=PRODUCT_TTL)
    return product
