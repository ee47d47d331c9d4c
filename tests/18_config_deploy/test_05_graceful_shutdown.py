"""Hidden suite for 18_config_deploy/05_graceful_shutdown: unready, drained, then closed.

The checks run the app as a server would, with asgi-lifespan's LifespanManager, and begin
its shutdown in the background while requests are still in flight, as Kubernetes does when
it sends SIGTERM. The module's `work` is replaced by one that waits, per name, until the
check releases it, and that writes "finished <name>" to the module's EVENTS, next to the
resources' own lines (or, when it is cancelled, "stopped <name>" after a cleanup that takes
a few turns of the event loop). Nothing is timed: the drain deadline is set through
DRAIN_TIMEOUT (0 where the deadline must pass, a minute where it must not); the only clock
is a guard that stops an app that never finishes.
"""

from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from types import ModuleType

import anyio
import anyio.lowlevel
import httpx
import pytest
from anyio.abc import TaskGroup
from asgi_lifespan import LifespanManager
from pydantic import ValidationError

from workbook.testing import Failure, expect_equal, expect_json, expect_status

GUARD = 2.0  # seconds: stops an app that never finishes; no check depends on it
POLLS = 200  # /readyz requests a check sends while it waits for the shutdown to begin
CLEANUP_TURNS = 10  # turns of the event loop a cancelled piece of work takes to stop
SETTLE = 20  # requests sent to let a shutdown that should wait run on, if it would not
STUB_WORKS = pytest.mark.stub_may_pass("the stub serves and closes its resources already")
AFTER_UNREADY = pytest.mark.requires("test_unready_at_once")
OPENED = ["open database", "open cache"]
CLOSED = ["close cache", "close database"]
SHUTTING_DOWN = {"detail": "Shutting down"}

NOT_READY_AT_ONCE = (
    "Is the shutting-down flag set first thing after the lifespan's yield, before it waits "
    "for anything? The load balancer must stop sending traffic while the work drains."
)
CLOSED_TOO_EARLY = (
    "Does the lifespan close the resources right after its yield? Wait for the work in "
    "flight first (a counter or a set of what runs, and an event when it empties), then close."
)
WAITS_PAST_DEADLINE = (
    "Is the wait for the work in flight bounded by the deadline? Wrap it in "
    "anyio.move_on_after(settings.drain_timeout), read from Settings when the app starts."
)
NOT_CANCELLED = (
    "Is what is still running at the deadline cancelled? Run each report and each job in "
    "an anyio.CancelScope the app keeps, and call cancel() on those left at the deadline."
)
NOT_UNWOUND = (
    "Does the lifespan wait, after cancelling, until the cancelled work has stopped? A "
    "cancelled task still runs its cleanup, which may need the resources."
)
CANCELLED_ANSWER = (
    "Does the report check, after the cancelled work, whether its cancel scope was "
    'cancelled, and answer HTTPException(503, "Shutting down") then?'
)
REFUSE_NEW_WORK = (
    "Does a dependency of both routes answer 503 while the app shuts down? Work that starts "
    "during the drain could not finish before the resources close."
)
DRAINING_FOR_EACH_START = (
    "Is the Draining object made at module level? Make a new one in the lifespan, for each "
    "start, and hand it to requests through the lifespan state."
)


class Work:
    """The checks' `work`: each name waits until the check releases it."""

    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.calls: list[str] = []
        self.started: defaultdict[str, anyio.Event] = defaultdict(anyio.Event)
        self.gates: defaultdict[str, anyio.Event] = defaultdict(anyio.Event)

    async def __call__(self, name: str) -> None:
        self.calls.append(name)
        self.started[name].set()
        try:
            await self.gates[name].wait()
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):  # a cleanup that takes a few turns
                for _ in range(CLEANUP_TURNS):
                    await anyio.lowlevel.checkpoint()
            self.events.append(f"stopped {name}")
            raise
        self.events.append(f"finished {name}")

    def release(self, *names: str) -> None:
        for name in names:
            self.gates[name].set()

    def release_all(self) -> None:
        for gate in self.gates.values():
            gate.set()

    async def begun(self, name: str, what: str) -> None:
        with anyio.move_on_after(GUARD):
            await self.started[name].wait()
            return
        raise Failure(f"expected {what} to call work({name!r}), but it never did")


