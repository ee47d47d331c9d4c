"""Hidden checks for 01_async_foundations/02_wrap_blocking_sdk.

A fake SDK records the thread of every call.  The checks compare it with the thread the
event loop runs on (the test's own thread: ASGITransport runs the app on the test's loop),
so any way of leaving the loop passes: run_in_threadpool, anyio.to_thread.run_sync,
asyncio.to_thread, an executor.
"""

import threading
from collections.abc import Awaitable, Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

from workbook.testing import (
    Failure,
    client_for,
    expect,
    expect_equal,
    expect_json,
    expect_status,
    provide,
)

PEOPLE = {
    "ada": "Ada Lovelace",
    "alan": "Alan Kay",
    "alonzo": "Alonzo Church",
    "barbara": "Barbara Liskov",
    "dennis": "Dennis Ritchie",
    "donald": "Donald Knuth",
    "edsger": "Edsger Dijkstra",
    "frances": "Frances Allen",
    "grace": "Grace Hopper",
    "john": "John McCarthy",
    "ken": "Ken Thompson",
    "margaret": "Margaret Hamilton",
}
EVERYONE = sorted(PEOPLE)
ON_LOOP_HELP = (
    "Does AsyncDirectory call the SDK directly inside an async def? Hand the function and "
    "its arguments to run_in_threadpool (or anyio.to_thread.run_sync) and await that."
)
TRANSLATED_HELP = (
    "Does AsyncDirectory turn the SDK's errors into HTTP answers? The facade raises what "
    "the SDK raises; the app turns NotFound and Unavailable into 404 and 503."
)


def person(username: str) -> dict[str, str]:
    return {"username": username, "name": PEOPLE[username]}


class FakeDirectory:
    """A fake of the blocking SDK: the same calls, and the thread each one ran on."""

    def __init__(self, errors: ModuleType, *, down: bool = False) -> None:
        self.threads: list[int] = []
        self.searches: list[tuple[str, int]] = []
        self._errors = errors
        self._down = down

    def find(self, username: str) -> dict[str, str]:
        self._enter()
        if username not in PEOPLE:
            raise self._errors.NotFound(username)
        return person(username)

    def search(self, prefix: str, *, limit: int = 10) -> list[dict[str, str]]:
        self.searches.append((prefix, limit))
        self._enter()
        usernames = sorted(name for name in PEOPLE if name.startswith(prefix))
        return [person(username) for username in usernames[:limit]]

    def _enter(self) -> None:
        self.threads.append(threading.get_ident())
        if self._down:
            raise self._errors.Unavailable("the directory server does not answer")


def expect_off_loop(sdk: FakeDirectory) -> None:
    """Every SDK call so far ran on a thread other than the event loop's."""
    expect(sdk.threads, "the fake SDK was never called")
    if threading.get_ident() in sdk.threads:
        raise Failure("the SDK call ran on the event loop's thread", help=ON_LOOP_HELP)


async def raised(call: Awaitable[Any]) -> str | None:
    """The error an awaited call raised, as its repr: ``NotFound('nobody')``."""
    try:
        await call
    except Exception as error:
        return repr(error)
    return None


Install = Callable[..., FakeDirectory]


@pytest.fixture
def use_sdk(exercise: ModuleType) -> Iterator[Install]:
    """Serve the app's AsyncDirectory from a fake SDK; remove the override afterwards."""

    def install(*, down: bool = False) -> FakeDirectory:
        sdk = FakeDirectory(exercise, down=down)
        people = exercise.AsyncDirectory(sdk)
        exercise.app.dependency_overrides[exercise.get_people] = provide(people)
        return sdk

    yield install
    exercise.app.dependency_overrides.pop(exercise.get_people, None)


async def test_find_runs_off_loop(exercise: ModuleType) -> None:
    """AsyncDirectory.find answers what the SDK answers, from a worker thread"""
    sdk = FakeDirectory(exercise)
    found = await exercise.AsyncDirectory(sdk).find("ada")
    expect_equal("find('ada')", person("ada"), found)
    expect_off_loop(sdk)


async def test_search_runs_off_loop(exercise: ModuleType) -> None:
    """AsyncDirectory.search hands prefix and limit to the SDK, from a worker thread"""
    sdk = FakeDirectory(exercise)
    found = await exercise.AsyncDirectory(sdk).search("al", limit=1)
    expect_equal("search('al', limit=1)", [person("alan")], found)
    expect_off_loop(sdk)


