"""Hidden suite for 11_oauth2_jwt/03_password_flow: a login that gives nothing away.

The app's clock is the `now` dependency, overridden with a value the check sets: no sleeps,
no wall clock. Hash verifications are counted by wrapping the `verify` of every hasher in the
app's own `password_hash` (so `password_hash.verify` and `verify_and_update` count alike),
never by timing. Tokens are read back with the given `verify_access_token`.
"""

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import httpx
import jwt
import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from workbook.testing import (
    client_for,
    expect,
    expect_equal,
    expect_header,
    expect_json,
    expect_keys,
    expect_status,
    response_json,
)

# The contract says warnings are errors in the checks.
pytestmark = pytest.mark.filterwarnings("error")

T0 = 2_000_000_000  # in the future of the wall clock: time.time() cannot pass for it
PAST = 1_000_000_000  # in its past: a token checked against the wall clock would be expired
TTL = 900
ALICE = {"username": "alice", "password": "wonderland"}
BOB = {"username": "bob", "password": "can-we-fix-it"}
LEGACY = {"username": "dave", "password": "hunter2-but-longer"}  # hashed with bcrypt
REFUSED = {"detail": "Incorrect username or password"}
INVALID = {"detail": "Invalid token"}
MISSING = {"detail": "Not authenticated"}
INVALID_CHALLENGE = 'Bearer error="invalid_token"'

NO_LOGIN = (
    "Does POST /token read the form with OAuth2PasswordRequestForm, check the password with "
    "password_hash, and answer {access_token, token_type: bearer, expires_in}?"
)
REFUSAL = (
    "A failed login raises HTTPException(401, 'Incorrect username or password') with "
    "headers={'WWW-Authenticate': 'Bearer'}: the same answer for an unknown user and a "
    "wrong password, so the answer does not tell who has an account."
)
ONE_VERIFY = (
    "Every login attempt costs exactly one password_hash.verify: an unknown user is checked "
    "against DUMMY_HASH, so that it takes as long as a wrong password. Does the code return "
    "early (or skip the check with `user is None or ...`) when the user does not exist?"
)
CLOCK = (
    "Does the app read the time from the `now` dependency, both to issue the token "
    "(issue_access_token(..., now)) and to verify it? time.time() cannot be overridden."
)
BEARER = (
    "Does GET /me take the token through oauth2_scheme = OAuth2PasswordBearer(tokenUrl=...)? "
    "It answers 401 'Not authenticated' with WWW-Authenticate: Bearer when no token is sent."
)
BAD_TOKEN = (
    "A token verify_access_token refuses (InvalidToken), or one whose sub names no user, "
    "answers 401 'Invalid token' with WWW-Authenticate: Bearer error=\"invalid_token\" "
    "(RFC 6750): catch InvalidToken and raise that HTTPException."
)
UPGRADE = (
    "Does POST /token check the password with the given authenticate(USERS, ...)? It "
    "re-hashes a legacy bcrypt hash with Argon2 when the password is right."
)
OFF_THE_LOOP = (
    "Is login still a plain `def`? FastAPI runs a def route in a worker thread; an async "
    "def route runs on the event loop, where a slow hash stalls every other request."
)
FORM = (
    "Does POST /token read its fields with OAuth2PasswordRequestForm used as Depends()? "
    "It answers a missing or empty username or password with 422 by itself."
)
PUBLIC = 'GET /me answers {"username": ...} of the token\'s user: never the password hash.'
OPENAPI = (
    "Is the token read through an OAuth2PasswordBearer instance? FastAPI then declares an "
    "oauth2 security scheme with a password flow and its tokenUrl, and marks /me with it."
)


class CountingHasher:
    """A cheap hasher that records every hash it verifies."""

    def __init__(self, hasher: Any, seen: list[str], threads: list[int]) -> None:
        self.hasher = hasher
        self.seen = seen
        self.threads = threads

    def identify(self, hash: str | bytes) -> bool:
        return self.hasher.identify(hash)

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        return self.hasher.hash(password, salt=salt)

    def verify(self, password: str | bytes, hash: str | bytes) -> bool:
        self.seen.append(hash if isinstance(hash, str) else hash.decode())
        self.threads.append(threading.get_ident())
        return self.hasher.verify(password, hash)

    def check_needs_rehash(self, hash: str | bytes) -> bool:
        return self.hasher.check_needs_rehash(hash)


