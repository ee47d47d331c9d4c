"""Every snippet of lessons/11-oauth2-jwt.md runs and does what the page says.

Every attack the page names is shown failing against the code it recommends: the token
attacks against ``tokens.verify_token`` and through the apps' routes, the refresh-token
attacks against ``refresh.py``, the username probe by counting hash verifications. The
checks that start ``refresh.py`` request the ``redis_url`` fixture, so they run on fakeredis
and again on a real Redis when ``REDIS_URL`` is set.
"""

import asyncio
import base64
import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import jwt
import pytest
from fakeredis import FakeAsyncRedis
from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from workbook.loader import load_copy
from workbook.testing import client_for, running

ROOT = Path(__file__).resolve().parents[2]
LESSON = ROOT / "lessons" / "11-oauth2-jwt.md"
SNIPPETS = ROOT / "lessons" / "snippets" / "11_oauth2_jwt"
TESTED = {
    "hashing.py",
    "tokens.py",
    "symmetric.py",
    "attacks.py",
    "naive.py",
    "password_flow.py",
    "refresh.py",
    "scopes.py",
}
SHARED = ("hashing", "tokens")  # slow to import (an Argon2 hash, an RSA key): loaded once
NOW = 1_900_000_000  # 2030-03-17: far from the wall clock on purpose
PASSWORD = "correct horse battery staple"


_shared: dict[str, ModuleType] = {}


def fresh(filename: str) -> ModuleType:
    """A new copy of a snippet; hashing.py and tokens.py are shared, with no users."""
    for name in ("attacks", "naive"):
        sys.modules.pop(name, None)
    for name in SHARED:
        if name not in _shared:
            _shared[name] = load_copy(SNIPPETS / f"{name}.py")
        sys.modules[name] = _shared[name]
    _shared["hashing"].USERS.clear()
    stem = filename.removesuffix(".py")
    return _shared[stem] if stem in SHARED else load_copy(SNIPPETS / filename)


def neighbour(name: str) -> Any:
    return sys.modules[name]


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The hash verifications done while the test runs, by hasher: "argon2" or "bcrypt"."""
    calls: list[str] = []
    for label, hasher in (("argon2", Argon2Hasher), ("bcrypt", BcryptHasher)):
        original = hasher.verify

        def counted(self: Any, password: Any, hash: Any, _o: Any = original, _l: str = label):
            calls.append(_l)
            return _o(self, password, hash)

        monkeypatch.setattr(hasher, "verify", counted)
    return calls


_hashes: dict[bool, str] = {}


def add_user(hashing: ModuleType, username: str = "alice", *, legacy: bool = False) -> Any:
    """A user whose password is PASSWORD, hashed with bcrypt (legacy) or the app's Argon2."""
    if legacy not in _hashes:
        hasher = BcryptHasher(rounds=4) if legacy else hashing.password_hash
        _hashes[legacy] = hasher.hash(PASSWORD)
    user = hashing.User(username, _hashes[legacy])
    hashing.USERS[username] = user
    return user


