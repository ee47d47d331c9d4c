import base64
import hashlib
import hmac
import json
from datetime import datetime

Position = tuple[datetime, int]  # the sort key of the last row a page showed


class BadCursor(ValueError):
    """The cursor was not made by this service, or it was changed on the way."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: str, secret: bytes) -> str:
    return _b64(hmac.digest(secret, payload.encode(), hashlib.sha256))


def encode_cursor(position: Position, secret: bytes) -> str:
    created_at, row_id = position
    payload = _b64(json.dumps([created_at.isoformat(), row_id]).encode())
    return f"{payload}.{_sign(payload, secret)}"


def decode_cursor(cursor: str, secret: bytes) -> Position:
    payload, _, signature = cursor.partition(".")
    if not hmac.compare_digest(signature.encode(), _sign(payload, secret).encode()):
        raise BadCursor("this cursor was not issued by this service")
    created_at, row_id = json.loads(_unb64(payload))  # ours: the signature proves it
    return datetime.fromisoformat(created_at), row_id
