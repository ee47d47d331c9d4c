"""Issue RS256 access tokens, and verify them against every way a token can lie.

The verifier below reads whatever the token says without checking anything: anyone can
write a token that it accepts. Make both functions follow the contract.

Contract (the checks rely on every line):
- Given, keep these names: ISSUER, AUDIENCE, ALGORITHM ("RS256"), ACCESS_TOKEN_TTL (seconds),
  PRIVATE_KEY and PUBLIC_KEY (an RSA key pair), `InvalidToken` and `Claims`.
- `now` is the time in seconds since the epoch, given by the caller: never read a clock.
- `issue_access_token(sub, scopes, now)` (keep this name) returns a JWT signed with
  PRIVATE_KEY using RS256, whose claims are exactly: iss=ISSUER, aud=AUDIENCE, sub=sub,
  scope=the scopes joined by single spaces in the order given ("" for none), typ="access",
  iat=nbf=int(now), exp=int(now) + ACCESS_TOKEN_TTL, and jti=a new random string per token.
- `verify_access_token(token, now)` (keep this name) returns the token's claims as a dict
  when all of these hold, and raises `InvalidToken` (with a message saying why) when any fails:
  the signature is RS256 and verifies with PUBLIC_KEY (no other algorithm, "none" included,
  whatever the token's header says); every claim of `Claims` is present; iss is ISSUER; aud is
  AUDIENCE (a list holding AUDIENCE is accepted too, as PyJWT does); typ is "access";
  nbf <= now < exp (valid from nbf on, expired from exp on, no leeway).
  A token that is not a JWT at all raises `InvalidToken` too: no other exception escapes.
- Warnings are errors in the checks. PyJWT checks exp, nbf and iat against the wall clock
  unless told not to: the token's times must be compared with `now`, the time you are given.
"""

from collections.abc import Sequence
from typing import Any, TypedDict

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://auth.workbook.test"
AUDIENCE = "https://api.workbook.test"
ALGORITHM = "RS256"
ACCESS_TOKEN_TTL = 15 * 60  # seconds
# a key pair per process: a real service loads its private key from a secret store
PRIVATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_KEY = PRIVATE_KEY.public_key()


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
    # TODO: add the other claims of the contract: iss, aud, typ, iat, nbf and jti.
    claims = {"sub": sub, "scope": " ".join(scopes), "exp": int(now) + ACCESS_TOKEN_TTL}
    return jwt.encode(claims, PRIVATE_KEY, algorithm=ALGORITHM)


def verify_access_token(token: str, now: float) -> Any:
    # TODO: verify the signature with PUBLIC_KEY and RS256 only, require every claim,
    # TODO: check the issuer, the audience and the type, compare nbf and exp with `now`,
    # TODO: and turn every failure into InvalidToken.
    return jwt.decode(token, options={"verify_signature": False})
