import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypedDict

from fakeredis import FakeAsyncRedis
from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from hashing import authenticate
from pydantic import BaseModel
from redis.asyncio import Redis
from tokens import ACCESS_TTL, REFRESH_TTL, InvalidToken, issue_token, verify_token


class State(TypedDict):
    redis: Redis


def redis_from_env() -> Redis:
    if url := os.environ.get("REDIS_URL"):
        return Redis.from_url(url, decode_responses=True)
    return FakeAsyncRedis(decode_responses=True)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    redis = redis_from_env()
    yield {"redis": redis}
    await redis.aclose()


def get_redis(request: Request) -> Redis:
    return request.state.redis


def now() -> float:
    return time.time()


RedisDep = Annotated[Redis, Depends(get_redis)]
Now = Annotated[float, Depends(now)]
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token")
app = FastAPI(lifespan=lifespan)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = ACCESS_TTL


class RefreshRequest(BaseModel):
    refresh_token: str


def family_key(family: str) -> str:
    return f"auth:family:{family}"  # holds the jti of the family's one live refresh token


def invalid_token() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="Invalid token",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def new_pair(sub: str, family: str, refresh_jti: str, now: float, refresh_ttl: int) -> TokenPair:
    extra = {"fam": family}
    return TokenPair(
        access_token=issue_token(sub, typ="access", now=now, ttl=ACCESS_TTL, extra=extra),
        refresh_token=issue_token(
            sub, typ="refresh", now=now, ttl=refresh_ttl, extra=extra | {"jti": refresh_jti}
        ),
    )


@app.post("/token")
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], redis: RedisDep, now: Now
) -> TokenPair:
    user = await run_in_threadpool(authenticate, form.username, form.password)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="Incorrect username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    family, jti = uuid.uuid4().hex, uuid.uuid4().hex
    await redis.set(family_key(family), jti, ex=REFRESH_TTL)
    return new_pair(user.username, family, jti, now, REFRESH_TTL)


@app.post("/token/refresh")
async def refresh(body: RefreshRequest, redis: RedisDep, now: Now) -> TokenPair:
    try:
        claims = verify_token(body.refresh_token, typ="refresh", now=now)
    except InvalidToken:
        raise invalid_token() from None
    key, jti = family_key(claims["fam"]), uuid.uuid4().hex
    remaining = claims["exp"] - int(now)  # the family ends when its first token would
    # One atomic step: install the new jti and read the one it replaces.
    live = await redis.set(key, jti, xx=True, get=True, ex=remaining)
    if live is None:  # the family was revoked, logged out or has expired
        raise invalid_token()
    if live != claims["jti"]:  # a retired token came back: someone holds a copy
        await redis.delete(key)
        raise invalid_token()
    return new_pair(claims["sub"], claims["fam"], jti, now, remaining)


async def session(
    token: Annotated[str, Depends(oauth2_scheme)], redis: RedisDep, now: Now
) -> dict[str, Any]:
    try:
        claims = verify_token(token, typ="access", now=now)
    except InvalidToken:
        raise invalid_token() from None
    if not await redis.exists(family_key(claims["fam"])):  # revoked: one lookup per call
        raise invalid_token()
    return claims


Session = Annotated[dict[str, Any], Depends(session)]


@app.get("/users/me")
async def read_me(claims: Session) -> dict[str, str]:
    return {"username": claims["sub"]}


@app.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(claims: Session, redis: RedisDep) -> None:
    await redis.delete(family_key(claims["fam"]))
