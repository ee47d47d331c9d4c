from typing import Any

import jwt
from tokens import AUDIENCE, PUBLIC_KEY


def naive_verify(token: str) -> dict[str, Any]:
    """Don't: two algorithms allowed, no issuer, no required claims, no token type."""
    return jwt.decode(token, PUBLIC_KEY, algorithms=["RS256", "HS256"], audience=AUDIENCE)