@dataclass
class Verifications:
    hashes: list[str] = field(default_factory=list)
    threads: list[int] = field(default_factory=list)  # the thread of each verification

    @property
    def count(self) -> int:
        return len(self.hashes)


@pytest.fixture(autouse=True)
def verifications(exercise: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Verifications:
    """Cheap hashers that count, and the users hashed with them, in place of the app's own."""
    seen = Verifications()
    argon2 = CountingHasher(
        Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1), seen.hashes, seen.threads
    )
    bcrypt = CountingHasher(BcryptHasher(rounds=4), seen.hashes, seen.threads)
    hashes = PasswordHash((argon2, bcrypt))
    users = {
        who["username"]: exercise.User(who["username"], hashes.hash(who["password"]))
        for who in (ALICE, BOB)
    }
    users["dave"] = exercise.User("dave", bcrypt.hash(LEGACY["password"]))
    monkeypatch.setattr(exercise, "password_hash", hashes)
    monkeypatch.setattr(exercise, "DUMMY_HASH", hashes.hash("not anybody's password"))
    monkeypatch.setattr(exercise, "USERS", users)
    return seen


@dataclass
class Clock:
    now: float = T0


@pytest.fixture(autouse=True)
def clock(exercise: ModuleType) -> Iterator[Clock]:
    """The app's clock, set by the check: `now` is overridden for the whole check."""
    clock = Clock()

    async def now() -> float:
        return clock.now

    exercise.app.dependency_overrides[exercise.now] = now
    yield clock
    exercise.app.dependency_overrides.pop(exercise.now, None)


@asynccontextmanager
async def app(exercise: ModuleType) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(exercise.app) as client:
        yield client


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/token", data={"username": username, "password": password})


async def token_for(client: httpx.AsyncClient, who: dict[str, str]) -> str:
    response = await login(client, who["username"], who["password"])
    expect_status(response, 200, help=NO_LOGIN)
    body = response_json(response)
    expect(isinstance(body, dict), "expected the token response to be a JSON object", help=NO_LOGIN)
    token = body.get("access_token")
    expect(isinstance(token, str), "expected access_token to be a string", help=NO_LOGIN)
    return token


async def me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/me", headers={"Authorization": f"Bearer {token}"})


# -- POST /token -----------------------------------------------------------------------------


async def test_login_answers_a_bearer_token(exercise):
    """a right password answers 200 with access_token, token_type bearer and expires_in"""
    async with app(exercise) as client:
        response = await login(client, "alice", "wonderland")
    expect_status(response, 200, help=NO_LOGIN)
    body = response_json(response)
    expect_keys("the token response", {"access_token", "token_type", "expires_in"}, body)
    expect_equal("token_type", "bearer", body["token_type"], help=NO_LOGIN)
    expect_equal("expires_in", TTL, body["expires_in"], help=NO_LOGIN)


@pytest.mark.parametrize("who", [ALICE, BOB], ids=["alice", "bob"])
async def test_token_names_the_user(exercise, who):
    """the token is an access token for the user who logged in"""
    async with app(exercise) as client:
        token = await token_for(client, who)
    try:
        claims = exercise.verify_access_token(token, T0)
    except exercise.InvalidToken as exc:
        raise AssertionError(f"expected a valid access token, not one refused: {exc}") from None
    expect_equal("the token's sub", who["username"], claims["sub"], help=NO_LOGIN)
    expect_equal("the token's scope (no scopes)", "", claims["scope"], help=NO_LOGIN)


@pytest.mark.parametrize("start", [T0, PAST], ids=["future", "past"])
async def test_token_issued_at_the_clock(exercise, clock, start):
    """the token is issued at the app's clock: valid for ACCESS_TOKEN_TTL seconds from then"""
    clock.now = start
    async with app(exercise) as client:
        token = await token_for(client, ALICE)
        clock.now = start + TTL - 1
        expect_status(await me(client, token), 200, help=CLOCK)
        clock.now = start + TTL
        expect_status(await me(client, token), 401, help=CLOCK)


