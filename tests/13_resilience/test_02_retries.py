"""Hidden suite for 13_resilience/02_retries: retry what is safe, as often as promised.

The inner transport is scripted: each attempt takes the next step of its script (a status,
a status with headers, or an exception to raise), and the last step repeats. Everything
that happens goes to one log, in order: each attempt (its method), each response closed,
each sleep (its delay), and "answered" when the caller gets the response. Requests go
through an httpx.AsyncClient on the RetryTransport, as an app's shared client sends them;
the caller takes the response unread (stream=True), then reads it. The injected `sleep`
only logs, the injected `random` answers 0.5 unless a check scripts it: nothing waits.
"""

from collections.abc import Sequence
from types import ModuleType
from typing import Any

import httpx
import pytest

from workbook.testing import Failure, expect, expect_equal

UPSTREAM = "http://inventory.test"
JITTER = 0.5  # what the injected random() answers unless a check scripts it
DEFAULT_SLEEPS = [0.5 * JITTER, 1.0 * JITTER]  # BASE_DELAY 0.5: caps 0.5 then 1.0
RETRIED_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]
ONCE_METHODS = ["POST", "PATCH", "TRACE"]

METHOD_HELP = (
    "Do you retry only GET, HEAD, OPTIONS, PUT and DELETE? A POST or a PATCH may have "
    "taken effect before it failed: sending it again can do it twice."
)
ATTEMPTS_HELP = (
    "Is `attempts` the number of attempts in all, the first one included? Three attempts "
    "means two retries, and a sleep before each retry only."
)
STATUS_HELP = (
    "Do you retry exactly 502, 503 and 504 (and a 429 with a Retry-After)? A 500 is a bug "
    "the upstream will make again, and a 4xx is the request's own fault."
)
ERROR_HELP = (
    "Do you catch httpx.TransportError around the inner call, and nothing wider? Connect "
    "errors and timeouts are worth another try; other errors are raised at once."
)
LAST_ERROR_HELP = (
    "Does the last attempt's exception reach the caller as it is? Let it propagate (or "
    "`raise` it again): do not wrap it, swallow it, or make a response of it."
)
CLOSE_HELP = (
    "Is a response you are about to retry closed (await response.aclose()) before the "
    "sleep? Its connection goes back to the pool only when it is closed."
)
KEEP_OPEN_HELP = (
    "Is the response you hand back left open? The caller reads its body; close only the "
    "ones you retry."
)
JITTER_HELP = (
    "Is every backoff random() * min(max_delay, base_delay * 2 ** (n - 1)), with the "
    "injected random called for each one? Without jitter, clients that failed together "
    "retry together."
)
CAP_HELP = (
    "Is the backoff capped with min(max_delay, ...) before the jitter multiplies it? "
    "Doubling without a cap soon waits for minutes."
)
RETRY_AFTER_HELP = (
    "Does a 429 or 503 with Retry-After: N (digits only) wait exactly N seconds, with no "
    "jitter, when N <= max_delay, and come back at once when it is larger?"
)
RETRY_AFTER_ONLY_HELP = (
    "Is Retry-After read only on a 429 and a 503? On a 502 or a 504 the backoff applies."
)
UNREADABLE_HELP = (
    "Is a Retry-After that is not digits only (a date, 1.5, -1, empty) treated as absent? "
    "A 503 then backs off as usual, and a 429 is not retried."
)
BODY_HELP = (
    "Is the same request sent again, body and headers included? Hand the request you got "
    "to the inner transport at every attempt."
)
PER_REQUEST_HELP = (
    "Do you keep a count of attempts on the transport itself? One transport serves every "
    "request: count in handle_async_request, so each request starts from its first attempt."
)
CLOSE_INNER_HELP = (
    "Does RetryTransport.aclose close the inner transport? A client closes its transport "
    "when it closes, and the inner one holds the connections."
)
MIN_ATTEMPTS_HELP = "Does RetryTransport(attempts=0) (or less) raise ValueError?"

Step = int | tuple[int, dict[str, str]] | Exception


class Body(httpx.AsyncByteStream):
    """A response body that logs when it is closed."""

    def __init__(self, log: list[str], content: bytes) -> None:
        self.log, self.content = log, content

    async def __aiter__(self) -> Any:
        yield self.content

    async def aclose(self) -> None:
        self.log.append("closed")


