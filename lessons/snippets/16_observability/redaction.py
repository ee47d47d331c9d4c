import logging
import re
from collections.abc import Mapping
from typing import Any

from json_logs import STANDARD_ATTRIBUTES

# --8<-- [start:redact]
REDACTED = "[REDACTED]"
SECRET_KEYS = frozenset(
    {"authorization", "cookie", "set_cookie", "password", "token", "secret", "api_key"}
)
SECRET_QUERY = re.compile(r"(?i)([?&](?:token|api_key)=)[^&#\s\"']*")
BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")


def is_secret(key: object) -> bool:
    """`Set-Cookie`, `set-cookie` and `set_cookie` are the same key."""
    return str(key).lower().replace("-", "_") in SECRET_KEYS


def redact(value: Any) -> Any:
    """A copy of `value` with every secret replaced, at any depth."""
    if isinstance(value, Mapping):
        return {key: REDACTED if is_secret(key) else redact(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact(item) for item in value)
    if isinstance(value, str):
        return BEARER.sub(r"\1 " + REDACTED, SECRET_QUERY.sub(r"\1" + REDACTED, value))
    return value


class RedactingFilter(logging.Filter):
    """Scrubs the message and every `extra=` field before any handler formats them."""

    def filter(self, record: logging.LogRecord) -> bool:
        # the parts first: once joined, "login %s" % {"password": ...} is only text
        record.msg, record.args = redact(record.msg), redact(record.args)
        # then the joined text, for what only joining makes: "?token=%s" % token
        record.msg, record.args = redact(record.getMessage()), None
        for key, value in list(vars(record).items()):
            if key in STANDARD_ATTRIBUTES:
                continue
            setattr(record, key, REDACTED if is_secret(key) else redact(value))
        return True


# --8<-- [end:redact]