async def test_login_upgrades_a_legacy_hash(exercise, verifications):
    """a user with a legacy bcrypt hash logs in, and again, and the hash is now Argon2"""
    async with app(exercise) as client:
        await token_for(client, LEGACY)
        await token_for(client, LEGACY)
    stored = exercise.USERS[LEGACY["username"]].hashed_password
    expect(
        stored.startswith("$argon2id$"),
        f"expected the user's hash upgraded to Argon2, not {stored[:7]}…",
        help=UPGRADE,
    )
    expect_equal("hash verifications for two logins", 2, verifications.count, help=ONE_VERIFY)


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "can-we-fix-it"), ("alice", "Wonderland"), ("carol", "wonderland")],
    ids=["others-password", "wrong-case", "unknown-user"],
)
async def test_failed_login_is_401(exercise, username, password):
    """a wrong password or an unknown user answers the same 401 with WWW-Authenticate: Bearer"""
    async with app(exercise) as client:
        response = await login(client, username, password)
    expect_status(response, 401, help=REFUSAL)
    expect_json(response, REFUSED, help=REFUSAL)
    expect_header(response, "www-authenticate", "Bearer", help=REFUSAL)


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wonderland"), ("alice", "nope"), ("carol", "wonderland")],
    ids=["right-password", "wrong-password", "unknown-user"],
)
async def test_each_login_verifies_one_hash(exercise, verifications, username, password):
    """every login attempt verifies exactly one hash, whether the user exists or not"""
    async with app(exercise) as client:
        await login(client, username, password)
    expect_equal("hash verifications for one login", 1, verifications.count, help=ONE_VERIFY)


async def test_unknown_user_looks_like_a_wrong_password(exercise, verifications):
    """an unknown user and a wrong password get answers alike to the byte, for one hash each"""
    async with app(exercise) as client:
        wrong = await login(client, "alice", "not-her-password")
        after_wrong = verifications.count
        unknown = await login(client, "carol", "not-her-password")
    expect_equal(
        "the unknown user's status (as for a wrong password)",
        wrong.status_code,
        unknown.status_code,
        help=REFUSAL,
    )
    expect_equal(
        "the unknown user's headers (as for a wrong password)",
        sorted(wrong.headers.multi_items()),
        sorted(unknown.headers.multi_items()),
        help=REFUSAL,
    )
    expect_equal(
        "the unknown user's body (as for a wrong password)",
        wrong.content.decode(errors="replace"),
        unknown.content.decode(errors="replace"),
        help=REFUSAL,
    )
    expect_equal("hash verifications for a wrong password", 1, after_wrong, help=ONE_VERIFY)
    expect_equal(
        "hash verifications for an unknown user",
        1,
        verifications.count - after_wrong,
        help=ONE_VERIFY,
    )


@pytest.mark.stub_may_pass("the login form is given")
@pytest.mark.parametrize(
    ("form", "missing"),
    [
        ({"username": "alice"}, "password"),
        ({"username": "alice", "password": ""}, "password"),
        ({"password": "wonderland"}, "username"),
        ({"username": "", "password": "wonderland"}, "username"),
    ],
    ids=["no-password", "empty-password", "no-username", "empty-username"],
)
async def test_login_form_needs_both_fields(exercise, verifications, form, missing):
    """a login form without a username or a password, or with an empty one, answers 422"""
    async with app(exercise) as client:
        response = await client.post("/token", data=form)
    expect_status(response, 422, help=FORM)
    body = response_json(response)
    locations = [error.get("loc") for error in body.get("detail", [])]
    expect_equal("the locations of the errors", [["body", missing]], locations, help=FORM)
    expect_equal("hash verifications for a refused form", 0, verifications.count, help=FORM)


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wonderland"), ("carol", "wonderland")],
    ids=["known-user", "unknown-user"],
)
async def test_hashes_are_verified_off_the_loop(exercise, verifications, username, password):
    """every hash is verified in a worker thread, never on the event loop"""
    async with app(exercise) as client:
        await login(client, username, password)
    expect_equal("hash verifications for one login", 1, verifications.count, help=ONE_VERIFY)
    on_the_loop = verifications.threads.count(threading.get_ident())
    expect_equal("hash verifications on the event loop", 0, on_the_loop, help=OFF_THE_LOOP)


