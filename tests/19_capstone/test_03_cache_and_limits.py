"""Hidden suite for 19_capstone/03_cache_and_limits: cached reads, limited writes, Redis optional.

Every check starts the app on a fresh, empty database and an empty Redis (the `database_url`
and `redis_url` fixtures: SQLite and the embedded fakeredis, or real servers when
DATABASE_URL and REDIS_URL name them) and goes through HTTP, reading Redis only through the
app's own client from its lifespan state. The app's clock, the `now` dependency, is replaced
by one the checks set: windows and expiries are crossed by setting it, never by sleeping.

Users sign up and log in through the API, with the app's `password_hash` and `DUMMY_HASH`
replaced by Argon2 at its cheapest (as in step 2's suite), so a check hashes in microseconds.
A hit is proved by counting the SQL statements every engine of the process sends
(`count_statements`); a TTL is read back from Redis. A read "while the write commits" is sent
from a listener on SQLAlchemy's `commit` event, inside the app's own commit (see module 10's
invalidation suite). Redis goes down in two ways: REDIS_URL names a server that refuses every
connection, or the app's own client refuses to connect while a block runs (`outage`).

The checks form a chain: the service of steps 1 and 2 first (sign up, log in, create, read,
patch, delete, owners), then the cache, then the limits, then Redis down, and the fuzzer last.
"""

import importlib.util
import json
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import jwt
import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.util import await_

from workbook.services import UNREACHABLE_REDIS_URL, Statements, count_statements
from workbook.testing import (
    Failure,
    expect,
    expect_equal,
    expect_header,
    expect_json,
    expect_keys,
    expect_status,
    response_json,
    running,
)


def _load_fuzzing() -> ModuleType:
    """fuzzing.py beside this file, loaded by path: the grader imports test files one by one."""
    name = "capstone_fuzzing"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("fuzzing.py"))
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


fuzzing = _load_fuzzing()

pytestmark = pytest.mark.filterwarnings("error")

JWT_SECRET = "capstone-checks-secret-of-at-least-32-bytes"
T0 = 1_800_000_000.0  # a whole number of minutes since the epoch: a window starts here
WINDOW = 60
LIMIT = 10  # writes per user per window
TASK_TTL_MS = 300_000
PASSWORD = "correct horse battery staple"
FIELDS = {"id", "title", "notes", "due", "done", "created_at"}
NOT_FOUND = {"detail": "Task not found"}
TOO_MANY = {"detail": "Too many writes"}
FUZZ_EXAMPLES = 8  # per operation: steps 1 and 2 fuzz the same operations with 12 each

NO_ROUTE = "Does the route {route} still answer as in the steps before?"
KEY = "tracker:v1:task:{username}:{task_id}"
NO_LOOKUP = (
    "Does read_task look for the user's entry in Redis before anything else, and answer from "
    "it? On a hit nothing may reach the database: not the task, and not the user either. The "
    "token's sub names the user; load the user from the database only on a miss."
)
NOT_STORED = (
    'Does a miss store the task\'s JSON under f"tracker:v1:task:{username}:{task_id}" '
    "(the username the token's sub names) with redis.set(key, task.model_dump_json(), "
    "ex=TASK_TTL)?"
)
NO_TTL = (
    "Is the entry stored with an expiry? redis.set(key, value, ex=TASK_TTL) gives it one in "
    "seconds; px= would count in milliseconds."
)
PER_USER = (
    "Is the cache key made of the user AND the task? A key of the task id alone hands one "
    "user's cached task to anybody who asks for that id."
)
NEGATIVE = (
    "Is something stored for a task that was not found? Only a task that was found is "
    "cached: a 404 goes through find_task before redis.set is reached."
)
STALE = (
    "Does the write delete the task's entry (redis.delete(key)) once its change is "
    "committed? Otherwise the next read is served the old task from the cache."
)
TOO_EARLY = (
    "A read that arrived while the write was committing found no entry, loaded the task as "
    "it was before the commit and cached it again. Commit first (await session.commit()), "
    "then delete the entry."
)
NOT_LIMITED = (
    "Is every write (POST /tasks, PATCH and DELETE /tasks/{task_id}) limited per user: a "
    "counter per user and window in Redis (INCR, with an expiry), and 429 once it passes "
    "WRITES_PER_WINDOW? A dependency on the three routes does it."
)
RETRY_AFTER = (
    "Is Retry-After the whole seconds left until the window ends, rounded up? "
    "math.ceil(window_end - now), where window_end is the next multiple of WINDOW after now: "
    "never 0, never a fraction."
)
ALIGNED = (
    "Do the windows start at whole multiples of WINDOW seconds (window = int(now // WINDOW)), "
    "as clock minutes do, whenever the first write came? And is `now` the clock the limiter "
    "reads, so that the checks can move it?"
)
PER_USER_LIMIT = (
    "Is the write counter's key made of the user (and the window)? One counter for everybody "
    "lets one busy user lock out all the others."
)
READS_FREE = "Are the reads left out of the limit? Only POST, PATCH and DELETE count."
EVERY_WRITE = (
    "Does every write with a valid token count, whatever it answers? The limit is a "
    "dependency of the route, checked before the body and the id are validated and before "
    "the task is looked up: a 404 or a 422 counts too."
)
WHICH_FIRST = (
    "Over the limit, a write answers 429 before anything about its body or its task is "
    "checked: is the limit a dependency of the route (dependencies=[...]) that needs only "
    "the user?"
)
DOCUMENTED = (
    'Does the OpenAPI document the 429 of each write? responses={429: {"model": Problem, '
    "...}} on POST, PATCH and DELETE, as the 404 is."
)
NOT_CAUGHT = (
    "Is every Redis command wrapped so that a redis.exceptions.RedisError (refused, timed "
    "out, ...) counts as a miss, or is skipped, and the answer comes from the database?"
)
FAIL_OPEN = (
    "With Redis down, writes are not limited: does the limiter let the write through when "
    "its counter cannot be read (a RedisError), rather than answering an error?"
)
STARTS = (
    "Does the lifespan talk to Redis (a ping, say) and fail when it cannot? The client "
    "connects at its first command: starting needs no Redis at all."
)
EXPIRES = (
    "Does every key the app writes expire? The task entries with ex=TASK_TTL, the write "
    "counters with an expiry of (at least) one window: a key without one stays forever."
)


