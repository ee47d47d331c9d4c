"""Hidden suite for 16_observability/05_log_redaction: logs that keep secrets.

Two ways in. `redact` is checked on its own with a table, one row per clause. `RedactingFilter`
is checked where it lives, on a handler: each check logs through a logger whose one handler
carries the learner's filter and writes every record as one text, the formatted line followed
by the record's `extra=` attributes, so whatever any formatter could write is in that text.
Then hypothesis plants a secret anywhere in what is logged (a secret key at any depth, a query
parameter, a pydantic secret, an `extra=` attribute, an exception's message): the secret never
appears in what is written, the line is the reference's line, and what was logged is unchanged.
"""

import copy
import logging
import string
import sys
from collections.abc import Iterator, Mapping
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import Secret, SecretBytes, SecretStr
from starlette.datastructures import Headers

from workbook.testing import Failure, expect, expect_equal

R = "[REDACTED]"
# what a record has without `extra=`, and what a formatter adds to it
STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
FORMAT = "%(levelname)s %(message)s"

QUERY = (
    "Is the query rule applied to strings? The value of ?token= or &api_key= (any case) is "
    "everything up to the next & # ' \" or whitespace, and it becomes [REDACTED]."
)
QUERY_END = (
    "Where does the parameter's value end? At the next & # ' \" or whitespace, or at the end "
    "of the text: nothing after it changes."
)
QUERY_NAME = (
    "Is the parameter's name matched whole, right after ? or &? ?mytoken= and &tok%65n= are "
    "other parameters."
)
KEYS = (
    "Are mapping keys compared lower-cased with SECRET_KEYS? Authorization, PASSWORD and "
    "Api_Key are secret keys, and the whole value under one becomes [REDACTED]."
)
DASHES = (
    "Is a '-' in a key read as '_'? Set-Cookie (a header) and set_cookie (an extra= field) "
    "are the same secret key."
)
WHOLE_KEYS = (
    "Are keys compared whole? access_token, passwords and my-secret are not in SECRET_KEYS."
)
DEPTH = (
    "Does redact go down into every value it keeps, mappings, lists and tuples alike? A "
    "password three levels down is still a password."
)
MAPPINGS = (
    "Is every Mapping handled, not only dict? Starlette's Headers is a Mapping: redact makes "
    "it a plain dict of its items."
)
SECRETS = "Are pydantic's SecretStr, SecretBytes and Secret[...] replaced by [REDACTED]?"
KEPT = "Is anything else returned as it is? Only the secrets change."
COPY = (
    "Does redact change what it is given? Build new dicts, lists and tuples: the app still "
    "needs the real token after logging it."
)
ARGS = (
    "Are the record's args redacted before the message is formatted? getMessage puts the "
    "args into the message: a dict argument prints its password."
)
FINISHED = (
    "Is the query rule applied to the finished message? With log.info('GET /pay?token=%s', "
    "token) neither the format nor the argument holds the whole parameter."
)
MSG = "Is a msg that is not a str (a dict) redacted before it becomes text?"
EXTRA = (
    "Are the attributes that extra= put on the record redacted, and one whose own name is a "
    "secret key (extra={'token': ...}) replaced?"
)
EXC = (
    "Is the traceback redacted? Set record.exc_text to "
    "logging.Formatter().formatException(record.exc_info) with the query rule applied."
)
RESULT = "Does filter change the record in place, leave msg the redacted text and args ()?"
NOTHING_SECRET = "the untouched stub changes nothing, and nothing here is secret"
UNCHANGED = (KEPT, WHOLE_KEYS, QUERY_NAME)


def rows(table: list[tuple[Any, Any, str]]) -> list[Any]:
    """The rows of a table; the ones where nothing changes may pass on the stub."""
    return [
        pytest.param(
            value,
            expected,
            help,
            id=repr(value),
            marks=[pytest.mark.stub_may_pass(NOTHING_SECRET)] if help in UNCHANGED else [],
        )
        for value, expected, help in table
    ]