class Upstream(httpx.AsyncBaseTransport):
    """The inner transport: attempt n takes step n of the script, and the last step repeats."""

    def __init__(self, log: list[str], *steps: Step) -> None:
        self.log, self.steps = log, steps
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []
        self.is_closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.log.append(request.method)
        self.requests.append(request)
        self.bodies.append(await request.aread())
        step = self.steps[min(len(self.requests), len(self.steps)) - 1]
        if isinstance(step, Exception):
            raise step
        status, headers = step if isinstance(step, tuple) else (step, {})
        content = f"answer {len(self.requests)}".encode()
        return httpx.Response(status, headers=headers, stream=Body(self.log, content))

    async def aclose(self) -> None:
        self.is_closed = True

    @property
    def attempts(self) -> int:
        return len(self.requests)


class Randoms:
    """random() answering the given values in turn, then JITTER."""

    def __init__(self, *values: float) -> None:
        self.values = list(values)

    def __call__(self) -> float:
        return self.values.pop(0) if self.values else JITTER


def make(exercise: ModuleType, log: list[str], upstream: Upstream, **options: Any) -> Any:
    """A RetryTransport around `upstream` whose sleeps only log."""

    async def sleep(delay: float) -> None:
        log.append(f"sleep {round(float(delay), 9):g}")

    options.setdefault("random", lambda: JITTER)
    return exercise.RetryTransport(upstream, sleep=sleep, **options)


async def send(
    transport: Any, log: list[str], method: str = "GET", content: bytes | None = None
) -> httpx.Response | Exception:
    """One request through a client on `transport`: its response (body read), or what it
    raised."""
    async with httpx.AsyncClient(transport=transport, base_url=UPSTREAM) as client:
        request = client.build_request(method, "/items/sku-1", content=content)
        try:
            response = await client.send(request, stream=True)
        except Exception as error:
            return error
        log.append("answered")
        mark = len(log)
        try:
            await response.aread()
        except httpx.StreamClosed:
            raise Failure(
                "expected to read the body of the response handed back, but it was closed",
                help=KEEP_OPEN_HELP,
            ) from None
        await response.aclose()
        del log[mark:]  # the caller's own read closed it: not the transport's doing
        return response


def answered(outcome: httpx.Response | Exception, status: int, attempt: int) -> httpx.Response:
    """The caller got the response of `attempt`, with `status`."""
    if isinstance(outcome, Exception):
        raise Failure(
            f"expected the {status} response, not {type(outcome).__name__}: {outcome}",
            help=ERROR_HELP,
        )
    expect_equal("status handed back", status, outcome.status_code)
    expect_equal("body handed back (which attempt's)", f"answer {attempt}", outcome.text)
    return outcome


def retried(method: str, sleeps: Sequence[float]) -> list[str]:
    """The log of a request that failed, was closed and slept before each retry."""
    log = [method]
    for delay in sleeps:
        log += ["closed", f"sleep {delay:g}", method]
    return [*log, "answered"]


def once(method: str = "GET") -> list[str]:
    return [method, "answered"]


# -- what is retried ---------------------------------------------------------------------


async def test_retried_until_success(exercise: ModuleType) -> None:
    """a GET that fails twice (503, 502) succeeds at the third attempt, after two backoffs"""
    log: list[str] = []
    upstream = Upstream(log, 503, 502, 200)
    outcome = await send(make(exercise, log, upstream), log)
    expect_equal("sequence of events", retried("GET", DEFAULT_SLEEPS), log, help=ATTEMPTS_HELP)
    answered(outcome, 200, 3)


@pytest.mark.parametrize("method", RETRIED_METHODS)
async def test_idempotent_methods_retried(exercise: ModuleType, method: str) -> None:
    """{method}: a request that keeps failing with 503 is tried 3 times; the last 503 comes back"""
    log: list[str] = []
    outcome = await send(make(exercise, log, Upstream(log, 503)), log, method)
    expect_equal("sequence of events", retried(method, DEFAULT_SLEEPS), log, help=ATTEMPTS_HELP)
    answered(outcome, 503, 3)


@pytest.mark.stub_may_pass("the stub sends every request once")
@pytest.mark.parametrize("method", ONCE_METHODS)
async def test_other_methods_sent_once(exercise: ModuleType, method: str) -> None:
    """{method}: a request is sent once, and its 503 comes back as it is"""
    log: list[str] = []
    outcome = await send(make(exercise, log, Upstream(log, 503, 200)), log, method)
    expect_equal("sequence of events", once(method), log, help=METHOD_HELP)
    answered(outcome, 503, 1)


