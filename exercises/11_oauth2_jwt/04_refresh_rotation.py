"""Refresh tokens that rotate: each one works once, and a reused one revokes its family.

Task: the app below logs users in with a pair of tokens (`POST /token`), and `POST
/token/refresh` swaps a refresh token for a new pair. But a refresh token works as often as
anyone likes, until it expires a week later: a copy stolen from a laptop stays good all
week, and nobody would notice. Make every refresh token work once (rotation), treat a
second use as theft (reuse detection: revoke the whole family), and make logout revoke it.

The contract (the checks rely on it):
- Given, keep as they are: the constants, `PRIVATE_KEY`/`PUBLIC_KEY`, `password_hash`
  (keep this name: the checks replace it with cheaper Argon2 that counts), `User`,
  `InvalidToken`, `Claims`, `TokenPair`, `RefreshRequest`, `authenticate`, `issue_token`,
  `verify_token`, `issue_pair`, `redis_from_env`, the lifespan (its state has `"redis"` and
  `"users"`, where the checks add their users), `now` (keep this name: the checks override
  it with their clock; use it for every "now", never `time.time()`), `refused`,
  `family_key`, `GET /me`, and `app` (keep these names).
- A family is every token descended from one login; its id is the `fam` claim of each of
  them. Its record in Redis: the key `family_key(fam)`, `auth:family:{fam}`, holds the
  `jti` of the family's current refresh token, and expires when that token does (its TTL
  is the token's remaining life by the injected clock, `exp - int(now)` seconds).
- `POST /token` (given but for its record): a good username and password answer 200 with a
  new family's pair (`issue_pair` with `REFRESH_TOKEN_TTL`) and store its record (TTL
  `REFRESH_TOKEN_TTL`); a wrong password or an unknown username answers
  `refused("Incorrect username or password")`, stores nothing, and costs one hash
  verification like any login (the given `authenticate` sees to that).
- `POST /token/refresh` with JSON `{"refresh_token": ...}`: a token that fails
  `verify_token` at `now()`, or whose `typ` is not `"refresh"`, answers 401 `{"detail":
  "Invalid refresh token"}` (`refused("Invalid refresh token")`) and changes nothing in
  Redis. A verified refresh token that is its family's current one answers 200 with a new
  pair for the same `sub` and family, and becomes retired: the record now holds the new
  refresh token's `jti`. Rotation never extends a family's life: the new refresh token
  expires when the one it replaces did (its ttl is the remaining life, and the record's
  TTL too); the new access token lives `ACCESS_TOKEN_TTL` from now.
- Reuse: a verified refresh token that is not its family's current one (retired, or its
  family revoked or expired) answers the same 401 and deletes the family's record, so
  every token of that family, the newest included, is refused from then on. Other
  families, the same user's included, are untouched. A refused refresh leaves no record
  behind: a family without one stays without one. Two refreshes racing with the same
  token: one gets the new pair, the other is a reuse (401, family revoked), so the check
  and the swap must be one Redis command.
- `POST /logout` with JSON `{"refresh_token": ...}`: the same 401 for a token that fails
  verification or is not a refresh token (and the family is untouched); otherwise 204
  with an empty body, and the token's family is revoked (its record deleted), whether
  the token was the current one or a retired one, and even when it was already revoked.
- Not graded: whether access tokens of a revoked family keep working until their `exp`
  (here they do: `GET /me` does not look in Redis, which is why they live 15 minutes).
- The checks set the clock far from the wall clock, read TTLs from Redis (`pttl`), run
  on the embedded fakeredis (which has no Lua: no `EVAL`) and on a real Redis 7, and turn
  warnings into errors.
"""

import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Literal, TypedDict

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fakeredis import FakeAsyncRedis
from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher
from pydantic import BaseModel
from redis.asyncio import Redis

ISSUER = "https://auth.workbook.test"
AUDIENCE = "https://api.workbook.test"
ALGORITHM = "RS256"
ACCESS_TOKEN_TTL = 15 * 60  # seconds
REFRESH_TOKEN_TTL = 7 * 24 * 60 * 60  # seconds: a family's whole life, counted from its login
# Given: a key pair per process; a real service loads the private key from a secret store
PRIVATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_KEY = PRIVATE_KEY.public_key()

# new hashes are Argon2; bcrypt hashes from the old system still verify (and get upgraded)
password_hash = PasswordHash((Argon2Hasher(), BcryptHasher()))
# verified for unknown users; precomputed, since hashing it would cost every start a second
DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$FDaVBn5yh5iQ9ITgsY3X/Q$"
    "tdDtHAkw33S6lRDOsspPu/AchMbq8Qb9jpRyga628qg"
)


@dataclass
class User:
    username: str
    hashed_password: str


class InvalidToken(Exception):
    """Given: the one error for every token that must not be trusted; the message says why."""


