"""Domain errors as problem details: map a hierarchy of exceptions to RFC 9457 responses.

Task: the bank's rules raise domain errors (`NotFound`, `PermissionDenied`,
`InsufficientFunds`, ...), and today each one escapes as a bare 500. Write
`install_problem_handlers`, the one place that maps every domain error to a problem
details response.

The contract (the checks rely on it):
- `app`, `ACCOUNTS` and the exception classes `DomainError`, `NotFound`, `Conflict`,
  `InsufficientFunds` and `PermissionDenied` (keep these names, and their constructors)
  are given; keep them and the routes as they are.
- `install_problem_handlers(app)` (keep this name) installs the mapping on the app it is
  given and returns None; the module calls it on its own `app`. The checks also call it on
  apps of their own, whose routes raise these classes and subclasses of them.
- A domain error is answered with its class's status and a JSON body with exactly these
  members, sent with `Content-Type: application/problem+json`:
  `type`: "https://example.com/problems/" + the slug below; `title`: the title below;
  `status`: the status below (a number); `detail`: the exception's `detail` attribute
  (never `str(exc)`: the message is written for the logs); `instance`: the request's path
  (`request.url.path`), without the query string. The error ends there: it does not go on
  to the server as well.

  | class               | status | slug               | title                            |
  |---------------------|--------|--------------------|----------------------------------|
  | `NotFound`          | 404    | not-found          | Resource not found               |
  | `PermissionDenied`  | 403    | permission-denied  | Permission denied                |
  | `Conflict`          | 409    | conflict           | Conflict with the current state  |
  | `InsufficientFunds` | 409    | insufficient-funds | Insufficient funds               |
  | `DomainError`       | 400    | rule-violated      | Business rule violated           |

- An `InsufficientFunds` problem also carries the extension member `balance`: the
  exception's `balance` (a number, 0 included). No other problem has extension members,
  not even one whose exception happens to have a `balance` attribute.
- A class that is not in the table (a subclass written later, anywhere, at any depth) gets
  the problem of its nearest ancestor in the table: a subclass of `InsufficientFunds`, or a
  subclass of that subclass, is an insufficient-funds problem, a direct subclass of
  `DomainError` a rule-violated one.
- Only domain errors are mapped: an `HTTPException` keeps FastAPI's own answer, and any
  other exception stays Starlette's 500 (plain text, `Internal Server Error`).
- The routes (given): `GET /accounts/{account_id}` answers `{"id", "balance"}`, or
  `NotFound` for an unknown account. `POST /accounts/{account_id}/withdrawals` with
  `{"amount": <positive integer>}` takes the amount off the balance and answers
  `{"id", "balance"}`; only a caller with the header `X-Role: teller` may withdraw
  (`PermissionDenied` otherwise), and an amount above the balance raises
  `InsufficientFunds`. The checks come in this order: the teller check, then the account,
  then the amount (an invalid amount is FastAPI's own 422), then the balance.
"""

from typing import Annotated

from fastapi import Depends, FastAPI, Header
from pydantic import BaseModel, PositiveInt

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


# TODO: Map each class of the table to its status, type slug and title, in one place.
# TODO: Write one handler that answers a domain error with its problem details, using the
#       nearest mapped ancestor of the exception's class.


def install_problem_handlers(app: FastAPI) -> None:
    # TODO: Register the handler on `app`, so that every domain error reaches it.
    pass


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
