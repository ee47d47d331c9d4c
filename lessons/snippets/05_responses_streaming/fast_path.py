from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel


class Invoice(BaseModel):
    number: str
    customer: str
    total_cents: int


class StoredInvoice(Invoice):
    internal_note: str


INVOICES = {
    "A-1": StoredInvoice(number="A-1", customer="Ada", total_cents=1250, internal_note="VIP"),
}
app = FastAPI()


def find_invoice(number: str) -> StoredInvoice:
    if number not in INVOICES:
        raise HTTPException(status_code=404, detail="no such invoice")
    return INVOICES[number]


FoundInvoice = Annotated[StoredInvoice, Depends(find_invoice)]


@app.get("/v1/invoices/{number}")
async def read_invoice_v1(invoice: FoundInvoice) -> JSONResponse:
    return JSONResponse(jsonable_encoder(invoice, exclude={"internal_note"}))


@app.get("/v2/invoices/{number}")
async def read_invoice_v2(invoice: FoundInvoice) -> Invoice:
    return invoice
