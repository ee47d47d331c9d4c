"""Hidden suite for 11_oauth2_jwt/05_scopes: 401 when the token is missing or bad, 403 when
it lacks a scope, and the right WWW-Authenticate either way.

Every check starts the app, adds its users to the lifespan state's `users` with cheap hashes
(`password_hash` is replaced, as the contract allows), and sets the time through the `now`
dependency, far from the wall clock. Tokens with chosen scopes are minted with the app's own
given `issue_access_token`, as the login would mint them; tokens are read without checking.
Warnings are errors here.
"""

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import httpx
import jwt
import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from workbook.testing import (
    expect,
    expect_equal,
    expect_header,
    expect_json,
    expect_keys,
    expect_status,
    provide,
    response_json,
    running,
)

pytestmark = pytest.mark.filterwarnings("error")

T0 = 2_000_000_000  # years after the wall clock
BEFORE_WALL_CLOCK = 1_000_000_000  # years before it
TTL = 15 * 60
PASSWORD = "correct horse"
CHEAP_HASH = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
ALL = ("items:read", "items:write", "admin")
NOT_AUTHENTICATED = {"detail": "Not authenticated"}
INVALID = {"detail": "Could not validate credentials"}
FORBIDDEN = {"detail": "Not enough permissions"}

# (method, path, body): the routes and the challenge each one's first check sends
ME = ("GET", "/me", None)
LIST = ("GET", "/items", None)
ADD = ("POST", "/items", {"name": "desk"})
DELETE = ("DELETE", "/items/lamp", None)

GRANT = (
    "Does the login grant exactly the requested scopes that the user is allowed (user.scopes), "
    "each once, in the order of SCOPES? form.scopes holds what the client asked for."
)
MISSING = (
    "With auto_error=False, OAuth2PasswordBearer hands you None for a missing token: answer "
    "401 yourself, with a challenge that names the scopes the route requires "
    "(bearer_challenge(None, security_scopes.scopes))."
)
BAD_TOKEN = (
    "A token that fails verify_access_token, or names no known user, is a 401 with "
    'error="invalid_token": the client must get a new token, not new permissions. '
    "An empty token (Authorization: Bearer, nothing after it) is such a token: only None "
    "from the scheme means no token."
)
FORBID = (
    "A valid token that lacks a scope the route requires is a 403 with "
    'error="insufficient_scope" and scope="..." naming security_scopes.scopes: the client is '
    "known, it is not allowed."
)
EVERY = (
    "Does the check require every scope of security_scopes.scopes, not any of them? A chain "
    "of dependencies adds up its scopes."
)
CLAIM = (
    "Is the token's scope claim all that decides? user.scopes counts only at login: a token "
    "grants what it was issued with until it expires."
)
GIVEN = "Keep the given code as it is: authenticate, verify_access_token and the lifespan."
WHOLE = (
    "Are the token's scopes compared whole? claims['scope'] is a string: split it on spaces "
    'before testing membership, or "items:read" is found inside "items:readonly".'
)


class CountingHash(PasswordHash):
    """Cheap Argon2, and bcrypt for old hashes, counting the passwords it verifies."""

    def __init__(self) -> None:
        cheap_argon2 = Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1)
        super().__init__((cheap_argon2, BcryptHasher(rounds=4)))
        self.verified = 0

    def verify(self, password: str | bytes, hash: str | bytes) -> bool:
        self.verified += 1
        return super().verify(password, hash)

    def verify_and_update(
        self, password: str | bytes, hash: str | bytes
    ) -> tuple[bool, str | None]:
        self.verified += 1
        return super().verify_and_update(password, hash)


