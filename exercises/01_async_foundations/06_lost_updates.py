"""Lost updates: keep every deposit and withdrawal when requests arrive together.

Each endpoint reads a balance, works out the new one, and writes it back. Both the read
and the write await the ledger, and while one request waits there another one can run.
Two deposits that arrive together can then read the same balance, and the second write
wipes out the first: money disappears. Two withdrawals can both pass the check before
either writes: money appears. Make each read-then-write happen as one step.

The contract (the checks rely on it):
- `app` (keep this name): the FastAPI app.
- `get_ledger` (keep this name): the dependency that hands the endpoints the Ledger. The
  checks override it with a fake ledger whose writes they hold back and let go, so read
  and write balances only through it.
- `Ledger` (given: do not edit): `await ledger.read(account)` answers the balance in
  cents, or raises KeyError for an unknown account; `await ledger.write(account,
  balance)` stores a balance. It offers nothing atomic.
- POST /accounts/{account}/deposits with {"amount": <int>} adds the amount to the balance
  and answers 200 {"account": <account>, "balance": <the new balance>}.
- POST /accounts/{account}/withdrawals with {"amount": <int>} takes the amount off and
  answers the same way. An amount equal to the balance is allowed (it leaves 0); an
  amount greater than the balance answers 409 {"detail": "insufficient funds"} and writes
  nothing.
- An amount below 1 answers 422, and an unknown account 404 {"detail": "unknown account"},
  both without writing anything (given).
- Requests for the same account that arrive together give the same results as if they
  had come one after another, in some order: each one reads the balance the one before
  it wrote. No deposit is lost, and of two withdrawals that the balance cannot cover
  together, one answers 409. Whether requests for different accounts wait for each other
  is up to you.
- The checks start the app several times, each time on a fresh event loop, and it must
  work every time: an asyncio.Lock binds to the first loop it waits on.
"""

from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, Field


class Ledger:
    """A remote store of balances in cents (given: do not edit)."""

    def __init__(self) -> None:
        self._balances = {"alice": 10_000}

    async def read(self, account: str) -> int:
        return self._balances[account]  # the stand-in answers at once; a real one awaits I/O

    async def write(self, account: str, balance: int) -> None:
        self._balances[account] = balance


class Amount(BaseModel):
    amount: int = Field(ge=1)


class Balance(BaseModel):
    account: str
    balance: int


ledger = Ledger()


async def get_ledger() -> Ledger:
    return ledger


LedgerDep = Annotated[Ledger, Depends(get_ledger)]

# TODO: Create one lock that every request shares, on the event loop that serves them.

app = FastAPI()


async def read_balance(ledger: Ledger, account: str) -> int:
    try:
        return await ledger.read(account)
    except KeyError:
        raise HTTPException(404, "unknown account") from None


@app.post("/accounts/{account}/deposits")
async def deposit(account: str, body: Amount, ledger: LedgerDep) -> Balance:
    # TODO: Let no other request read or write between this read and this write.
    balance = await read_balance(ledger, account) + body.amount
    await ledger.write(account, balance)
    return Balance(account=account, balance=balance)


@app.post("/accounts/{account}/withdrawals")
async def withdraw(account: str, body: Amount, ledger: LedgerDep) -> Balance:
    # TODO: Make the check and the write see the same balance.
    balance = await read_balance(ledger, account)
    if body.amount > balance:
        raise HTTPException(409, "insufficient funds")
    balance -= body.amount
    await ledger.write(account, balance)
    return Balance(account=account, balance=balance)
