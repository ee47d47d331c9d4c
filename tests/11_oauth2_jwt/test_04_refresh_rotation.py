"""Hidden suite for 11_oauth2_jwt/04_refresh_rotation: refresh tokens that rotate.

Every check starts the app on an empty Redis (the `redis_url` fixture), adds its users to the
lifespan state's `users` with cheap hashes (`password_hash` is replaced, as the contract
allows), and sets the time through the `now` dependency: a clock far from the wall clock, so
code that reads the wall clock gives itself away. Tokens are read without verifying them
(the checks only look at claims the app signed); the family's record is read from Redis
through the app's own client, its TTL from `pttl` against Redis's own clock, never waited for.
"""

import asyncio
import base64
import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import anyio
import httpx
import jwt
import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.base import HasherProtocol

from workbook.testing import (
    HANG_GUARD,
    expect,
    expect_equal,
    expect_header,
    expect_json,
    expect_keys,
    expect_status,
    response_json,
    running,
)

# The contract says warnings are errors in the checks.
pytestmark = pytest.mark.filterwarnings("error")

T0 = 2_000_000_000  # a login instant years after the wall clock
T_PAST = 1_000_000_000  # and one years before it
ACCESS_TTL = 15 * 60
REFRESH_TTL = 7 * 24 * 60 * 60
PASSWORD = "correct horse"
CHEAP_HASH = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
INVALID_REFRESH = {"detail": "Invalid refresh token"}
PAIR_KEYS = {"access_token", "refresh_token", "token_type"}

NO_FAMILY = (
    "Does the login store the family's record? "
    'redis.set(f"auth:family:{family}", the refresh token\'s jti, ex=its life in seconds).'
)
WRONG_TTL = (
    "Is the record's TTL the refresh token's remaining life by the injected clock, "
    "claims['exp'] - int(now)? The wall clock (time.time()) and EXAT are another clock."
)
NOT_ROTATED = (
    "Does a refresh put the new refresh token's jti in the family's record, so that the "
    "token it replaces is no longer the current one?"
)
NO_REUSE_CHECK = (
    "Does /token/refresh compare the presented token's jti with the one in the family's "
    "record, and refuse it when they differ?"
)
NOT_REVOKED = (
    "When a retired refresh token comes back, is the family's record deleted, so that "
    "every token of the family, the newest too, stops working?"
)
TYPE_CONFUSION = (
    "Does /token/refresh check claims['typ'] == 'refresh' before anything else? An access "
    "token must buy nothing, and must not touch the family either."
)
RACE = (
    "Is the check and the swap one Redis command? redis.set(key, new_jti, xx=True, get=True) "
    "replaces the record and hands back the old value in one step; a GET followed by a SET "
    "lets two requests both see the same jti as current."
)
LOGOUT = (
    "Does POST /logout delete the family's record, whichever token of the family it got? "
    "redis.delete(family_key(claims['fam'])), and no body: the route's status is 204."
)
ONE_VERIFY = (
    "Does POST /token still call the given authenticate(users, ...)? It verifies one hash "
    "for every login, DUMMY_HASH for an unknown name, so a refusal tells nobody who exists."
)
EXTENDED = (
    "Does the rotated refresh token expire when the one it replaces did? Pass the "
    "remaining life, claims['exp'] - int(now), as its ttl, not REFRESH_TOKEN_TTL."
)


class Clock:
    """The time the app's `now` dependency answers, set by the check."""

    def __init__(self, at: int) -> None:
        self.at = at

    async def __call__(self) -> float:
        return float(self.at)


@pytest.fixture(autouse=True)
def services(redis_url: str | None) -> None:
    """Each check gets an empty Redis, named by the environment."""


class CountingHasher:
    """Argon2 with light parameters that records every hash it verifies."""

    def __init__(self, hasher: HasherProtocol) -> None:
        self.hasher = hasher
        self.verified: list[str] = []

    def identify(self, hash: str | bytes) -> bool:
        return self.hasher.identify(hash)

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        return self.hasher.hash(password, salt=salt)

    def verify(self, password: str | bytes, hash: str | bytes) -> bool:
        self.verified.append(hash if isinstance(hash, str) else hash.decode())
        return self.hasher.verify(password, hash)

    def check_needs_rehash(self, hash: str | bytes) -> bool:
        return self.hasher.check_needs_rehash(hash)