@pytest.fixture(autouse=True)
def cheap_hashes(exercise: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with light parameters, so that a login costs a millisecond."""
    monkeypatch.setattr(exercise, "password_hash", CHEAP_HASH)


@asynccontextmanager
async def started(
    exercise: ModuleType, at: int = T0
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any]]]:
    """The app running at `at`: alice may read and write, bob read and delete (allowed in
    another order than SCOPES), root may do all, eve nothing."""
    exercise.app.dependency_overrides[exercise.now] = provide(float(at))
    allowed = {
        "alice": ("items:read", "items:write"),
        "bob": ("admin", "items:read"),
        "root": ALL,
        "eve": (),
    }
    try:
        async with running(exercise.app) as (client, state):
            for name, scopes in allowed.items():
                state["users"][name] = exercise.User(name, CHEAP_HASH.hash(PASSWORD), scopes)
            yield client, state
    finally:
        exercise.app.dependency_overrides.pop(exercise.now, None)


@asynccontextmanager
async def scoped_app(exercise: ModuleType, at: int = T0) -> AsyncIterator[httpx.AsyncClient]:
    async with started(exercise, at) as (client, _):
        yield client


def token_for(exercise: ModuleType, scopes: list[str], sub: str = "root", at: int = T0) -> str:
    return exercise.issue_access_token(sub, scopes, float(at))


def not_an_access_token(exercise: ModuleType) -> str:
    """A token signed with the app's key whose typ is "refresh": valid in every other way."""
    claims = jwt.decode(token_for(exercise, list(ALL)), options={"verify_signature": False})
    return jwt.encode({**claims, "typ": "refresh"}, exercise.PRIVATE_KEY, algorithm="RS256")


async def call(
    client: httpx.AsyncClient, route: tuple[str, str, Any], token: str | None = None
) -> httpx.Response:
    method, path, body = route
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return await client.request(method, path, json=body, headers=headers)


def expect_challenge(
    response: httpx.Response, status: int, body: dict[str, str], challenge: str, help: str
) -> None:
    expect_status(response, status, help=help)
    expect_json(response, body, help=help)
    expect_header(response, "www-authenticate", challenge, help=help)


def tampered(token: str) -> str:
    head, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 1
    return f"{head}.{payload}.{base64.urlsafe_b64encode(raw).rstrip(b'=').decode()}"


# -- login grants what was asked for and is allowed ----------------------------------------


async def login_grants(exercise: ModuleType, user: str, requested: str, granted: str) -> None:
    async with scoped_app(exercise) as client:
        response = await client.post(
            "/token", data={"username": user, "password": PASSWORD, "scope": requested}
        )
    expect_status(response, 200)
    body = response_json(response)
    expect_keys("keys of the login's body", {"access_token", "token_type", "scope"}, body)
    expect_equal("token_type", "bearer", body["token_type"])
    expect_equal("scope of the login's body", granted, body["scope"], help=GRANT)
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    expect_equal("scope claim of the token", granted, claims["scope"], help=GRANT)


@pytest.mark.parametrize(
    ("user", "requested", "granted"),
    [
        ("alice", "admin items:write items:read", "items:read items:write"),
        ("alice", "items:write", "items:write"),
        ("root", "admin bogus items:read", "items:read admin"),
        ("bob", "items:read admin items:write", "items:read admin"),
        ("bob", "admin admin", "admin"),
    ],
    ids=["alice-asks-all", "alice-asks-write", "root", "order-of-scopes", "asked-twice"],
)
async def test_login_grants_allowed_scopes(exercise, user, requested, granted):
    """the token carries the requested scopes the user is allowed, in the order of SCOPES"""
    await login_grants(exercise, user, requested, granted)


@pytest.mark.stub_may_pass("the stub grants no scope at all")
@pytest.mark.parametrize(
    ("user", "requested"),
    [("alice", "admin"), ("alice", ""), ("eve", "items:read"), ("root", "bogus")],
    ids=["not-allowed", "asks-none", "allowed-none", "unknown"],
)
async def test_login_grants_nothing_else(exercise, user, requested):
    """a scope nobody asked for, or the user may not have, is not granted (scope "")"""
    await login_grants(exercise, user, requested, "")


@pytest.mark.stub_may_pass("the login's password check is given")
async def test_wrong_password(exercise):
    """a wrong password answers 401 Incorrect username or password"""
    async with scoped_app(exercise) as client:
        response = await client.post("/token", data={"username": "alice", "password": "x"})
    expect_challenge(response, 401, {"detail": "Incorrect username or password"}, "Bearer", "given")


@pytest.mark.stub_may_pass("the login's password check is given")
async def test_unknown_user_verifies_a_password(exercise, monkeypatch):
    """a login with an unknown username still verifies one password, as the given code does"""
    counting = CountingHash()
    monkeypatch.setattr(exercise, "password_hash", counting)
    async with scoped_app(exercise) as client:
        response = await client.post("/token", data={"username": "mallory", "password": "x"})
    expect_status(response, 401, help=GIVEN)
    expect_equal("passwords verified for an unknown username", 1, counting.verified, help=GIVEN)


@pytest.mark.stub_may_pass("the login's password check is given")
async def test_old_hash_is_upgraded(exercise, monkeypatch):
    """a login with an old bcrypt hash stores an Argon2 hash in its place, as the given code does"""
    monkeypatch.setattr(exercise, "password_hash", CountingHash())
    async with started(exercise) as (client, state):
        state["users"]["dave"] = exercise.User("dave", BcryptHasher(rounds=4).hash(PASSWORD))
        form = {"username": "dave", "password": PASSWORD}
        expect_status(await client.post("/token", data=form), 200, help=GIVEN)
        stored = state["users"]["dave"].hashed_password
        expect(
            isinstance(stored, str) and stored.startswith("$argon2"),
            f"expected dave's hash to be Argon2 after the login, not {stored!r}",
            help=GIVEN,
        )
        expect_status(await client.post("/token", data=form), 200, help=GIVEN)


# -- 401: no token, or one that cannot be trusted ------------------------------------------


@pytest.mark.parametrize(
    ("route", "challenge"),
    [
        (LIST, 'Bearer scope="items:read"'),
        (ADD, 'Bearer scope="items:read"'),
        (DELETE, 'Bearer scope="items:read"'),
    ],
    ids=["list", "add", "delete"],
)
async def test_no_token_names_the_scopes(exercise, route, challenge):
    """no token answers 401 Not authenticated, and the challenge names the scopes required"""
    async with scoped_app(exercise) as client:
        response = await call(client, route)
    expect_challenge(response, 401, NOT_AUTHENTICATED, challenge, MISSING)


async def test_other_scheme_is_no_token(exercise):
    """an Authorization header of another scheme counts as no token"""
    async with scoped_app(exercise) as client:
        response = await client.get("/items", headers={"Authorization": "Basic YWxpY2U6eA=="})
    expect_challenge(response, 401, NOT_AUTHENTICATED, 'Bearer scope="items:read"', MISSING)


@pytest.mark.stub_may_pass("FastAPI's own 401 has the same shape when no scope is required")
async def test_no_token_without_scopes(exercise):
    """no token on a route that requires no scope answers 401 with the plain Bearer challenge"""
    async with scoped_app(exercise) as client:
        response = await call(client, ME)
    expect_challenge(response, 401, NOT_AUTHENTICATED, "Bearer", MISSING)


@pytest.mark.parametrize(
    ("route", "challenge"),
    [
        (ME, 'Bearer error="invalid_token"'),
        (LIST, 'Bearer error="invalid_token", scope="items:read"'),
        (DELETE, 'Bearer error="invalid_token", scope="items:read"'),
    ],
    ids=["me", "list", "delete"],
)
@pytest.mark.parametrize(
    "kind", ["tampered", "expired", "not-yet-valid", "not-access", "unknown-user", "empty"]
)
async def test_bad_token_is_401(exercise, route, challenge, kind):
    """a tampered, expired, empty or refresh token, or one for no known user, answers 401
    invalid_token"""
    token = {
        "tampered": lambda: tampered(token_for(exercise, list(ALL))),
        "expired": lambda: token_for(exercise, list(ALL), at=T0 - TTL),
        "not-yet-valid": lambda: token_for(exercise, list(ALL), at=T0 + 1),
        "not-access": lambda: not_an_access_token(exercise),
        "unknown-user": lambda: token_for(exercise, list(ALL), sub="mallory"),
        "empty": lambda: "",
    }[kind]()
    async with scoped_app(exercise) as client:
        response = await call(client, route, token)
    expect_challenge(response, 401, INVALID, challenge, BAD_TOKEN)


async def test_bad_token_wins_over_scopes(exercise):
    """an expired token without any scope is a 401, not a 403: the token is checked first"""
    async with scoped_app(exercise) as client:
        response = await call(client, LIST, token_for(exercise, [], at=T0 - TTL))
    expect_challenge(
        response, 401, INVALID, 'Bearer error="invalid_token", scope="items:read"', BAD_TOKEN
    )


@pytest.mark.stub_may_pass("the stub already accepts a good token on a route without scopes")
async def test_last_second_of_a_token(exercise):
    """a token is still good in the last second before its exp"""
    async with scoped_app(exercise) as client:
        response = await call(client, ME, token_for(exercise, [], at=T0 - TTL + 1))
    expect_status(response, 200)
    expect_json(response, {"username": "root"})


@pytest.mark.stub_may_pass("the stub lets every valid token through")
async def test_clock_before_the_wall_clock(exercise):
    """the injected clock alone judges a token: one valid years before the wall clock gets in"""
    async with scoped_app(exercise, at=BEFORE_WALL_CLOCK) as client:
        token = token_for(exercise, ["items:read"], at=BEFORE_WALL_CLOCK - TTL + 1)
        response = await call(client, LIST, token)
    expect_status(response, 200, help=GIVEN)
    expect_json(response, [{"name": "lamp"}])


# -- 403: a known client without the scope -------------------------------------------------


@pytest.mark.parametrize(
    ("route", "scopes", "challenge"),
    [
        (LIST, [], 'scope="items:read"'),
        (LIST, ["items:write", "admin"], 'scope="items:read"'),
        (ADD, ["items:write"], 'scope="items:read"'),
        (ADD, ["items:read"], 'scope="items:write"'),
        (ADD, ["items:read", "admin"], 'scope="items:write"'),
        (DELETE, ["items:write", "admin"], 'scope="items:read"'),
        (DELETE, ["items:read", "items:write"], 'scope="admin items:write"'),
        (DELETE, ["items:read", "admin"], 'scope="admin items:write"'),
    ],
    ids=[
        "list-none",
        "list-others",
        "add-no-read",
        "add-no-write",
        "add-read-admin",
        "delete-no-read",
        "delete-no-admin",
        "delete-no-write",
    ],
)
async def test_missing_scope_is_403(exercise, route, scopes, challenge):
    """a valid token without a required scope answers 403 insufficient_scope, naming the scopes"""
    async with scoped_app(exercise) as client:
        response = await call(client, route, token_for(exercise, scopes))
    expect_challenge(
        response, 403, FORBIDDEN, f'Bearer error="insufficient_scope", {challenge}', FORBID
    )


async def test_scopes_compared_whole(exercise):
    """a scope is granted only by itself: items:readonly does not grant items:read"""
    async with scoped_app(exercise) as client:
        response = await call(client, LIST, token_for(exercise, ["items:readonly"]))
    expect_challenge(
        response,
        403,
        FORBIDDEN,
        'Bearer error="insufficient_scope", scope="items:read"',
        WHOLE,
    )


# -- allowed -------------------------------------------------------------------------------


@pytest.mark.stub_may_pass("the stub lets every valid token through")
@pytest.mark.parametrize(
    ("route", "scopes", "status", "body"),
    [
        (ME, [], 200, {"username": "root"}),
        (LIST, ["items:read"], 200, [{"name": "lamp"}]),
        (ADD, ["items:write", "items:read"], 201, {"name": "desk"}),
    ],
    ids=["me", "list", "add"],
)
async def test_enough_scopes_pass(exercise, route, scopes, status, body):
    """a token with every scope a route requires gets through"""
    async with scoped_app(exercise) as client:
        response = await call(client, route, token_for(exercise, scopes))
    expect_status(response, status, help=EVERY)
    expect_json(response, body)


@pytest.mark.stub_may_pass("the stub lets every valid token through")
async def test_the_token_decides(exercise):
    """a token grants the scopes it carries, whatever the user may be granted at a login now"""
    async with scoped_app(exercise) as client:
        response = await call(client, LIST, token_for(exercise, ["items:read"], sub="eve"))
    expect_status(response, 200, help=CLAIM)
    expect_json(response, [{"name": "lamp"}])


@pytest.mark.stub_may_pass("the stub lets every valid token through")
async def test_added_item_is_listed(exercise):
    """an item added with items:read and items:write is in the list that follows"""
    async with scoped_app(exercise) as client:
        token = token_for(exercise, ["items:read", "items:write"])
        expect_status(await call(client, ADD, token), 201)
        response = await call(client, LIST, token)
    expect_json(response, [{"name": "lamp"}, {"name": "desk"}])


@pytest.mark.stub_may_pass("the stub lets every valid token through")
async def test_admin_deletes(exercise):
    """a token with items:read, items:write and admin deletes an item"""
    async with scoped_app(exercise) as client:
        token = token_for(exercise, ["admin", "items:write", "items:read"])
        expect_status(await call(client, DELETE, token), 204, help=EVERY)
        response = await call(client, LIST, token)
    expect_json(response, [])


async def test_login_to_request(exercise):
    """alice logs in asking for everything, reads and adds items, and is refused a delete"""
    async with scoped_app(exercise) as client:
        response = await client.post(
            "/token",
            data={"username": "alice", "password": PASSWORD, "scope": " ".join(ALL)},
        )
        token = response_json(response)["access_token"]
        expect_status(await call(client, LIST, token), 200)
        expect_status(await call(client, ADD, token), 201)
        refused = await call(client, DELETE, token)
    expect_challenge(
        refused,
        403,
        FORBIDDEN,
        'Bearer error="insufficient_scope", scope="admin items:write"',
        GRANT,
    )