class Call:
    """A request sent in the background; its answer once it has one."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.response: httpx.Response | None = None
        self.error: BaseException | None = None
        self.done = anyio.Event()

    async def answer(self, help: str | None = None) -> httpx.Response:
        with anyio.move_on_after(GUARD):
            await self.done.wait()
        if self.error is not None:
            error = f"{type(self.error).__name__}: {self.error}"
            raise Failure(f"expected POST {self.path} to be answered, but it raised {error}")
        if self.response is None:
            message = f"expected POST {self.path} to be answered, but it is still waiting"
            raise Failure(message, help=help)
        return self.response


class Server:
    """The app started; requests and the shutdown run in the background, as on a server."""

    def __init__(self, manager: LifespanManager, client: httpx.AsyncClient, tasks: TaskGroup):
        self.manager = manager
        self.client = client
        self.tasks = tasks
        self.shutdown_begun = False
        self.stopped = anyio.Event()
        self.stop_error: BaseException | None = None

    def post(self, path: str) -> Call:
        call = Call(path)

        async def send() -> None:
            try:
                call.response = await self.client.post(path)
            except Exception as exc:
                call.error = exc
            finally:
                call.done.set()

        self.tasks.start_soon(send)
        return call

    def begin_shutdown(self) -> None:
        """What SIGTERM starts: the lifespan's shutdown, while requests are in flight."""
        if self.shutdown_begun:
            return
        self.shutdown_begun = True

        async def stop() -> None:
            try:
                await self.manager.__aexit__(None, None, None)
            except BaseException as exc:
                self.stop_error = exc
            finally:
                self.stopped.set()

        self.tasks.start_soon(stop)

    async def until_draining(self) -> None:
        """Ask /readyz, as the kubelet does, until it answers 503."""
        for _ in range(POLLS):
            response = await self.client.get("/readyz")
            if response.status_code == 503:
                expect_json(response, {"status": "draining"})
                return
            await anyio.lowlevel.checkpoint()
        expect_status(response, 503, help=NOT_READY_AT_ONCE)

    async def settle(self) -> None:
        """Let a shutdown that should still wait run on, should it wrongly go ahead."""
        for _ in range(SETTLE):
            await self.client.get("/healthz")
            await anyio.lowlevel.checkpoint()

    async def until_stopped(self, help: str | None = None) -> None:
        self.begin_shutdown()
        with anyio.move_on_after(GUARD * 2):
            await self.stopped.wait()
        if isinstance(self.stop_error, TimeoutError) or not self.stopped.is_set():
            raise Failure("expected the shutdown to finish, but it was still waiting", help=help)
        if self.stop_error is not None:
            error = f"{type(self.stop_error).__name__}: {self.stop_error}"
            raise Failure(f"expected the shutdown to finish, but it raised {error}")


@pytest.fixture
def events(exercise: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    monkeypatch.delenv("DRAIN_TIMEOUT", raising=False)
    exercise.EVENTS.clear()
    yield exercise.EVENTS
    exercise.EVENTS.clear()


@pytest.fixture
def work(exercise: ModuleType, events: list[str], monkeypatch: pytest.MonkeyPatch) -> Work:
    fake = Work(events)
    monkeypatch.setattr(exercise, "work", fake)
    return fake


@asynccontextmanager
async def serving(exercise: ModuleType, work: Work) -> AsyncIterator[Server]:
    """The app started; on the way out, everything released and the shutdown finished."""
    manager = LifespanManager(exercise.app, startup_timeout=GUARD, shutdown_timeout=GUARD)
    try:
        await manager.__aenter__()
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise Failure(f"expected the app to start, but it raised {error}") from None
    transport = httpx.ASGITransport(app=manager.app)
    try:
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://test") as client,
            anyio.create_task_group() as tasks,
        ):
            server = Server(manager, client, tasks)
            try:
                yield server
            finally:
                work.release_all()
                server.begin_shutdown()
                with anyio.move_on_after(GUARD * 2):
                    await server.stopped.wait()
                tasks.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        raise first_error(group) from None


