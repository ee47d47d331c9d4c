"""Hidden checks for 01_async_foundations/06_lost_updates.

A fake ledger stands in for get_ledger.  Reads answer at once; writes can be held back
until the check lets them go.  A race is one exact interleaving, never luck: the first
request reads and is held at its write; the second request is sent and the loop runs
until every task waits for something (the second request waits at its own write if
nothing stopped it after its read, or for the first request if something did); then every
write goes through.  No sleeps: each wait is an event or an idle loop, bounded by WAIT_S.
"""

import asyncio
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest

from workbook.testing import (
    Failure,
    client_for,
    expect_equal,
    expect_json,
    expect_status,
    provide,
)

WAIT_S = 2.0  # generous: with no threads involved, each request finishes within microseconds
START = 100  # alice's balance in the fake ledger, in cents
DEPOSITS = "/accounts/{}/deposits"
WITHDRAWALS = "/accounts/{}/withdrawals"
LOST_UPDATE_HELP = (
    "Did both requests read the same balance? While one request awaits the ledger, another "
    "runs: hold one asyncio.Lock, shared by every request, around the read and the write."
)
LOOP_HELP = (
    "Is the asyncio.Lock created when the module is imported? It binds to the first event "
    "loop that waits on it: create it in the lifespan and hand it out as lifespan state."
)

Request = tuple[str, int]  # (path template, amount)


class FakeLedger:
    """A ledger whose writes wait until the check lets them go, if it holds them back."""

    def __init__(self, *, hold_writes: bool = False) -> None:
        self.balances = {"alice": START}
        self.reads: list[int] = []
        self.writes: list[int] = []
        self.writing = asyncio.Event()  # a write has started (and waits, if held back)
        self._go = asyncio.Event()
        if not hold_writes:
            self._go.set()

    async def read(self, account: str) -> int:
        balance = self.balances[account]
        self.reads.append(balance)
        return balance

    async def write(self, account: str, balance: int) -> None:
        self.writing.set()
        await self._go.wait()
        self.balances[account] = balance
        self.writes.append(balance)

    def let_go(self) -> None:
        self._go.set()


@pytest.fixture
def use_ledger(exercise: ModuleType) -> Iterator[Any]:
    """Serve the endpoints from a fake ledger; remove the override afterwards."""

    def install(*, hold_writes: bool = False) -> FakeLedger:
        ledger = FakeLedger(hold_writes=hold_writes)
        exercise.app.dependency_overrides[exercise.get_ledger] = provide(ledger)
        return ledger

    yield install
    exercise.app.dependency_overrides.pop(exercise.get_ledger, None)


async def post(client: httpx.AsyncClient, request: Request, account: str = "alice") -> Any:
    path, amount = request
    return await client.post(path.format(account), json={"amount": amount})


async def until_idle() -> None:
    """Let every other task run until each one waits for something: the loop is idle."""
    loop = asyncio.get_running_loop()
    pool = anyio.to_thread.current_default_thread_limiter()
    while True:
        await asyncio.sleep(0)  # one turn of the loop, not a pause
        if not loop._ready and not pool.borrowed_tokens:  # type: ignore[attr-defined]
            return


async def race(
    exercise: ModuleType, ledger: FakeLedger, first: Request, second: Request
) -> tuple[httpx.Response, httpx.Response]:
    """The first request reads and is held at its write while the second goes as far as
    it can; then every write goes through.  Answers both responses."""
    tasks: list[asyncio.Task[httpx.Response]] = []
    async with client_for(exercise.app) as client:

        def send(request: Request) -> None:
            tasks.append(asyncio.create_task(post(client, request)))

        try:
            with anyio.fail_after(WAIT_S):
                send(first)
                await ledger.writing.wait()
                send(second)
                await until_idle()
                ledger.let_go()
                done = await asyncio.gather(*tasks)
        except TimeoutError:
            raise Failure(
                f"the two requests did not both finish within {WAIT_S:g} s "
                "once the first one could write"
            ) from None
        finally:
            ledger.let_go()
            for task in tasks:
                task.cancel()
    return done[0], done[1]


def balance_of(response: httpx.Response) -> Any:
    expect_status(response, 200)
    return response.json()


@pytest.mark.stub_may_pass("the stub already adds deposits one at a time")
@pytest.mark.parametrize("amount", [1, 250])
async def test_deposit_adds(exercise: ModuleType, use_ledger: Any, amount: int) -> None:
    """a deposit adds its amount to the balance and answers the new balance"""
    ledger = use_ledger()
    async with client_for(exercise.app) as client:
        response = await post(client, (DEPOSITS, amount))
    expect_status(response, 200)
    expect_json(response, {"account": "alice", "balance": START + amount})
    expect_equal("balances written", [START + amount], ledger.writes)