class Capture(logging.Handler):
    """Writes each record as its formatted line, then its `extra=` attributes."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter(FORMAT))
        self.lines: list[str] = []
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        extras = {name: value for name, value in vars(record).items() if name not in STANDARD}
        line = self.format(record)
        self.lines.append(f"{line} | extra={extras!r}" if extras else line)
        self.records.append(record)


class Logged:
    """A logger whose one handler carries a module's RedactingFilter."""

    def __init__(self, module: ModuleType, name: str) -> None:
        self.capture = Capture()
        self.capture.addFilter(module.RedactingFilter())
        self.logger = logging.getLogger(name)
        self.logger.handlers = [self.capture]
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False

    def line(self) -> str:
        expect_equal("the number of records written", 1, len(self.capture.lines), help=RESULT)
        return self.capture.lines[0]

    def close(self) -> None:
        self.logger.handlers = []
        self.capture.lines.clear()
        self.capture.records.clear()


@pytest.fixture
def logged(exercise: ModuleType) -> Iterator[Logged]:
    logged = Logged(exercise, "shop.redaction")
    yield logged
    logged.close()


# -- redact, clause by clause ---------------------------------------------------------------

QUERY_ROWS = [
    ("/pay?token=abc", "/pay?token=[REDACTED]", QUERY),
    ("/pay?token=abc&page=2", "/pay?token=[REDACTED]&page=2", QUERY_END),
    ("/pay?page=2&api_key=k-1.x~%20y", "/pay?page=2&api_key=[REDACTED]", QUERY),
    ("/pay?TOKEN=abc&Api_Key=def", "/pay?TOKEN=[REDACTED]&Api_Key=[REDACTED]", QUERY),
    ("/pay?token=&page=2", "/pay?token=[REDACTED]&page=2", QUERY_END),
    ("/pay?token=abc#top", "/pay?token=[REDACTED]#top", QUERY_END),
    ("GET /pay?token=abc HTTP/1.1", "GET /pay?token=[REDACTED] HTTP/1.1", QUERY_END),
    ("url='/pay?token=abc' ok", "url='/pay?token=[REDACTED]' ok", QUERY_END),
    ('url="/pay?api_key=abc"', 'url="/pay?api_key=[REDACTED]"', QUERY_END),
    ("a?token=b\tc?token=d\ne", "a?token=[REDACTED]\tc?token=[REDACTED]\ne", QUERY_END),
    ("/pay?mytoken=abc&tokens=2", "/pay?mytoken=abc&tokens=2", QUERY_NAME),
    ("/pay?tok%65n=abc&x_api_key=1", "/pay?tok%65n=abc&x_api_key=1", QUERY_NAME),
    ("token=abc api_key=def", "token=abc api_key=def", QUERY_NAME),
    ("/pay?token", "/pay?token", QUERY_NAME),
    ("100% ?page=2 password=abc", "100% ?page=2 password=abc", KEPT),
    ("", "", KEPT),
]


@pytest.mark.parametrize(("text", "expected", "help"), rows(QUERY_ROWS))
def test_query_parameters(exercise, text, expected, help):
    """the value of ?token= and &api_key= (any case) is replaced, up to its end, nothing else"""
    expect_equal(f"redact({text!r})", expected, exercise.redact(text), help=help)