def first_error(group: BaseExceptionGroup) -> BaseException:
    """The check's own failure, out of the task group that wraps it."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def split(events: list[str]) -> tuple[list[str], list[str]]:
    """The lines before the first "close", and the rest."""
    first = next((i for i, line in enumerate(events) if line.startswith("close")), len(events))
    return events[:first], events[first:]


@STUB_WORKS
async def test_resources_open_in_order(exercise, events, work):
    """at start the app opens database, then cache, and both probes answer 200"""
    async with serving(exercise, work) as server:
        expect_equal("EVENTS once the app has started", OPENED, list(events))
        response = await server.client.get("/healthz")
        expect_status(response, 200)
        expect_json(response, {"status": "ok"})
        response = await server.client.get("/readyz")
        expect_status(response, 200)
        expect_json(response, {"status": "ready"})


@STUB_WORKS
async def test_reports_and_jobs(exercise, events, work):
    """POST /reports/{name} answers 200 when its work is done; POST /jobs/{name} 202 at once"""
    work.release("quarterly")
    async with serving(exercise, work) as server:
        report = await server.post("/reports/quarterly").answer()
        expect_status(report, 200)
        expect_json(report, {"report": "quarterly"})
        job = await server.post("/jobs/nightly").answer(help="Does the job route wait for the job?")
        expect_status(job, 202)
        expect_json(job, {"job": "nightly"})
        await work.begun("nightly", "POST /jobs/nightly")
        work.release("nightly")
        await server.until_stopped()
    expect_equal(
        "EVENTS", [*OPENED, "finished quarterly", "finished nightly", *CLOSED], list(events)
    )


@STUB_WORKS
async def test_idle_shutdown_closes_in_reverse(exercise, events, work):
    """with nothing in flight the shutdown closes cache, then database, without waiting"""
    async with serving(exercise, work) as server:
        await server.until_stopped(help=WAITS_PAST_DEADLINE)
    expect_equal("EVENTS", [*OPENED, *CLOSED], list(events))


async def test_unready_at_once(exercise, events, work):
    """once the shutdown begins, /readyz answers 503 {"status": "draining"}, before any close"""
    async with serving(exercise, work) as server:
        call = server.post("/reports/q1")
        await work.begun("q1", "POST /reports/q1")
        server.begin_shutdown()
        await server.until_draining()
        expect_equal(
            "EVENTS while a report is in flight", OPENED, list(events), help=CLOSED_TOO_EARLY
        )
        work.release("q1")
        expect_status(await call.answer(), 200)


@AFTER_UNREADY
async def test_alive_while_draining(exercise, events, work):
    """/healthz still answers 200 {"status": "ok"} while the app drains"""
    async with serving(exercise, work) as server:
        server.post("/reports/q1")
        await work.begun("q1", "POST /reports/q1")
        server.begin_shutdown()
        await server.until_draining()
        response = await server.client.get("/healthz")
        expect_status(response, 200, help="Does /healthz read the shutting-down flag? It must not.")
        expect_json(response, {"status": "ok"})


@AFTER_UNREADY
@pytest.mark.parametrize("path", ["/reports/late", "/jobs/late"])
async def test_new_work_refused_while_draining(exercise, events, work, path):
    """a report or a job asked for while the app drains answers 503 and does no work"""
    work.release("late")
    async with serving(exercise, work) as server:
        server.post("/reports/q1")
        await work.begun("q1", "POST /reports/q1")
        server.begin_shutdown()
        await server.until_draining()
        response = await server.post(path).answer()
        expect_status(response, 503, help=REFUSE_NEW_WORK)
        expect_json(response, SHUTTING_DOWN)
        await server.settle()
        expect_equal("calls to work", ["q1"], work.calls, help=REFUSE_NEW_WORK)


@AFTER_UNREADY
async def test_report_in_flight_finishes(exercise, events, work, monkeypatch):
    """a report in flight finishes with its 200 before the deadline, and only then things close"""
    monkeypatch.setenv("DRAIN_TIMEOUT", "60")
    async with serving(exercise, work) as server:
        call = server.post("/reports/q1")
        await work.begun("q1", "POST /reports/q1")
        server.begin_shutdown()
        await server.until_draining()
        await server.settle()
        expect_equal("EVENTS while a report is in flight", OPENED, events, help=CLOSED_TOO_EARLY)
        work.release("q1")
        response = await call.answer()
        expect_status(response, 200, help=CLOSED_TOO_EARLY)
        expect_json(response, {"report": "q1"})
        await server.until_stopped()
    expect_equal("EVENTS", [*OPENED, "finished q1", *CLOSED], list(events), help=CLOSED_TOO_EARLY)


@AFTER_UNREADY
async def test_job_in_flight_finishes(exercise, events, work, monkeypatch):
    """a job started before the shutdown finishes before the deadline, and only then things close"""
    monkeypatch.setenv("DRAIN_TIMEOUT", "60")
    async with serving(exercise, work) as server:
        expect_status(await server.post("/jobs/nightly").answer(), 202)
        await work.begun("nightly", "POST /jobs/nightly")
        server.begin_shutdown()
        await server.until_draining()
        await server.settle()
        expect_equal("EVENTS while a job runs", OPENED, events, help=CLOSED_TOO_EARLY)
        work.release("nightly")
        await server.until_stopped()
    expect_equal("EVENTS", [*OPENED, "finished nightly", *CLOSED], list(events))


@AFTER_UNREADY
async def test_waits_for_every_piece(exercise, events, work, monkeypatch):
    """the drain waits for all the work in flight, not for the first piece to finish"""
    monkeypatch.setenv("DRAIN_TIMEOUT", "60")
    async with serving(exercise, work) as server:
        first, second = server.post("/reports/a"), server.post("/reports/b")
        expect_status(await server.post("/jobs/c").answer(), 202)
        for name in "abc":
            await work.begun(name, f"POST /{'jobs' if name == 'c' else 'reports'}/{name}")
        server.begin_shutdown()
        await server.until_draining()
        work.release("b")
        expect_status(await second.answer(), 200)
        work.release("c")
        await server.settle()
        expect_equal(
            "EVENTS while report a is still in flight",
            [*OPENED, "finished b", "finished c"],
            list(events),
            help="Does the drain stop waiting when one piece of work finishes? Wait until "
            "nothing is in flight.",
        )
        work.release("a")
        expect_status(await first.answer(), 200)
        await server.until_stopped()
    expect_equal("EVENTS", [*OPENED, "finished b", "finished c", "finished a", *CLOSED], events)


@pytest.mark.parametrize("deadline", ["0", "0.01"])
async def test_deadline_cancels_a_report(exercise, events, work, monkeypatch, deadline):
    """a report still running at the deadline is cancelled, recorded and answered 503"""
    monkeypatch.setenv("DRAIN_TIMEOUT", deadline)
    async with serving(exercise, work) as server:
        call = server.post("/reports/q1")
        await work.begun("q1", "POST /reports/q1")
        server.begin_shutdown()
        response = await call.answer(help=NOT_CANCELLED)
        await server.until_stopped(help=WAITS_PAST_DEADLINE)
    expect_status(response, 503, help=CANCELLED_ANSWER)
    expect_json(response, SHUTTING_DOWN)
    before, after = split(list(events))
    expect_equal(
        "EVENTS before the first close, sorted",
        sorted([*OPENED, "cancelled report q1", "stopped q1"]),
        sorted(before),
        help=NOT_UNWOUND,
    )
    expect_equal("EVENTS from the first close on", CLOSED, after, help=NOT_UNWOUND)


@pytest.mark.parametrize("deadline", ["0", "0.01"])
async def test_deadline_cancels_a_job(exercise, events, work, monkeypatch, deadline):
    """a job still running at the deadline is cancelled and recorded, then things close"""
    monkeypatch.setenv("DRAIN_TIMEOUT", deadline)
    async with serving(exercise, work) as server:
        expect_status(await server.post("/jobs/nightly").answer(), 202)
        await work.begun("nightly", "POST /jobs/nightly")
        await server.until_stopped(help=WAITS_PAST_DEADLINE)
    before, after = split(list(events))
    expect_equal(
        "EVENTS before the first close, sorted",
        sorted([*OPENED, "cancelled job nightly", "stopped nightly"]),
        sorted(before),
        help=NOT_CANCELLED,
    )
    expect_equal("EVENTS from the first close on", CLOSED, after, help=NOT_UNWOUND)


async def test_deadline_cancels_what_is_left(exercise, events, work, monkeypatch):
    """at the deadline each piece still running is cancelled and recorded once"""
    monkeypatch.setenv("DRAIN_TIMEOUT", "0")
    async with serving(exercise, work) as server:
        calls = [server.post("/reports/a"), server.post("/reports/b")]
        expect_status(await server.post("/jobs/c").answer(), 202)
        for name in "abc":
            await work.begun(name, f"POST /{'jobs' if name == 'c' else 'reports'}/{name}")
        await server.until_stopped(help=WAITS_PAST_DEADLINE)
    for call in calls:
        expect_status(await call.answer(), 503, help=CANCELLED_ANSWER)
    before, after = split(list(events))
    cancelled = sorted(line for line in before if line.startswith("cancelled"))
    expect_equal(
        "cancellations recorded",
        ["cancelled job c", "cancelled report a", "cancelled report b"],
        cancelled,
        help=NOT_CANCELLED,
    )
    expect_equal("EVENTS from the first close on", CLOSED, after, help=NOT_UNWOUND)


@pytest.mark.stub_may_pass("the stub never begins to drain, so no start inherits a drain")
async def test_each_start_begins_ready(exercise, events, work):
    """a second start of the app is ready and takes work: it is not draining from the last stop"""
    work.release("q2")
    async with serving(exercise, work) as server:
        await server.until_stopped()
    async with serving(exercise, work) as server:
        response = await server.client.get("/readyz")
        expect_status(response, 200, help=DRAINING_FOR_EACH_START)
        report = await server.post("/reports/q2").answer()
        expect_status(report, 200, help=DRAINING_FOR_EACH_START)
        await server.until_stopped()
    expect_equal(
        "EVENTS of two starts", [*OPENED, *CLOSED, *OPENED, "finished q2", *CLOSED], events
    )


@STUB_WORKS
async def test_drain_timeout_setting(exercise, events, monkeypatch):
    """Settings().drain_timeout is DRAIN_TIMEOUT in seconds, 20.0 when unset, never negative"""
    expect_equal("drain_timeout with DRAIN_TIMEOUT unset", 20.0, exercise.Settings().drain_timeout)
    monkeypatch.setenv("DRAIN_TIMEOUT", "0")
    expect_equal("drain_timeout with DRAIN_TIMEOUT=0", 0.0, exercise.Settings().drain_timeout)
    monkeypatch.setenv("DRAIN_TIMEOUT", "-1")
    try:
        exercise.Settings()
    except ValidationError:
        return
    raise Failure(
        "expected Settings() to refuse DRAIN_TIMEOUT=-1 with a ValidationError",
        help="Does the field still say Field(ge=0)?",
    )


async def test_negative_deadline_keeps_the_app_down(exercise, events, monkeypatch):
    """the app reads Settings() when it starts: DRAIN_TIMEOUT=-1 keeps it from starting"""
    monkeypatch.setenv("DRAIN_TIMEOUT", "-1")
    try:
        with anyio.fail_after(GUARD):
            async with LifespanManager(exercise.app):
                pass
    except ValidationError:
        return
    raise Failure(
        "expected the app to refuse to start with DRAIN_TIMEOUT=-1, but it started",
        help="Does the lifespan build Settings() before its yield, so a bad value stops the "
        "start instead of the shutdown?",
    )
