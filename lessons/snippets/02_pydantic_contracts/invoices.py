from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import FastAPI
from pydantic import AwareDatetime, BaseModel, Field

Money = Annotated[Decimal, Field(max_digits=12, decimal_places=2)]


class Invoice(BaseModel):
    amount: Money
    due_at: AwareDatetime
    reminders: bool = True
    paid_on: date | None = None
    note: str | None = None


class InvoicePatch(BaseModel):
    paid_on: date | None = None
    note: str | None = None


INVOICES: dict[int, Invoice] = {}
app = FastAPI()


@app.put("/invoices/{invoice_id}")
async def put_invoice(invoice_id: int, invoice: Invoice) -> Invoice:
    INVOICES[invoice_id] = invoice
    return invoice


@app.patch("/invoices/{invoice_id}")
async def patch_invoice(invoice_id: int, patch: InvoicePatch) -> Invoice:
    changes = patch.model_dump(exclude_unset=True)  # only the keys the client sent
    INVOICES[invoice_id] = INVOICES[invoice_id].model_copy(update=changes)
    return INVOICES[invoice_id]
