"""Hidden suite for 19_capstone/02_users_and_tokens: the task tracker with users and tokens.

Every check starts the app on a fresh, empty database (the `database_url` fixture) with
`JWT_SECRET` set, and goes through HTTP only. The app's `password_hash` and `DUMMY_HASH` are
replaced with cheap Argon2 parameters that count each hash made and verified, so a check
hashes in microseconds and can tell how many verifications a login cost; the `now`
dependency is overridden with a clock the check sets (no sleeps, no wall clock). Tokens are
read back with PyJWT and the suite's secret, and forged with it.

The checks form a chain: sign up, then log in, then the tasks of step 1 behind the token
(its essentials, checked again), then the new clauses: bad tokens, ownership, and a fuzzing
run (`fuzzing.py` beside this file) that sends every generated request with a valid token.
"""

import base64
import importlib.util
import json
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import jwt
import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from workbook.services import count_statements
from workbook.testing import (
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

SECRET = "the-suite's-own-secret: long enough for HS512 too, at sixty-four bytes or more"
OTHER_SECRET = "somebody else's secret: as long, and just as good, but not the app's own"
T0 = 2_000_000_000  # in the future of the wall clock: time.time() cannot pass for it
PAST = 1_000_000_000  # in its past: a token judged by the wall clock would be expired
TTL = 15 * 60
ALICE = ("alice", "wonderland-rabbit")
BOB = ("bob", "can-we-fix-it-yes")
FIELDS = {"id", "title", "notes", "due", "done", "created_at"}
NOT_FOUND = {"detail": "Task not found"}
REFUSED = {"detail": "Incorrect username or password"}
TAKEN = {"detail": "Username already taken"}
MAX_ID = 2**31 - 1

NO_ROUTE = (
    "Is there a route for {route}? Each route is one decorated function on `app`, e.g. "
    '@app.post("/tasks", status_code=201).'
)
SIGN_UP = (
    "Does POST /users validate {username, password} with a model (username 3 to 32 of "
    "[A-Za-z0-9_], password at least 12), store the user with password_hash.hash(...) and "
    'answer 201 {"username": ...}, in lower case?'
)
LOGIN = (
    "Does POST /token read OAuth2PasswordRequestForm, look the user up by the lowercased "
    'name, check the password with password_hash.verify and answer {"access_token": ..., '
    '"token_type": "bearer"}?'
)
REFUSAL = (
    "A failed login raises HTTPException(401, 'Incorrect username or password') with "
    "headers={'WWW-Authenticate': 'Bearer'}: the same answer for an unknown user and a "
    "wrong password, so the answer does not tell who has an account."
)
ONE_VERIFY = (
    "Does every login attempt verify exactly one hash? For an unknown user, verify the "
    "password against DUMMY_HASH, so that it costs what a wrong password costs."
)
CLAIMS = (
    "Is the token jwt.encode({'sub': username, 'iat': now, 'exp': now + 900}, JWT_SECRET, "
    "algorithm='HS256'), with the time from the `now` dependency, in whole seconds?"
)
CLOCK = (
    "Does the app judge expiry by the `now` dependency? PyJWT checks exp and iat against "
    "the wall clock unless told not to (options verify_exp and verify_iat False): compare "
    "now with the exp claim yourself, expired from exp on."
)
BEARER = (
    "Does every /tasks route depend on the current user, read through an "
    "OAuth2PasswordBearer(tokenUrl='token')? It answers 401 with WWW-Authenticate: Bearer "
    "when no token is sent, before anything else about the request is checked."
)
BAD_TOKEN = (
    "Does the current-user dependency refuse every token it cannot trust: decode with "
    "jwt.decode(token, secret, algorithms=['HS256'], options={'require': ['sub', 'iat', "
    "'exp'], ...}), catch jwt.PyJWTError, refuse an expired one and one whose sub names no "
    "user, and raise HTTPException(401, headers={'WWW-Authenticate': 'Bearer ...'})?"
)
OWNED = (
    "Does the lookup of a task check its owner? Another user's task answers 404 "
    '{"detail": "Task not found"}, exactly as a task that does not exist: a 403 would '
    "tell that the id exists."
)
OWN_LIST = (
    "Does the list query keep only the current user's tasks (WHERE owner = the user), "
    "before the limit, so that pages and next are counted within them?"
)
PLAIN = (
    "Is the password stored as password_hash.hash(password)? Only the Argon2 hash may "
    "reach the database, never the password itself."
)
CASE = (
    "Is the username lowercased before it is stored and looked up? Alice, ALICE and alice "
    "are one user: AfterValidator(str.lower) on the model's field does it."
)
REFUSED_OWN = (
    "The token POST /token just gave was refused. Does the current-user dependency decode "
    "it with the same secret and HS256, and judge exp by the `now` dependency? The checks' "
    "clock is not the wall clock: turn PyJWT's own exp and iat checks off (options "
    "verify_exp and verify_iat False) and compare now with exp yourself."
)
NO_ROUTE_TASKS = NO_ROUTE.format(route="GET /tasks")
NOT_PARTIAL = (
    "Does the update apply only the fields the client sent? "
    "body.model_dump(exclude_unset=True) leaves out the ones it did not send."
)
NOT_STRIPPED = (
    "Is the title stripped before its length is checked? "
    "StringConstraints(strip_whitespace=True, min_length=1, max_length=200) does both, in order."
)
NOT_CLAMPED = (
    "Is limit clamped on both sides? min(max(limit, 1), 100): 0 or a negative number asks "
    "for one task, more than 100 for 100."
)
NEXT = (
    "Is next the id of the page's last task only when more tasks follow? Ask the database for "
    "limit + 1 rows: the extra one says whether there is a next page, and is not shown."
)


# -- the suite's clock, secret and cheap, counting hashes ------------------------------------


class CountingHasher:
    """Argon2 with cheap parameters that records every hash it makes and verifies."""

    def __init__(self, counts: "Hashes") -> None:
        self.hasher = Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1)
        self.counts = counts

    def identify(self, hash: str | bytes) -> bool:
        return self.hasher.identify(hash)

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.counts.made += 1
        return self.hasher.hash(password, salt=salt)

    def verify(self, password: str | bytes, hash: str | bytes) -> bool:
        self.counts.verified.append(hash if isinstance(hash, str) else hash.decode())
        return self.hasher.verify(password, hash)

    def check_needs_rehash(self, hash: str | bytes) -> bool:
        return self.hasher.check_needs_rehash(hash)


