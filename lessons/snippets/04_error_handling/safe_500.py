import logging
import sqlite3
import uuid
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

logger = logging.getLogger("bank.errors")


class ProblemResponse(JSONResponse):
    media_type = "application/problem+json"


async def unhandled_problem(request: Request, exc: Exception) -> ProblemResponse:
    correlation_id = uuid.uuid4().hex
    logger.error(
        "unhandled error %s on %s %s",
        correlation_id,
        request.method,
        request.url.path,
        exc_info=exc,
        extra={"correlation_id": correlation_id},
    )
    problem = {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "Something went wrong on our side. Quote the correlation id if you report it.",
        "instance": request.url.path,
        "correlation_id": correlation_id,
    }
    headers = {"X-Correlation-ID": correlation_id}
    return ProblemResponse(problem, status_code=500, headers=headers)


class Account(BaseModel):
    id: str
    balance: int


async def rates_client() -> None:
    raise ConnectionError("https://svc:hunter2@rates.internal/v1 refused the connection")


app = FastAPI()
app.add_exception_handler(Exception, unhandled_problem)


@app.get("/reports/{year}")
async def report(year: int) -> dict[str, int]:
    raise sqlite3.OperationalError("no such table: reports_2026 (SELECT * FROM reports_2026)")


@app.get("/rates")
async def rates(client: Annotated[None, Depends(rates_client)]) -> dict[str, float]:
    return {"EUR": 1.0}


@app.get("/accounts/{account_id}", response_model=Account)
async def account(account_id: str) -> dict[str, object]:
    return {"id": account_id, "balance": None}  # the ledger had no row for it