def b64decode(segment: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_every_snippet_is_on_the_page_and_tested() -> None:
    files = {path.name for path in SNIPPETS.glob("*.py")}
    included = set(re.findall(r'--8<-- "11_oauth2_jwt/(\w+\.py)', LESSON.read_text()))
    assert files == TESTED
    assert files == included


# -- hashing.py -----------------------------------------------------------------------------


def test_new_hashes_are_argon2id_and_salted() -> None:
    hashing = fresh("hashing.py")
    first = hashing.password_hash.hash(PASSWORD)
    second = hashing.password_hash.hash(PASSWORD)
    assert first.startswith("$argon2id$")
    assert first != second  # a new random salt each time
    assert hashing.password_hash.verify(PASSWORD, first)
    assert hashing.DUMMY_HASH.startswith("$argon2id$")


def test_an_unknown_user_costs_one_verification_like_a_wrong_password(
    verifications: list[str],
) -> None:
    hashing = fresh("hashing.py")
    add_user(hashing)
    assert hashing.authenticate("mallory", PASSWORD) is None
    unknown = list(verifications)
    verifications.clear()
    assert hashing.authenticate("alice", "wrong") is None
    assert unknown == verifications == ["argon2"]  # the probe learns nothing


def test_a_legacy_bcrypt_hash_is_upgraded_on_login_only(verifications: list[str]) -> None:
    hashing = fresh("hashing.py")
    user = add_user(hashing, legacy=True)
    legacy = user.hashed_password
    assert legacy.startswith("$2b$04$")
    assert hashing.authenticate("alice", "wrong") is None
    assert user.hashed_password == legacy  # a failed login changes nothing
    assert hashing.authenticate("alice", PASSWORD) is user
    assert user.hashed_password.startswith("$argon2id$")
    assert hashing.authenticate("alice", PASSWORD) is user  # the new hash verifies
    assert verifications == ["bcrypt", "bcrypt", "argon2"]


def test_weaker_argon2_parameters_are_upgraded_too() -> None:
    hashing = fresh("hashing.py")
    user = add_user(hashing)
    user.hashed_password = Argon2Hasher(time_cost=1, memory_cost=1024).hash(PASSWORD)
    assert "m=1024,t=1" in user.hashed_password
    assert hashing.authenticate("alice", PASSWORD) is user
    assert "m=65536,t=3" in user.hashed_password


def test_an_empty_password_is_refused_by_the_same_path(verifications: list[str]) -> None:
    hashing = fresh("hashing.py")
    add_user(hashing)
    hashing.USERS["old"] = hashing.User("old", BcryptHasher(rounds=4).hash(""))
    assert hashing.authenticate("alice", "") is None
    assert hashing.authenticate("old", "") is None  # even where "" is the stored password
    assert verifications == ["argon2", "bcrypt"]  # one verification each, as usual


# -- tokens.py ------------------------------------------------------------------------------


def test_a_token_carries_every_claim_and_names_its_key() -> None:
    tokens = fresh("tokens.py")
    token = tokens.issue_token("alice", typ="access", now=NOW + 0.7, ttl=900, scopes=["a", "b"])
    header, payload, _ = token.split(".")
    claims = tokens.verify_token(token, typ="access", now=NOW)
    assert b64decode(header) == {"alg": "RS256", "kid": tokens.KEY_ID, "typ": "JWT"}
    assert b64decode(payload) == claims  # signed, not encrypted: anyone can read it
    assert claims == {
        "iss": tokens.ISSUER,
        "aud": tokens.AUDIENCE,
        "sub": "alice",
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + 900,
        "jti": claims["jti"],
        "typ": "access",
        "scope": "a b",
    }
    assert re.fullmatch(r"[0-9a-f]{32}", claims["jti"])
    other = tokens.issue_token("alice", typ="access", now=NOW, ttl=900)
    assert tokens.verify_token(other, typ="access", now=NOW)["jti"] != claims["jti"]


def test_the_injected_clock_decides_both_boundaries() -> None:
    tokens = fresh("tokens.py")
    token = tokens.issue_token("alice", typ="access", now=NOW, ttl=900)
    assert tokens.verify_token(token, typ="access", now=NOW)["sub"] == "alice"
    assert tokens.verify_token(token, typ="access", now=NOW + 899.9)["sub"] == "alice"
    with pytest.raises(tokens.InvalidToken, match=r"^expired$"):
        tokens.verify_token(token, typ="access", now=NOW + 900)  # at exp: already expired
    with pytest.raises(tokens.InvalidToken, match=r"^not yet valid$"):
        tokens.verify_token(token, typ="access", now=NOW - 0.5)


def test_pyjwt_reads_the_wall_clock_itself() -> None:
    tokens = fresh("tokens.py")
    token = tokens.issue_token("alice", typ="access", now=NOW, ttl=900)
    with pytest.raises(jwt.ImmatureSignatureError):  # NOW is years ahead of the wall clock
        jwt.decode(token, tokens.PUBLIC_KEY, algorithms=["RS256"], audience=tokens.AUDIENCE)


def test_a_refresh_token_is_not_an_access_token_and_back() -> None:
    tokens = fresh("tokens.py")
    refresh = tokens.issue_token("alice", typ="refresh", now=NOW, ttl=60)
    access = tokens.issue_token("alice", typ="access", now=NOW, ttl=60)
    with pytest.raises(tokens.InvalidToken, match=r"^not an access token$"):
        tokens.verify_token(refresh, typ="access", now=NOW)
    with pytest.raises(tokens.InvalidToken, match=r"^not a refresh token$"):
        tokens.verify_token(access, typ="refresh", now=NOW)


def test_an_unknown_key_id_is_refused_and_a_rotated_key_still_verifies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokens = fresh("tokens.py")
    token = tokens.issue_token("alice", typ="access", now=NOW, ttl=900)
    monkeypatch.setattr(tokens, "PUBLIC_KEYS", {"2027-01": b"the next key"})
    with pytest.raises(tokens.InvalidToken, match=r"^unknown key id$"):
        tokens.verify_token(token, typ="access", now=NOW)
    keys = {"2027-01": b"the next key", tokens.KEY_ID: tokens.PUBLIC_KEY}
    monkeypatch.setattr(tokens, "PUBLIC_KEYS", keys)
    assert tokens.verify_token(token, typ="access", now=NOW)["sub"] == "alice"


def test_garbage_is_an_invalid_token_not_a_crash() -> None:
    tokens = fresh("tokens.py")
    for garbage in ("", "abc", "a.b.c", "a.b"):
        with pytest.raises(tokens.InvalidToken):
            tokens.verify_token(garbage, typ="access", now=NOW)


# -- attacks.py: every attack the page names fails against tokens.verify_token --------------

REASONS = {
    "alg: none": "The specified alg value is not allowed",
    "tampered payload": "Signature verification failed",
    "wrong key": "Signature verification failed",
    "HS/RS confusion": "The specified alg value is not allowed",
    "expired": "expired",
    "not yet valid": "not yet valid",
    "wrong audience": "Audience doesn't match",
    "wrong issuer": "Invalid issuer",
    "missing sub": 'Token is missing the "sub" claim',
    "refresh token as access": "not an access token",
}


def test_the_attack_list_is_the_pages() -> None:
    attacks = fresh("attacks.py")
    assert list(attacks.ATTACKS) == list(REASONS)


@pytest.mark.parametrize("attack", list(REASONS))
def test_every_attack_is_refused_with_its_reason(attack: str) -> None:
    attacks = fresh("attacks.py")
    tokens = neighbour("tokens")
    honest = attacks.signed(attacks.claims(NOW))
    assert tokens.verify_token(honest, typ="access", now=NOW)["sub"] == "alice"
    forged = attacks.ATTACKS[attack](NOW)
    with pytest.raises(tokens.InvalidToken) as refused:
        tokens.verify_token(forged, typ="access", now=NOW)
    assert str(refused.value) == REASONS[attack]


def test_the_forged_tokens_look_like_the_page_says() -> None:
    attacks = fresh("attacks.py")
    none = attacks.alg_none(NOW)
    assert none.endswith(".")
    assert jwt.get_unverified_header(none)["alg"] == "none"
    assert jwt.get_unverified_header(attacks.hs_rs_confusion(NOW))["alg"] == "HS256"
    tampered = attacks.tampered(NOW)
    assert b64decode(tampered.split(".")[1])["sub"] == "admin"


# -- naive.py: what a loose decoder lets through --------------------------------------------


def test_a_naive_decoder_accepts_what_the_pinned_one_refuses() -> None:
    attacks = fresh("attacks.py")
    tokens = neighbour("tokens")
    naive = load_copy(SNIPPETS / "naive.py")  # verifies with the same key
    now = time.time()  # the naive decoder checks the times against the wall clock
    for attack in ("wrong issuer", "missing sub", "refresh token as access"):
        forged = attacks.ATTACKS[attack](now)
        assert naive.naive_verify(forged)["aud"] == tokens.AUDIENCE, attack
        with pytest.raises(tokens.InvalidToken):
            tokens.verify_token(forged, typ="access", now=now)
    forever = attacks.signed(attacks.claims(now, exp=None))
    assert "exp" not in naive.naive_verify(forever)  # no exp: valid forever
    with pytest.raises(tokens.InvalidToken, match='"exp"'):
        tokens.verify_token(forever, typ="access", now=now)


def test_hs_rs_confusion_against_a_loose_list_escapes_as_a_key_error() -> None:
    attacks = fresh("attacks.py")
    naive = load_copy(SNIPPETS / "naive.py")
    with pytest.raises(jwt.InvalidKeyError) as escaped:
        naive.naive_verify(attacks.hs_rs_confusion(NOW))
    assert not isinstance(escaped.value, jwt.InvalidTokenError)  # `except` misses it: a 500
    assert "asymmetric key" in str(escaped.value)


# -- symmetric.py ---------------------------------------------------------------------------


def test_hs256_round_trips_and_a_short_secret_warns() -> None:
    symmetric = fresh("symmetric.py")
    assert len(symmetric.SECRET) == 32
    assert symmetric.verify(symmetric.sign({"sub": "alice"})) == {"sub": "alice"}
    with pytest.warns(jwt.InsecureKeyLengthWarning, match="31 bytes"):
        symmetric.sign({"sub": "alice"}, b"x" * 31)
    with pytest.raises(jwt.InvalidSignatureError):
        symmetric.verify(symmetric.sign({"sub": "alice"}), b"y" * 32)


# -- password_flow.py -----------------------------------------------------------------------


def flow_app() -> tuple[ModuleType, ModuleType]:
    module = fresh("password_flow.py")
    module.app.dependency_overrides[module.now] = lambda: NOW
    return module, neighbour("hashing")


async def test_login_gives_a_bearer_token_that_reads_me() -> None:
    module, hashing = flow_app()
    add_user(hashing)
    async with client_for(module.app) as client:
        login = await client.post("/token", data={"username": "alice", "password": PASSWORD})
        body = login.json()
        me = await client.get("/users/me", headers=bearer(body["access_token"]))
    assert login.status_code == 200
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert me.status_code == 200
    assert me.json() == {"username": "alice"}


async def test_a_wrong_password_and_an_unknown_user_answer_the_same(
    verifications: list[str],
) -> None:
    module, hashing = flow_app()
    add_user(hashing)
    async with client_for(module.app) as client:
        wrong = await client.post("/token", data={"username": "alice", "password": "guess"})
        wrong_cost = list(verifications)
        verifications.clear()
        unknown = await client.post("/token", data={"username": "mallory", "password": "guess"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.content == unknown.content == b'{"detail":"Incorrect username or password"}'
    assert dict(wrong.headers) == dict(unknown.headers)
    assert wrong.headers["www-authenticate"] == "Bearer"
    assert wrong_cost == verifications == ["argon2"]


async def test_no_token_is_401_with_a_bare_bearer_challenge() -> None:
    module, _ = flow_app()
    async with client_for(module.app) as client:
        missing = await client.get("/users/me")
        basic = await client.get("/users/me", headers={"Authorization": "Basic YTpi"})
    for response in (missing, basic):
        assert response.status_code == 401
        assert response.json() == {"detail": "Not authenticated"}
        assert response.headers["www-authenticate"] == "Bearer"


async def test_every_forged_token_is_a_401_invalid_token() -> None:
    module, hashing = flow_app()
    add_user(hashing)
    attacks = load_copy(SNIPPETS / "attacks.py")  # signs with the app's tokens module
    async with client_for(module.app) as client:
        for attack, forge in attacks.ATTACKS.items():
            response = await client.get("/users/me", headers=bearer(forge(NOW)))
            assert response.status_code == 401, attack
            assert response.json() == {"detail": "Invalid token"}, attack
            assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_a_token_for_a_deleted_user_is_refused_the_same_way() -> None:
    module, hashing = flow_app()
    add_user(hashing)
    tokens = neighbour("tokens")
    token = tokens.issue_token("alice", typ="access", now=NOW, ttl=900)
    del hashing.USERS["alice"]
    async with client_for(module.app) as client:
        response = await client.get("/users/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_the_document_declares_the_password_flow() -> None:
    module, _ = flow_app()
    async with client_for(module.app) as client:
        document = (await client.get("/openapi.json")).json()
        form = await client.post("/token", data={"username": "alice"})
    assert document["components"]["securitySchemes"] == {
        "OAuth2PasswordBearer": {
            "type": "oauth2",
            "flows": {"password": {"scopes": {}, "tokenUrl": "token"}},
        }
    }
    assert document["paths"]["/users/me"]["get"]["security"] == [{"OAuth2PasswordBearer": []}]
    assert "security" not in document["paths"]["/token"]["post"]
    assert form.status_code == 422  # the form's fields are required, as form fields
    assert form.json()["detail"][0]["loc"] == ["body", "password"]


def test_login_is_a_def_route_so_hashing_runs_in_the_threadpool() -> None:
    module, _ = flow_app()
    assert not asyncio.iscoroutinefunction(module.login)


# -- refresh.py -----------------------------------------------------------------------------


def refresh_app() -> tuple[ModuleType, dict[str, float]]:
    module = fresh("refresh.py")
    add_user(neighbour("hashing"))
    clock = {"now": float(NOW)}
    module.app.dependency_overrides[module.now] = lambda: clock["now"]
    return module, clock


async def login(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/token", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()


async def rotate(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post("/token/refresh", json={"refresh_token": refresh_token})


async def test_refresh_rotates_and_the_family_ttl_is_the_tokens_life(
    redis_url: str | None,
) -> None:
    module, clock = refresh_app()
    tokens = neighbour("tokens")
    async with running(module.app) as (client, state):
        first = await login(client)
        claims = tokens.verify_token(first["refresh_token"], typ="refresh", now=NOW)
        key = f"auth:family:{claims['fam']}"
        assert await state["redis"].get(key) == claims["jti"]
        clock["now"] += 3600
        second = await rotate(client, first["refresh_token"])
        pair = second.json()
        new = tokens.verify_token(pair["refresh_token"], typ="refresh", now=clock["now"])
        live, ttl = await state["redis"].get(key), await state["redis"].ttl(key)
        me = await client.get("/users/me", headers=bearer(pair["access_token"]))
    assert second.status_code == 200
    assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert new["fam"] == claims["fam"]
    assert new["jti"] != claims["jti"]
    assert new["exp"] == NOW + tokens.REFRESH_TTL  # rotation never extends the family
    assert live == new["jti"]
    assert tokens.REFRESH_TTL - 3600 - 1 <= ttl <= tokens.REFRESH_TTL - 3600
    assert me.json() == {"username": "alice"}


async def test_a_reused_refresh_token_revokes_the_whole_family(redis_url: str | None) -> None:
    module, _ = refresh_app()
    async with running(module.app) as (client, state):
        stolen = await login(client)
        other_login = await login(client)
        honest = (await rotate(client, stolen["refresh_token"])).json()
        reuse = await rotate(client, stolen["refresh_token"])
        after = await rotate(client, honest["refresh_token"])
        me = await client.get("/users/me", headers=bearer(honest["access_token"]))
        other = await client.get("/users/me", headers=bearer(other_login["access_token"]))
        keys = await state["redis"].keys("auth:family:*")
    assert reuse.status_code == after.status_code == me.status_code == 401
    assert reuse.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert other.status_code == 200  # another login is another family
    assert len(keys) == 1


async def test_two_concurrent_refreshes_with_one_token_count_as_reuse(
    redis_url: str | None,
) -> None:
    module, _ = refresh_app()
    async with running(module.app) as (client, state):
        pair = await login(client)
        both = await asyncio.gather(
            rotate(client, pair["refresh_token"]), rotate(client, pair["refresh_token"])
        )
        keys = await state["redis"].keys("auth:family:*")
    assert sorted(response.status_code for response in both) == [200, 401]
    assert keys == []


async def test_an_access_token_is_no_refresh_token_and_back(redis_url: str | None) -> None:
    module, _ = refresh_app()
    async with running(module.app) as (client, _):
        pair = await login(client)
        as_refresh = await rotate(client, pair["access_token"])
        as_access = await client.get("/users/me", headers=bearer(pair["refresh_token"]))
        still = await rotate(client, pair["refresh_token"])
    assert as_refresh.status_code == as_access.status_code == 401
    assert still.status_code == 200  # a refused attempt does not burn the family


async def test_an_expired_refresh_token_is_refused_at_its_exp(redis_url: str | None) -> None:
    module, clock = refresh_app()
    tokens = neighbour("tokens")
    async with running(module.app) as (client, _):
        pair = await login(client)
        clock["now"] = NOW + tokens.REFRESH_TTL
        expired = await rotate(client, pair["refresh_token"])
        clock["now"] = NOW + tokens.REFRESH_TTL - 1
        in_time = await rotate(client, pair["refresh_token"])
    assert expired.status_code == 401
    assert in_time.status_code == 200


async def test_logout_revokes_the_family(redis_url: str | None) -> None:
    module, _ = refresh_app()
    async with running(module.app) as (client, state):
        pair = await login(client)
        out = await client.post("/logout", headers=bearer(pair["access_token"]))
        me = await client.get("/users/me", headers=bearer(pair["access_token"]))
        again = await rotate(client, pair["refresh_token"])
        keys = await state["redis"].keys("*")
    assert out.status_code == 204
    assert me.status_code == again.status_code == 401
    assert keys == []


async def test_the_lifespan_opens_fakeredis_without_redis_url(redis_url: str | None) -> None:
    module, _ = refresh_app()
    async with running(module.app) as (_, state):
        assert await state["redis"].ping()
    assert isinstance(state["redis"], FakeAsyncRedis) is (redis_url is None)


# -- scopes.py ------------------------------------------------------------------------------


def scoped(*scopes: str) -> tuple[ModuleType, str]:
    module = fresh("scopes.py")
    module.app.dependency_overrides[module.now] = lambda: NOW
    token = neighbour("tokens").issue_token("alice", typ="access", now=NOW, ttl=900, scopes=scopes)
    return module, token


READ, WRITE, DELETE = "items:read", "items:write", "items:delete"


@pytest.mark.parametrize(
    ("method", "path", "scopes", "status", "challenge"),
    [
        ("GET", "/items", [READ], 200, None),
        ("GET", "/items", [WRITE], 403, 'Bearer scope="items:read", error="insufficient_scope"'),
        ("POST", "/items", [READ, WRITE], 201, None),
        ("POST", "/items", [READ], 403, 'Bearer scope="items:write", error="insufficient_scope"'),
        ("POST", "/items", [WRITE], 403, 'Bearer scope="items:read", error="insufficient_scope"'),
        ("DELETE", "/items/lamp", [READ, WRITE, DELETE], 204, None),
        (
            "DELETE",
            "/items/lamp",
            [READ, WRITE],
            403,
            'Bearer scope="items:delete items:write", error="insufficient_scope"',
        ),
        (
            "DELETE",
            "/items/lamp",
            [READ, DELETE],
            403,
            'Bearer scope="items:delete items:write", error="insufficient_scope"',
        ),
    ],
)
async def test_the_scope_matrix(
    method: str, path: str, scopes: list[str], status: int, challenge: str | None
) -> None:
    module, token = scoped(*scopes)
    async with client_for(module.app) as client:
        response = await client.request(method, path, headers=bearer(token))
    assert response.status_code == status, response.text
    assert response.headers.get("www-authenticate") == challenge


async def test_no_token_and_a_bad_token_are_401_naming_the_scope() -> None:
    module, _ = scoped()
    async with client_for(module.app) as client:
        missing = await client.post("/items")
        bad = await client.post("/items", headers=bearer("not-a-token"))
    assert missing.status_code == bad.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer scope="items:read"'
    assert bad.headers["www-authenticate"] == 'Bearer scope="items:read", error="invalid_token"'


async def test_the_document_lists_each_routes_scopes() -> None:
    module, _ = scoped()
    async with client_for(module.app) as client:
        document = (await client.get("/openapi.json")).json()
    paths = document["paths"]
    assert paths["/items"]["get"]["security"] == [{"OAuth2PasswordBearer": [READ]}]
    assert paths["/items"]["post"]["security"] == [{"OAuth2PasswordBearer": [READ, WRITE]}]
    assert paths["/items/{name}"]["delete"]["security"] == [
        {"OAuth2PasswordBearer": [READ, DELETE, WRITE]}  # router, route, then nested
    ]
    flows = document["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]
    assert set(flows["password"]["scopes"]) == {READ, WRITE, DELETE}


async def test_login_grants_the_requested_scopes_the_user_may_hold() -> None:
    module, _ = scoped()
    add_user(neighbour("hashing"))
    form = {"username": "alice", "password": PASSWORD, "scope": "items:delete items:read"}
    async with client_for(module.app) as client:
        granted = await client.post("/token", data=form)
        token = granted.json()["access_token"]
        read = await client.get("/items", headers=bearer(token))
        delete = await client.delete("/items/lamp", headers=bearer(token))
    assert granted.json()["scope"] == "items:read"  # items:delete asked for, not allowed
    claims = neighbour("tokens").verify_token(token, typ="access", now=NOW)
    assert claims["scope"] == "items:read"
    assert read.status_code == 200
    assert delete.status_code == 403


# -- claims of the page's prose --------------------------------------------------------------


def test_the_pages_example_token_has_a_real_header_and_signature_length() -> None:
    tokens = fresh("tokens.py")
    header, payload, signature = tokens.issue_token("alice", typ="access", now=NOW, ttl=900).split(
        "."
    )
    example = re.search(
        r"```text\n(\S+)\s.*\n\.(\S+)\s.*\n\.\S+\((\d+) characters\)", LESSON.read_text()
    )
    assert example is not None
    assert example[1] == header
    assert payload.startswith(example[2].removesuffix("..."))
    assert len(signature) == int(example[3])


def test_pyjwt_refuses_to_decode_without_algorithms() -> None:
    tokens = fresh("tokens.py")
    token = tokens.issue_token("alice", typ="access", now=NOW, ttl=900)
    with pytest.raises(jwt.DecodeError, match="algorithms"):
        jwt.decode(token, tokens.PUBLIC_KEY)


def test_the_recommended_hasher_alone_cannot_read_a_bcrypt_hash() -> None:
    legacy = BcryptHasher(rounds=4).hash(PASSWORD)
    with pytest.raises(UnknownHashError):
        PasswordHash.recommended().verify(PASSWORD, legacy)
    assert fresh("hashing.py").password_hash.verify(PASSWORD, legacy)
