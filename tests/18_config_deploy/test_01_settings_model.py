"""Hidden suite for 18_config_deploy/01_settings_model: settings from the environment.

Every check starts from a clean world: each variable whose name starts with SHOP_ (in any case)
is removed, and so is each unprefixed name a settings field could be read from, and the check
runs in an empty temporary directory, so that `.env` is there only when a check writes one.
Then it sets the variables it needs with monkeypatch and calls `Settings()` (or
`Settings(**kwargs)`) as the contract says.
"""

import io
import json
import logging
import os
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsError

from workbook.testing import Failure, expect, expect_equal

URL = "postgresql+asyncpg://shop@db.internal:5432/shop"
DEV = "dev-only-secret"
STRONG = "k7Qp2Vx9Lm4Rt8Zw1Yc6Hn3Bd5Fg0JsE"  # 32 characters
MASK = "**********"
FIELDS = ("environment", "database", "jwt_secret", "allowed_origins", "debug")
STUB_WORKS = pytest.mark.stub_may_pass("the stub's default gives this value without reading")

PREFIX = (
    "Does the model read SHOP_ variables? Set env_prefix='SHOP_' in "
    "model_config = SettingsConfigDict(...)."
)
NESTED = (
    "Is SHOP_DATABASE__URL read into database.url? The model needs the prefix "
    "(env_prefix='SHOP_') and '__' between a field and its nested field "
    "(env_nested_delimiter='__')."
)
UNPREFIXED = (
    "Is a variable read without the SHOP_ prefix? Only SHOP_ names belong to this service: "
    "DEBUG or DATABASE__URL may belong to another program on the same machine."
)
ANY_CASE = (
    "Are names compared in any case? pydantic-settings does so by default "
    "(case_sensitive=False): leave it so."
)
FAIL_FAST = (
    "Does the database (and its url) have a default? Give neither one: a service without a "
    "database url must refuse to start, not start against a made-up database."
)
EMPTY_URL = "Is an empty url accepted? Give url a minimum length of 1 (Field(min_length=1))."
POOL = "Is pool_size bounded from 1 to 50, both included? Field(default=5, ge=1, le=50)."
ENVIRONMENT = (
    "Is environment a Literal of the three words? A Literal compares exactly: 'Production' "
    "is not 'production'."
)
ORIGINS = (
    "Is allowed_origins a list[str]? pydantic-settings reads a list field as JSON: "
    "'[\"https://a.example\"]'."
)
SECRET_TYPE = "Is jwt_secret a pydantic SecretStr? A str shows itself in every repr and log."
DEFAULT_REFUSED = (
    "Is DEV_SECRET refused outside development? Check it in a model_validator(mode='after'), "
    "where environment and jwt_secret are both known, and raise a ValueError."
)
SET_TO_DEFAULT = (
    "Is the secret's value compared, or only whether it was set? SHOP_JWT_SECRET=dev-only-secret "
    "is the known default all the same."
)
STAGING_LENGTH = (
    "Is the length rule applied outside production? Staging refuses only DEV_SECRET; the "
    "32 characters are production's rule."
)
LENGTH = (
    "Is the length compared as the contract says? Production refuses fewer than 32 "
    "characters: 31 is refused, 32 accepted."
)
NAMES_THE_FIELD = (
    "Does the refusal name jwt_secret? Say it in the ValueError's message (or raise it from "
    "a validator of that field), so that the log says what to fix."
)
HIDDEN_INPUT = (
    "Does the error's text show what was read? pydantic prints each error's input, here the "
    "secret: set hide_input_in_errors=True in model_config."
)
DOTENV = "Does the model read .env? Set env_file='.env' in model_config."
DOTENV_ORDER = (
    "Does .env beat the environment? pydantic-settings puts the environment first when both "
    "are configured: read both through model_config, not by loading .env into os.environ."
)
DOTENV_OTHERS = (
    "Are the other lines of .env refused? With extra='forbid' (BaseSettings' default) every "
    "line of .env must be a field: set extra='ignore'."
)
KWARGS = (
    "Do keyword arguments beat the environment? Let BaseSettings take them (Settings(debug=True)) "
    "rather than reading os.environ yourself."
)
MASKED = (
    "Is the secret a SecretStr everywhere it is kept? Its repr, str and JSON dump are "
    "'**********'; a str, or a serializer that reveals it, shows it."
)
WARNED = (
    "Does a validator return something other than the model? A model_validator(mode='after') "
    "ends with return self: pydantic warns that anything else is not supported."
)
VIEW = (
    "Does public_view give plain JSON values? settings.model_dump(mode='json') turns the "
    "SecretStr into '**********' and the nested model into a dict."
)


