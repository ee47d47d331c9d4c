"""Hidden suite for 11_oauth2_jwt/02_verify_tokens: a verifier that no forged token gets past.

Tokens are issued by the exercise, or written here as an attacker would: signed with the
exercise's own PRIVATE_KEY but with claims changed, signed with another key, with another
algorithm, or with none. The injected `now` is far from the wall clock on both sides
(2033 and 2001), so a verifier that lets PyJWT read the wall clock is caught.
"""

import base64
import hashlib
import hmac
import json
from types import ModuleType
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from workbook.testing import Failure, expect, expect_equal

# The contract says warnings are errors in the checks.
pytestmark = pytest.mark.filterwarnings("error")

FUTURE = 2_000_000_000  # 2033: tokens issued then look "not yet valid" to the wall clock
PAST = 1_000_000_000  # 2001: tokens issued then look expired to the wall clock
TTL = 15 * 60
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
CLAIM_NAMES = ["iss", "aud", "sub", "scope", "typ", "iat", "nbf", "exp", "jti"]

PINNED = (
    "Does jwt.decode get algorithms=[ALGORITHM]? Never take the algorithm from the token's "
    "header: the attacker writes the header."
)
SIGNATURE = "Is the signature verified with PUBLIC_KEY? Never decode with verify_signature off."
WALL_CLOCK = (
    "Does PyJWT compare the token's times with the wall clock? Turn off its verify_exp, "
    "verify_nbf and verify_iat options, then compare nbf and exp with `now` yourself."
)
AUDIENCE = "Does jwt.decode get audience=AUDIENCE? Without it the audience is not checked."
ISSUER = "Does jwt.decode get issuer=ISSUER? Without it PyJWT does not check the issuer."
REQUIRED = (
    'Does jwt.decode get options={"require": [...]} naming every claim? PyJWT only checks '
    "the claims that are present, unless told which ones must be."
)
TYPE = 'Is typ compared with "access"? A valid signature does not make it an access token.'
EXPIRY = "A token is valid while now < exp: at exp itself it has expired."
NOT_BEFORE = "A token is valid from nbf on: nbf <= now."
OTHER_ERROR = "Do you catch jwt.PyJWTError (the base of PyJWT's errors) and raise InvalidToken?"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: dict[str, Any]) -> str:
    return b64(json.dumps(value).encode())