class Claims(TypedDict):
    iss: str
    aud: str
    sub: str
    typ: str  # "access" or "refresh"
    fam: str  # the family: every token descended from one login shares it
    iat: int
    nbf: int
    exp: int
    jti: str


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"


class RefreshRequest(BaseModel):
    refresh_token: str


def authenticate(users: dict[str, User], username: str, password: str) -> User | None:
    """Given: the user with this name and password, or None."""
    user = users.get(username)
    if user is None:
        password_hash.verify(password, DUMMY_HASH)  # an unknown name costs what a known one does
        return None
    valid, updated = password_hash.verify_and_update(password, user.hashed_password)
    if not valid or not password:
        return None
    if updated is not None:
        user.hashed_password = updated
    return user


def issue_token(sub: str, typ: str, family: str, now: float, ttl: int) -> tuple[str, str]:
    """Given: a signed token valid from int(now) for ttl seconds, and its jti."""
    iat, jti = int(now), uuid.uuid4().hex
    claims: Claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "typ": typ,
        "fam": family,
        "iat": iat,
        "nbf": iat,
        "exp": iat + ttl,
        "jti": jti,
    }
    return jwt.encode(dict(claims), PRIVATE_KEY, algorithm=ALGORITHM), jti


def verify_token(token: str, now: float) -> Claims:
    """Given: the claims of a token signed here and valid at `now`, of either type."""
    try:
        claims = jwt.decode(
            token,
            PUBLIC_KEY,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={
                "require": list(Claims.__annotations__),
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from error
    if not claims["nbf"] <= now < claims["exp"]:
        raise InvalidToken("the token is expired or not yet valid")
    return claims


def issue_pair(sub: str, family: str, now: float, refresh_ttl: int) -> tuple[TokenPair, str]:
    """Given: a new access token and a refresh token living refresh_ttl seconds; its jti."""
    access, _ = issue_token(sub, "access", family, now, ACCESS_TOKEN_TTL)
    refresh, jti = issue_token(sub, "refresh", family, now, refresh_ttl)
    return TokenPair(access_token=access, refresh_token=refresh), jti


class State(TypedDict):
    redis: Redis
    users: dict[str, User]


def redis_from_env() -> Redis:
    """Given: the Redis that REDIS_URL names, or a new in-process fakeredis when it is unset."""
    if url := os.environ.get("REDIS_URL"):
        return Redis.from_url(url, decode_responses=True)
    return FakeAsyncRedis(decode_responses=True)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    redis = redis_from_env()
    yield {"redis": redis, "users": {}}
    await redis.aclose()


async def get_redis(request: Request) -> Redis:
    return request.state.redis


RedisDep = Annotated[Redis, Depends(get_redis)]


async def get_users(request: Request) -> dict[str, User]:
    return request.state.users


UsersDep = Annotated[dict[str, User], Depends(get_users)]


def now() -> float:
    return time.time()


Now = Annotated[float, Depends(now)]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token")


def refused(detail: str) -> HTTPException:
    """Given: the 401 for credentials that are not accepted."""
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def family_key(family: str) -> str:
    return f"auth:family:{family}"


def refresh_claims(body: RefreshRequest, now: Now) -> Claims:
    try:
        claims = verify_token(body.refresh_token, now)
    except InvalidToken:
        raise refused("Invalid refresh token") from None
    # TODO: Refuse a token whose typ is not "refresh" in the same way.
    return claims


RefreshClaims = Annotated[Claims, Depends(refresh_claims)]

app = FastAPI(lifespan=lifespan)


@app.post("/token")
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    users: UsersDep,
    redis: RedisDep,
    now: Now,
) -> TokenPair:
    user = authenticate(users, form.username, form.password)
    if user is None:
        raise refused("Incorrect username or password")
    family = uuid.uuid4().hex
    pair, _jti = issue_pair(user.username, family, now, REFRESH_TOKEN_TTL)
    # TODO: Store the family's record: the refresh token's jti, for its whole life.
    return pair


@app.post("/token/refresh")
async def refresh(claims: RefreshClaims, redis: RedisDep, now: Now) -> TokenPair:
    # TODO: Give the new refresh token only what is left of the family's life.
    pair, _jti = issue_pair(claims["sub"], claims["fam"], now, REFRESH_TOKEN_TTL)
    # TODO: In one Redis command, while the family has a record, put the new jti in it and
    #       read the jti it replaces.
    # TODO: Unless that was the presented token's jti, revoke the family and refuse it.
    return pair


@app.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(claims: RefreshClaims, redis: RedisDep) -> None:
    # TODO: Revoke the token's family.
    return None


@app.get("/me")
async def me(token: Annotated[str, Depends(oauth2_scheme)], now: Now) -> dict[str, str]:
    try:
        claims = verify_token(token, now)
    except InvalidToken:
        raise refused("Invalid access token") from None
    if claims["typ"] != "access":
        raise refused("Invalid access token")
    return {"username": claims["sub"]}