@pytest.mark.stub_may_pass("the stub sends every request once")
@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_other_methods_not_retried_on_errors(exercise: ModuleType, method: str) -> None:
    """{method}: a connection error is not retried, it reaches the caller"""
    log: list[str] = []
    error = httpx.ConnectError("connection refused")
    outcome = await send(make(exercise, log, Upstream(log, error, 200)), log, method)
    expect(outcome is error, f"expected the ConnectError raised, not {outcome!r}", help=METHOD_HELP)
    expect_equal("sequence of events", [method], log, help=METHOD_HELP)


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_statuses_retried(exercise: ModuleType, status: int) -> None:
    """a GET answered {status} is retried"""
    log: list[str] = []
    outcome = await send(make(exercise, log, Upstream(log, status, 200)), log)
    expect_equal("sequence of events", retried("GET", DEFAULT_SLEEPS[:1]), log, help=STATUS_HELP)
    answered(outcome, 200, 2)


@pytest.mark.stub_may_pass("the stub sends every request once")
@pytest.mark.parametrize("status", [200, 201, 304, 400, 404, 409, 429, 499, 500, 501, 505])
async def test_statuses_not_retried(exercise: ModuleType, status: int) -> None:
    """a GET answered {status} (no Retry-After) is not retried: the response comes back"""
    log: list[str] = []
    outcome = await send(make(exercise, log, Upstream(log, status, 200)), log)
    expect_equal("sequence of events", once(), log, help=STATUS_HELP)
    answered(outcome, status, 1)


TRANSPORT_ERRORS = [
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadTimeout,
    httpx.ReadError,
    httpx.RemoteProtocolError,
]


@pytest.mark.parametrize("error", TRANSPORT_ERRORS, ids=lambda error: error.__name__)
async def test_transport_errors_retried(exercise: ModuleType, error: type[Exception]) -> None:
    """a GET that raises {error} is retried"""
    log: list[str] = []
    upstream = Upstream(log, error("the inventory is out of reach"), 200)
    outcome = await send(make(exercise, log, upstream), log)
    expected = ["GET", f"sleep {DEFAULT_SLEEPS[0]:g}", "GET", "answered"]
    expect_equal("sequence of events", expected, log, help=ERROR_HELP)
    answered(outcome, 200, 2)


@pytest.mark.stub_may_pass("the stub lets every error through")
@pytest.mark.parametrize(
    "error",
    [RuntimeError("a bug"), httpx.DecodingError("bad gzip data")],
    ids=["RuntimeError", "DecodingError"],
)
async def test_other_errors_not_retried(exercise: ModuleType, error: Exception) -> None:
    """an error that is not an httpx.TransportError is raised at once, as it is"""
    log: list[str] = []
    outcome = await send(make(exercise, log, Upstream(log, error, 200)), log)
    expect(outcome is error, f"expected {error!r} raised, not {outcome!r}", help=ERROR_HELP)
    expect_equal("sequence of events", ["GET"], log, help=ERROR_HELP)


# -- how it ends -------------------------------------------------------------------------


async def test_last_exception_raised(exercise: ModuleType) -> None:
    """when every attempt fails, the last attempt's exception reaches the caller as it is"""
    log: list[str] = []
    last = httpx.ReadTimeout("no answer in time")
    upstream = Upstream(log, httpx.ConnectError("refused"), 503, last)
    outcome = await send(make(exercise, log, upstream), log)
    if outcome is not last:
        shown = outcome if isinstance(outcome, Exception) else f"a {outcome.status_code} response"
        raise Failure(
            f"expected the third attempt's ReadTimeout, not {shown!r}", help=LAST_ERROR_HELP
        )
    expected = [
        "GET",
        f"sleep {DEFAULT_SLEEPS[0]:g}",
        "GET",
        "closed",
        f"sleep {DEFAULT_SLEEPS[1]:g}",
        "GET",
    ]
    expect_equal("sequence of events", expected, log, help=ATTEMPTS_HELP)


async def test_last_response_returned(exercise: ModuleType) -> None:
    """when the last attempt gets a 503 after two errors, that 503 comes back, open"""
    log: list[str] = []
    upstream = Upstream(log, httpx.ConnectTimeout("slow"), httpx.ReadError("reset"), 503)
    outcome = await send(make(exercise, log, upstream), log)
    expected = [
        "GET",
        f"sleep {DEFAULT_SLEEPS[0]:g}",
        "GET",
        f"sleep {DEFAULT_SLEEPS[1]:g}",
        "GET",
        "answered",
    ]
    expect_equal("sequence of events", expected, log, help=ATTEMPTS_HELP)
    answered(outcome, 503, 3)