@pytest.mark.parametrize(
    ("call", "down", "error"),
    [
        pytest.param("find", False, "NotFound('nobody')", id="find-not-found"),
        pytest.param(
            "find",
            True,
            "Unavailable('the directory server does not answer')",
            id="find-unavailable",
        ),
        pytest.param(
            "search",
            True,
            "Unavailable('the directory server does not answer')",
            id="search-unavailable",
        ),
    ],
)
async def test_facade_raises_sdk_errors(
    exercise: ModuleType, call: str, down: bool, error: str
) -> None:
    """AsyncDirectory.{call} raises the SDK's error as it is, from a worker thread"""
    sdk = FakeDirectory(exercise, down=down)
    people = exercise.AsyncDirectory(sdk)
    found = await raised(people.find("nobody") if call == "find" else people.search("a"))
    expect_equal(f"{call}() to raise", error, found, help=TRANSLATED_HELP if found else None)
    expect_off_loop(sdk)


async def test_facade_search_limit_defaults_to_10(exercise: ModuleType) -> None:
    """AsyncDirectory.search without a limit answers at most 10 people"""
    sdk = FakeDirectory(exercise)
    found = await exercise.AsyncDirectory(sdk).search("")
    expect_equal("search('')", [person(username) for username in EVERYONE[:10]], found)
    expect_off_loop(sdk)


async def test_read_person(exercise: ModuleType, use_sdk: Install) -> None:
    """GET /people/{username} answers the person without blocking the event loop"""
    sdk = use_sdk()
    async with client_for(exercise.app) as client:
        response = await client.get("/people/ada")
    expect_status(response, 200)
    expect_json(response, person("ada"))
    expect_off_loop(sdk)


async def test_unknown_person_is_404(exercise: ModuleType, use_sdk: Install) -> None:
    """an unknown username answers 404"""
    use_sdk()
    async with client_for(exercise.app) as client:
        response = await client.get("/people/nobody")
    expect_status(response, 404)
    expect_json(response, {"detail": "no such person"})


@pytest.mark.parametrize(
    ("query", "usernames"),
    [
        pytest.param("?prefix=al", ["alan", "alonzo"], id="prefix"),
        pytest.param("?prefix=al&limit=1", ["alan"], id="limit-below-matches"),
        pytest.param("?prefix=al&limit=2", ["alan", "alonzo"], id="limit-at-matches"),
        pytest.param("?prefix=al&limit=3", ["alan", "alonzo"], id="limit-above-matches"),
        pytest.param("?prefix=al&limit=0", [], id="limit-0"),
        pytest.param("?prefix=zz", [], id="no-match"),
        pytest.param("", EVERYONE[:10], id="defaults"),
        pytest.param("?limit=11", EVERYONE[:11], id="limit-above-default"),
    ],
)
async def test_search_people(
    exercise: ModuleType, use_sdk: Install, query: str, usernames: list[str]
) -> None:
    """GET /people{query} answers the matching people without blocking the event loop"""
    sdk = use_sdk()
    async with client_for(exercise.app) as client:
        response = await client.get(f"/people{query}")
    expect_status(response, 200)
    expect_json(response, [person(username) for username in usernames])
    expect_off_loop(sdk)


@pytest.mark.stub_may_pass("the stub already hands prefix and limit to the SDK")
@pytest.mark.parametrize(
    ("query", "arguments"),
    [
        pytest.param("", ("", 10), id="defaults"),
        pytest.param("?prefix=al&limit=0", ("al", 0), id="limit-0"),
        pytest.param("?prefix=al&limit=-1", ("al", -1), id="negative-limit"),
        pytest.param("?prefix=AL&limit=11", ("AL", 11), id="as-given"),
    ],
)
async def test_search_arguments_as_given(
    exercise: ModuleType, use_sdk: Install, query: str, arguments: tuple[str, int]
) -> None:
    """GET /people{query} hands prefix and limit to the SDK as they are"""
    sdk = use_sdk()
    async with client_for(exercise.app) as client:
        await client.get(f"/people{query}")
    expect_equal("the SDK's search(prefix, limit) calls", [arguments], sdk.searches)


@pytest.mark.parametrize("path", ["/people/ada", "/people?prefix=a"])
async def test_directory_down_is_503(exercise: ModuleType, use_sdk: Install, path: str) -> None:
    """GET {path} answers 503 when the directory is down"""
    use_sdk(down=True)
    async with client_for(exercise.app) as client:
        response = await client.get(path)
    expect_status(response, 503)
    expect_json(response, {"detail": "directory unavailable"})


async def test_given_directory_by_default(exercise: ModuleType) -> None:
    """without an override, the app serves the given directory"""
    async with client_for(exercise.app) as client:
        found = await client.get("/people/ada")
        missing = await client.get("/people/nobody")
        listed = await client.get("/people")
    expect_status(found, 200)
    expect_json(found, {"username": "ada", "name": "Ada Lovelace"})
    expect_status(missing, 404)
    expect_json(missing, {"detail": "no such person"})
    expect_status(listed, 200)
    expect_json(
        listed,
        [
            {"username": "ada", "name": "Ada Lovelace"},
            {"username": "grace", "name": "Grace Hopper"},
        ],
    )