KEY_ROWS = [
    ({"password": "pw", "user": "ann"}, {"password": R, "user": "ann"}, KEYS),
    ({"Authorization": "Bearer t", "Accept": "*/*"}, {"Authorization": R, "Accept": "*/*"}, KEYS),
    ({"COOKIE": "sid=1", "Set-Cookie": "sid=2"}, {"COOKIE": R, "Set-Cookie": R}, DASHES),
    ({"set_cookie": "sid=3", "SET-COOKIE": "sid=4"}, {"set_cookie": R, "SET-COOKIE": R}, DASHES),
    ({"API-KEY": "k", "Api_Key": "k", "x": "k"}, {"API-KEY": R, "Api_Key": R, "x": "k"}, DASHES),
    ({"Token": 1234, "secret": None}, {"Token": R, "secret": R}, KEYS),
    ({"secret": {"password": "pw", "a": 1}}, {"secret": R}, KEYS),
    ({"secret": ["x", "y"], "token": ""}, {"secret": R, "token": R}, KEYS),
    (
        {"access_token": "a", "passwords": 2, "my-secret": 3, "set-cookies": 4},
        {"access_token": "a", "passwords": 2, "my-secret": 3, "set-cookies": 4},
        WHOLE_KEYS,
    ),
    ({1: "one", None: "none", ("token",): "t"}, {1: "one", None: "none", ("token",): "t"}, KEPT),
    (
        {"user": {"profile": {"password": "pw", "name": "ann"}}},
        {"user": {"profile": {"password": R, "name": "ann"}}},
        DEPTH,
    ),
    (
        {"users": [{"name": "ann", "token": "t1"}, ({"Secret": "s"}, "x")]},
        {"users": [{"name": "ann", "token": R}, ({"Secret": R}, "x")]},
        DEPTH,
    ),
    (
        {"request": {"url": "/pay?token=abc", "headers": {"cookie": "c"}}},
        {"request": {"url": "/pay?token=[REDACTED]", "headers": {"cookie": R}}},
        DEPTH,
    ),
    (
        [["/a?api_key=1"], ("/b?token=2",)],
        [["/a?api_key=[REDACTED]"], ("/b?token=[REDACTED]",)],
        DEPTH,
    ),
    ({"token": "t", "a": 1, "b": 2}, {"token": R, "a": 1, "b": 2}, KEYS),
    ({}, {}, KEPT),
    ([], [], KEPT),
    ((), (), KEPT),
]


@pytest.mark.parametrize(("value", "expected", "help"), rows(KEY_ROWS))
def test_secret_keys_at_any_depth(exercise, value, expected, help):
    """the value under a secret key (lower-cased, whole) is replaced, at any depth"""
    before = copy.deepcopy(value)
    result = exercise.redact(value)
    expect_equal(f"redact({before!r})", expected, result, help=help)
    expect_equal("the keys' order", list(expected), list(result))
    expect_equal("the value given to redact, afterwards", before, value, help=COPY)


def test_containers_keep_their_kind(exercise):
    """mappings become dicts, lists stay lists, tuples stay tuples, all of them new"""
    value = {"a": [1, {"b": (2, ["c"])}], "d": ({"token": "t"},)}
    result = exercise.redact(value)
    kinds = (type(result), type(result["a"]), type(result["a"][1]["b"]), type(result["d"]))
    expect_equal("the kinds of the containers", (dict, list, tuple, tuple), kinds, help=DEPTH)
    expect(
        result is not value and result["a"] is not value["a"],
        "redact returned the very dict or list it was given, not a new one",
        help=COPY,
    )


def test_starlette_headers(exercise):
    """Starlette's Headers (a Mapping, not a dict) becomes a plain dict of its items"""
    headers = Headers({"Authorization": "Bearer t0k3n", "Cookie": "sid=1", "Accept": "*/*"})
    result = exercise.redact(headers)
    expected = {"authorization": R, "cookie": R, "accept": "*/*"}
    expect_equal("redact(Headers(...))", expected, result, help=MAPPINGS)
    expect_equal("the kind of the result", dict, type(result), help=MAPPINGS)


@pytest.mark.parametrize(
    "secret",
    [SecretStr("pw"), SecretBytes(b"pw"), Secret("pw"), Secret(1234)],
    ids=["SecretStr", "SecretBytes", "Secret[str]", "Secret[int]"],
)
def test_pydantic_secrets(exercise, secret):
    """pydantic's secrets become [REDACTED], alone and inside containers"""
    expect_equal(f"redact({secret!r})", R, exercise.redact(secret), help=SECRETS)
    nested = {"user": "ann", "key": [secret]}
    expected = {"user": "ann", "key": [R]}
    expect_equal("redact of a dict holding it", expected, exercise.redact(nested), help=SECRETS)


OTHERS = [42, 2.5, None, True, b"/pay?token=abc", frozenset({"?token=abc"}), object()]


@pytest.mark.stub_may_pass(NOTHING_SECRET)
@pytest.mark.parametrize("value", OTHERS, ids=[type(v).__name__ for v in OTHERS])
def test_other_values_as_they_are(exercise, value):
    """numbers, None, bytes, sets and other objects come back as they are"""
    expect(
        exercise.redact(value) is value, f"redact({value!r}) did not return it as it is", help=KEPT
    )


# -- the filter on a handler -----------------------------------------------------------------


