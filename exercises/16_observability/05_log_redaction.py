"""Logs that keep secrets: a logging filter that redacts every record before it is written.

A log line outlives the request: it is shipped, indexed and read by people who must never see
a password or a session cookie. Redact in one place, a filter on the handler, so that every
logger and every formatter behind it gets records that are already clean.

Contract (the checks rely on every line):
- `REDACTED` (keep this name) is the string "[REDACTED]": every secret is replaced by it.
- `redact(value)` (keep this name) returns a redacted copy of `value` and never changes
  `value` itself (the app still needs the real token after logging it):
  - a `str`: the value of every query parameter named in `SECRET_PARAMS` is replaced. A
    parameter starts right after "?" or "&"; its name is compared lower-cased ("?Token=" counts,
    "?mytoken=" and "?tok%65n=" do not); its value, possibly empty, is everything up to the next
    "&", "#", "'", '"', whitespace or the end of the text. "/pay?token=abc&page=2" gives
    "/pay?token=[REDACTED]&page=2". The rest of the text is kept character for character.
  - pydantic's `SecretStr`, `SecretBytes` and `Secret[...]`: `REDACTED`, wherever they sit.
  - any `Mapping` (a dict, Starlette's `Headers`, ...): a new plain dict with the same keys in
    the same order. The value under a `str` key that is in `SECRET_KEYS` once lower-cased with
    "-" read as "_" (`key.lower().replace("-", "_")`: "Authorization", "PASSWORD", "Set-Cookie",
    "set_cookie", "API-KEY") becomes `REDACTED` whatever it is (a string, a number, None, a
    whole dict); every other value is redacted in turn, at any depth. Keys are compared whole:
    "access_token", "passwords" and "my-secret" are not secret keys; keys that are not `str`
    are never secret.
  - a `list` or a `tuple`: a new list or tuple of the redacted items, at any depth.
  - anything else (numbers, None, bytes, sets, other objects) is returned as it is.
- `RedactingFilter` (keep this name) is a `logging.Filter`; the checks add one to a handler.
  Its `filter(record)` changes the record in place and returns True (no record is dropped):
  - the message: a `msg` that is not a `str` is redacted; the `args` are redacted (a single
    dict argument too, for "%(name)s" formats); the message is then formatted as
    `record.getMessage()` does, and the query rule applied to the finished text, so that
    `log.info("GET /pay?token=%s", token)` is caught. Afterwards `record.msg` is that redacted
    text and `record.args` is `()`.
  - every attribute that `extra=` put on the record (one that is not in `RECORD_ATTRIBUTES`)
    is redacted the same way, and one whose own name is a secret key
    (`extra={"token": ...}`) becomes `REDACTED`.
  - when the record carries `exc_info`, `record.exc_text` becomes the traceback exactly as
    `logging.Formatter().formatException(record.exc_info)` writes it, with the query rule
    applied; a formatter then writes `exc_text` instead of formatting the exception again.
    `exc_info` and `stack_info` are left as they are.
- A header written into the message text ("Authorization: Bearer ...") is not recognised: only
  mapping keys and query parameters are. Structures logged here hold no cycles.
"""

import logging
from typing import Any

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

# TODO: a regular expression for "?token=..." and "&api_key=..." (any case) and their values.


def redact(value: Any) -> Any:
    """A copy of `value` with every secret replaced by REDACTED; `value` itself is untouched."""
    # TODO: query parameters in strings, pydantic secrets, secret keys of mappings at any depth,
    # lists and tuples; everything else as it is.
    return value


class RedactingFilter(logging.Filter):
    """Rewrites each record so that no handler after it can write a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        # TODO: redact the message and its arguments, then the finished message; the `extra=`
        # attributes; the traceback of `exc_info` into `exc_text`.
        return True