def claims_at(exercise: ModuleType, now: int, **changes: Any) -> dict[str, Any]:
    claims = {
        "iss": exercise.ISSUER,
        "aud": exercise.AUDIENCE,
        "sub": "ada",
        "scope": "read",
        "typ": "access",
        "iat": now,
        "nbf": now,
        "exp": now + TTL,
        "jti": "7f0c1e",
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def signed(exercise: ModuleType, claims: dict[str, Any], key: Any = None) -> str:
    return jwt.encode(claims, key or exercise.PRIVATE_KEY, algorithm="RS256")


def verified(exercise: ModuleType, token: str, now: float, help: str | None = None) -> Any:
    try:
        return exercise.verify_access_token(token, now)
    except exercise.InvalidToken as error:
        message = f"expected the token to be accepted, not InvalidToken({error})"
        raise Failure(message, help=help) from None


def expect_refused(exercise: ModuleType, token: str, now: float, help: str | None = None) -> None:
    try:
        claims = exercise.verify_access_token(token, now)
    except exercise.InvalidToken as error:
        expect(str(error), "expected InvalidToken to carry a message saying why")
        return
    except Exception as error:  # the class that reaches the caller is part of the contract
        raise Failure(
            f"expected InvalidToken, not {type(error).__name__}: {error}", help=OTHER_ERROR
        ) from None
    raise Failure(f"expected InvalidToken, but the token was accepted: {claims}", help=help)


def unverified(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def test_issued_claims(exercise: ModuleType) -> None:
    """an issued token carries exactly the contract's claims"""
    token = exercise.issue_access_token("ada", ["read", "write"], FUTURE + 0.75)
    claims = unverified(token)
    expected = claims_at(exercise, FUTURE, scope="read write", jti=claims.get("jti"))
    expect_equal("claims", expected, claims)
    jti = claims["jti"]
    expect(isinstance(jti, str) and jti, f"expected jti to be a non-empty string, not {jti!r}")


@pytest.mark.stub_may_pass("the stub already signs with RS256")
def test_issued_with_rs256(exercise: ModuleType) -> None:
    """an issued token is signed with RS256 and the private key"""
    token = exercise.issue_access_token("ada", [], FUTURE)
    expect_equal("alg in the header", "RS256", jwt.get_unverified_header(token).get("alg"))
    try:
        jwt.decode(
            token,
            exercise.PUBLIC_KEY,
            algorithms=["RS256"],
            options={
                "verify_signature": True,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
            },
        )
    except jwt.PyJWTError as error:
        raise Failure(f"expected a signature that PUBLIC_KEY verifies, not {error}") from None


@pytest.mark.stub_may_pass("the stub already joins the scopes")
def test_no_scopes(exercise: ModuleType) -> None:
    """no scopes give an empty scope claim"""
    token = exercise.issue_access_token("ada", [], FUTURE)
    expect_equal("scope", "", unverified(token).get("scope"))


def test_jti_unique(exercise: ModuleType) -> None:
    """every token gets its own jti"""
    first, second = (exercise.issue_access_token("ada", ["read"], FUTURE) for _ in range(2))
    ids = unverified(first).get("jti"), unverified(second).get("jti")
    expect(ids[0] and ids[0] != ids[1], f"expected two different jti, not {ids}")


@pytest.mark.parametrize("now", [FUTURE, PAST], ids=["2033", "2001"])
def test_round_trip(exercise: ModuleType, now: int) -> None:
    """a token just issued verifies, and gives its claims back"""
    token = exercise.issue_access_token("ada", ["read"], now)
    claims = verified(exercise, token, now, help=WALL_CLOCK)
    expected = claims_at(exercise, now, jti=unverified(token).get("jti"))
    expect_equal("claims", expected, dict(claims))


@pytest.mark.stub_may_pass("the stub accepts every token")
@pytest.mark.parametrize("now", [PAST, FUTURE], ids=["2001", "2033"])
def test_valid_until_the_last_second(exercise: ModuleType, now: int) -> None:
    """a token is still valid one second before exp"""
    token = signed(exercise, claims_at(exercise, now))
    verified(exercise, token, now + TTL - 1, help=WALL_CLOCK)


@pytest.mark.parametrize("late", [0, 1], ids=["at exp", "a second after"])
def test_expired(exercise: ModuleType, late: int) -> None:
    """a token has expired at exp"""
    token = signed(exercise, claims_at(exercise, FUTURE))
    expect_refused(exercise, token, FUTURE + TTL + late, help=EXPIRY)


def test_not_yet_valid(exercise: ModuleType) -> None:
    """a token is refused before its nbf, and valid from it"""
    token = signed(exercise, claims_at(exercise, PAST, nbf=PAST + 60))
    expect_refused(exercise, token, PAST + 59, help=NOT_BEFORE)
    verified(exercise, token, PAST + 60, help=NOT_BEFORE)


def test_alg_none(exercise: ModuleType) -> None:
    """an unsigned token (alg none) is refused"""
    token = f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(claims_at(exercise, PAST))}."
    expect_refused(exercise, token, PAST, help=PINNED)


def test_tampered_payload(exercise: ModuleType) -> None:
    """a token whose payload was changed after signing is refused"""
    header, _, signature = signed(exercise, claims_at(exercise, PAST)).split(".")
    forged = f"{header}.{segment(claims_at(exercise, PAST, sub='admin'))}.{signature}"
    expect_refused(exercise, forged, PAST, help=SIGNATURE)


def test_wrong_key(exercise: ModuleType) -> None:
    """a token signed with another key is refused"""
    token = signed(exercise, claims_at(exercise, PAST), key=OTHER_KEY)
    expect_refused(exercise, token, PAST, help=SIGNATURE)


def test_hs256_with_the_public_key(exercise: ModuleType) -> None:
    """an HS256 token keyed with the public key is refused"""
    pem = exercise.PUBLIC_KEY.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = (
        f"{segment({'alg': 'HS256', 'typ': 'JWT'})}.{segment(claims_at(exercise, PAST))}"
    )
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    expect_refused(exercise, f"{signing_input}.{b64(mac)}", PAST, help=PINNED)


def test_wrong_audience(exercise: ModuleType) -> None:
    """a token for another audience is refused"""
    token = signed(exercise, claims_at(exercise, PAST, aud="https://billing.workbook.test"))
    expect_refused(exercise, token, PAST, help=AUDIENCE)


def test_wrong_issuer(exercise: ModuleType) -> None:
    """a token from another issuer is refused"""
    token = signed(exercise, claims_at(exercise, PAST, iss="https://evil.example"))
    expect_refused(exercise, token, PAST, help=ISSUER)


@pytest.mark.parametrize("name", CLAIM_NAMES)
def test_missing_claim(exercise: ModuleType, name: str) -> None:
    """a token without one of the claims is refused"""
    token = signed(exercise, claims_at(exercise, PAST, **{name: None}))
    expect_refused(exercise, token, PAST, help=REQUIRED)


def test_refresh_token_refused(exercise: ModuleType) -> None:
    """a token of another type is refused"""
    token = signed(exercise, claims_at(exercise, PAST, typ="refresh"))
    expect_refused(exercise, token, PAST, help=TYPE)


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c"], ids=["empty", "text", "dots"])
def test_not_a_jwt(exercise: ModuleType, token: str) -> None:
    """a string that is not a JWT raises InvalidToken"""
    expect_refused(exercise, token, PAST, help=OTHER_ERROR)