@pytest.mark.stub_may_pass("REDACTED is given")
def test_redacted_constant(exercise):
    expect_equal("REDACTED", R, exercise.REDACTED)


def test_dict_argument(exercise, logged):
    """a dict passed as an argument is redacted before %-formatting prints it"""
    event = {"user": "ann", "password": "hunter2", "headers": {"Authorization": "Bearer t"}}
    logged.logger.info("login %s from %s", event, "10.0.0.1")
    expected = (
        "INFO login {'user': 'ann', 'password': '[REDACTED]', 'headers': "
        "{'Authorization': '[REDACTED]'}} from 10.0.0.1"
    )
    expect_equal("the line", expected, logged.line(), help=ARGS)
    expect_equal("the dict that was logged, afterwards", "hunter2", event["password"], help=COPY)


def test_mapping_argument(exercise, logged):
    """a single dict argument of a %(name)s format is redacted"""
    logged.logger.warning(
        "%(user)s sent %(token)s and %(url)s",
        {"user": "ann", "token": "t0k3n", "url": "/x?api_key=k3y"},
    )
    expected = "WARNING ann sent [REDACTED] and /x?api_key=[REDACTED]"
    expect_equal("the line", expected, logged.line(), help=ARGS)


def test_secret_arguments(exercise, logged):
    """pydantic secrets and query strings passed as arguments"""
    logged.logger.info("key %r, url %s %d tries", SecretStr("pw"), "/pay?token=t0k3n", 3)
    expected = "INFO key '[REDACTED]', url /pay?token=[REDACTED] 3 tries"
    expect_equal("the line", expected, logged.line(), help=ARGS)


def test_query_in_the_finished_message(exercise, logged):
    """?token= in the format and its value in an argument: caught once formatted"""
    logged.logger.info("GET /pay?token=%s&page=%d done", "t0k3n", 2)
    expected = "INFO GET /pay?token=[REDACTED]&page=2 done"
    expect_equal("the line", expected, logged.line(), help=FINISHED)


def test_query_in_the_format(exercise, logged):
    """a query string written in the message itself, without arguments"""
    logged.logger.info("GET /pay?api_key=k3y 100%")
    expect_equal("the line", "INFO GET /pay?api_key=[REDACTED] 100%", logged.line(), help=QUERY)


def test_msg_that_is_a_dict(exercise, logged):
    """a dict logged as the message itself"""
    logged.logger.info({"event": "login", "secret": "s3cr3t", "n": [1, 2]})
    expected = "INFO {'event': 'login', 'secret': '[REDACTED]', 'n': [1, 2]}"
    expect_equal("the line", expected, logged.line(), help=MSG)


@pytest.mark.stub_may_pass(NOTHING_SECRET)
def test_clean_record_unchanged(exercise, logged):
    """a record with no secret is written exactly as without the filter"""
    logged.logger.error("%d%% of %s for %r", 50, "/items?page=2&tokens=3", {"user": "ann"})
    expected = "ERROR 50% of /items?page=2&tokens=3 for {'user': 'ann'}"
    expect_equal("the line", expected, logged.line(), help=KEPT)


def test_record_after_the_filter(exercise):
    """filter changes the record in place: msg the redacted text, args (), returns True"""
    record = logging.makeLogRecord(
        {"msg": "%s paid with %s", "args": ("ann", "/pay?token=t0k3n"), "levelno": 20}
    )
    kept = exercise.RedactingFilter().filter(record)
    expect(
        kept is True, f"filter returned {kept!r}, not True: the record must be kept", help=RESULT
    )
    expect_equal("record.msg", "ann paid with /pay?token=[REDACTED]", record.msg, help=RESULT)
    expect_equal("record.args", (), record.args, help=RESULT)


def test_extra_attributes(exercise, logged):
    """extra= attributes are redacted, and one named like a secret key replaced"""
    headers = {"Cookie": "sid=s3ss10n", "Accept": "*/*"}
    logged.logger.info(
        "request",
        extra={"headers": headers, "Token": "t0k3n", "url": "/pay?token=t0k3n", "user": "ann"},
    )
    record = logged.capture.records[0] if logged.capture.records else None
    expect(record is not None, "no record was written", help=RESULT)
    found = {name: getattr(record, name, None) for name in ("headers", "Token", "url", "user")}
    expected = {
        "headers": {"Cookie": R, "Accept": "*/*"},
        "Token": R,
        "url": "/pay?token=[REDACTED]",
        "user": "ann",
    }
    expect_equal("the extra= attributes", expected, found, help=EXTRA)
    expect_equal(
        "the headers that were logged, afterwards", "sid=s3ss10n", headers["Cookie"], help=COPY
    )


