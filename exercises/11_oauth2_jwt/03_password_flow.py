"""The password flow: `POST /token` trades a username and password for a bearer token.

Task: write the two halves of OAuth2's password flow. `POST /token` reads the login form and
answers an access token; `GET /me` takes that token from the `Authorization: Bearer` header
and answers who it belongs to. Everything above "the password flow" is given (exercises 01
and 02): use it as it is.

The contract (the checks rely on it):
- Given, keep these names: `password_hash`, `DUMMY_HASH`, `User`, `USERS`, `authenticate`,
  `issue_access_token`, `verify_access_token`, `InvalidToken`, `ACCESS_TOKEN_TTL`, `now`
  and `app`. The checks replace `password_hash` (with cheap hashers that count every hash
  they verify), `DUMMY_HASH` and `USERS` (with their own users), so read them when a request
  comes, as `authenticate` does. The time is the `now` dependency (the checks override it):
  never call `time.time()` yourself.
- `oauth2_scheme` (keep this name) is an `OAuth2PasswordBearer` whose `tokenUrl` is
  `"token"`, so the OpenAPI document declares an OAuth2 password flow and `/me` uses it;
  `POST /token` itself needs no token.
- `POST /token` takes the form fields `username` and `password` through
  `OAuth2PasswordRequestForm`, which answers a missing or empty one with FastAPI's 422
  before any hash is verified. A known username with its password answers 200
  `{"access_token": ..., "token_type": "bearer", "expires_in": 900}` (`ACCESS_TOKEN_TTL`),
  the token being `issue_access_token(username, [], now)`: no scopes, issued at the clock.
- A wrong password and an unknown username answer the same 401
  `{"detail": "Incorrect username or password"}` with `WWW-Authenticate: Bearer`, and every
  login attempt, right or wrong, known user or not, verifies exactly one hash: call
  `authenticate(USERS, username, password)` and nothing else that looks the user up first.
  Nothing else in the answer differs either: the two 401s match header for header, byte
  for byte.
- Hashes are verified off the event loop: keep `login` the plain `def` it is (FastAPI runs
  it in a worker thread). The checks note the thread of every verification.
- `GET /me` with a token that `verify_access_token(token, now)` accepts answers 200
  `{"username": ...}` of the user its `sub` names (never the password hash).
- No `Authorization` header, or one with another scheme such as `Basic`: 401
  `{"detail": "Not authenticated"}` with `WWW-Authenticate: Bearer`, as
  `OAuth2PasswordBearer` answers by itself.
- `Authorization: Bearer <token>` with a token `verify_access_token` refuses (`InvalidToken`:
  empty, malformed, tampered, expired, not yet valid, not an access token), or a valid one
  whose `sub` is no longer in `USERS`: 401 `{"detail": "Invalid token"}` with
  `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750), never a 403 or a 500.
- A warning is an error in the checks.
"""

import time
import uuid
from dataclasses import dataclass
from typing import Annotated, TypedDict

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher
from pydantic import BaseModel

# -- given: passwords (exercise 01) ----------------------------------------------------------

# new hashes are Argon2; bcrypt hashes from the old system still verify (and get upgraded)
password_hash = PasswordHash((Argon2Hasher(), BcryptHasher()))
DUMMY_HASH = password_hash.hash("not anybody's password")  # verified for unknown users


@dataclass
class User:
    username: str
    hashed_password: str


USERS: dict[str, User] = {
    "alice": User(
        "alice",
        "$argon2id$v=19$m=65536,t=3,p=4$04Zlg9/29htOy1/jf59hmw$K0RUy83kO3SeooCDdRFkwZCD/RQmaZUL8crcuPZDijM",
    ),
}


def authenticate(users: dict[str, User], username: str, password: str) -> User | None:
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


# -- given: tokens (exercise 02) -------------------------------------------------------------

ISSUER = "https://auth.workbook.test"
AUDIENCE = "https://api.workbook.test"
ALGORITHM = "RS256"
ACCESS_TOKEN_TTL = 15 * 60  # seconds
# a key pair per process; a real service loads the private key from a secret store
PRIVATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_KEY = PRIVATE_KEY.public_key()


class InvalidToken(Exception):
    """The one error for every token that must not be trusted; the message says why."""


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


def issue_access_token(sub: str, scopes: list[str], now: float) -> str:
    issued_at = int(now)
    claims: Claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "scope": " ".join(scopes),
        "typ": "access",
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + ACCESS_TOKEN_TTL,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(dict(claims), PRIVATE_KEY, algorithm=ALGORITHM)


def verify_access_token(token: str, now: float) -> Claims:
    try:
        claims: Claims = jwt.decode(
            token,
            PUBLIC_KEY,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={
                "require": ["iss", "aud", "sub", "typ", "iat", "nbf", "exp", "jti"],
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from error
    if claims["typ"] != "access":
        raise InvalidToken("not an access token")
    if now < claims["nbf"]:
        raise InvalidToken("not valid yet")
    if now >= claims["exp"]:
        raise InvalidToken("expired")
    return claims


def now() -> float:
    """The clock, in seconds since the epoch: the checks override this dependency."""
    return time.time()


Now = Annotated[float, Depends(now)]

app = FastAPI()

# -- the password flow ---------------------------------------------------------------------

# TODO: oauth2_scheme = an OAuth2PasswordBearer whose tokenUrl is "token"


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = ACCESS_TOKEN_TTL


class Me(BaseModel):
    username: str


# a plain def: FastAPI runs it in a worker thread, so the hash does not block the event loop
@app.post("/token")
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], now: Now) -> Token:
    # TODO: authenticate the form's username and password with authenticate(USERS, ...).
    # TODO: refuse a failed login with 401, the same body and WWW-Authenticate header for all.
    # TODO: answer a Token holding issue_access_token(username, [], now).
    raise HTTPException(status_code=status.HTTP_501_NOT_IMPLEMENTED, detail="Not implemented")


async def current_user(now: Now) -> User:
    # TODO: take the token through oauth2_scheme (a dependency of this dependency).
    # TODO: verify it at `now`; InvalidToken, or a sub that names no user, is a 401
    #       {"detail": "Invalid token"} with WWW-Authenticate: Bearer error="invalid_token".
    raise HTTPException(status_code=status.HTTP_501_NOT_IMPLEMENTED, detail="Not implemented")


@app.get("/me")
async def me(user: Annotated[User, Depends(current_user)]) -> Me:
    return Me(username=user.username)
