from cache_aside import app, product_key
from catalogue import Product, ProductIn, ProductRow, RedisDep, SessionDep
from fastapi import HTTPException


@app.put("/products/{product_id}")
async def replace_product(
    product_id: int, change: ProductIn, session: SessionDep, redis: RedisDep
) -> Product:
    if (row := await session.get(ProductRow, product_id)) is None:
        raise HTTPException(status_code=404, detail="Product not found")
    row.name, row.price_cents = change.name, change.price_cents
    await redis.delete(product_key(product_id))  # too early: the old row is still the truth
    await session.commit()
    return Product.model_validate(row)