def fail_with(message: str) -> None:
    raise RuntimeError(message)


def test_exception_message(exercise, logged):
    """the traceback is redacted into exc_text, the rest of it kept"""
    try:
        fail_with("upstream said 401 for /pay?token=t0k3n&page=2")
    except RuntimeError:
        exc_info = sys.exc_info()
        logged.logger.exception("payment failed")
    traceback = logging.Formatter().formatException(exc_info)
    expected = "ERROR payment failed\n" + traceback.replace("t0k3n", R)
    expect_equal("the line", expected, logged.line(), help=EXC)


def test_record_filtered_twice(exercise, logged):
    """a second handler with its own filter writes the same line"""
    second = Capture()
    second.addFilter(exercise.RedactingFilter())
    logged.logger.addHandler(second)
    logged.logger.info("GET %s %s", "/pay?token=t0k3n", {"password": "pw", "pct": "100%"})
    expected = "INFO GET /pay?token=[REDACTED] {'password': '[REDACTED]', 'pct': '100%'}"
    expect_equal("the first handler's line", expected, logged.line())
    expect_equal("the second handler's line", [expected], second.lines, help=RESULT)


# -- hypothesis: a planted secret never gets out -----------------------------------------------

SECRET_VALUES = st.text(string.ascii_letters + string.digits, min_size=6, max_size=12).map(
    lambda tail: "Qz9" + tail
)
SECRET_NAMES = st.sampled_from(
    [
        "password",
        "PASSWORD",
        "Token",
        "secret",
        "Secret",
        "authorization",
        "Authorization",
        "cookie",
        "COOKIE",
        "set-cookie",
        "Set-Cookie",
        "set_cookie",
        "api_key",
        "Api-Key",
    ]
)
PARAM_NAMES = st.sampled_from(["token", "TOKEN", "Token", "api_key", "API_KEY", "Api_Key"])
PLAIN_KEYS = st.sampled_from(
    ["user", "headers", "query", "access_token", "passwords", "my-secret", "Accept", "url"]
)
FILLERS = st.sampled_from(
    ["ann", "/items?page=2", "100%", "?tokens=1", 42, None, 2.5, True, b"raw", "a'b\"c"]
)
HYPOTHESIS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=300,
    report_multiple_bugs=False,
    phases=[Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def hiding_places(secret: str) -> st.SearchStrategy[Any]:
    """The leaves that hold `secret`: a query value, a pydantic secret, a Headers value."""
    query = st.builds(
        "{}{}{}={}{}".format,
        st.sampled_from(["", "/pay", "GET /pay?page=1", "see "]),
        st.sampled_from(["?", "&"]),
        PARAM_NAMES,
        st.just(secret),
        st.sampled_from(["", "&page=2", "#top", " then", "'", '"', "\n"]),
    )
    return st.one_of(
        query,
        st.builds(SecretStr, st.just(secret)),
        st.builds(lambda s: SecretBytes(s.encode()), st.just(secret)),
        st.builds(Secret, st.just(secret)),
        st.builds(
            lambda name, s: Headers({name: s, "accept": "*/*"}),
            st.sampled_from(["Authorization", "cookie"]),
            st.just(secret),
        ),
    )


def structures(secret: str) -> st.SearchStrategy[Any]:
    """Nested dicts, lists and tuples, with the secret hidden anywhere, under any key."""
    leaves = st.one_of(FILLERS, hiding_places(secret), st.just(secret))

    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(
            st.lists(children, max_size=3),
            st.lists(children, max_size=3).map(tuple),
            st.dictionaries(PLAIN_KEYS, children, max_size=3),
            st.dictionaries(SECRET_NAMES, children, min_size=1, max_size=2),
        )

    return st.recursive(leaves, extend, max_leaves=8)


def exposed(value: Any, secret: str) -> bool:
    """Whether the bare secret is somewhere outside a secret key and outside a query value."""
    if isinstance(value, str):
        return value == secret
    if isinstance(value, Mapping):
        return any(
            exposed(item, secret)
            for key, item in value.items()
            if not (isinstance(key, str) and key.lower().replace("-", "_") in SECRET_KEY_NAMES)
        )
    if isinstance(value, list | tuple):
        return any(exposed(item, secret) for item in value)
    return False


def planted(value: Any, secret: str) -> bool:
    """Whether the secret is in the structure at all."""
    if isinstance(value, str):
        return secret in value
    if isinstance(value, SecretStr | Secret):
        return secret in str(value.get_secret_value())
    if isinstance(value, SecretBytes):
        return secret.encode() in value.get_secret_value()
    if isinstance(value, Mapping):
        return any(planted(item, secret) for item in value.values())
    if isinstance(value, list | tuple):
        return any(planted(item, secret) for item in value)
    return False


SECRET_KEY_NAMES = {
    "authorization",
    "cookie",
    "set_cookie",
    "password",
    "token",
    "secret",
    "api_key",
}
HOW = ["%s", "%r", "user %s sent %s", "msg", "%(payload)s", "extra", "extra under a secret key"]


@st.composite
def logged_calls(draw: st.DrawFn) -> tuple[str, Any, str, str | None, bool]:
    secret = draw(SECRET_VALUES)
    value = draw(structures(secret))
    # a bare secret is only a secret where the contract says so: under a key or a parameter
    how = draw(st.sampled_from(HOW))
    name = draw(SECRET_NAMES) if how == "extra under a secret key" else None
    exception = draw(st.booleans())
    if how != "extra under a secret key":
        if not planted(value, secret) and not exception:
            value = {draw(SECRET_NAMES): value}
        if exposed(value, secret):
            value = {draw(SECRET_NAMES): value}
    return secret, value, how, name, exception


def log_call(
    logged: Logged, secret: str, value: Any, how: str, name: str | None, exception: bool
) -> None:
    log = logged.logger
    exc_info: Any = None
    if exception:
        try:
            fail_with(f"upstream refused /pay?token={secret}")
        except RuntimeError:
            exc_info = sys.exc_info()
    if how == "msg":
        log.info(value, exc_info=exc_info)
    elif how == "user %s sent %s":
        log.info(how, "ann", value, exc_info=exc_info)
    elif how == "%(payload)s":
        log.info(how, {"payload": value, "n": 1}, exc_info=exc_info)
    elif how == "extra":
        log.info("event", extra={"payload": value}, exc_info=exc_info)
    elif how == "extra under a secret key":
        log.info("event", extra={name: value, "payload": "ann"}, exc_info=exc_info)
    else:
        log.info(how, value, exc_info=exc_info)


def describe(value: Any, how: str, name: str | None, exception: bool) -> str:
    said = {"msg": "as the message", "extra": "as extra={'payload': ...}"}.get(how, f"with {how!r}")
    if how == "extra under a secret key":
        said = f"as extra={{{name!r}: ...}}"
    tail = " with an exception whose message holds ?token=<secret>" if exception else ""
    return f"{value!r} logged {said}{tail}"


@HYPOTHESIS
@given(logged_calls())
def test_no_planted_secret_gets_out(exercise, reference, call):
    """wherever the secret sits, it is not written, and the line is the reference's line"""
    secret, value, how, name, exception = call
    before = copy.deepcopy(value)
    ours, theirs = Logged(exercise, "shop.planted"), Logged(reference, "shop.reference")
    try:
        log_call(ours, secret, value, how, name, exception)
        log_call(theirs, secret, copy.deepcopy(before), how, name, exception)
        written, expected = list(ours.capture.lines), list(theirs.capture.lines)
    finally:
        ours.close()
        theirs.close()
    what = describe(before, how, name, exception)
    leaked = [line for line in written if secret in line]
    if leaked:
        raise Failure(
            f"the secret {secret!r} got out when {what}:\n{leaked[0]}",
            help=EXC if exception and not planted(before, secret) else None,
        )
    expect_equal(f"lines written when {what}", expected, written)
    expect_equal("what was logged, afterwards", before, value, help=COPY)
