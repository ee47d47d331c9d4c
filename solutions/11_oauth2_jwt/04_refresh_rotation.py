"""Refresh tokens that rotate: each one works once, and a reused one revokes its family."""

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
    if claims["typ"] != "refresh":  # an access token must never buy a new pair
        raise refused("Invalid refresh token")
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
    pair, jti = issue_pair(user.username, family, now, REFRESH_TOKEN_TTL)
    await redis.set(family_key(family), jti, ex=REFRESH_TOKEN_TTL)
    return pair


@app.post("/token/refresh")
async def refresh(claims: RefreshClaims, redis: RedisDep, now: Now) -> TokenPair:
    remaining = claims["exp"] - int(now)  # rotation never extends the family's life
    pair, jti = issue_pair(claims["sub"], claims["fam"], now, remaining)
    # one atomic swap: of two requests with the same token, only one finds its jti current;
    # xx: a family without a record (revoked, expired) never gets one back
    current = await redis.set(family_key(claims["fam"]), jti, ex=remaining, xx=True, get=True)
    if current != claims["jti"]:
        # retired, revoked or unknown: a retired token back means a copy exists, so end it all
        await redis.delete(family_key(claims["fam"]))
        raise refused("Invalid refresh token")
    return pair


@app.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(claims: RefreshClaims, redis: RedisDep) -> None:
    await redis.delete(family_key(claims["fam"]))


@app.get("/me")
async def me(token: Annotated[str, Depends(oauth2_scheme)], now: Now) -> dict[str, str]:
    try:
        claims = verify_token(token, now)
    except InvalidToken:
        raise refused("Invalid access token") from None
    if claims["typ"] != "access":
        raise refused("Invalid access token")
    return {"username": claims["sub"]}