@pytest.fixture(autouse=True)
def clean_world(exercise: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    read_by_mistake = {name.upper() for name in FIELDS} | {"DATABASE__URL", "DATABASE__POOL_SIZE"}
    for name in list(os.environ):
        if name.upper().startswith("SHOP") or name.upper() in read_by_mistake:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def load(exercise: ModuleType, monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    """Set these variables, then make the settings."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return exercise.Settings()


def refused(
    exercise: ModuleType, monkeypatch: pytest.MonkeyPatch, help: str | None = None, **env: str
) -> ValidationError:
    """Set these variables; Settings() must raise a ValidationError, which is returned."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        settings = exercise.Settings()
    except ValidationError as error:
        return error
    shown = ", ".join(f"{name}={value!r}" for name, value in env.items()) or "no SHOP_ variable"
    raise Failure(
        f"expected Settings() to raise a ValidationError with {shown}, not to give "
        f"{_safe_repr(settings)}",
        help=help,
    )


def _safe_repr(settings: Any) -> str:
    try:
        return repr(settings)
    except Exception:  # a learner's repr may fail; the message must still be shown
        return "settings"


def secret_of(settings: Any) -> str:
    secret = settings.jwt_secret
    expect(
        isinstance(secret, SecretStr),
        f"expected jwt_secret to be a pydantic SecretStr, not {type(secret).__name__}",
        help=SECRET_TYPE,
    )
    return str(secret.get_secret_value())


def locs(error: ValidationError) -> list[tuple[Any, ...]]:
    return [tuple(item["loc"]) for item in error.errors()]


def shows(text: str, secret: str) -> bool:
    """Whether any ten characters of the secret in a row appear in the text."""
    return any(secret[i : i + 10] in text for i in range(len(secret) - 9))


def write_dotenv(*lines: str) -> None:
    Path(".env").write_text("\n".join(lines) + "\n", encoding="utf-8")


# -- reading the environment -------------------------------------------------------------------


def test_reads_the_database_url(exercise, monkeypatch):
    """SHOP_DATABASE__URL sets database.url; pool_size is then 5"""
    settings = load(exercise, monkeypatch, SHOP_DATABASE__URL=URL)
    expect_equal("database.url", URL, settings.database.url, help=NESTED)
    expect_equal(
        "database.pool_size with no SHOP_DATABASE__POOL_SIZE", 5, settings.database.pool_size
    )


def test_no_warning(exercise, monkeypatch):
    """making valid settings, in development and in production, emits no warning"""
    monkeypatch.setenv("SHOP_DATABASE__URL", URL)
    for environment in ("development", "production"):
        monkeypatch.setenv("SHOP_ENVIRONMENT", environment)
        monkeypatch.setenv("SHOP_JWT_SECRET", STRONG)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            settings = exercise.Settings()
        expect_equal("environment", environment, settings.environment, help=PREFIX)
        shown = [f"{w.category.__name__}: {w.message}" for w in caught]
        expect_equal(f"warnings from Settings() in {environment}", [], shown, help=WARNED)


def test_the_defaults(exercise, monkeypatch):
    """with only the url set: development, the dev secret, no origins, debug off"""
    settings = load(exercise, monkeypatch, SHOP_DATABASE__URL=URL)
    expect_equal("environment", "development", settings.environment)
    expect_equal("jwt_secret's value", DEV, secret_of(settings))
    expect_equal("allowed_origins", [], settings.allowed_origins)
    expect(settings.debug is False, f"expected debug False, not {settings.debug!r}")


def test_reads_every_field(exercise, monkeypatch):
    """each field is read from its SHOP_ variable"""
    settings = load(
        exercise,
        monkeypatch,
        SHOP_ENVIRONMENT="staging",
        SHOP_DATABASE__URL=URL,
        SHOP_DATABASE__POOL_SIZE="12",
        SHOP_JWT_SECRET="staging-secret",
        SHOP_ALLOWED_ORIGINS='["https://shop.example", "https://admin.shop.example"]',
        SHOP_DEBUG="true",
    )
    expect_equal("environment", "staging", settings.environment, help=PREFIX)
    expect_equal("database.pool_size", 12, settings.database.pool_size, help=NESTED)
    expect_equal("jwt_secret's value", "staging-secret", secret_of(settings), help=PREFIX)
    expect_equal(
        "allowed_origins",
        ["https://shop.example", "https://admin.shop.example"],
        settings.allowed_origins,
        help=ORIGINS,
    )
    expect(settings.debug is True, f"expected debug True, not {settings.debug!r}", help=PREFIX)


def test_unprefixed_variables_are_not_read(exercise, monkeypatch):
    """a variable without the SHOP_ prefix (DEBUG, ENVIRONMENT, DATABASE__POOL_SIZE) is not read"""
    settings = load(
        exercise,
        monkeypatch,
        SHOP_DATABASE__URL=URL,
        DEBUG="true",
        ENVIRONMENT="staging",
        DATABASE__POOL_SIZE="9",
        ALLOWED_ORIGINS='["https://elsewhere.example"]',
    )
    expect(
        settings.debug is False, f"expected debug False, not {settings.debug!r}", help=UNPREFIXED
    )
    expect_equal("environment", "development", settings.environment, help=UNPREFIXED)
    expect_equal("database.pool_size", 5, settings.database.pool_size, help=UNPREFIXED)
    expect_equal("allowed_origins", [], settings.allowed_origins, help=UNPREFIXED)


def test_database_url_without_prefix_is_missing(exercise, monkeypatch):
    """DATABASE__URL without SHOP_ does not count: the url is still missing"""
    error = refused(exercise, monkeypatch, help=UNPREFIXED, DATABASE__URL=URL)
    expect(("database",) in locs(error), f"expected an error at ('database',) in {locs(error)}")


@pytest.mark.parametrize(
    ("url_name", "debug_name"),
    [
        ("shop_database__url", "shop_debug"),
        ("Shop_Database__Url", "Shop_Debug"),
        ("SHOP_database__URL", "sHoP_dEbUg"),
    ],
)
def test_names_in_any_case(exercise, monkeypatch, url_name, debug_name):
    """variable names are read in any case: {url_name}, {debug_name}"""
    settings = load(exercise, monkeypatch, **{url_name: URL, debug_name: "1"})
    expect_equal(f"database.url read from {url_name}", URL, settings.database.url, help=ANY_CASE)
    expect(settings.debug is True, f"expected debug True from {debug_name}=1", help=ANY_CASE)


# -- the database: fail fast -------------------------------------------------------------------


def test_no_database_at_all_fails(exercise, monkeypatch):
    """with no SHOP_DATABASE__ variable, Settings() raises, naming database"""
    error = refused(exercise, monkeypatch, help=FAIL_FAST)
    expect(
        ("database",) in locs(error),
        f"expected an error at ('database',), not only {locs(error)}",
        help=FAIL_FAST,
    )


def test_a_missing_url_is_named(exercise, monkeypatch):
    """with a pool size but no url, Settings() raises, naming database.url"""
    error = refused(exercise, monkeypatch, help=FAIL_FAST, SHOP_DATABASE__POOL_SIZE="3")
    expect(
        ("database", "url") in locs(error),
        f"expected an error at ('database', 'url'), not only {locs(error)}",
        help=FAIL_FAST,
    )


def test_an_empty_url_is_refused(exercise, monkeypatch):
    """an empty SHOP_DATABASE__URL is refused, naming database.url"""
    error = refused(exercise, monkeypatch, help=EMPTY_URL, SHOP_DATABASE__URL="")
    expect(
        ("database", "url") in locs(error),
        f"expected an error at ('database', 'url'), not only {locs(error)}",
        help=EMPTY_URL,
    )


def test_a_one_character_url_is_accepted(exercise, monkeypatch):
    """a url of one character is accepted: the rule is only 'not empty'"""
    settings = load(exercise, monkeypatch, SHOP_DATABASE__URL="x")
    expect_equal("database.url", "x", settings.database.url, help=PREFIX)


@pytest.mark.parametrize("size", [1, 50])
def test_pool_size_inside_the_range(exercise, monkeypatch, size):
    """SHOP_DATABASE__POOL_SIZE={size} is accepted"""
    settings = load(
        exercise, monkeypatch, SHOP_DATABASE__URL=URL, SHOP_DATABASE__POOL_SIZE=str(size)
    )
    expect_equal("database.pool_size", size, settings.database.pool_size, help=POOL)


@pytest.mark.parametrize("size", [0, 51, -5])
def test_pool_size_outside_the_range(exercise, monkeypatch, size):
    """SHOP_DATABASE__POOL_SIZE={size} is refused, naming database.pool_size"""
    error = refused(
        exercise, monkeypatch, help=POOL, SHOP_DATABASE__URL=URL, SHOP_DATABASE__POOL_SIZE=str(size)
    )
    expect(
        ("database", "pool_size") in locs(error),
        f"expected an error at ('database', 'pool_size'), not only {locs(error)}",
        help=POOL,
    )


# -- environment, origins, debug ---------------------------------------------------------------


@pytest.mark.parametrize(
    "environment",
    ["staging", "production", pytest.param("development", marks=STUB_WORKS)],
)
def test_environment_accepted(exercise, monkeypatch, environment):
    """SHOP_ENVIRONMENT={environment} is read"""
    settings = load(
        exercise,
        monkeypatch,
        SHOP_DATABASE__URL=URL,
        SHOP_ENVIRONMENT=environment,
        SHOP_JWT_SECRET=STRONG,
    )
    expect_equal("environment", environment, settings.environment, help=PREFIX)


@pytest.mark.parametrize("environment", ["Production", "prod", "test", ""])
def test_environment_refused(exercise, monkeypatch, environment):
    """SHOP_ENVIRONMENT={environment!r} is refused, naming environment"""
    error = refused(
        exercise,
        monkeypatch,
        help=ENVIRONMENT,
        SHOP_DATABASE__URL=URL,
        SHOP_ENVIRONMENT=environment,
        SHOP_JWT_SECRET=STRONG,
    )
    expect(
        ("environment",) in locs(error),
        f"expected an error at ('environment',), not only {locs(error)}",
        help=ENVIRONMENT,
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("1", True),
        pytest.param("false", False, marks=STUB_WORKS),
        pytest.param("0", False, marks=STUB_WORKS),
    ],
)
def test_debug_values(exercise, monkeypatch, value, expected):
    """SHOP_DEBUG={value} gives debug {expected}"""
    settings = load(exercise, monkeypatch, SHOP_DATABASE__URL=URL, SHOP_DEBUG=value)
    expect(
        settings.debug is expected,
        f"expected debug {expected}, not {settings.debug!r}",
        help=PREFIX,
    )


def test_no_origins_from_an_empty_array(exercise, monkeypatch):
    """SHOP_ALLOWED_ORIGINS='[]' gives no origins, and one origin stays a list of one"""
    settings = load(exercise, monkeypatch, SHOP_DATABASE__URL=URL, SHOP_ALLOWED_ORIGINS="[]")
    expect_equal("allowed_origins from '[]'", [], settings.allowed_origins, help=ORIGINS)
    monkeypatch.setenv("SHOP_ALLOWED_ORIGINS", '["https://shop.example"]')
    settings = exercise.Settings()
    expect_equal(
        "allowed_origins", ["https://shop.example"], settings.allowed_origins, help=ORIGINS
    )


def test_comma_separated_origins_are_refused(exercise, monkeypatch):
    """SHOP_ALLOWED_ORIGINS written with commas, not as JSON, makes Settings() raise"""
    monkeypatch.setenv("SHOP_DATABASE__URL", URL)
    monkeypatch.setenv("SHOP_ALLOWED_ORIGINS", "https://shop.example,https://admin.shop.example")
    try:
        settings = exercise.Settings()
    except (SettingsError, ValidationError):
        return
    raise Failure(
        "expected Settings() to raise SettingsError for origins written with commas, not to "
        f"give allowed_origins {settings.allowed_origins!r}",
        help=ORIGINS,
    )


def test_a_json_string_is_not_a_list(exercise, monkeypatch):
    """SHOP_ALLOWED_ORIGINS holding one JSON string, not an array, is refused"""
    error = refused(
        exercise,
        monkeypatch,
        help=ORIGINS,
        SHOP_DATABASE__URL=URL,
        SHOP_ALLOWED_ORIGINS='"https://shop.example"',
    )
    expect(
        ("allowed_origins",) in locs(error),
        f"expected an error at ('allowed_origins',), not only {locs(error)}",
        help=ORIGINS,
    )


# -- the secret rules --------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [DEV, "x", "short"])
def test_development_accepts_any_secret(exercise, monkeypatch, secret):
    """development accepts any secret: {secret!r}"""
    settings = load(
        exercise,
        monkeypatch,
        SHOP_DATABASE__URL=URL,
        SHOP_ENVIRONMENT="development",
        SHOP_JWT_SECRET=secret,
    )
    expect_equal("jwt_secret's value", secret, secret_of(settings))


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_the_default_secret_is_refused(exercise, monkeypatch, environment):
    """in {environment}, the default secret is refused, naming jwt_secret"""
    error = refused(
        exercise,
        monkeypatch,
        help=DEFAULT_REFUSED,
        SHOP_DATABASE__URL=URL,
        SHOP_ENVIRONMENT=environment,
    )
    expect(
        "jwt_secret" in str(error),
        f"the error does not name jwt_secret: {error}",
        help=NAMES_THE_FIELD,
    )


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_the_default_secret_set_by_hand_is_refused(exercise, monkeypatch, environment):
    """in {environment}, SHOP_JWT_SECRET=dev-only-secret is refused too"""
    error = refused(
        exercise,
        monkeypatch,
        help=SET_TO_DEFAULT,
        SHOP_DATABASE__URL=URL,
        SHOP_ENVIRONMENT=environment,
        SHOP_JWT_SECRET=DEV,
    )
    expect(
        "jwt_secret" in str(error),
        f"the error does not name jwt_secret: {error}",
        help=NAMES_THE_FIELD,
    )


def test_the_default_secret_given_as_argument_is_refused(exercise, monkeypatch):
    """in staging, Settings(jwt_secret='dev-only-secret') is refused too"""
    monkeypatch.setenv("SHOP_DATABASE__URL", URL)
    monkeypatch.setenv("SHOP_ENVIRONMENT", "staging")
    monkeypatch.setenv("SHOP_JWT_SECRET", "staging-secret")
    try:
        exercise.Settings(jwt_secret=DEV)
    except ValidationError:
        return
    raise Failure(
        "expected Settings(jwt_secret=DEV_SECRET) in staging to raise", help=SET_TO_DEFAULT
    )


@pytest.mark.parametrize("secret", ["s3cret", "a" * 31])
def test_staging_accepts_a_short_secret(exercise, monkeypatch, secret):
    """staging accepts any other secret, even a short one: {secret!r}"""
    settings = load(
        exercise,
        monkeypatch,
        SHOP_DATABASE__URL=URL,
        SHOP_ENVIRONMENT="staging",
        SHOP_JWT_SECRET=secret,
    )
    expect_equal("jwt_secret's value", secret, secret_of(settings), help=STAGING_LENGTH)


@pytest.mark.parametrize("secret", [STRONG, STRONG + "-and-more"])
def test_production_accepts_a_long_secret(exercise, monkeypatch, secret):
    """production accepts a secret of 32 characters or more ({secret!r})"""
    settings = load(
        exercise,
        monkeypatch,
        SHOP_DATABASE__URL=URL,
        SHOP_ENVIRONMENT="production",
        SHOP_JWT_SECRET=secret,
    )
    expect_equal("jwt_secret's value", secret, secret_of(settings), help=LENGTH)


@pytest.mark.parametrize("length", [31, 1])
def test_production_refuses_a_short_secret(exercise, monkeypatch, length):
    """production refuses a secret of {length} characters, naming jwt_secret"""
    error = refused(
        exercise,
        monkeypatch,
        help=LENGTH,
        SHOP_DATABASE__URL=URL,
        SHOP_ENVIRONMENT="production",
        SHOP_JWT_SECRET=STRONG[:length],
    )
    expect(
        "jwt_secret" in str(error),
        f"the error does not name jwt_secret: {error}",
        help=NAMES_THE_FIELD,
    )


# -- nothing shows the secret ------------------------------------------------------------------


def test_a_refused_secret_is_not_in_the_error(exercise, monkeypatch):
    """the error refusing a short production secret does not show it"""
    secret = STRONG[:31]
    error = refused(
        exercise,
        monkeypatch,
        help=LENGTH,
        SHOP_DATABASE__URL="x",
        SHOP_ENVIRONMENT="production",
        SHOP_JWT_SECRET=secret,
    )
    expect(
        not shows(str(error), secret),
        f"the error's text shows the secret: {error}",
        help=HIDDEN_INPUT,
    )


def test_a_failed_start_does_not_show_the_secret(exercise, monkeypatch):
    """when the url is missing, the error does not show the secret that was read"""
    secret = "hunter2-hunter2"
    error = refused(exercise, monkeypatch, help=FAIL_FAST, SHOP_JWT_SECRET=secret)
    expect(
        not shows(str(error), secret),
        f"the error's text shows the secret: {error}",
        help=HIDDEN_INPUT,
    )
    expect(not shows(repr(error), secret), "the error's repr shows the secret", help=HIDDEN_INPUT)


def test_the_secret_is_masked(exercise, monkeypatch):
    """repr, str and model_dump_json show the secret as **********"""
    settings = load(exercise, monkeypatch, SHOP_DATABASE__URL=URL, SHOP_JWT_SECRET=STRONG)
    expect_equal("jwt_secret's value", STRONG, secret_of(settings), help=PREFIX)
    for name, text in [
        ("repr(settings)", repr(settings)),
        ("str(settings)", str(settings)),
        ("settings.model_dump_json()", settings.model_dump_json()),
    ]:
        expect(not shows(text, STRONG), f"{name} shows the secret: {text}", help=MASKED)
        expect(MASK in text, f"{name} does not show the secret as {MASK}: {text}", help=MASKED)


def test_a_log_line_does_not_show_the_secret(exercise, monkeypatch):
    """a log line formatting the settings, their dump or their public view has no secret"""
    settings = load(exercise, monkeypatch, SHOP_DATABASE__URL=URL, SHOP_JWT_SECRET=STRONG)
    expect_equal("jwt_secret's value", STRONG, secret_of(settings), help=PREFIX)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    log = logging.getLogger("checks.settings_model")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        log.info("starting with %s", settings)
        log.info("starting with %r", settings)
        log.info("dump %s", settings.model_dump())
        log.info("view %s", exercise.public_view(settings))
    finally:
        log.removeHandler(handler)
    text = stream.getvalue()
    expect(not shows(text, STRONG), f"the log shows the secret:\n{text}", help=MASKED)


def test_the_public_view(exercise, monkeypatch):
    """public_view gives plain JSON values, the secret as the string **********"""
    settings = load(
        exercise,
        monkeypatch,
        SHOP_ENVIRONMENT="production",
        SHOP_DATABASE__URL=URL,
        SHOP_DATABASE__POOL_SIZE="20",
        SHOP_JWT_SECRET=STRONG,
        SHOP_ALLOWED_ORIGINS='["https://shop.example"]',
        SHOP_DEBUG="1",
    )
    view = exercise.public_view(settings)
    expected = {
        "environment": "production",
        "database": {"url": URL, "pool_size": 20},
        "jwt_secret": MASK,
        "allowed_origins": ["https://shop.example"],
        "debug": True,
    }
    expect_equal("public_view(settings)", expected, view, help=VIEW)
    try:
        json.dumps(view)
    except TypeError as error:
        raise Failure(f"json.dumps(public_view(settings)) fails: {error}", help=VIEW) from None
    expect_equal("jwt_secret's value after public_view", STRONG, secret_of(settings))


# -- .env and keyword arguments ----------------------------------------------------------------


def test_reads_dotenv(exercise, monkeypatch):
    """a .env file in the current directory is read"""
    write_dotenv(f"SHOP_DATABASE__URL={URL}", "SHOP_DEBUG=true", "SHOP_DATABASE__POOL_SIZE=8")
    settings = exercise.Settings()
    expect_equal("database.url from .env", URL, settings.database.url, help=DOTENV)
    expect_equal("database.pool_size from .env", 8, settings.database.pool_size, help=DOTENV)
    expect(settings.debug is True, "expected debug True from .env", help=DOTENV)


def test_the_environment_beats_dotenv(exercise, monkeypatch):
    """a variable in the environment beats the same one in .env; .env fills the rest"""
    write_dotenv(f"SHOP_DATABASE__URL={URL}", "SHOP_DEBUG=true", "SHOP_DATABASE__POOL_SIZE=8")
    settings = load(exercise, monkeypatch, SHOP_DEBUG="false", SHOP_DATABASE__POOL_SIZE="30")
    expect(settings.debug is False, "expected debug False from the environment", help=DOTENV_ORDER)
    expect_equal("database.pool_size", 30, settings.database.pool_size, help=DOTENV_ORDER)
    expect_equal("database.url from .env", URL, settings.database.url, help=DOTENV)


def test_other_lines_of_dotenv_are_ignored(exercise, monkeypatch):
    """lines of .env without the SHOP_ prefix are ignored, never an error"""
    write_dotenv(
        "POSTGRES_PASSWORD=compose-only",
        f"SHOP_DATABASE__URL={URL}",
        "DEBUG=true",
        "ENVIRONMENT=production",
    )
    try:
        settings = exercise.Settings()
    except ValidationError as error:
        raise Failure(
            f"expected other lines of .env to be ignored, not {locs(error)}", help=DOTENV_OTHERS
        ) from None
    expect_equal("database.url from .env", URL, settings.database.url, help=DOTENV)
    expect(
        settings.debug is False, "expected debug False: DEBUG=true has no prefix", help=UNPREFIXED
    )
    expect_equal("environment", "development", settings.environment, help=UNPREFIXED)


def test_keyword_arguments_beat_the_environment(exercise, monkeypatch):
    """Settings(debug=True) beats SHOP_DEBUG=false; the environment fills the rest"""
    monkeypatch.setenv("SHOP_DEBUG", "false")
    monkeypatch.setenv("SHOP_DATABASE__URL", URL)
    monkeypatch.setenv("SHOP_ENVIRONMENT", "production")
    monkeypatch.setenv("SHOP_JWT_SECRET", STRONG)
    settings = exercise.Settings(debug=True, environment="staging")
    expect(settings.debug is True, "expected debug True, given as argument", help=KWARGS)
    expect_equal("environment", "staging", settings.environment, help=KWARGS)
    expect_equal("database.url from the environment", URL, settings.database.url, help=PREFIX)
