"""The fast path: declare what a route returns and let Pydantic write the JSON."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel


class Product(BaseModel):
    sku: str
    name: str
    price: Decimal
    discount: Decimal | None = None
    updated_at: datetime


class StockRecord(Product):
    cost: Decimal
    supplier_email: str


CATALOG = [
    StockRecord(
        sku="LAMP-1",
        name="Desk lamp",
        price=Decimal("39.90"),
        updated_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        cost=Decimal("21.00"),
        supplier_email="lamps@example.com",
    ),
    StockRecord(
        sku="MUG-2",
        name="Café mug",
        price=Decimal("12.00"),
        discount=Decimal("2.50"),
        updated_at=datetime(2026, 3, 2, 17, 5, tzinfo=UTC),
        cost=Decimal("4.10"),
        supplier_email="mugs@example.com",
    ),
]


async def get_catalog() -> list[StockRecord]:
    return CATALOG


Catalog = Annotated[list[StockRecord], Depends(get_catalog)]

app = FastAPI()


# the declared type is the contract: FastAPI validates against it and Pydantic writes the
# bytes in one pass, leaving out every field a Product does not declare (cost, supplier)
@app.get("/products", response_model_exclude_none=True)
async def list_products(catalog: Catalog) -> list[Product]:
    return catalog


@app.get("/products/{sku}", response_model_exclude_none=True)
async def read_product(sku: str, catalog: Catalog) -> Product:
    for record in catalog:
        if record.sku == sku:
            return record
    raise HTTPException(status_code=404, detail="Product not found")