async def test_retried_responses_closed(exercise: ModuleType) -> None:
    """each response that is retried is closed before the sleep; the one handed back is not"""
    log: list[str] = []
    await send(make(exercise, log, Upstream(log, 504, 504, 200)), log)
    expect_equal("sequence of events", retried("GET", DEFAULT_SLEEPS), log, help=CLOSE_HELP)


@pytest.mark.parametrize(
    "attempts", [pytest.param(1, marks=pytest.mark.stub_may_pass("the stub tries once")), 2, 4]
)
async def test_attempts_option(exercise: ModuleType, attempts: int) -> None:
    """RetryTransport(attempts={attempts}) tries a failing GET {attempts} times in all"""
    log: list[str] = []
    outcome = await send(make(exercise, log, Upstream(log, 503), attempts=attempts), log)
    sleeps = [0.5 * JITTER * 2**n for n in range(attempts - 1)]
    expect_equal("sequence of events", retried("GET", sleeps), log, help=ATTEMPTS_HELP)
    answered(outcome, 503, attempts)


@pytest.mark.parametrize("attempts", [0, -1])
async def test_attempts_at_least_one(exercise: ModuleType, attempts: int) -> None:
    """RetryTransport(attempts={attempts}) raises ValueError"""
    log: list[str] = []
    try:
        make(exercise, log, Upstream(log, 200), attempts=attempts)
    except ValueError:
        return
    raise Failure("expected ValueError, but the transport was made", help=MIN_ATTEMPTS_HELP)


async def test_each_request_starts_afresh(exercise: ModuleType) -> None:
    """two failing GETs through one transport each get three attempts and the same backoffs"""
    log: list[str] = []
    transport = make(exercise, log, Upstream(log, 503))
    async with httpx.AsyncClient(transport=transport, base_url=UPSTREAM) as client:
        statuses = [(await client.get("/items/sku-1")).status_code for _ in range(2)]
    expect_equal("list of statuses handed back", [503, 503], statuses)
    one = retried("GET", DEFAULT_SLEEPS)[:-1]
    expect_equal("sequence of events", [*one, "closed", *one, "closed"], log, help=PER_REQUEST_HELP)


async def test_body_sent_again(exercise: ModuleType) -> None:
    """a PUT that is retried sends the same body and headers at every attempt"""
    log: list[str] = []
    upstream = Upstream(log, 503, httpx.ReadTimeout("slow"), 200)
    body = b'{"available": 3}'
    outcome = await send(make(exercise, log, upstream), log, "PUT", body)
    answered(outcome, 200, 3)
    expect_equal("list of bodies sent", [body] * 3, upstream.bodies, help=BODY_HELP)
    headers = [dict(request.headers) for request in upstream.requests]
    expect_equal("list of headers sent", [headers[0]] * 3, headers, help=BODY_HELP)
    expect_equal("content-length sent", str(len(body)), headers[0].get("content-length"))


async def test_closing_closes_inner(exercise: ModuleType) -> None:
    """closing the client (so the RetryTransport) closes the inner transport"""
    log: list[str] = []
    upstream = Upstream(log, 200)
    async with httpx.AsyncClient(transport=make(exercise, log, upstream)):
        pass
    expect_equal("inner transport closed", True, upstream.is_closed, help=CLOSE_INNER_HELP)


# -- how long it waits -------------------------------------------------------------------


async def test_backoff_doubles_up_to_the_cap(exercise: ModuleType) -> None:
    """with base_delay=1 and max_delay=5, four backoffs are random() * 1, 2, 4, then 5"""
    log: list[str] = []
    randoms = Randoms(0.5, 0.25, 0.75, 0.5)
    upstream = Upstream(log, 503)
    options = {"attempts": 5, "base_delay": 1.0, "max_delay": 5.0, "random": randoms}
    outcome = await send(make(exercise, log, upstream, **options), log)
    sleeps = [entry for entry in log if entry.startswith("sleep")]
    expected = ["sleep 0.5", "sleep 0.5", "sleep 3", "sleep 2.5"]
    help = CAP_HELP if sleeps[-1:] == ["sleep 4"] else JITTER_HELP
    expect_equal("sleeps", expected, sleeps, help=help)
    answered(outcome, 503, 5)


