"""Domain errors as problem details: one table maps the hierarchy to RFC 9457 responses."""

from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, PositiveInt

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://example.com/problems/"

ACCOUNTS = {"acc-1": 5000, "acc-2": 250}


class DomainError(Exception):
    """A broken business rule: the message is for the logs, `detail` for the client."""

    def __init__(self, message: str, *, detail: str) -> None:
        super().__init__(message)
        self.detail = detail


class NotFound(DomainError): ...


class Conflict(DomainError): ...


class PermissionDenied(DomainError): ...


class InsufficientFunds(Conflict):
    def __init__(self, message: str, *, detail: str, balance: int) -> None:
        super().__init__(message, detail=detail)
        self.balance = balance


# status, type slug and title of each mapped class
PROBLEMS: dict[type[DomainError], tuple[int, str, str]] = {
    DomainError: (400, "rule-violated", "Business rule violated"),
    NotFound: (404, "not-found", "Resource not found"),
    Conflict: (409, "conflict", "Conflict with the current state"),
    InsufficientFunds: (409, "insufficient-funds", "Insufficient funds"),
    PermissionDenied: (403, "permission-denied", "Permission denied"),
}


async def domain_problem(request: Request, exc: DomainError) -> JSONResponse:
    # walk the MRO: a subclass nobody mapped gets its nearest mapped ancestor's problem
    mapped = next(cls for cls in type(exc).__mro__ if cls in PROBLEMS)
    status, slug, title = PROBLEMS[mapped]
    body = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": exc.detail,
        "instance": request.url.path,
    }
    if isinstance(exc, InsufficientFunds):
        body["balance"] = exc.balance
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_problem)


class Withdrawal(BaseModel):
    amount: PositiveInt


async def balance_of(account_id: str) -> int:
    if account_id not in ACCOUNTS:
        message = f"ACCOUNTS has no key {account_id!r}"
        raise NotFound(message, detail=f"Account {account_id} does not exist.")
    return ACCOUNTS[account_id]


Balance = Annotated[int, Depends(balance_of)]


async def require_teller(x_role: Annotated[str, Header()] = "") -> None:
    if x_role != "teller":
        message = f"role {x_role!r} tried a withdrawal"
        raise PermissionDenied(message, detail="Only tellers may withdraw.")


app = FastAPI()
install_problem_handlers(app)


@app.get("/accounts/{account_id}")
async def read_account(account_id: str, balance: Balance) -> dict[str, str | int]:
    return {"id": account_id, "balance": balance}


@app.post("/accounts/{account_id}/withdrawals", dependencies=[Depends(require_teller)])
async def withdraw(
    account_id: str, balance: Balance, withdrawal: Withdrawal
) -> dict[str, str | int]:
    if withdrawal.amount > balance:
        message = f"{account_id}: {withdrawal.amount} > {balance}"
        raise InsufficientFunds(
            message, detail=f"Account {account_id} cannot cover this withdrawal.", balance=balance
        )
    ACCOUNTS[account_id] = balance - withdrawal.amount
    return {"id": account_id, "balance": ACCOUNTS[account_id]}
