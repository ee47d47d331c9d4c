"""Issue RS256 access tokens, and verify them against every way a token can lie."""

import uuid
from collections.abc import Sequence
from typing import TypedDict

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://auth.workbook.test"
AUDIENCE = "https://api.workbook.test"
ALGORITHM = "RS256"
ACCESS_TOKEN_TTL = 15 * 60  # seconds
# a key pair per process: a real service loads its private key from a secret store
PRIVATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_KEY = PRIVATE_KEY.public_key()
REQUIRED = ["iss", "aud", "sub", "scope", "typ", "iat", "nbf", "exp", "jti"]


class InvalidToken(Exception):
    """The one error for every token that must not be trusted; the message says why."""


class Claims(TypedDict):
    iss: str
    aud: str
    sub: str
    scope: str
    typ: str
    iat: int
    nbf: int
    exp: int
    jti: str


def issue_access_token(sub: str, scopes: Sequence[str], now: float) -> str:
    issued = int(now)
    claims = Claims(
        iss=ISSUER,
        aud=AUDIENCE,
        sub=sub,
        scope=" ".join(scopes),
        typ="access",
        iat=issued,
        nbf=issued,
        exp=issued + ACCESS_TOKEN_TTL,
        jti=uuid.uuid4().hex,
    )
    return jwt.encode(dict(claims), PRIVATE_KEY, algorithm=ALGORITHM)


def verify_access_token(token: str, now: float) -> Claims:
    try:
        claims: Claims = jwt.decode(
            token,
            PUBLIC_KEY,
            algorithms=[ALGORITHM],  # pinned: never what the token's header asks for
            audience=AUDIENCE,
            issuer=ISSUER,
            # PyJWT reads the wall clock: the time claims are checked against `now` below
            options={
                "require": REQUIRED,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from error
    if now < claims["nbf"]:
        raise InvalidToken("the token is not valid yet")
    if now >= claims["exp"]:
        raise InvalidToken("the token has expired")
    if claims["typ"] != "access":
        raise InvalidToken("not an access token")
    return claims
