"""Tokens an attacker can make, each against the verifier of tokens.py."""

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from tokens import ACCESS_TTL, AUDIENCE, ISSUER, KEY_ID, PRIVATE_KEY, PUBLIC_KEY


def b64(data: bytes) -> str:
    """Base64url without padding, as JWT segments are written."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def segment(value: dict[str, Any]) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def claims(now: float, **changes: Any) -> dict[str, Any]:
    """Valid access-token claims at `now`; a change to None removes that claim."""
    issued = int(now)
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": issued,
        "nbf": issued,
        "exp": issued + ACCESS_TTL,
        "jti": "0f3c",
        "typ": "access",
        "scope": "",
    }
    merged = base | changes
    return {name: value for name, value in merged.items() if value is not None}


def signed(payload: dict[str, Any], key: bytes | rsa.RSAPrivateKey = PRIVATE_KEY) -> str:
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": KEY_ID})


def alg_none(now: float) -> str:
    return f"{segment({'alg': 'none', 'typ': 'JWT', 'kid': KEY_ID})}.{segment(claims(now))}."


def tampered(now: float) -> str:
    header, _, signature = signed(claims(now)).split(".")
    return f"{header}.{segment(claims(now, sub='admin'))}.{signature}"


def wrong_key(now: float) -> str:
    return signed(claims(now), rsa.generate_private_key(public_exponent=65537, key_size=2048))


def hs_rs_confusion(now: float) -> str:
    """HS256, keyed with the server's *public* key, which anyone can download."""
    head = f"{segment({'alg': 'HS256', 'typ': 'JWT', 'kid': KEY_ID})}.{segment(claims(now))}"
    mac = hmac.new(PUBLIC_KEY, head.encode(), hashlib.sha256).digest()
    return f"{head}.{b64(mac)}"


def expired(now: float) -> str:
    return signed(claims(now - ACCESS_TTL))  # exp == now: already expired


def not_yet_valid(now: float) -> str:
    return signed(claims(now + 60))


def wrong_audience(now: float) -> str:
    return signed(claims(now, aud="another-api"))


def wrong_issuer(now: float) -> str:
    return signed(claims(now, iss="https://evil.example"))


def missing_sub(now: float) -> str:
    return signed(claims(now, sub=None))


def refresh_as_access(now: float) -> str:
    return signed(claims(now, typ="refresh"))


ATTACKS = {
    "alg: none": alg_none,
    "tampered payload": tampered,
    "wrong key": wrong_key,
    "HS/RS confusion": hs_rs_confusion,
    "expired": expired,
    "not yet valid": not_yet_valid,
    "wrong audience": wrong_audience,
    "wrong issuer": wrong_issuer,
    "missing sub": missing_sub,
    "refresh token as access": refresh_as_access,
}