class Clock:
    """The app's `now`: seconds since the epoch, moved by the checks; `step` per reading."""

    def __init__(self, t: float = T0, step: float = 0.0) -> None:
        self.t = t
        self.step = step

    async def __call__(self) -> float:
        value = self.t
        self.t += self.step
        return value


@pytest.fixture(autouse=True)
def services(database_url: str, redis_url: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each check gets an empty database and an empty Redis, and the app a JWT secret."""
    monkeypatch.setenv("JWT_SECRET", JWT_SECRET)


@pytest.fixture(autouse=True)
def cheap_hashes(exercise: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its cheapest in place of the app's `password_hash` and `DUMMY_HASH`."""
    cheap = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    monkeypatch.setattr(exercise, "password_hash", cheap)
    monkeypatch.setattr(exercise, "DUMMY_HASH", cheap.hash("not anybody's password"))


@pytest.fixture(autouse=True)
def clock(exercise: ModuleType) -> Iterator[Clock]:
    """The app's `now` dependency answers this clock, set to T0, during each check."""
    clock = Clock()
    overrides = exercise.app.dependency_overrides
    overrides[exercise.now] = clock
    try:
        yield clock
    finally:
        overrides.pop(exercise.now, None)


@asynccontextmanager
async def tracker(
    exercise: ModuleType, *, raise_app_exceptions: bool = True
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any]]]:
    """The app running on a fresh database and an empty Redis, and its lifespan state."""
    async with running(exercise.app, raise_app_exceptions=raise_app_exceptions) as (
        client,
        state,
    ):
        yield client, state


