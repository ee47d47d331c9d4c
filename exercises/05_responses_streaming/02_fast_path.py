r"""The fast path: declare what a route returns and let Pydantic write the JSON.

Task: these two routes were written the old way: each converts its records with
`jsonable_encoder` into plain Python data, and a `JSONResponse` turns that into JSON with
`json.dumps`, two passes over every record. Rewrite them so that FastAPI serializes them on
its fast path: the route declares what it returns and returns the records themselves;
FastAPI checks them against the declared type, and Pydantic writes the JSON bytes of that
type in one pass.
The JSON the clients get must not change by a single byte.

The contract (the checks rely on it):
- `Product`, `StockRecord`, `CATALOG`, `get_catalog` and `app` (keep these names, and the
  models' fields): `get_catalog` hands out the two sample records of `CATALOG`, and the
  checks override it to hand out records of their own: `StockRecord` instances, or
  instances of subclasses of `StockRecord` that carry more fields.
- A product is served as a JSON object with exactly the fields of `Product`, in this order:
  `sku`, `name`, `price` (a string, as Pydantic writes a `Decimal`: `"39.90"`), `discount`
  (only when it is not `None`: a product without a discount has no `discount` key at all),
  `updated_at` (as Pydantic writes a datetime: `"2026-03-01T09:30:00Z"`). Nothing else a
  record carries is served: not `cost`, not `supplier_email`, not a field a subclass adds.
- `GET /products` answers 200 with a JSON array of the products, in the order `get_catalog`
  returns them (`[]` when there are none).
- `GET /products/{sku}` answers 200 with the first product whose `sku` is exactly `sku`, or
  404 with `{"detail": "Product not found"}` when there is none.
- Bodies are compact JSON in UTF-8 (no spaces, `é` as itself, not `\u00e9`), with
  `content-type: application/json`.
- The fast path: while `GET /products` and `GET /products/{sku}` answer 200, no code (yours
  or FastAPI's) calls `jsonable_encoder`, no `JSONResponse` renders a body, and FastAPI
  itself writes the JSON of the data the route returns. So a route returns its data, not a
  response object (not even a `Response` of bytes it wrote itself), and neither the route
  nor the app sets a `response_class`.
- The OpenAPI document describes the 200 responses: an array whose items are
  `#/components/schemas/Product` for `GET /products`, and `#/components/schemas/Product`
  itself for `GET /products/{sku}`. That schema's properties are exactly `sku`, `name`,
  `price`, `discount` and `updated_at`.
"""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
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
PRIVATE = {"cost", "supplier_email"}


async def get_catalog() -> list[StockRecord]:
    return CATALOG


Catalog = Annotated[list[StockRecord], Depends(get_catalog)]

app = FastAPI()


@app.get("/products")
async def list_products(catalog: Catalog) -> JSONResponse:
    # TODO: Declare list[Product] as the return type and return the records themselves.
    return JSONResponse(jsonable_encoder(catalog, exclude=PRIVATE, exclude_none=True))


@app.get("/products/{sku}")
async def read_product(sku: str, catalog: Catalog) -> JSONResponse:
    for record in catalog:
        if record.sku == sku:
            # TODO: Declare Product as the return type and return the record itself.
            return JSONResponse(jsonable_encoder(record, exclude=PRIVATE, exclude_none=True))
    raise HTTPException(status_code=404, detail="Product not found")
