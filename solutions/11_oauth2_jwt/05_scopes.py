"""Scopes: 401 when the token is missing or bad, 403 when it lacks a scope."""

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Literal, TypedDict

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Security, status
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm, SecurityScopes
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher
from pydantic import BaseModel

ISSUER = "https://auth.workbook.test"
AUDIENCE = "https://api.workbook.test"
ALGORITHM = "RS256"
ACCESS_TOKEN_TTL = 15 * 60  # seconds
# Given: a key pair per process; a real service loads the private key from a secret store
PRIVATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_KEY = PRIVATE_KEY.public_key()
SCOPES = {
    "items:read": "Read the items.",
    "items:write": "Add items.",
    "admin": "Delete items.",
}

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
    scopes: tuple[str, ...] = ()  # the scopes this user may be granted


class InvalidToken(Exception):
    """Given: the one error for every token that must not be trusted; the message says why."""


class Claims(TypedDict):
    iss: str
    aud: str
    sub: str
    scope: str  # the scopes joined by single spaces, "" for none
    typ: str
    iat: int
    nbf: int
    exp: int
    jti: str


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    scope: str


class Item(BaseModel):
    name: str


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


def issue_access_token(sub: str, scopes: list[str], now: float) -> str:
    """Given: a signed access token for `sub` carrying these scopes, valid from int(now)."""
    iat = int(now)
    claims: Claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "scope": " ".join(scopes),
        "typ": "access",
        "iat": iat,
        "nbf": iat,
        "exp": iat + ACCESS_TOKEN_TTL,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(dict(claims), PRIVATE_KEY, algorithm=ALGORITHM)


def verify_access_token(token: str, now: float) -> Claims:
    """Given: the claims of an access token signed here and valid at `now`."""
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
    if claims["typ"] != "access":
        raise InvalidToken("not an access token")
    if not claims["nbf"] <= now < claims["exp"]:
        raise InvalidToken("the token is expired or not yet valid")
    return claims


class State(TypedDict):
    users: dict[str, User]
    items: list[Item]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    yield {"users": {}, "items": [Item(name="lamp")]}


async def get_users(request: Request) -> dict[str, User]:
    return request.state.users


UsersDep = Annotated[dict[str, User], Depends(get_users)]


async def get_items(request: Request) -> list[Item]:
    return request.state.items


ItemsDep = Annotated[list[Item], Depends(get_items)]


def now() -> float:
    return time.time()


Now = Annotated[float, Depends(now)]


def bearer_challenge(error: str | None, scopes: list[str]) -> str:
    """Given: a WWW-Authenticate value, `Bearer error="...", scope="a b"`, empty parts left out."""
    params = [f'error="{error}"'] if error else []
    if scopes:
        params.append(f'scope="{" ".join(scopes)}"')
    return f"Bearer {', '.join(params)}" if params else "Bearer"


# auto_error=False: a missing token gets our 401, whose challenge names the scopes
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token", scopes=SCOPES, auto_error=False)


async def get_current_user(
    security_scopes: SecurityScopes,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    users: UsersDep,
    now: Now,
) -> User:
    def refuse(code: int, detail: str, error: str | None = None) -> HTTPException:
        challenge = bearer_challenge(error, security_scopes.scopes)
        return HTTPException(code, detail=detail, headers={"WWW-Authenticate": challenge})

    if token is None:
        raise refuse(status.HTTP_401_UNAUTHORIZED, "Not authenticated")
    invalid = refuse(
        status.HTTP_401_UNAUTHORIZED, "Could not validate credentials", "invalid_token"
    )
    try:
        claims = verify_access_token(token, now)
    except InvalidToken:
        raise invalid from None
    if (user := users.get(claims["sub"])) is None:
        raise invalid
    granted = claims["scope"].split()  # whole words: "items:readonly" is not "items:read"
    # a known client without a scope is forbidden (403), not unauthenticated (401)
    if not all(scope in granted for scope in security_scopes.scopes):
        raise refuse(status.HTTP_403_FORBIDDEN, "Not enough permissions", "insufficient_scope")
    return user


async def get_admin(
    user: Annotated[User, Security(get_current_user, scopes=["items:write"])],
) -> User:
    return user


app = FastAPI(lifespan=lifespan)
items = APIRouter(prefix="/items", dependencies=[Security(get_current_user, scopes=["items:read"])])


@app.post("/token")
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], users: UsersDep, now: Now
) -> Token:
    user = authenticate(users, form.username, form.password)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="Incorrect username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # grant what was asked for and is allowed; anything else is dropped, not an error
    scopes = [scope for scope in SCOPES if scope in form.scopes and scope in user.scopes]
    return Token(
        access_token=issue_access_token(user.username, scopes, now), scope=" ".join(scopes)
    )


@app.get("/me")
async def me(user: Annotated[User, Security(get_current_user)]) -> dict[str, str]:
    return {"username": user.username}


@items.get("")
async def list_items(stock: ItemsDep) -> list[Item]:
    return stock


@items.post("", status_code=status.HTTP_201_CREATED)
async def add_item(
    item: Item,
    stock: ItemsDep,
    user: Annotated[User, Security(get_current_user, scopes=["items:write"])],
) -> Item:
    stock.append(item)
    return item


@items.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_item(
    name: str, stock: ItemsDep, admin: Annotated[User, Security(get_admin, scopes=["admin"])]
) -> None:
    stock[:] = [item for item in stock if item.name != name]


app.include_router(items)
