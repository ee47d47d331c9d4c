"""Scopes: 401 when the token is missing or bad, 403 when it lacks a scope.

Task: the app below checks that a bearer token is valid, and nothing more: any logged-in
user may delete items, and every refusal is the same bare 401. Grant scopes at login, and
make every route check the scopes it declares: 401 when the client must authenticate
(again), 403 when it is known but not allowed, each with the challenge RFC 6750 asks for.

The contract (the checks rely on it):
- Given, keep as they are: the constants, `SCOPES` (its order is the order scopes are
  listed in), `PRIVATE_KEY`/`PUBLIC_KEY`, `password_hash` (keep this name: the checks
  replace it with cheaper hashers, which count what they verify), `User` (with the
  `scopes` a user may be granted), `InvalidToken`, `Claims`, `Token`, `Item`,
  `authenticate`, `issue_access_token` (the checks mint tokens with it),
  `verify_access_token`, the lifespan (its state has `"users"`, where the checks add
  their users, and `"items"`), `now` (keep this name: the checks override it),
  `bearer_challenge`, `get_admin`, the routes with the scopes they declare, and `app`
  (keep these names).
- `POST /token` (the OAuth2 password form; its `scope` field holds the requested scopes,
  separated by spaces): a wrong username or password answers 401 as given. Otherwise 200
  `{"access_token", "token_type": "bearer", "scope"}`: the token grants exactly the
  requested scopes that the user is allowed, each once, in the order of `SCOPES`, joined
  by single spaces (`""` for none), and `scope` in the body says the same. A requested
  scope that is not allowed, or unknown, is left out, never an error.
- Every protected route depends on `get_current_user` through `Security(...)`, whose
  `SecurityScopes` lists the scopes of its chain, parent first (`DELETE /items/{name}`'s
  chain asks for `admin`, then `items:write` through `get_admin`). The router's own check
  (`items:read`) is a separate chain, and runs first. A route requires every scope of
  every chain.
- Each check answers, of these, the first that applies, with `WWW-Authenticate` set to
  `bearer_challenge(error, the scopes of its chain)`:
  - no bearer token (no Authorization header, or another scheme): 401 `{"detail": "Not
    authenticated"}`, error `None` (so `Bearer scope="items:read"`; just `Bearer` on a
    chain without scopes, like `GET /me`'s). `Bearer` with nothing after it is an empty
    token, not a missing one: the next rule;
  - a token that fails `verify_access_token` at `now()`, or whose `sub` is no user in the
    store: 401 `{"detail": "Could not validate credentials"}`, error `"invalid_token"`;
  - a token lacking any scope of the chain: 403 `{"detail": "Not enough permissions"}`,
    error `"insufficient_scope"` (so `Bearer error="insufficient_scope", scope="admin
    items:write"`). Scopes are whole words: `items:readonly` does not grant `items:read`.
- What a token grants is its `scope` claim, as issued: a user's `scopes` count only at
  login, and a token keeps its scopes until it expires.
- The checks set the clock far from the wall clock (years before it, and years after it)
  and turn warnings into errors.
"""

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Literal, TypedDict

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Security, status
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
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


# TODO: Answer a missing token yourself, so that its 401 can name the scopes.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token", scopes=SCOPES)


async def get_current_user(
    token: Annotated[str, Depends(oauth2_scheme)],
    users: UsersDep,
    now: Now,
) -> User:
    # TODO: Take the chain's scopes (SecurityScopes) and name them in every challenge.
    # TODO: Give a bad token, or one for no known user, the "invalid_token" error.
    invalid = HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="Could not validate credentials",
        headers={"WWW-Authenticate": "Bearer"},
    )
    try:
        claims = verify_access_token(token, now)
    except InvalidToken:
        raise invalid from None
    if (user := users.get(claims["sub"])) is None:
        raise invalid
    # TODO: Refuse a token that lacks any scope of the chain: 403 "insufficient_scope".
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
    # TODO: Grant the requested scopes the user is allowed, in the order of SCOPES.
    scopes: list[str] = []
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
