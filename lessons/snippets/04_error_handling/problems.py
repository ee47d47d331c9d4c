from typing import Annotated, Any, ClassVar

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse

PROBLEM_TYPES = "https://bank.example/problems/"


class ProblemResponse(JSONResponse):
    media_type = "application/problem+json"


class DomainError(Exception):
    status: ClassVar[int] = 400
    slug: ClassVar[str] = "domain-error"
    title: ClassVar[str] = "The request breaks a business rule"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class NotFound(DomainError):
    status = 404
    slug = "not-found"
    title = "Resource not found"


class Conflict(DomainError):
    status = 409
    slug = "conflict"
    title = "The request conflicts with the resource's state"


class InsufficientFunds(Conflict):
    slug = "insufficient-funds"
    title = "Insufficient funds"


class PermissionDenied(DomainError):
    status = 403
    slug = "permission-denied"
    title = "Permission denied"


async def domain_problem(request: Request, exc: DomainError) -> ProblemResponse:
    problem = {
        "type": PROBLEM_TYPES + exc.slug,
        "title": exc.title,
        "status": exc.status,
        "detail": exc.detail,
        "instance": request.url.path,
        **exc.extensions,
    }
    return ProblemResponse(problem, status_code=exc.status)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_problem)


BALANCES = {"acc-1": 30, "acc-2": 500}
FROZEN = {"acc-2"}

app = FastAPI()
install_problem_handlers(app)


@app.post("/accounts/{account_id}/withdrawals")
async def withdraw(account_id: str, amount: Annotated[int, Query(gt=0)]) -> dict[str, int]:
    if account_id not in BALANCES:
        raise NotFound(f"There is no account {account_id}.")
    if account_id in FROZEN:
        raise PermissionDenied("This account is frozen.")
    balance = BALANCES[account_id]
    if amount > balance:
        raise InsufficientFunds(f"{amount} is more than the balance.", balance=balance)
    return {"balance": balance - amount}
