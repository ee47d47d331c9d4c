import secrets

import jwt

# HS256 signs and verifies with one shared secret: 32 random bytes or more.
SECRET = secrets.token_bytes(32)


def sign(claims: dict[str, object], secret: bytes = SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def verify(token: str, secret: bytes = SECRET) -> dict[str, object]:
    return jwt.decode(token, secret, algorithms=["HS256"])