async def add_user(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    """A user signed up and logged in: headers with their token."""
    signed = await client.post("/users", json={"username": username, "password": PASSWORD})
    expect_status(signed, 201, help=NO_ROUTE.format(route="POST /users"))
    login = await client.post("/token", data={"username": username, "password": PASSWORD})
    expect_status(login, 200, help=NO_ROUTE.format(route="POST /token"))
    return {"Authorization": f"Bearer {response_json(login).get('access_token')}"}


def bearer(username: str, *, issued: float = T0, lasts: int = 15 * 60) -> dict[str, str]:
    """Authorization headers with a token for `username`, signed as the app signs its own."""
    claims = {"sub": username, "iat": int(issued), "exp": int(issued) + lasts}
    return {"Authorization": f"Bearer {jwt.encode(claims, JWT_SECRET, algorithm='HS256')}"}


async def create(
    client: httpx.AsyncClient, auth: dict[str, str], title: str = "Write the report"
) -> dict[str, Any]:
    response = await client.post("/tasks", json={"title": title}, headers=auth)
    expect_status(response, 201, help=NO_ROUTE.format(route="POST /tasks"))
    return response_json(response)


def key(username: str, task_id: int) -> str:
    return KEY.format(username=username, task_id=task_id)


def without_created_at(task: dict[str, Any]) -> dict[str, Any]:
    return {**task, "created_at": None}


def expect_no_sql(statements: Statements, *, help: str | None = None) -> None:
    expect(
        statements.count == 0,
        f"expected no SQL for a hit, not {statements.count} statement(s):\n" + statements.listing(),
        help=help,
    )


async def redis_ms(redis: Any) -> int:
    """The Redis server's own clock, in milliseconds."""
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


@contextmanager
def outage(redis: Any) -> Iterator[None]:
    """Every new command of `redis` fails to connect while the block runs, then works again."""
    cls = redis.connection_pool.connection_class
    own = cls.__dict__.get("connect")

    async def refuse(self: Any, *args: Any, **kwargs: Any) -> None:
        raise RedisConnectionError("Error 111 connecting to Redis. Connection refused.")

    cls.connect = refuse
    try:
        yield
    finally:
        if own is None:
            del cls.connect
        else:
            cls.connect = own


WRITES = {
    "POST": lambda task_id: ("POST", "/tasks", {"title": "one more"}),
    "PATCH": lambda task_id: ("PATCH", f"/tasks/{task_id}", {"done": True}),
    "DELETE-missing": lambda task_id: ("DELETE", f"/tasks/{task_id + 1000}", None),
    "PATCH-missing": lambda task_id: ("PATCH", f"/tasks/{task_id + 1000}", {"done": True}),
    "POST-invalid": lambda task_id: ("POST", "/tasks", {"title": "   "}),
}
ANSWERS = {
    "POST": 201,
    "PATCH": 200,
    "DELETE-missing": 404,
    "PATCH-missing": 404,
    "POST-invalid": 422,
}
LIMITED = [("POST", "/tasks"), ("PATCH", "/tasks/{task_id}"), ("DELETE", "/tasks/{task_id}")]


async def write(
    client: httpx.AsyncClient, auth: dict[str, str], kind: str, task_id: int
) -> httpx.Response:
    method, path, body = WRITES[kind](task_id)
    return await client.request(method, path, json=body, headers=auth)


async def use_up(
    client: httpx.AsyncClient, auth: dict[str, str], task_id: int, count: int = LIMIT
) -> None:
    """`count` writes that each answer as they should (PATCHes of the task)."""
    for n in range(count):
        response = await client.patch(f"/tasks/{task_id}", json={"notes": f"{n}"}, headers=auth)
        expect_status(response, 200, help=NOT_LIMITED if response.status_code == 429 else None)


# -- steps 1 and 2: the service so far ------------------------------------------------------


@pytest.mark.stub_may_pass("steps 1 and 2 are given")
async def test_sign_up_log_in_and_list(exercise):
    """a new user signs up (201), logs in with the password form and lists no tasks"""
    async with tracker(exercise) as (client, _):
        signed = await client.post("/users", json={"username": "ada", "password": PASSWORD})
        login = await client.post("/token", data={"username": "ada", "password": PASSWORD})
        expect_status(signed, 201, help=NO_ROUTE.format(route="POST /users"))
        expect_status(login, 200, help=NO_ROUTE.format(route="POST /token"))
        token = response_json(login)
        expect_equal("token_type", "bearer", token.get("token_type"))
        auth = {"Authorization": f"Bearer {token.get('access_token')}"}
        response = await client.get("/tasks", headers=auth)
    expect_status(response, 200, help=NO_ROUTE.format(route="GET /tasks"))
    expect_json(response, {"items": [], "next": None})


@pytest.mark.stub_may_pass("steps 1 and 2 are given")
@pytest.mark.requires("test_sign_up_log_in_and_list")
async def test_tasks_need_a_valid_token(exercise, clock):
    """every /tasks route answers 401 with WWW-Authenticate without a token, or an expired one"""
    async with tracker(exercise) as (client, _):
        auth = await add_user(client, "ada")
        task = await create(client, auth)
        clock.t = T0 + 15 * 60
        expired = [
            await client.get(f"/tasks/{task['id']}", headers=auth),
            await client.patch(f"/tasks/{task['id']}", json={}, headers=auth),
            await client.delete(f"/tasks/{task['id']}", headers=auth),
            await client.post("/tasks", json={"title": "late"}, headers=auth),
        ]
        missing = [
            await client.get(f"/tasks/{task['id']}"),
            await client.patch(f"/tasks/{task['id']}", json={}),
            await client.get("/tasks"),
        ]
    for response in expired + missing:
        expect_status(response, 401)
        expect(
            response.headers.get("www-authenticate", "").startswith("Bearer"),
            "expected a WWW-Authenticate: Bearer header with the 401",
        )


@pytest.mark.stub_may_pass("steps 1 and 2 are given")
@pytest.mark.requires("test_sign_up_log_in_and_list")
async def test_create_read_patch_delete(exercise):
    """a task is created (201, Location), read, patched (only what is sent) and deleted (204)"""
    async with tracker(exercise) as (client, _):
        auth = await add_user(client, "ada")
        created = await client.post(
            "/tasks", json={"title": "  Plan  ", "notes": "n", "due": "2030-01-31"}, headers=auth
        )
        expect_status(created, 201, help=NO_ROUTE.format(route="POST /tasks"))
        task = response_json(created)
        expect_keys("the task's fields", FIELDS, task)
        expect_header(created, "location", f"/tasks/{task['id']}")
        read = await client.get(f"/tasks/{task['id']}", headers=auth)
        patched = await client.patch(f"/tasks/{task['id']}", json={"done": True}, headers=auth)
        deleted = await client.delete(f"/tasks/{task['id']}", headers=auth)
        gone = await client.get(f"/tasks/{task['id']}", headers=auth)
    expect_status(read, 200, help=NO_ROUTE.format(route="GET /tasks/{task_id}"))
    expect_equal("task read", without_created_at(task), without_created_at(response_json(read)))
    expect_status(patched, 200, help=NO_ROUTE.format(route="PATCH /tasks/{task_id}"))
    expect_equal(
        "task patched",
        {**without_created_at(task), "done": True},
        without_created_at(response_json(patched)),
    )
    expect_status(deleted, 204, help=NO_ROUTE.format(route="DELETE /tasks/{task_id}"))
    expect_status(gone, 404)
    expect_json(gone, NOT_FOUND)


@pytest.mark.stub_may_pass("steps 1 and 2 are given")
@pytest.mark.requires("test_create_read_patch_delete")
async def test_another_users_task_is_404(exercise):
    """another user's task answers 404 on read, patch and delete, and is not in their list"""
    async with tracker(exercise) as (client, _):
        ada = await add_user(client, "ada")
        bob = await add_user(client, "bob")
        task = await create(client, ada)
        answers = [
            await client.get(f"/tasks/{task['id']}", headers=bob),
            await client.patch(f"/tasks/{task['id']}", json={"done": True}, headers=bob),
            await client.delete(f"/tasks/{task['id']}", headers=bob),
        ]
        listing = await client.get("/tasks", headers=bob)
        still = await client.get(f"/tasks/{task['id']}", headers=ada)
    for response in answers:
        expect_status(response, 404)
        expect_json(response, NOT_FOUND)
    expect_json(listing, {"items": [], "next": None})
    expect_status(still, 200)
    expect_equal("done", False, response_json(still)["done"])


# -- the cache: a hit sends no SQL ----------------------------------------------------------


@pytest.mark.requires("test_create_read_patch_delete")
@pytest.mark.parametrize("username", ["ada", "grace_h"])
async def test_miss_stores_the_task_for_task_ttl(exercise, username):
    """a miss stores the task's JSON at tracker:v1:task:{username}:{id} for TASK_TTL (300) s"""
    async with tracker(exercise) as (client, state):
        auth = await add_user(client, username)
        await create(client, auth, "first")
        task = await create(client, auth, "second")
        since = await redis_ms(state["redis"])
        response = await client.get(f"/tasks/{task['id']}", headers=auth)
        expect_status(response, 200)
        where = key(username, task["id"])
        stored = await state["redis"].get(where)
        left = await state["redis"].pttl(where)
        passed = await redis_ms(state["redis"]) - since
    expect(stored is not None, f"expected the task stored under {where}", help=NOT_STORED)
    expect_equal(f"JSON at {where}", response_json(response), json.loads(stored), help=NOT_STORED)
    expect(left != -1, f"expected {where} to expire after 300 s, not never", help=NO_TTL)
    expect(
        left <= TASK_TTL_MS <= left + passed + 1,
        f"expected {where} to expire 300 s after it was stored, not after about "
        f"{round((left + passed / 2) / 1000)} s",
        help=NO_TTL,
    )


@pytest.mark.requires("test_miss_stores_the_task_for_task_ttl")
async def test_second_read_sends_no_sql(exercise):
    """a second read of a task answers the same body without sending any SQL statement"""
    async with tracker(exercise) as (client, _):
        auth = await add_user(client, "ada")
        task = await create(client, auth)
        first = await client.get(f"/tasks/{task['id']}", headers=auth)
        with count_statements() as statements:
            second = await client.get(f"/tasks/{task['id']}", headers=auth)
    expect_status(first, 200)
    expect_status(second, 200)
    expect_json(second, response_json(first))
    expect_no_sql(statements, help=NO_LOOKUP)


@pytest.mark.requires("test_miss_stores_the_task_for_task_ttl")
async def test_hit_answers_the_entry(exercise):
    """an entry at the user's key is answered as it is, even when the task has changed since"""
    async with tracker(exercise) as (client, state):
        auth = await add_user(client, "ada")
        task = await create(client, auth)
        cached = {**task, "title": "as the cache has it"}
        await state["redis"].set(key("ada", task["id"]), json.dumps(cached), ex=100)
        response = await client.get(f"/tasks/{task['id']}", headers=auth)
    expect_status(response, 200, help=NO_LOOKUP)
    expect_equal("title", cached["title"], response_json(response)["title"], help=NO_LOOKUP)


@pytest.mark.requires("test_miss_stores_the_task_for_task_ttl")
async def test_cache_is_per_user(exercise):
    """a task cached for its owner is still 404 for another user, and their read caches nothing"""
    async with tracker(exercise) as (client, state):
        ada = await add_user(client, "ada")
        bob = await add_user(client, "bob")
        task = await create(client, ada)
        expect_status(await client.get(f"/tasks/{task['id']}", headers=ada), 200)
        answers = [await client.get(f"/tasks/{task['id']}", headers=bob) for _ in range(2)]
        bobs = await state["redis"].get(key("bob", task["id"]))
    for response in answers:
        expect_status(response, 404, help=PER_USER)
        expect_json(response, NOT_FOUND, help=PER_USER)
    expect_equal(f"entry at {key('bob', task['id'])}", None, bobs, help=NEGATIVE)


@pytest.mark.requires("test_miss_stores_the_task_for_task_ttl")
async def test_missing_task_is_not_cached(exercise):
    """a 404 stores nothing: a task created after a read of its id is found"""
    async with tracker(exercise) as (client, state):
        auth = await add_user(client, "ada")
        missing = await client.get("/tasks/1", headers=auth)
        keys = await state["redis"].keys("tracker:v1:task:*")
        task = await create(client, auth)
        found = await client.get(f"/tasks/{task['id']}", headers=auth)
    expect_status(missing, 404)
    expect_json(missing, NOT_FOUND)
    expect_equal("task entries in Redis after a 404", [], keys, help=NEGATIVE)
    expect_equal("id of the first task", 1, task["id"])
    expect_status(found, 200, help=NEGATIVE)


@pytest.mark.requires("test_miss_stores_the_task_for_task_ttl")
async def test_patch_invalidates(exercise):
    """PATCH deletes the task's entry: the next read shows the change"""
    async with tracker(exercise) as (client, state):
        auth = await add_user(client, "ada")
        task = await create(client, auth)
        expect_status(await client.get(f"/tasks/{task['id']}", headers=auth), 200)
        patched = await client.patch(f"/tasks/{task['id']}", json={"done": True}, headers=auth)
        entry = await state["redis"].get(key("ada", task["id"]))
        read = await client.get(f"/tasks/{task['id']}", headers=auth)
    expect_status(patched, 200)
    expect_equal(f"entry at {key('ada', task['id'])} after the patch", None, entry, help=STALE)
    expect_status(read, 200)
    expect_equal("done, read after the patch", True, response_json(read)["done"], help=STALE)


@pytest.mark.requires("test_miss_stores_the_task_for_task_ttl")
async def test_delete_invalidates(exercise):
    """DELETE deletes the task's entry: the next read answers 404"""
    async with tracker(exercise) as (client, state):
        auth = await add_user(client, "ada")
        task = await create(client, auth)
        expect_status(await client.get(f"/tasks/{task['id']}", headers=auth), 200)
        deleted = await client.delete(f"/tasks/{task['id']}", headers=auth)
        entry = await state["redis"].get(key("ada", task["id"]))
        read = await client.get(f"/tasks/{task['id']}", headers=auth)
    expect_status(deleted, 204)
    expect_equal(f"entry at {key('ada', task['id'])} after the delete", None, entry, help=STALE)
    expect_status(read, 404, help=STALE)
    expect_json(read, NOT_FOUND, help=STALE)


@pytest.mark.requires("test_patch_invalidates", "test_delete_invalidates")
@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
async def test_read_while_the_write_commits(exercise, method):
    """a read that arrives while a write commits does not put the old task back in the cache"""
    async with tracker(exercise) as (client, _):
        auth = await add_user(client, "ada")
        task = await create(client, auth)
        path = f"/tasks/{task['id']}"
        expect_status(await client.get(path, headers=auth), 200)
        during: list[httpx.Response] = []

        def read_while_committing(connection: Any) -> None:
            if not during:
                during.append(await_(client.get(path, headers=auth)))

        event.listen(Engine, "commit", read_while_committing)
        try:
            if method == "PATCH":
                response = await client.patch(path, json={"done": True}, headers=auth)
            else:
                response = await client.delete(path, headers=auth)
        finally:
            event.remove(Engine, "commit", read_while_committing)
        read = await client.get(path, headers=auth)
    expect_status(response, 200 if method == "PATCH" else 204)
    expect(during, f"expected the {method} to commit its change")
    if method == "PATCH":
        expect_status(read, 200)
        expect_equal(
            "done, read after the patch", True, response_json(read)["done"], help=TOO_EARLY
        )
    else:
        expect_status(read, 404, help=TOO_EARLY)


# -- the limit: N writes per user and window ------------------------------------------------


@pytest.mark.requires("test_create_read_patch_delete")
@pytest.mark.parametrize(
    ("later", "retry_after"),
    [(0.0, "60"), (0.5, "60"), (30.0, "30"), (59.5, "1"), (59.999, "1")],
    ids=["same-instant", "half-a-second", "half-way", "half-a-second-left", "a-ms-left"],
)
async def test_write_over_the_limit_is_429(exercise, clock, later, retry_after):
    """the 11th write in a window answers 429, Retry-After the whole seconds left, at least 1"""
    async with tracker(exercise) as (client, _):
        auth = await add_user(client, "ada")
        task = await create(client, auth)
        await use_up(client, auth, task["id"], LIMIT - 1)
        clock.t = T0 + later
        response = await client.post("/tasks", json={"title": "one too many"}, headers=auth)
    expect_status(response, 429, help=NOT_LIMITED)
    expect_json(response, TOO_MANY)
    expect_header(response, "retry-after", retry_after, help=RETRY_AFTER)


@pytest.mark.requires("test_write_over_the_limit_is_429")
@pytest.mark.parametrize(("start", "end"), [(0.0, 60.0), (30.0, 60.0), (59.0, 60.0)])
async def test_window_ends_on_a_whole_minute(exercise, clock, start, end):
    """windows are whole minutes: just before the end a write is 429, at the end it is 201"""
    async with tracker(exercise) as (client, _):
        auth = await add_user(client, "ada")
        clock.t = T0 + start
        task = await create(client, auth)
        await use_up(client, auth, task["id"], LIMIT - 1)
        clock.t = T0 + end - 0.001
        before = await client.post("/tasks", json={"title": "too soon"}, headers=auth)
        clock.t = T0 + end
        after = [
            await client.post("/tasks", json={"title": f"new window {n}"}, headers=auth)
            for n in range(LIMIT)
        ]
        over = await client.post("/tasks", json={"title": "too many again"}, headers=auth)
    expect_status(before, 429, help=ALIGNED)
    expect_header(before, "retry-after", "1", help=RETRY_AFTER)
    for response in after:
        expect_status(response, 201, help=ALIGNED)
    expect_status(over, 429, help=ALIGNED)
    expect_header(over, "retry-after", "60", help=RETRY_AFTER)


@pytest.mark.requires("test_write_over_the_limit_is_429")
@pytest.mark.parametrize("used", list(WRITES))
@pytest.mark.parametrize("then", ["POST", "PATCH"])
async def test_every_write_counts(exercise, used, then):
    """POST, PATCH and DELETE all count, whatever they answer: a 404 and a 422 count too"""
    async with tracker(exercise) as (client, _):
        auth = await add_user(client, "ada")
        task = await create(client, auth)
        answers = [await write(client, auth, used, task["id"]) for _ in range(LIMIT - 1)]
        over = await write(client, auth, then, task["id"])
    for response in answers:
        expect_status(response, ANSWERS[used])
    expect_status(over, 429, help=EVERY_WRITE)
    expect_json(over, TOO_MANY)


@pytest.mark.requires("test_write_over_the_limit_is_429")
@pytest.mark.parametrize("kind", ["DELETE-missing", "PATCH-missing", "POST-invalid"])
async def test_429_comes_before_404_and_422(exercise, kind):
    """over the limit, a write answers 429 even when it names no task of the user or is invalid"""
    async with tracker(exercise) as (client, _):
        auth = await add_user(client, "ada")
        task = await create(client, auth)
        await use_up(client, auth, task["id"], LIMIT - 1)
        response = await write(client, auth, kind, task["id"])
    expect_status(response, 429, help=WHICH_FIRST)
    expect_json(response, TOO_MANY)


@pytest.mark.requires("test_write_over_the_limit_is_429")
async def test_401_comes_before_429(exercise):
    """over the limit, a write without a valid token still answers 401"""
    async with tracker(exercise) as (client, _):
        auth = await add_user(client, "ada")
        task = await create(client, auth)
        await use_up(client, auth, task["id"], LIMIT - 1)
        over = await client.post("/tasks", json={"title": "over"}, headers=auth)
        anonymous = await client.post("/tasks", json={"title": "who?"})
        forged = await client.post(
            "/tasks", json={"title": "who?"}, headers={"Authorization": "Bearer not.a.token"}
        )
    expect_status(over, 429, help=NOT_LIMITED)
    expect_status(anonymous, 401)
    expect_status(forged, 401)


@pytest.mark.requires("test_write_over_the_limit_is_429")
async def test_other_users_are_not_limited(exercise):
    """one user over the limit leaves another user's writes alone: each has their own count"""
    async with tracker(exercise) as (client, _):
        ada = await add_user(client, "ada")
        bob = await add_user(client, "bob")
        task = await create(client, ada)
        await use_up(client, ada, task["id"], LIMIT - 1)
        over = await client.post("/tasks", json={"title": "over"}, headers=ada)
        bobs = [
            await client.post("/tasks", json={"title": f"bob {n}"}, headers=bob)
            for n in range(LIMIT)
        ]
        bob_over = await client.post("/tasks", json={"title": "bob over"}, headers=bob)
    expect_status(over, 429, help=NOT_LIMITED)
    for response in bobs:
        expect_status(response, 201, help=PER_USER_LIMIT)
    expect_status(bob_over, 429, help=NOT_LIMITED)


@pytest.mark.requires("test_write_over_the_limit_is_429")
async def test_reads_are_not_limited(exercise):
    """reads neither count nor get a 429: many reads, then N writes, then reads still answer"""
    async with tracker(exercise) as (client, _):
        auth = await add_user(client, "ada")
        task = await create(client, auth)
        path = f"/tasks/{task['id']}"
        before = [await client.get(path, headers=auth) for _ in range(LIMIT)]
        before += [await client.get("/tasks", headers=auth) for _ in range(LIMIT)]
        await use_up(client, auth, task["id"], LIMIT - 1)
        over = await client.post("/tasks", json={"title": "over"}, headers=auth)
        after = [await client.get(path, headers=auth), await client.get("/tasks", headers=auth)]
    for response in before + after:
        expect_status(response, 200, help=READS_FREE)
    expect_status(over, 429, help=NOT_LIMITED)


@pytest.mark.requires("test_write_over_the_limit_is_429")
async def test_429_is_documented(exercise):
    """the OpenAPI documents the 429 of POST /tasks, PATCH and DELETE /tasks/{task_id}"""
    paths = exercise.app.openapi()["paths"]
    for method, path in LIMITED:
        expect(
            "429" in paths[path][method.lower()]["responses"],
            f"expected a documented 429 for {method} {path}",
            help=DOCUMENTED,
        )
    for path in ("/tasks", "/tasks/{task_id}"):
        expect(
            "429" not in paths[path]["get"]["responses"],
            f"expected no 429 for GET {path}: reads are not limited",
            help=READS_FREE,
        )


@pytest.mark.requires("test_write_over_the_limit_is_429", "test_miss_stores_the_task_for_task_ttl")
async def test_every_key_expires(exercise, clock):
    """every key the app writes to Redis has an expiry: task entries and write counters"""
    async with tracker(exercise) as (client, state):
        for name in ("ada", "bob"):
            auth = await add_user(client, name)
            task = await create(client, auth)
            expect_status(await client.get(f"/tasks/{task['id']}", headers=auth), 200)
            clock.t += WINDOW
            await use_up(client, auth, task["id"], 2)
            expect_status(await client.get(f"/tasks/{task['id']}", headers=auth), 200)
        keys = await state["redis"].keys("*")
        forever = [name for name in keys if await state["redis"].ttl(name) == -1]
    expect(keys, "expected the app to write keys to Redis", help=NOT_STORED)
    expect_equal("keys without an expiry", [], sorted(forever), help=EXPIRES)


# -- Redis down: the database answers, never a 500 ------------------------------------------


@pytest.mark.stub_may_pass("the stub does not use Redis yet")
@pytest.mark.requires("test_create_read_patch_delete")
async def test_reads_when_redis_refuses(exercise, monkeypatch):
    """with Redis refusing, the app starts and every read is answered from the database"""
    monkeypatch.setenv("REDIS_URL", UNREACHABLE_REDIS_URL)
    try:
        async with tracker(exercise, raise_app_exceptions=False) as (client, _):
            auth = await add_user(client, "ada")
            task = await create(client, auth)
            with count_statements() as statements:
                reads = [await client.get(f"/tasks/{task['id']}", headers=auth) for _ in range(3)]
            missing = await client.get("/tasks/99", headers=auth)
    except Failure:
        raise
    except Exception as error:
        raise Failure(
            f"expected the app to start without Redis, not {error!r}", help=STARTS
        ) from None
    for response in reads:
        expect_status(response, 200, help=NOT_CAUGHT)
        expect_equal("task", without_created_at(task), without_created_at(response_json(response)))
    expect(statements.count >= 3, "expected every read to go to the database", help=NOT_CAUGHT)
    expect_status(missing, 404, help=NOT_CAUGHT)


@pytest.mark.stub_may_pass("the stub does not limit writes yet")
@pytest.mark.requires("test_create_read_patch_delete")
async def test_writes_when_redis_refuses(exercise, monkeypatch):
    """with Redis refusing, writes answer as they would, and are not limited"""
    monkeypatch.setenv("REDIS_URL", UNREACHABLE_REDIS_URL)
    async with tracker(exercise, raise_app_exceptions=False) as (client, _):
        auth = await add_user(client, "ada")
        tasks = [await create(client, auth, f"task {n}") for n in range(LIMIT)]
        patched = await client.patch(f"/tasks/{tasks[0]['id']}", json={"done": True}, headers=auth)
        deleted = await client.delete(f"/tasks/{tasks[1]['id']}", headers=auth)
        read = await client.get(f"/tasks/{tasks[0]['id']}", headers=auth)
    expect_status(patched, 200, help=FAIL_OPEN)
    expect_status(deleted, 204, help=FAIL_OPEN)
    expect_status(read, 200, help=NOT_CAUGHT)
    expect_equal("done", True, response_json(read)["done"])


@pytest.mark.requires("test_second_read_sends_no_sql", "test_write_over_the_limit_is_429")
async def test_outage_and_back(exercise):
    """during an outage reads and writes go to the database; after it, reads are cached again"""
    async with tracker(exercise, raise_app_exceptions=False) as (client, state):
        auth = await add_user(client, "ada")
        first = await create(client, auth, "first")
        second = await create(client, auth, "second")
        expect_status(await client.get(f"/tasks/{first['id']}", headers=auth), 200)
        with outage(state["redis"]), count_statements() as during:
            reads = [await client.get(f"/tasks/{second['id']}", headers=auth) for _ in range(2)]
            writes = [
                await client.patch(f"/tasks/{second['id']}", json={"notes": f"{n}"}, headers=auth)
                for n in range(LIMIT + 1)
            ]
            created = await client.post("/tasks", json={"title": "third"}, headers=auth)
        back = await client.get(f"/tasks/{second['id']}", headers=auth)
        with count_statements() as after:
            hit = await client.get(f"/tasks/{second['id']}", headers=auth)
    for response in reads:
        expect_status(response, 200, help=NOT_CAUGHT)
    expect(during.count >= 2, "expected the reads during the outage to go to the database")
    for response in writes:
        expect_status(response, 200, help=FAIL_OPEN)
    expect_status(created, 201, help=FAIL_OPEN)
    for response in (back, hit):
        expect_status(response, 200)
        expect_equal("notes", f"{LIMIT}", response_json(response)["notes"])
    expect_no_sql(after, help=NO_LOOKUP)


# -- the fuzzer ------------------------------------------------------------------------------


@pytest.mark.requires(
    "test_another_users_task_is_404", "test_patch_invalidates", "test_write_over_the_limit_is_429"
)
async def test_fuzzing_finds_no_error(exercise, clock):
    """generated requests with a valid token get no 5xx, only answers the OpenAPI documents"""
    async with running(exercise.app, raise_app_exceptions=False) as (client, _):
        auth = await add_user(client, "ada")
        for n in range(3):
            await create(client, auth, f"task {n}")
        # a token for the whole run, and a clock a window further at each request: the
        # limit is checked above, here every write reaches its route
        auth = bearer("ada", lasts=10**6)
        clock.step = WINDOW
        await fuzzing.fuzz(
            client,
            exercise.app.openapi(),
            headers=auth,
            max_examples=FUZZ_EXAMPLES,
            skip=["/users", "/token"],
        )