# -- GET /me ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "public"),
    [
        (ALICE, {"username": "alice"}),
        (BOB, {"username": "bob"}),
    ],
    ids=["alice", "bob"],
)
async def test_me_answers_the_user(exercise, who, public):
    """GET /me with the token answers {"username": ...} of its user, nothing more"""
    async with app(exercise) as client:
        response = await me(client, await token_for(client, who))
    expect_status(response, 200, help=PUBLIC)
    expect_json(response, public, help=PUBLIC)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic YWxpY2U6d29uZGVybGFuZA=="}],
    ids=["no-header", "basic-credentials"],
)
async def test_me_without_a_token(exercise, headers):
    """GET /me without a bearer token answers 401 Not authenticated with WWW-Authenticate: Bearer"""
    async with app(exercise) as client:
        response = await client.get("/me", headers=headers)
    expect_status(response, 401, help=BEARER)
    expect_json(response, MISSING, help=BEARER)
    expect_header(response, "www-authenticate", "Bearer", help=BEARER)


def tampered(token: str) -> str:
    """The token with one character of its payload changed: the signature no longer fits."""
    header, payload, signature = token.split(".")
    middle = len(payload) // 2
    swapped = "A" if payload[middle] != "A" else "B"
    return ".".join([header, payload[:middle] + swapped + payload[middle + 1 :], signature])


async def expect_invalid(response: httpx.Response) -> None:
    expect_status(response, 401, help=BAD_TOKEN)
    expect_json(response, INVALID, help=BAD_TOKEN)
    expect_header(response, "www-authenticate", INVALID_CHALLENGE, help=BAD_TOKEN)


@pytest.mark.parametrize(
    "token", ["not-a-jwt", "a.b.c", ""], ids=["garbage", "three-parts", "empty"]
)
async def test_me_with_a_malformed_token(exercise, token):
    """GET /me with a token that is not a JWT answers 401 error="invalid_token" """
    async with app(exercise) as client:
        await expect_invalid(await me(client, token))


async def test_me_with_a_tampered_token(exercise):
    """GET /me with a token whose payload was changed answers 401 error="invalid_token" """
    async with app(exercise) as client:
        token = await token_for(client, ALICE)
        await expect_invalid(await me(client, tampered(token)))


async def test_me_with_an_expired_token(exercise, clock):
    """GET /me with an expired token answers 401 error="invalid_token" """
    async with app(exercise) as client:
        token = await token_for(client, ALICE)
        clock.now = T0 + TTL
        await expect_invalid(await me(client, token))


async def test_me_with_a_token_not_valid_yet(exercise):
    """GET /me with a token whose validity starts later answers 401 error="invalid_token" """
    token = exercise.issue_access_token("alice", [], T0 + 60)
    async with app(exercise) as client:
        await expect_invalid(await me(client, token))


async def test_me_with_a_refresh_token(exercise):
    """GET /me with a signed token that is not an access token answers 401 error="invalid_token" """
    claims = {
        **exercise.verify_access_token(exercise.issue_access_token("alice", [], T0), T0),
        "typ": "refresh",
    }
    token = jwt.encode(claims, exercise.PRIVATE_KEY, algorithm="RS256")
    async with app(exercise) as client:
        await expect_invalid(await me(client, token))


async def test_me_for_a_user_who_is_gone(exercise):
    """GET /me with a valid token whose sub names no user answers 401 error="invalid_token" """
    token = exercise.issue_access_token("carol", [], T0)
    async with app(exercise) as client:
        await expect_invalid(await me(client, token))


# -- the OpenAPI document ----------------------------------------------------------------------


async def test_openapi_declares_the_password_flow(exercise):
    """the OpenAPI document declares an OAuth2 password flow with tokenUrl token, used by /me"""
    async with app(exercise) as client:
        response = await client.get("/openapi.json")
    expect_status(response, 200)
    document = response_json(response)
    schemes = document.get("components", {}).get("securitySchemes", {})
    flows = {
        name: scheme["flows"]["password"]
        for name, scheme in schemes.items()
        if scheme.get("type") == "oauth2" and "password" in scheme.get("flows", {})
    }
    expect(len(flows) == 1, "expected one OAuth2 scheme with a password flow", help=OPENAPI)
    [(name, flow)] = flows.items()
    expect(
        flow.get("tokenUrl") in {"token", "/token"},
        f'expected the password flow\'s tokenUrl "token", not {flow.get("tokenUrl")!r}',
        help=OPENAPI,
    )
    security = document["paths"].get("/me", {}).get("get", {}).get("security")
    expect_equal("the security of GET /me", [{name: []}], security, help=OPENAPI)
    login = document["paths"].get("/token", {}).get("post", {})
    expect("security" not in login, "expected POST /token to need no token", help=OPENAPI)