@pytest.mark.stub_may_pass("the stub already takes withdrawals one at a time")
@pytest.mark.parametrize("amount", [30, START], ids=["part", "all"])
async def test_withdrawal_takes_off(exercise: ModuleType, use_ledger: Any, amount: int) -> None:
    """a withdrawal of up to the whole balance takes its amount off and answers the new balance"""
    ledger = use_ledger()
    async with client_for(exercise.app) as client:
        response = await post(client, (WITHDRAWALS, amount))
    expect_status(response, 200)
    expect_json(response, {"account": "alice", "balance": START - amount})
    expect_equal("balances written", [START - amount], ledger.writes)


@pytest.mark.stub_may_pass("the stub already refuses an overdraft one request at a time")
async def test_overdraft_refused(exercise: ModuleType, use_ledger: Any) -> None:
    """a withdrawal of more than the balance answers 409 and writes nothing"""
    ledger = use_ledger()
    async with client_for(exercise.app) as client:
        response = await post(client, (WITHDRAWALS, START + 1))
    expect_status(response, 409)
    expect_json(response, {"detail": "insufficient funds"})
    expect_equal("balances written", [], ledger.writes)


@pytest.mark.stub_may_pass("the amount's rule is given")
@pytest.mark.parametrize("path", [DEPOSITS, WITHDRAWALS], ids=["deposit", "withdrawal"])
@pytest.mark.parametrize("amount", [0, -5])
async def test_amount_below_one(
    exercise: ModuleType, use_ledger: Any, path: str, amount: int
) -> None:
    """an amount below 1 answers 422 and writes nothing"""
    ledger = use_ledger()
    async with client_for(exercise.app) as client:
        response = await post(client, (path, amount))
    expect_status(response, 422)
    expect_equal("balances written", [], ledger.writes)


@pytest.mark.stub_may_pass("the unknown account's answer is given")
@pytest.mark.parametrize("path", [DEPOSITS, WITHDRAWALS], ids=["deposit", "withdrawal"])
async def test_unknown_account(exercise: ModuleType, use_ledger: Any, path: str) -> None:
    """an unknown account answers 404 and writes nothing"""
    ledger = use_ledger()
    async with client_for(exercise.app) as client:
        response = await post(client, (path, 5), account="mallory")
    expect_status(response, 404)
    expect_json(response, {"detail": "unknown account"})
    expect_equal("balances written", [], ledger.writes)


RACES = {  # first request, second request, their answers, alice's balance at the end
    "two deposits": ((DEPOSITS, 50), (DEPOSITS, 30), (150, 180), 180),
    "two withdrawals": ((WITHDRAWALS, 80), (WITHDRAWALS, 80), (20, 409), 20),
    "withdrawal, then deposit": ((WITHDRAWALS, 80), (DEPOSITS, 30), (20, 50), 50),
    "deposit, then withdrawal": ((DEPOSITS, 50), (WITHDRAWALS, 120), (150, 30), 30),
}


@pytest.mark.parametrize(("first", "second", "answers", "final"), RACES.values(), ids=RACES)
async def test_no_update_lost(
    exercise: ModuleType,
    use_ledger: Any,
    first: Request,
    second: Request,
    answers: tuple[int, int],
    final: int,
) -> None:
    """two requests for one account that arrive together act one after the other"""
    ledger = use_ledger(hold_writes=True)
    responses = await race(exercise, ledger, first, second)
    got = tuple(
        response.json().get("balance") if response.status_code == 200 else response.status_code
        for response in responses
    )
    expect_equal(
        "alice's balance at the end", final, ledger.balances["alice"], help=LOST_UPDATE_HELP
    )
    expect_equal(
        "the answers (a balance, or a status)", list(answers), list(got), help=LOST_UPDATE_HELP
    )


def test_fresh_event_loop(exercise: ModuleType) -> None:
    """the app keeps every update each time it starts on a new event loop"""

    async def once() -> None:
        ledger = FakeLedger(hold_writes=True)
        exercise.app.dependency_overrides[exercise.get_ledger] = provide(ledger)
        await race(exercise, ledger, (DEPOSITS, 50), (DEPOSITS, 30))
        expect_equal(
            "alice's balance at the end", 180, ledger.balances["alice"], help=LOST_UPDATE_HELP
        )

    try:
        for _ in range(2):
            try:
                asyncio.run(once())
            except RuntimeError as error:
                raise Failure(f"the app raised RuntimeError: {error}", help=LOOP_HELP) from None
    finally:
        exercise.app.dependency_overrides.pop(exercise.get_ledger, None)


@pytest.mark.stub_may_pass("the stub's Ledger and get_ledger are given")
async def test_given_ledger(exercise: ModuleType) -> None:
    """with nothing overridden, deposits and withdrawals go to the given Ledger"""
    async with client_for(exercise.app) as client:
        deposited = await post(client, (DEPOSITS, 1))
        withdrawn = await post(client, (WITHDRAWALS, 10_001))
    expect_status(deposited, 200)
    expect_json(deposited, {"account": "alice", "balance": 10_001})
    expect_status(withdrawn, 200)
    expect_json(withdrawn, {"account": "alice", "balance": 0})
