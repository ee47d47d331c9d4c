"""The password flow: `POST /token` trades a username and password for a bearer token."""

import time
import uuid
from dataclasses import dataclass
from typing import Annotated, TypedDict

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
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

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token")


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = ACCESS_TOKEN_TTL


class Me(BaseModel):
    username: str


# a plain def: FastAPI runs it in a worker thread, so the hash does not block the event loop
@app.post("/token")
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], now: Now) -> Token:
    user = authenticate(USERS, form.username, form.password)
    if user is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Incorrect username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Token(access_token=issue_access_token(user.username, [], now))


async def current_user(token: Annotated[str, Depends(oauth2_scheme)], now: Now) -> User:
    invalid = HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="Invalid token",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )
    try:
        claims = verify_access_token(token, now)
    except InvalidToken:
        raise invalid from None
    if (user := USERS.get(claims["sub"])) is None:
        raise invalid
    return user


@app.get("/me")
async def me(user: Annotated[User, Depends(current_user)]) -> Me:
    return Me(username=user.username)