@pytest.fixture(autouse=True)
def verifications(exercise: ModuleType, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Argon2 with light parameters, so that a login costs a millisecond; what it verified."""
    counting = CountingHasher(CHEAP_HASH.hashers[0])
    monkeypatch.setattr(exercise, "password_hash", PasswordHash((counting,)))
    return counting.verified


@asynccontextmanager
async def running_app(
    exercise: ModuleType, at: int = T0
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any], Clock]]:
    """The app running with alice and bob, its lifespan state, and its clock set to `at`."""
    clock = Clock(at)
    exercise.app.dependency_overrides[exercise.now] = clock
    try:
        async with running(exercise.app) as (client, state):
            for name in ("alice", "bob"):
                state["users"][name] = exercise.User(name, CHEAP_HASH.hash(PASSWORD))
            yield client, state, clock
    finally:
        exercise.app.dependency_overrides.pop(exercise.now, None)


@asynccontextmanager
async def auth_app(
    exercise: ModuleType, at: int = T0
) -> AsyncIterator[tuple[httpx.AsyncClient, Any, Clock]]:
    """The app running with alice and bob, its Redis, and its clock set to `at`."""
    async with running_app(exercise, at) as (client, state, clock):
        yield client, state["redis"], clock


def claims(token: str) -> dict[str, Any]:
    """The claims of a token, read without checking anything."""
    return jwt.decode(token, options={"verify_signature": False})


def family_key(token: str) -> str:
    return f"auth:family:{claims(token)['fam']}"


async def login(client: httpx.AsyncClient, username: str = "alice") -> dict[str, Any]:
    response = await client.post("/token", data={"username": username, "password": PASSWORD})
    expect_status(response, 200)
    return response_json(response)


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/token/refresh", json={"refresh_token": token})


async def rotate(client: httpx.AsyncClient, token: str, *, help: str | None = None) -> str:
    """Refresh with `token`, which must work; the new refresh token."""
    response = await refresh(client, token)
    expect_status(response, 200, help=help)
    return response_json(response)["refresh_token"]


def expect_refused(response: httpx.Response, *, help: str | None = None) -> None:
    expect_status(response, 401, help=help)
    expect_json(response, INVALID_REFRESH)
    expect_header(response, "www-authenticate", "Bearer")


async def expect_current(redis: Any, token: str, *, help: str | None = None) -> None:
    """The family's record names this refresh token as the current one."""
    key = family_key(token)
    expect_equal(f"the value at {key}", claims(token)["jti"], await redis.get(key), help=help)


async def expect_revoked(redis: Any, token: str, *, help: str | None = None) -> None:
    key = family_key(token)
    expect_equal(f"the value at {key}", None, await redis.get(key), help=help)


async def redis_ms(redis: Any) -> int:
    """The Redis server's own clock, in milliseconds."""
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def expect_ttl(redis: Any, key: str, seconds: int, since: int) -> None:
    """The record at `key`, written after `since` (Redis time), was given a TTL of `seconds`."""
    left = await redis.pttl(key)
    passed = await redis_ms(redis) - since
    expect(left != -2, f"expected a record at {key}, found none", help=NO_FAMILY)
    expect(left != -1, f"expected {key} to expire after {seconds} s, not never", help=WRONG_TTL)
    expect(
        left <= seconds * 1000 <= left + passed + 1,
        f"expected {key} to expire {seconds} s after it was written, "
        f"not about {round((left + passed / 2) / 1000)} s",
        help=WRONG_TTL,
    )


class Overlap:
    """The app's Redis client, where the first two commands overlap as on a busy server.

    Each of them runs, then waits for the other to have run (or for a request to end)
    before its result comes back: two requests whose check and swap are two commands both
    see the state before either writes.
    """

    def __init__(self, redis: Any) -> None:
        self._redis = redis
        self._ran = 0
        self._both = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._redis, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attr(*args, **kwargs)
            return self._overlapped(result) if inspect.iscoroutine(result) else result

        return call

    def release(self) -> None:
        """A request has ended: nothing waits for it any more."""
        self._both.set()

    async def _overlapped(self, command: Any) -> Any:
        result = await command
        if not self._both.is_set():
            self._ran += 1
            if self._ran == 2:
                self._both.set()
            with anyio.fail_after(HANG_GUARD):
                await self._both.wait()
        return result


def tampered(token: str) -> str:
    """The token with one bit of its signature flipped."""
    head, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 1
    return f"{head}.{payload}.{base64.urlsafe_b64encode(raw).rstrip(b'=').decode()}"


# -- login starts a family -----------------------------------------------------------------


@pytest.mark.stub_may_pass("the login's pair is given")
async def test_login_answers_a_pair(exercise):
    """logging in answers an access token, a refresh token and token_type bearer"""
    async with auth_app(exercise) as (client, _, _):
        body = await login(client)
    expect_keys("keys of the login's body", PAIR_KEYS, body)
    expect_equal("token_type", "bearer", body["token_type"])
    access, refresh_ = claims(body["access_token"]), claims(body["refresh_token"])
    expect_equal("typ of the access token", "access", access["typ"])
    expect_equal("typ of the refresh token", "refresh", refresh_["typ"])
    expect_equal("exp of the access token", T0 + ACCESS_TTL, access["exp"])
    expect_equal("exp of the refresh token", T0 + REFRESH_TTL, refresh_["exp"])
    expect_equal("family of the access token", refresh_["fam"], access["fam"])


@pytest.mark.parametrize("at", [T0, T_PAST], ids=["future", "past"])
async def test_login_stores_the_family(exercise, at):
    """logging in stores the refresh token's jti at auth:family:{fam}, for REFRESH_TOKEN_TTL"""
    async with auth_app(exercise, at) as (client, redis, _):
        since = await redis_ms(redis)
        body = await login(client)
        await expect_current(redis, body["refresh_token"], help=NO_FAMILY)
        await expect_ttl(redis, family_key(body["refresh_token"]), REFRESH_TTL, since)


async def test_each_login_is_a_family(exercise):
    """every login starts a family of its own, with its own record"""
    async with auth_app(exercise) as (client, redis, _):
        first, second = await login(client), await login(client)
        expect(
            claims(first["refresh_token"])["fam"] != claims(second["refresh_token"])["fam"],
            "expected two logins to start two families, not to share one",
        )
        await expect_current(redis, first["refresh_token"], help=NO_FAMILY)
        await expect_current(redis, second["refresh_token"], help=NO_FAMILY)


@pytest.mark.stub_may_pass("the login's checks are given")
@pytest.mark.parametrize("username", ["alice", "carol"], ids=["wrong-password", "unknown-user"])
async def test_failed_login_stores_nothing(exercise, verifications, username):
    """a wrong password or an unknown user answers 401, verifies one hash, starts no family"""
    async with auth_app(exercise) as (client, redis, _):
        form = {"username": username, "password": "nope"}
        response = await client.post("/token", data=form)
        expect_status(response, 401)
        expect_json(response, {"detail": "Incorrect username or password"})
        expect_header(response, "www-authenticate", "Bearer")
        expect_equal("keys in Redis", [], await redis.keys("*"))
    expect_equal("hash verifications for one login", 1, len(verifications), help=ONE_VERIFY)


# -- a refresh rotates ---------------------------------------------------------------------


async def test_refresh_answers_a_new_pair(exercise):
    """a refresh answers a new pair in the same family; the new refresh token keeps the old exp"""
    async with auth_app(exercise) as (client, _, clock):
        old = (await login(client))["refresh_token"]
        clock.at = T0 + 60
        response = await refresh(client, old)
    expect_status(response, 200)
    body = response_json(response)
    expect_keys("keys of the refresh's body", PAIR_KEYS, body)
    expect_equal("token_type", "bearer", body["token_type"])
    access, new = claims(body["access_token"]), claims(body["refresh_token"])
    expect_equal("typ of the new access token", "access", access["typ"])
    expect_equal("sub of the new access token", "alice", access["sub"])
    expect_equal("family of the new access token", claims(old)["fam"], access["fam"])
    expect_equal("exp of the new access token", T0 + 60 + ACCESS_TTL, access["exp"])
    expect_equal("typ of the new refresh token", "refresh", new["typ"])
    expect_equal("family of the new refresh token", claims(old)["fam"], new["fam"])
    expect_equal("sub of the new refresh token", "alice", new["sub"])
    expect_equal("exp of the new refresh token", T0 + REFRESH_TTL, new["exp"], help=EXTENDED)


@pytest.mark.parametrize(
    ("at", "later"),
    [(T0, 60), (T_PAST, 60), (T0, REFRESH_TTL - 3600)],
    ids=["future", "past", "last-hour"],
)
async def test_refresh_moves_the_record(exercise, at, later):
    """after a refresh the record holds the new jti and expires with the family"""
    async with auth_app(exercise, at) as (client, redis, clock):
        old = (await login(client))["refresh_token"]
        clock.at = at + later
        since = await redis_ms(redis)
        new = await rotate(client, old)
        await expect_current(redis, new, help=NOT_ROTATED)
        await expect_ttl(redis, family_key(new), REFRESH_TTL - later, since)


async def test_refresh_in_the_last_second(exercise):
    """a refresh in the family's last second still answers a pair that ends with the family"""
    async with auth_app(exercise) as (client, _, clock):
        old = (await login(client))["refresh_token"]
        clock.at = T0 + REFRESH_TTL - 1
        response = await refresh(client, old)
    expect_status(response, 200, help=EXTENDED)
    new = claims(response_json(response)["refresh_token"])
    expect_equal("exp of the new refresh token", T0 + REFRESH_TTL, new["exp"], help=EXTENDED)


async def test_rotation_chain(exercise):
    """each new refresh token can be refreshed in its turn"""
    async with auth_app(exercise) as (client, redis, clock):
        token = (await login(client))["refresh_token"]
        for step in range(1, 4):
            clock.at = T0 + 10 * step
            token = await rotate(client, token, help=NOT_ROTATED)
        await expect_current(redis, token, help=NOT_ROTATED)


@pytest.mark.stub_may_pass("the given verify_token already checks exp and nbf at the time given")
@pytest.mark.parametrize(
    "later", [REFRESH_TTL, REFRESH_TTL + 1, -1], ids=["at-exp", "after-exp", "before-nbf"]
)
async def test_refresh_outside_its_life(exercise, later):
    """a refresh token at or after its exp, or before its nbf, is refused by the injected clock"""
    async with auth_app(exercise) as (client, _, clock):
        token = (await login(client))["refresh_token"]
        clock.at = T0 + later
        expect_refused(await refresh(client, token))


# -- reuse ---------------------------------------------------------------------------------


async def test_reuse_is_refused(exercise):
    """a refresh token used a second time answers 401 Invalid refresh token"""
    async with auth_app(exercise) as (client, _, clock):
        old = (await login(client))["refresh_token"]
        clock.at = T0 + 60
        await rotate(client, old)
        clock.at = T0 + 120
        expect_refused(await refresh(client, old), help=NO_REUSE_CHECK)


async def test_reuse_revokes_the_family(exercise):
    """a reused refresh token revokes its family: the newest token is refused too"""
    async with auth_app(exercise) as (client, redis, clock):
        first = (await login(client))["refresh_token"]
        clock.at = T0 + 60
        second = await rotate(client, first)
        newest = await rotate(client, second)
        clock.at = T0 + 120
        expect_refused(await refresh(client, first), help=NO_REUSE_CHECK)
        await expect_revoked(redis, newest, help=NOT_REVOKED)
        expect_refused(await refresh(client, newest), help=NOT_REVOKED)


async def test_reuse_spares_other_families(exercise):
    """a reuse revokes its own family only: another login of the same user keeps working"""
    async with auth_app(exercise) as (client, redis, clock):
        stolen = (await login(client))["refresh_token"]
        other = (await login(client))["refresh_token"]
        clock.at = T0 + 60
        await rotate(client, stolen)
        expect_refused(await refresh(client, stolen))
        await expect_current(redis, other)
        await rotate(client, other)


async def test_racing_refreshes(exercise):
    """two refreshes racing with one token: one gets a pair, the other 401, and the family ends"""
    async with running_app(exercise) as (client, state, clock):
        redis = state["redis"]
        token = (await login(client))["refresh_token"]
        clock.at = T0 + 60
        state["redis"] = overlap = Overlap(redis)

        async def attempt() -> httpx.Response:
            try:
                return await refresh(client, token)
            finally:
                overlap.release()

        responses = await asyncio.gather(attempt(), attempt())
        statuses = sorted(response.status_code for response in responses)
        expect_equal("statuses of two refreshes with one token", [200, 401], statuses, help=RACE)
        await expect_revoked(redis, token, help=RACE)


@pytest.mark.parametrize("action", ["/token/refresh", "/logout"])
async def test_access_token_buys_nothing(exercise, action):
    """an access token presented as a refresh token answers 401 and leaves the family alone"""
    async with auth_app(exercise) as (client, redis, clock):
        body = await login(client)
        clock.at = T0 + 60
        response = await client.post(action, json={"refresh_token": body["access_token"]})
        expect_refused(response, help=TYPE_CONFUSION)
        await expect_current(redis, body["refresh_token"], help=TYPE_CONFUSION)
        await rotate(client, body["refresh_token"], help=TYPE_CONFUSION)


@pytest.mark.stub_may_pass("the given verify_token already refuses a tampered token")
async def test_tampered_token_changes_nothing(exercise):
    """a refresh token with a tampered signature answers 401 and leaves the family alone"""
    async with auth_app(exercise) as (client, _, clock):
        token = (await login(client))["refresh_token"]
        clock.at = T0 + 60
        expect_refused(await refresh(client, tampered(token)))
        await rotate(client, token)


async def test_unknown_family_is_refused(exercise):
    """a signed refresh token whose record is gone answers 401, and no record comes back"""
    async with auth_app(exercise) as (client, redis, clock):
        token = (await login(client))["refresh_token"]
        await redis.delete(family_key(token))
        clock.at = T0 + 60
        expect_refused(await refresh(client, token))
        expect_equal("keys in Redis", [], await redis.keys("*"))


# -- logout --------------------------------------------------------------------------------


async def test_logout_revokes_the_family(exercise):
    """POST /logout with a refresh token answers 204 and its family stops working"""
    async with auth_app(exercise) as (client, redis, clock):
        token = (await login(client))["refresh_token"]
        clock.at = T0 + 60
        response = await client.post("/logout", json={"refresh_token": token})
        expect_status(response, 204, help=LOGOUT)
        expect_equal("the body of a 204", "", response.text, help=LOGOUT)
        await expect_revoked(redis, token, help=LOGOUT)
        expect_refused(await refresh(client, token), help=LOGOUT)


async def test_logout_with_a_retired_token(exercise):
    """logging out with an older refresh token of the family also ends it"""
    async with auth_app(exercise) as (client, redis, clock):
        first = (await login(client))["refresh_token"]
        clock.at = T0 + 60
        newest = await rotate(client, first)
        expect_status(await client.post("/logout", json={"refresh_token": first}), 204)
        await expect_revoked(redis, newest, help=LOGOUT)
        expect_refused(await refresh(client, newest), help=LOGOUT)


async def test_logout_spares_other_families(exercise):
    """logging out ends one family: the user's other login keeps working, and again is 204"""
    async with auth_app(exercise) as (client, redis, clock):
        mine = (await login(client))["refresh_token"]
        other = (await login(client))["refresh_token"]
        clock.at = T0 + 60
        for _ in range(2):
            expect_status(await client.post("/logout", json={"refresh_token": mine}), 204)
        await expect_current(redis, other)
        await rotate(client, other)


@pytest.mark.stub_may_pass("the given verify_token already refuses a tampered token")
async def test_logout_refuses_a_bad_token(exercise):
    """logging out with a token that is not valid answers 401"""
    async with auth_app(exercise) as (client, _, _):
        token = (await login(client))["refresh_token"]
        expect_refused(await client.post("/logout", json={"refresh_token": tampered(token)}))


# -- the given access check ----------------------------------------------------------------


@pytest.mark.stub_may_pass("GET /me is given")
async def test_refresh_token_is_no_access_token(exercise):
    """a refresh token sent as a bearer token to GET /me answers 401"""
    async with auth_app(exercise) as (client, _, _):
        body = await login(client)
        ok = await client.get("/me", headers={"Authorization": f"Bearer {body['access_token']}"})
        expect_status(ok, 200)
        expect_json(ok, {"username": "alice"})
        wrong = await client.get(
            "/me", headers={"Authorization": f"Bearer {body['refresh_token']}"}
        )
        expect_status(wrong, 401)
        expect_header(wrong, "www-authenticate", "Bearer")


@pytest.mark.stub_may_pass("GET /me is given")
async def test_me_refuses_a_bad_access_token(exercise):
    """GET /me with a tampered or expired access token answers 401, not a crash"""
    async with auth_app(exercise) as (client, _, clock):
        access = (await login(client))["access_token"]
        for token, at in ((tampered(access), T0), (access, T0 + ACCESS_TTL)):
            clock.at = at
            response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
            expect_status(response, 401)
            expect_json(response, {"detail": "Invalid access token"})
            expect_header(response, "www-authenticate", "Bearer")
