import uuid
from collections.abc import Iterable
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://auth.example.test"
AUDIENCE = "workbook-api"
ALGORITHM = "RS256"
ACCESS_TTL = 15 * 60  # seconds
REFRESH_TTL = 7 * 24 * 60 * 60
REQUIRED = ["exp", "iat", "nbf", "aud", "iss", "sub", "jti", "typ"]

# In production the private key comes from a secret store; here one is made per process.
_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PRIVATE_KEY = _key.private_bytes(
    serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption(),
)
PUBLIC_KEY = _key.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
KEY_ID = "2026-12"
PUBLIC_KEYS = {KEY_ID: PUBLIC_KEY}  # during a rotation: the new key and the old one

TokenType = Literal["access", "refresh"]


class InvalidToken(Exception):
    """Any token this service must not trust; the message says why."""


def issue_token(
    sub: str,
    *,
    typ: TokenType,
    now: float,
    ttl: int,
    scopes: Iterable[str] = (),
    extra: dict[str, Any] | None = None,
) -> str:
    issued = int(now)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl,
        "jti": uuid.uuid4().hex,
        "typ": typ,
        "scope": " ".join(scopes),
        **(extra or {}),
    }
    return jwt.encode(claims, PRIVATE_KEY, algorithm=ALGORITHM, headers={"kid": KEY_ID})


def verify_token(token: str, *, typ: TokenType, now: float) -> dict[str, Any]:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        if kid not in PUBLIC_KEYS:
            raise InvalidToken("unknown key id")
        claims = jwt.decode(
            token,
            PUBLIC_KEYS[kid],
            algorithms=[ALGORITHM],  # pinned: never read from the token's header
            audience=AUDIENCE,
            issuer=ISSUER,
            options={
                "require": REQUIRED,
                # PyJWT reads the wall clock; the times are checked below against `now`
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidTokenError as error:
        raise InvalidToken(str(error)) from error
    if now >= claims["exp"]:
        raise InvalidToken("expired")
    if now < claims["nbf"]:
        raise InvalidToken("not yet valid")
    if claims["typ"] != typ:
        raise InvalidToken(f"not an {typ} token" if typ == "access" else f"not a {typ} token")
    return claims