async def test_backoff_at_the_cap(exercise: ModuleType) -> None:
    """a backoff that reaches max_delay exactly is kept: base 1, max 2 gives 1, 2, 2 (x 0.5)"""
    log: list[str] = []
    options = {"attempts": 4, "base_delay": 1.0, "max_delay": 2.0}
    outcome = await send(make(exercise, log, Upstream(log, 502), **options), log)
    expect_equal("sequence of events", retried("GET", [0.5, 1.0, 1.0]), log, help=CAP_HELP)
    answered(outcome, 502, 4)


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("seconds", ["0", "2", "5"])
async def test_retry_after_waited(exercise: ModuleType, status: int, seconds: str) -> None:
    """a {status} with Retry-After: {seconds} waits exactly that long (no jitter), then retries"""
    log: list[str] = []
    upstream = Upstream(log, (status, {"Retry-After": seconds}), 200)
    outcome = await send(make(exercise, log, upstream), log)
    expect_equal("sequence of events", retried("GET", [int(seconds)]), log, help=RETRY_AFTER_HELP)
    answered(outcome, 200, 2)


@pytest.mark.stub_may_pass("the stub never retries")
@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_over_the_cap(exercise: ModuleType, status: int) -> None:
    """a {status} with Retry-After: 6 (over MAX_DELAY, 5) comes back at once"""
    log: list[str] = []
    upstream = Upstream(log, (status, {"Retry-After": "6"}), 200)
    outcome = await send(make(exercise, log, upstream), log)
    expect_equal("sequence of events", once(), log, help=RETRY_AFTER_HELP)
    answered(outcome, status, 1)


@pytest.mark.parametrize(
    "seconds", ["2", pytest.param("3", marks=pytest.mark.stub_may_pass("the stub never retries"))]
)
async def test_retry_after_against_max_delay(exercise: ModuleType, seconds: str) -> None:
    """with max_delay=2, a 503 with Retry-After: {seconds} is retried only if it is 2"""
    log: list[str] = []
    upstream = Upstream(log, (503, {"Retry-After": seconds}), 200)
    outcome = await send(make(exercise, log, upstream, max_delay=2.0), log)
    if seconds == "2":
        answered(outcome, 200, 2)
        expect_equal("sequence of events", retried("GET", [2]), log, help=RETRY_AFTER_HELP)
    else:
        answered(outcome, 503, 1)
        expect_equal("sequence of events", once(), log, help=RETRY_AFTER_HELP)


@pytest.mark.parametrize("status", [502, 504])
async def test_retry_after_ignored_elsewhere(exercise: ModuleType, status: int) -> None:
    """a {status} with Retry-After: 3 backs off as usual"""
    log: list[str] = []
    upstream = Upstream(log, (status, {"Retry-After": "3"}), 200)
    outcome = await send(make(exercise, log, upstream), log)
    expected = retried("GET", DEFAULT_SLEEPS[:1])
    expect_equal("sequence of events", expected, log, help=RETRY_AFTER_ONLY_HELP)
    answered(outcome, 200, 2)


UNREADABLE = ["1.5", "-1", "", "soon", "Wed, 21 Oct 2037 07:28:00 GMT"]


@pytest.mark.parametrize("value", UNREADABLE)
async def test_unreadable_retry_after_on_503(exercise: ModuleType, value: str) -> None:
    """a 503 with Retry-After: {value!r} backs off as if it had none"""
    log: list[str] = []
    upstream = Upstream(log, (503, {"Retry-After": value}), 200)
    outcome = await send(make(exercise, log, upstream), log)
    expect_equal(
        "sequence of events", retried("GET", DEFAULT_SLEEPS[:1]), log, help=UNREADABLE_HELP
    )
    answered(outcome, 200, 2)


@pytest.mark.stub_may_pass("the stub never retries")
@pytest.mark.parametrize("value", UNREADABLE)
async def test_unreadable_retry_after_on_429(exercise: ModuleType, value: str) -> None:
    """a 429 with Retry-After: {value!r} is not retried"""
    log: list[str] = []
    upstream = Upstream(log, (429, {"Retry-After": value}), 200)
    outcome = await send(make(exercise, log, upstream), log)
    expect_equal("sequence of events", once(), log, help=UNREADABLE_HELP)
    answered(outcome, 429, 1)


async def test_retry_after_then_backoff(exercise: ModuleType) -> None:
    """a Retry-After replaces one delay only: 429 (Retry-After: 1), then 503, then 200"""
    log: list[str] = []
    upstream = Upstream(log, (429, {"Retry-After": "1"}), 503, 200)
    outcome = await send(make(exercise, log, upstream), log)
    expect_equal(
        "sequence of events", retried("GET", [1, DEFAULT_SLEEPS[1]]), log, help=RETRY_AFTER_HELP
    )
    answered(outcome, 200, 3)