@dataclass
class Hashes:
    made: int = 0
    verified: list[str] = field(default_factory=list)
    dummy: str = ""


@dataclass
class Clock:
    now: float = T0


@pytest.fixture(autouse=True)
def services(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each check gets an empty database, named by DATABASE_URL, and the suite's JWT_SECRET."""
    monkeypatch.setenv("JWT_SECRET", SECRET)


@pytest.fixture(autouse=True)
def hashes(exercise: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Hashes:
    """Cheap Argon2 that counts, in place of the app's `password_hash` and `DUMMY_HASH`."""
    counts = Hashes()
    password_hash = PasswordHash((CountingHasher(counts),))
    counts.dummy = password_hash.hash("not anybody's password")
    counts.made = 0
    monkeypatch.setattr(exercise, "password_hash", password_hash)
    monkeypatch.setattr(exercise, "DUMMY_HASH", counts.dummy)
    return counts


@pytest.fixture(autouse=True)
def clock(exercise: ModuleType) -> Iterator[Clock]:
    """The app's clock, set by the check: `now` is overridden for the whole check."""
    clock = Clock()

    async def now() -> float:
        return clock.now

    exercise.app.dependency_overrides[exercise.now] = now
    yield clock
    exercise.app.dependency_overrides.pop(exercise.now, None)


# -- helpers ---------------------------------------------------------------------------------


@asynccontextmanager
async def tracker(exercise: ModuleType) -> AsyncIterator[httpx.AsyncClient]:
    """The app running on a fresh database, with no token."""
    async with running(exercise.app) as (client, _):
        yield client


async def sign_up(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/users", json={"username": username, "password": password})


async def log_in(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/token", data={"username": username, "password": password})


async def token_for(client: httpx.AsyncClient, who: tuple[str, str]) -> str:
    """Sign `who` up and log in: the check fails here when either does not work."""
    expect_status(await sign_up(client, *who), 201, help=SIGN_UP)
    response = await log_in(client, *who)
    expect_status(response, 200, help=LOGIN)
    body = response_json(response)
    expect(isinstance(body, dict), "expected the token answer to be a JSON object", help=LOGIN)
    token = body.get("access_token")
    expect(isinstance(token, str), "expected access_token to be a string", help=LOGIN)
    return token


async def bearer(client: httpx.AsyncClient, who: tuple[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {await token_for(client, who)}"}


@asynccontextmanager
async def as_alice(exercise: ModuleType) -> AsyncIterator[httpx.AsyncClient]:
    """The app running on a fresh database, its client sending alice's token."""
    async with tracker(exercise) as client:
        client.headers.update(await bearer(client, ALICE))
        yield client


async def create(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    """A task made through the API; the check fails here when creating does not work."""
    response = await client.post("/tasks", json=fields)
    expect_status(response, 201, help=NO_ROUTE.format(route="POST /tasks"))
    return response_json(response)


async def create_many(client: httpx.AsyncClient, count: int) -> list[dict[str, Any]]:
    return [await create(client, title=f"task {n}") for n in range(1, count + 1)]


def forge(claims: dict[str, Any], key: str | None = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def challenge_is_bearer(response: httpx.Response, *, help: str) -> None:
    challenge = response.headers.get("www-authenticate")
    expect(
        challenge is not None and challenge.split(" ")[0] == "Bearer",
        f"expected a WWW-Authenticate header naming the Bearer scheme, not {challenge!r}",
        help=help,
    )


def unauthorized(response: httpx.Response, *, help: str) -> None:
    expect_status(response, 401, help=help)
    challenge_is_bearer(response, help=help)


async def stored_values(database_url: str) -> list[Any]:
    """Every value of every row of every table of the app's database."""
    engine = create_async_engine(database_url)
    values: list[Any] = []
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
            for table in tables:
                rows = await connection.execute(text(f'SELECT * FROM "{table}"'))
                values.extend(value for row in rows for value in row)
    finally:
        await engine.dispose()
    return values


# -- the chain's root: users sign up ---------------------------------------------------------


async def test_sign_up_answers_201(exercise):
    """POST /users {username, password} answers 201 {"username": ...}"""
    async with tracker(exercise) as client:
        response = await sign_up(client, *ALICE)
    expect_status(response, 201, help=NO_ROUTE.format(route="POST /users"))
    expect_json(response, {"username": "alice"}, help=SIGN_UP)


@pytest.mark.requires("test_sign_up_answers_201")
@pytest.mark.parametrize(
    ("sent", "stored"),
    [("Alice_01", "alice_01"), ("abc", "abc"), ("Z" * 32, "z" * 32), ("___", "___")],
    ids=["mixed-case", "3-chars", "32-chars", "underscores"],
)
async def test_username_is_lowercased(exercise, sent, stored):
    """a username of 3 to 32 letters, digits or _ is accepted and answered in lower case"""
    async with tracker(exercise) as client:
        response = await sign_up(client, sent, "x" * 12)
    expect_status(response, 201, help=SIGN_UP)
    expect_json(response, {"username": stored}, help=CASE)


@pytest.mark.requires("test_sign_up_answers_201")
@pytest.mark.parametrize(
    "body",
    [
        {"username": "ab", "password": "x" * 12},
        {"username": "a" * 33, "password": "x" * 12},
        {"username": "al ice", "password": "x" * 12},
        {"username": "al-ice", "password": "x" * 12},
        {"username": "alïce", "password": "x" * 12},
        {"username": "alice", "password": "x" * 11},
        {"username": "alice"},
        {"password": "x" * 12},
        {"username": None, "password": "x" * 12},
    ],
    ids=[
        "2-chars",
        "33-chars",
        "space",
        "dash",
        "not-ascii",
        "11-char-password",
        "no-password",
        "no-username",
        "null-username",
    ],
)
async def test_invalid_sign_up_is_422(exercise, body, hashes):
    """a username not 3 to 32 of [A-Za-z0-9_], or a password under 12, answers 422"""
    async with tracker(exercise) as client:
        response = await client.post("/users", json=body)
        again = await sign_up(client, "alice", "x" * 12)
    expect_status(response, 422, help=SIGN_UP)
    expect_status(again, 201, help="Was the invalid user stored anyway?")


@pytest.mark.requires("test_username_is_lowercased")
@pytest.mark.parametrize("again", ["alice", "Alice", "ALICE"])
async def test_taken_username_is_409(exercise, again):
    """a username already taken, in any case, answers 409 {"detail": "Username already taken"}"""
    async with tracker(exercise) as client:
        await sign_up(client, "alice", "x" * 12)
        response = await sign_up(client, again, "y" * 12)
        first = await log_in(client, "alice", "x" * 12)
    expect_status(response, 409, help=CASE)
    expect_json(response, TAKEN)
    expect_status(first, 200, help="Did the refused sign-up change the first user's password?")


@pytest.mark.requires("test_sign_up_answers_201")
async def test_password_is_stored_as_an_argon2_hash(exercise, database_url, hashes):
    """the password is stored only as an Argon2 hash from password_hash, never as itself"""
    async with tracker(exercise) as client:
        await sign_up(client, *ALICE)
    values = await stored_values(database_url)
    plain = [value for value in values if isinstance(value, str) and ALICE[1] in value]
    expect(not plain, "expected the password nowhere in the database", help=PLAIN)
    argon2 = Argon2Hasher()
    verified = [
        value
        for value in values
        if isinstance(value, str) and value.startswith("$argon2") and argon2.verify(ALICE[1], value)
    ]
    expect(verified, "expected an Argon2 hash of the password in the database", help=PLAIN)
    expect_equal("hashes made with password_hash", 1, hashes.made, help=PLAIN)


# -- logging in ------------------------------------------------------------------------------


@pytest.mark.requires("test_sign_up_answers_201")
async def test_login_answers_a_bearer_token(exercise):
    """POST /token with the password form answers 200 {"access_token", "token_type": "bearer"}"""
    async with tracker(exercise) as client:
        await sign_up(client, *ALICE)
        response = await log_in(client, *ALICE)
    expect_status(response, 200, help=NO_ROUTE.format(route="POST /token"))
    body = response_json(response)
    expect_keys("the token answer", {"access_token", "token_type"}, body)
    expect_equal("token_type", "bearer", body["token_type"], help=LOGIN)


@pytest.mark.requires("test_login_answers_a_bearer_token")
async def test_token_claims(exercise, clock):
    """the token is HS256 with JWT_SECRET: sub the username, iat the clock, exp 15 minutes on"""
    clock.now = T0
    async with tracker(exercise) as client:
        token = await token_for(client, ("Alice", ALICE[1]))
    expect_equal("token algorithm", "HS256", jwt.get_unverified_header(token).get("alg"))
    try:
        claims = jwt.decode(
            token, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
        )
    except jwt.PyJWTError as error:
        raise AssertionError(f"expected a token signed with JWT_SECRET: {error}") from None
    expect_equal(
        "sub, iat and exp",
        {"sub": "alice", "iat": T0, "exp": T0 + TTL},
        {key: claims.get(key) for key in ("sub", "iat", "exp")},
        help=CLAIMS,
    )


@pytest.mark.requires("test_login_answers_a_bearer_token")
@pytest.mark.parametrize("name", ["ALICE", "Alice"])
async def test_login_ignores_case(exercise, name):
    """the username of a login is matched in any case"""
    async with tracker(exercise) as client:
        await sign_up(client, *ALICE)
        response = await log_in(client, name, ALICE[1])
    expect_status(response, 200, help=CASE)


@pytest.mark.requires("test_login_answers_a_bearer_token")
async def test_unknown_user_and_wrong_password_get_the_same_401(exercise):
    """a wrong password and an unknown user answer the same 401, header for header"""
    async with tracker(exercise) as client:
        await sign_up(client, *ALICE)
        wrong = await log_in(client, "alice", "not-the-password")
        unknown = await log_in(client, "nobody", ALICE[1])
        swapped = await log_in(client, "alice", BOB[1])
    for response in (wrong, unknown, swapped):
        expect_status(response, 401, help=REFUSAL)
        expect_json(response, REFUSED, help=REFUSAL)
        expect_header(response, "www-authenticate", "Bearer", help=REFUSAL)
    expect_equal(
        "headers of the unknown user's 401",
        dict(wrong.headers),
        dict(unknown.headers),
        help=REFUSAL,
    )


@pytest.mark.requires("test_unknown_user_and_wrong_password_get_the_same_401")
@pytest.mark.parametrize(
    ("who", "password"),
    [("alice", ALICE[1]), ("alice", "not-the-password"), ("nobody", ALICE[1])],
    ids=["right", "wrong-password", "unknown-user"],
)
async def test_every_login_verifies_one_hash(exercise, hashes, who, password):
    """every login verifies exactly one hash: an unknown user is checked against DUMMY_HASH"""
    async with tracker(exercise) as client:
        await sign_up(client, *ALICE)
        hashes.verified.clear()
        await log_in(client, who, password)
    expect_equal("hashes verified", 1, len(hashes.verified), help=ONE_VERIFY)
    if who == "nobody":
        expect_equal("hash verified", hashes.dummy, hashes.verified[0], help=ONE_VERIFY)


@pytest.mark.requires("test_login_answers_a_bearer_token")
@pytest.mark.parametrize(
    "form",
    [{"username": "alice"}, {"password": ALICE[1]}, {"username": "", "password": ALICE[1]}],
    ids=["no-password", "no-username", "empty-username"],
)
async def test_incomplete_login_is_422(exercise, form):
    """a login form without a username or a password answers 422"""
    async with tracker(exercise) as client:
        await sign_up(client, *ALICE)
        response = await client.post("/token", data=form)
    expect_status(response, 422, help="Is the form read with OAuth2PasswordRequestForm?")


# -- the tasks of step 1, behind the token ---------------------------------------------------


@pytest.mark.requires("test_login_answers_a_bearer_token")
async def test_the_app_starts_with_no_tasks(exercise):
    """with a token, GET /tasks answers {"items": [], "next": null} on an empty database"""
    async with as_alice(exercise) as client:
        response = await client.get("/tasks")
    expect_status(
        response, 200, help=REFUSED_OWN if response.status_code == 401 else NO_ROUTE_TASKS
    )
    expect_json(response, {"items": [], "next": None})


@pytest.mark.requires("test_the_app_starts_with_no_tasks")
async def test_create_answers_201_with_the_task(exercise):
    """POST /tasks answers 201 with the task, exactly as in step 1, and Location /tasks/{id}"""
    async with as_alice(exercise) as client:
        response = await client.post(
            "/tasks", json={"title": " Write the report ", "due": "2026-02-28"}
        )
    expect_status(response, 201, help=NO_ROUTE.format(route="POST /tasks"))
    task = response_json(response)
    expect_keys("the task's fields", FIELDS, task)
    expect(isinstance(task["id"], int), f"expected an integer id, not {task['id']!r}")
    expect_equal(
        "the task",
        {"title": "Write the report", "notes": None, "due": "2026-02-28", "done": False},
        {key: task[key] for key in ("title", "notes", "due", "done")},
        help=NOT_STRIPPED,
    )
    created = datetime.fromisoformat(task["created_at"])
    expect(created.tzinfo is not None, "expected created_at with its UTC offset")
    expect_header(response, "location", f"/tasks/{task['id']}")


@pytest.mark.requires("test_create_answers_201_with_the_task")
@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"title": "x" * 200, "notes": "n" * 2000}, 201),
        ({"title": " " + "y" * 200 + " "}, 201),
        ({"title": "z", "notes": None, "due": None}, 201),
        ({}, 422),
        ({"title": "   "}, 422),
        ({"title": "x" * 201}, 422),
        ({"title": None}, 422),
        ({"title": "a\x00b"}, 422),
        ({"title": "ok", "notes": "n" * 2001}, 422),
        ({"title": "ok", "notes": "a\x00b"}, 422),
        ({"title": "ok", "due": "2026-02-30"}, 422),
    ],
    ids=[
        "200-title-2000-notes",
        "200-after-strip",
        "one-char-nulls",
        "no-title",
        "blank",
        "201-chars",
        "null-title",
        "nul-in-title",
        "2001-notes",
        "nul-in-notes",
        "no-such-day",
    ],
)
async def test_create_rules(exercise, body, status):
    """title stripped then 1 to 200, notes at most 2000, no NUL, a real due: else 422"""
    async with as_alice(exercise) as client:
        response = await client.post("/tasks", json=body)
        listing = await client.get("/tasks")
    expect_status(response, status, help=NOT_STRIPPED)
    expect_equal("tasks stored", 1 if status == 201 else 0, len(response_json(listing)["items"]))


@pytest.mark.requires("test_create_answers_201_with_the_task")
async def test_read_answers_the_task(exercise):
    """GET /tasks/{id} answers 200 with the task as it was created; ids grow"""
    async with as_alice(exercise) as client:
        task = await create(client, title="Read me", notes="n", due="2030-01-01")
        second = await create(client, title="after")
        response = await client.get(f"/tasks/{task['id']}")
    expect_status(response, 200, help=NO_ROUTE.format(route="GET /tasks/{task_id}"))
    read = response_json(response)
    expect_equal("task", {**task, "created_at": None}, {**read, "created_at": None})
    expect(task["id"] < second["id"], "expected growing ids")


@pytest.mark.requires("test_read_answers_the_task")
@pytest.mark.parametrize("task_id", [2, MAX_ID], ids=["next-id", "largest-id"])
async def test_read_missing_is_404(exercise, task_id):
    """a task that does not exist answers 404 {"detail": "Task not found"}"""
    async with as_alice(exercise) as client:
        await create(client, title="only one")
        response = await client.get(f"/tasks/{task_id}")
    expect_status(response, 404)
    expect_json(response, NOT_FOUND)


@pytest.mark.requires("test_read_answers_the_task")
@pytest.mark.parametrize("task_id", ["0", str(MAX_ID + 1), "abc"])
async def test_id_out_of_range_is_422(exercise, task_id):
    """with a token, an id that is not a whole number from 1 to 2147483647 answers 422"""
    async with as_alice(exercise) as client:
        answers = [
            await client.get(f"/tasks/{task_id}"),
            await client.patch(f"/tasks/{task_id}", json={}),
            await client.delete(f"/tasks/{task_id}"),
        ]
    for response in answers:
        expect_status(
            response, 422, help="Does the path declare the id's range? Path(ge=1, le=...)"
        )


@pytest.mark.requires("test_read_answers_the_task")
async def test_patch_changes_only_what_is_sent(exercise):
    """PATCH changes the fields sent, leaves the others; null clears notes and due; done false
    reopens a task"""
    async with as_alice(exercise) as client:
        task = await create(client, title="Paint", notes="blue", due="2026-05-01")
        done = await client.patch(f"/tasks/{task['id']}", json={"done": True})
        cleared = await client.patch(f"/tasks/{task['id']}", json={"notes": None, "due": None})
        empty = await client.patch(f"/tasks/{task['id']}", json={})
        read = await client.get(f"/tasks/{task['id']}")
        reopened = await client.patch(f"/tasks/{task['id']}", json={"done": False})
    expect_status(done, 200, help=NO_ROUTE.format(route="PATCH /tasks/{task_id}"))
    expect_equal(
        "task after the patch",
        {**task, "done": True, "created_at": None},
        {**response_json(done), "created_at": None},
        help=NOT_PARTIAL,
    )
    expected = {**task, "done": True, "notes": None, "due": None, "created_at": None}
    for response in (cleared, empty, read):
        expect_status(response, 200)
        expect_equal(
            "task", expected, {**response_json(response), "created_at": None}, help=NOT_PARTIAL
        )
    expect_status(reopened, 200, help=NOT_PARTIAL)
    expect_equal("done after a patch of done false", False, response_json(reopened)["done"])


@pytest.mark.requires("test_patch_changes_only_what_is_sent")
@pytest.mark.parametrize(
    "body",
    [{"title": None}, {"done": None}, {"title": "   "}, {"notes": "n" * 2001}, {"due": "soon"}],
    ids=["null-title", "null-done", "blank-title", "2001-notes", "bad-due"],
)
async def test_invalid_patch_is_422_and_changes_nothing(exercise, body):
    """an invalid patch answers 422 and changes nothing: title and done cannot be null"""
    async with as_alice(exercise) as client:
        task = await create(client, title="Keep", notes="n")
        response = await client.patch(f"/tasks/{task['id']}", json=body)
        read = await client.get(f"/tasks/{task['id']}")
    expect_status(response, 422, help="Only notes and due may be sent as null in a patch.")
    expect_equal("task", {**task, "created_at": None}, {**response_json(read), "created_at": None})


@pytest.mark.requires("test_read_answers_the_task")
async def test_delete_then_404(exercise):
    """DELETE /tasks/{id} answers 204, no body; then read, patch and delete of it answer 404"""
    async with as_alice(exercise) as client:
        task = await create(client, title="Bin me")
        kept = await create(client, title="Keep me")
        response = await client.delete(f"/tasks/{task['id']}")
        after = [
            await client.get(f"/tasks/{task['id']}"),
            await client.patch(f"/tasks/{task['id']}", json={}),
            await client.delete(f"/tasks/{task['id']}"),
        ]
        still = await client.get(f"/tasks/{kept['id']}")
    expect_status(response, 204, help=NO_ROUTE.format(route="DELETE /tasks/{task_id}"))
    expect_equal("body", b"", response.content)
    for answer in after:
        expect_status(answer, 404)
        expect_json(answer, NOT_FOUND)
    expect_status(still, 200, help="Does DELETE remove only the task it names?")


@pytest.mark.requires("test_create_answers_201_with_the_task")
async def test_list_pages_with_after(exercise):
    """GET /tasks lists by id, 20 by default; after=<id> goes on; next only when more follow"""
    async with as_alice(exercise) as client:
        ids = [t["id"] for t in await create_many(client, 21)]
        first = response_json(await client.get("/tasks"))
        second = response_json(await client.get("/tasks", params={"after": first["next"]}))
        full = response_json(await client.get("/tasks", params={"after": ids[17], "limit": 3}))
        zero = response_json(await client.get("/tasks", params={"after": 0, "limit": 2}))
    expect_equal("first page", ids[:20], [t["id"] for t in first["items"]])
    expect_equal("first next", ids[19], first["next"], help=NEXT)
    expect_equal("last page", ids[20:], [t["id"] for t in second["items"]])
    expect_equal("last next", None, second["next"], help=NEXT)
    expect_equal("a page exactly full", ids[18:], [t["id"] for t in full["items"]])
    expect_equal("its next", None, full["next"], help=NEXT)
    expect_equal("after 0", ids[:2], [t["id"] for t in zero["items"]])
    expect_equal("next after 0", ids[1], zero["next"], help=NEXT)


@pytest.mark.requires("test_list_pages_with_after")
@pytest.mark.parametrize(("limit", "shown"), [(0, 1), (1, 1), (101, 100)])
async def test_limit_is_clamped(exercise, limit, shown):
    """limit is clamped to 1..100: less than 1 lists one task, more than 100 lists 100"""
    async with as_alice(exercise) as client:
        tasks = await create_many(client, 101 if shown == 100 else 2)
        response = await client.get("/tasks", params={"limit": limit})
    expect_status(response, 200, help=NOT_CLAMPED)
    page = response_json(response)
    expect_equal("tasks listed", shown, len(page["items"]), help=NOT_CLAMPED)
    expect_equal("next", tasks[shown - 1]["id"], page["next"], help=NEXT)


@pytest.mark.requires("test_list_pages_with_after")
@pytest.mark.parametrize(
    "params", [{"after": -1}, {"after": MAX_ID + 1}, {"done": "maybe"}, {"limit": "ten"}]
)
async def test_bad_list_query_is_422(exercise, params):
    """after outside 0..2147483647, a done not a boolean, a limit not a number answer 422"""
    async with as_alice(exercise) as client:
        response = await client.get("/tasks", params=params)
    expect_status(response, 422)


@pytest.mark.requires("test_list_pages_with_after", "test_patch_changes_only_what_is_sent")
async def test_list_filters_by_done(exercise):
    """done=true lists only done tasks, done=false only the others, and pages within the filter"""
    async with as_alice(exercise) as client:
        ids = [t["id"] for t in await create_many(client, 6)]
        for task_id in ids[::2]:
            await client.patch(f"/tasks/{task_id}", json={"done": True})
        done = response_json(await client.get("/tasks", params={"done": "true", "limit": 2}))
        rest = response_json(
            await client.get("/tasks", params={"done": "true", "after": done["next"]})
        )
        open_ = response_json(await client.get("/tasks", params={"done": "false"}))
    expect_equal("done tasks, first page", ids[0:4:2], [t["id"] for t in done["items"]])
    expect_equal("next within the filter", ids[2], done["next"], help=NEXT)
    expect_equal("done tasks, last page", [ids[4]], [t["id"] for t in rest["items"]])
    expect_equal("open tasks", ids[1::2], [t["id"] for t in open_["items"]])


@pytest.mark.requires("test_list_pages_with_after")
@pytest.mark.parametrize("after", [None, 30], ids=["first-page", "deep-page"])
async def test_page_costs_at_most_two_statements(exercise, after):
    """a page is at most two SQL statements at any depth: the token's user and the page"""
    async with as_alice(exercise) as client:
        await create_many(client, 40)
        params: dict[str, Any] = {"limit": 5, "done": "false"}
        if after is not None:
            params["after"] = after
        with count_statements() as statements:
            response = await client.get("/tasks", params=params)
    expect_status(response, 200)
    expect(
        len(response_json(response)["items"]) == 5 and response_json(response)["next"] is not None,
        "expected a full page of 5 with a next id",
    )
    expect(
        statements.count <= 2,
        f"expected at most two SQL statements for a page, not {statements.count}:\n"
        + statements.listing(),
        help=NEXT,
    )


# -- the token guards every /tasks route -----------------------------------------------------

ROUTES = [
    ("GET", "/tasks", None),
    ("POST", "/tasks", {"title": "sneaky"}),
    ("GET", "/tasks/{id}", None),
    ("PATCH", "/tasks/{id}", {"done": True}),
    ("DELETE", "/tasks/{id}", None),
]


async def call_every_route(
    client: httpx.AsyncClient, task_id: int, headers: dict[str, str]
) -> list[httpx.Response]:
    return [
        await client.request(method, path.format(id=task_id), json=body, headers=headers)
        for method, path, body in ROUTES
    ]


@pytest.mark.requires("test_delete_then_404")
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic YWxpY2U6d29uZGVybGFuZA=="}, {"Authorization": "Bearer"}],
    ids=["no-header", "basic", "no-token"],
)
async def test_every_tasks_route_needs_a_token(exercise, headers):
    """without a bearer token every /tasks route answers 401 with WWW-Authenticate: Bearer"""
    async with tracker(exercise) as client:
        alice = await bearer(client, ALICE)
        created = await client.post("/tasks", json={"title": "mine"}, headers=alice)
        task = response_json(created)
        answers = await call_every_route(client, task["id"], headers)
        read = await client.get(f"/tasks/{task['id']}", headers=alice)
        listing = await client.get("/tasks", headers=alice)
    for response in answers:
        unauthorized(response, help=BEARER)
    expect_equal("the task", task, response_json(read), help=BEARER)
    expect_equal("tasks stored", 1, len(response_json(listing)["items"]), help=BEARER)


@pytest.mark.requires("test_every_tasks_route_needs_a_token")
async def test_the_token_is_checked_first(exercise):
    """without a token, a bad id or a bad body still answers 401: the token is checked first"""
    async with tracker(exercise) as client:
        answers = [
            await client.get("/tasks/0"),
            await client.patch("/tasks/abc", json={"title": None}),
            await client.delete(f"/tasks/{MAX_ID + 1}"),
            await client.post("/tasks", json={}),
            await client.get("/tasks", params={"limit": "ten"}),
        ]
    for response in answers:
        unauthorized(response, help=BEARER)


def _claims(**changes: Any) -> dict[str, Any]:
    claims = {"sub": "alice", "iat": T0, "exp": T0 + TTL, **changes}
    return {key: value for key, value in claims.items() if value is not None}


def _swap_payload(token: str, claims: dict[str, Any]) -> str:
    header, _, signature = token.split(".")
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}.{signature}"


BAD_TOKENS = {
    "garbage": lambda token: "not-a-token",
    "tampered": lambda token: _swap_payload(token, _claims(sub="bob")),
    "other-secret": lambda token: forge(_claims(), OTHER_SECRET),
    "alg-none": lambda token: forge(_claims(), None, "none"),
    "hs512": lambda token: forge(_claims(), SECRET, "HS512"),
    "no-sub": lambda token: forge(_claims(sub=None)),
    "no-iat": lambda token: forge(_claims(iat=None)),
    "no-exp": lambda token: forge(_claims(exp=None)),
    "expired": lambda token: forge(_claims(iat=T0 - TTL, exp=T0)),
    "unknown-user": lambda token: forge(_claims(sub="nobody")),
}


@pytest.mark.requires("test_every_tasks_route_needs_a_token")
@pytest.mark.parametrize("kind", list(BAD_TOKENS))
async def test_bad_tokens_are_401(exercise, clock, kind):
    """a malformed, tampered, foreign, unsigned, incomplete, expired or ownerless token: 401"""
    clock.now = T0
    async with tracker(exercise) as client:
        token = await token_for(client, ALICE)
        await sign_up(client, *BOB)
        created = await client.post(
            "/tasks", json={"title": "mine"}, headers={"Authorization": f"Bearer {token}"}
        )
        bad = {"Authorization": f"Bearer {BAD_TOKENS[kind](token)}"}
        answers = await call_every_route(client, response_json(created)["id"], bad)
    for response in answers:
        unauthorized(response, help=BAD_TOKEN)


@pytest.mark.requires("test_bad_tokens_are_401")
@pytest.mark.parametrize(
    ("issued", "checked", "status"),
    [
        (T0, T0 + TTL - 1, 200),
        (T0, T0 + TTL, 401),
        (PAST, PAST + 60, 200),
        (PAST, PAST + TTL, 401),
    ],
    ids=["last-second", "at-exp", "past-clock", "past-clock-at-exp"],
)
async def test_expiry_follows_the_clock(exercise, clock, issued, checked, status):
    """a token is good until its exp by the `now` clock: at exp and after, 401"""
    clock.now = issued
    async with tracker(exercise) as client:
        headers = await bearer(client, ALICE)
        clock.now = checked
        response = await client.get("/tasks", headers=headers)
    expect_status(response, status, help=CLOCK)
    if status == 401:
        challenge_is_bearer(response, help=BAD_TOKEN)


# -- tasks belong to their creator -----------------------------------------------------------


@pytest.mark.requires("test_delete_then_404", "test_every_tasks_route_needs_a_token")
async def test_another_users_task_is_404(exercise):
    """another user's task answers 404 "Task not found" on read, patch and delete"""
    async with tracker(exercise) as client:
        alice = await bearer(client, ALICE)
        bob = await bearer(client, BOB)
        created = await client.post("/tasks", json={"title": "alice's"}, headers=alice)
        task = response_json(created)
        answers = [
            await client.get(f"/tasks/{task['id']}", headers=bob),
            await client.patch(f"/tasks/{task['id']}", json={"done": True}, headers=bob),
            await client.delete(f"/tasks/{task['id']}", headers=bob),
        ]
        read = await client.get(f"/tasks/{task['id']}", headers=alice)
    for response in answers:
        expect_status(response, 404, help=OWNED)
        expect_json(response, NOT_FOUND, help=OWNED)
    expect_status(read, 200, help=OWNED)
    expect_equal("alice's task", task, response_json(read), help=OWNED)


@pytest.mark.requires("test_another_users_task_is_404", "test_list_filters_by_done")
async def test_lists_show_only_ones_own(exercise):
    """each user lists only their own tasks, and pages and filters within them"""
    async with tracker(exercise) as client:
        alice = await bearer(client, ALICE)
        bob = await bearer(client, BOB)
        owners = [alice, bob, alice, bob, alice, alice, bob]
        ids = []
        for n, owner in enumerate(owners):
            response = await client.post("/tasks", json={"title": f"task {n}"}, headers=owner)
            ids.append(response_json(response)["id"])
        await client.patch(f"/tasks/{ids[4]}", json={"done": True}, headers=alice)
        mine = [ids[0], ids[2], ids[4], ids[5]]
        theirs = [ids[1], ids[3], ids[6]]
        first = response_json(await client.get("/tasks", params={"limit": 2}, headers=alice))
        rest = response_json(
            await client.get("/tasks", params={"after": first["next"]}, headers=alice)
        )
        whole = response_json(await client.get("/tasks", params={"limit": 3}, headers=bob))
        done = response_json(await client.get("/tasks", params={"done": "true"}, headers=bob))
        open_ = response_json(
            await client.get("/tasks", params={"done": "false", "limit": 1}, headers=alice)
        )
    expect_equal("alice's first page", mine[:2], [t["id"] for t in first["items"]], help=OWN_LIST)
    expect_equal("its next", mine[1], first["next"], help=OWN_LIST)
    expect_equal("alice's last page", mine[2:], [t["id"] for t in rest["items"]], help=OWN_LIST)
    expect_equal("its next", None, rest["next"], help=OWN_LIST)
    expect_equal("bob's tasks", theirs, [t["id"] for t in whole["items"]], help=OWN_LIST)
    expect_equal("bob's next", None, whole["next"], help=OWN_LIST)
    expect_equal("bob's done tasks", [], done["items"], help=OWN_LIST)
    expect_equal("alice's open tasks", [mine[0]], [t["id"] for t in open_["items"]])
    expect_equal("their next", mine[0], open_["next"], help=OWN_LIST)


# -- the fuzzer ------------------------------------------------------------------------------


@pytest.mark.requires(
    "test_lists_show_only_ones_own", "test_bad_tokens_are_401", "test_taken_username_is_409"
)
async def test_fuzzing_finds_no_error(exercise):
    """generated requests with a valid token get no 5xx, only answers the OpenAPI documents"""
    async with running(exercise.app, raise_app_exceptions=False) as (client, _):
        headers = await bearer(client, ALICE)
        for n in range(3):
            await client.post("/tasks", json={"title": f"task {n}"}, headers=headers)
        await fuzzing.fuzz(client, exercise.app.openapi(), headers=headers)
