"""Logs that keep secrets: a logging filter that redacts every record before it is written."""

import logging
import re
from collections.abc import Mapping
from typing import Any

from pydantic import Secret, SecretBytes, SecretStr

REDACTED = "[REDACTED]"
# mapping keys whose values never reach a log (header names among them), compared lower-cased
# and with "-" read as "_": "Set-Cookie" and "set_cookie" are the same key
SECRET_KEYS = frozenset(
    {"authorization", "cookie", "set_cookie", "password", "token", "secret", "api_key"}
)
# query parameters whose values never reach a log, compared lower-cased
SECRET_PARAMS = frozenset({"token", "api_key"})
# the attributes of a record made without `extra=`: any other attribute came from `extra=`
RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({})))

# `?token=` or `&api_key=`, then the value: everything up to & # ' " or whitespace
SECRET_PARAM = re.compile(
    rf"([?&](?:{'|'.join(map(re.escape, sorted(SECRET_PARAMS)))})=)[^&#'\"\s]*",
    re.IGNORECASE,
)


def is_secret_key(key: object) -> bool:
    return isinstance(key, str) and key.lower().replace("-", "_") in SECRET_KEYS


def redact(value: Any) -> Any:
    """A copy of `value` with every secret replaced by REDACTED; `value` itself is untouched."""
    if isinstance(value, str):
        return SECRET_PARAM.sub(lambda match: match[1] + REDACTED, value)
    if isinstance(value, SecretStr | SecretBytes | Secret):
        return REDACTED
    if isinstance(value, Mapping):
        return {
            key: REDACTED if is_secret_key(key) else redact(item) for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    if isinstance(value, tuple):
        return tuple(redact(item) for item in value)
    return value


class RedactingFilter(logging.Filter):
    """Rewrites each record so that no handler after it can write a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.msg, str):
            record.msg = redact(record.msg)
        # the arguments first, then the finished message: `?token=%s` is caught once formatted
        record.args = redact(record.args)
        record.msg, record.args = redact(record.getMessage()), ()
        for name, value in list(vars(record).items()):
            if name not in RECORD_ATTRIBUTES:
                setattr(record, name, REDACTED if is_secret_key(name) else redact(value))
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True
