"""Hidden suite for 18_config_deploy/02_settings_in_the_app: settings the app can trust.

Every check sets the `SHOP_` variables it needs (and removes the others) with monkeypatch.
Settings are counted, never timed: `BaseSettings.__init__` is wrapped so that every settings
object the app makes is counted. Starts that must fail are driven with asgi-lifespan's
`LifespanManager`, which raises what the lifespan raised.
"""

import logging
import os
import traceback
import typing
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from fastapi.params import Depends
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from workbook.loader import load_copy
from workbook.testing import (
    client_for,
    expect,
    expect_equal,
    expect_json,
    expect_status,
    provide,
    running,
)

KEY = "sk_live_Zq81vT"
STAGING = {
    "SHOP_ENVIRONMENT": "staging",
    "SHOP_VERSION": "1.4.2",
    "SHOP_PAYMENT_API_KEY": KEY,
    "SHOP_GIFT_CARDS": "true",
}
STAGING_INFO = {"environment": "staging", "version": "1.4.2", "gift_cards": True}
REQUESTS = 20
LOADED = "settings loaded: "

IMPORT_HELP = (
    "Is Settings() made at module level, or when `app` is made? Importing the module must read "
    "nothing: make the settings in the lifespan, once per start."
)
FAIL_FAST_HELP = (
    "Is Settings() made in the lifespan, before its yield, with nothing catching its "
    "ValidationError? Then bad settings stop the start, before any request is served."
)
HIDDEN_HELP = (
    "A missing field's error shows the whole input it was given, the key included. Which "
    "option of the model's config keeps the inputs out of its validation errors?"
)
STATE_HELP = (
    'Does the lifespan yield {"settings": settings}? What it yields becomes every request\'s state.'
)
INFO_HELP = (
    "Does /info answer an Info built from the settings, and not the Settings object itself? "
    "Even masked, the key's field is not for clients."
)
FLAG_HELP = (
    "Does /payment-methods test settings.gift_cards, the flag pydantic read as a bool? "
    'The variable\'s text is no bool: "false" is a true string.'
)
PER_REQUEST_HELP = (
    "Is Settings() made in get_settings or in a route? Read them once, in the lifespan, and "
    "let get_settings answer request.state.settings."
)
ONCE_HELP = (
    "Does each start make exactly one Settings()? Not at import (no new reading at the next "
    "start), not cached across starts (functools.cache), not twice."
)
RESTART_HELP = (
    "Are the settings kept from one start to the next (at import, or in a cache)? The "
    "lifespan reads them again at every start."
)
OVERRIDE_HELP = (
    "Does every route take its settings from SettingsDep, and does get_settings do nothing but "
    "answer request.state.settings? An override of get_settings must reach every route."
)
LOG_HELP = (
    'Does the lifespan log the Settings object once, at INFO, on logging.getLogger("shop"), '
    "after the words \"settings loaded: \"? Its str masks the key as SecretStr('**********')."
)
LEAK_HELP = (
    "Does a log record show the key's value (get_secret_value(), or the environment)? Log "
    "the Settings object: its SecretStr field prints as '**********'."
)


@pytest.fixture(scope="module", autouse=True)
def import_environment() -> Iterator[None]:
    """Valid settings while the module is imported, so that reading them there is caught."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in STAGING.items():
            patch.setenv(name, value)
        yield


@pytest.fixture
def app(exercise: ModuleType) -> Iterator[FastAPI]:
    yield exercise.app
    exercise.app.dependency_overrides.clear()


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[BaseSettings]:
    """Every settings object made from now on, by anyone."""
    objects: list[BaseSettings] = []
    real_init = BaseSettings.__init__

    def counting_init(self: BaseSettings, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        objects.append(self)

    monkeypatch.setattr(BaseSettings, "__init__", counting_init)
    return objects


def use_env(monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]) -> None:
    """Exactly these SHOP_ variables are set."""
    for name in [name for name in os.environ if name.startswith("SHOP_")]:
        monkeypatch.delenv(name)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)


def without(name: str) -> dict[str, str]:
    return {key: value for key, value in STAGING.items() if key != name}


async def failed_start(app: FastAPI) -> BaseException | None:
    """What starting the app raised, or None when it started."""
    try:
        async with LifespanManager(app):
            pass
    except Exception as exc:
        return exc
    return None


async def get_json(app: FastAPI, path: str, expected: Any, *, help: str | None = None) -> None:
    async with running(app, raise_app_exceptions=False) as (client, _):
        response = await client.get(path)
    expect_status(response, 200, help=help)
    expect_json(response, expected, help=help)


@pytest.mark.stub_may_pass("the stub reads its settings per request, never at import")
def test_nothing_read_at_import(
    exercise: ModuleType, monkeypatch: pytest.MonkeyPatch, made: list[BaseSettings]
) -> None:
    """importing the module reads no settings"""
    use_env(monkeypatch, STAGING)
    load_copy(Path(exercise.__file__))
    expect_equal("settings read while the module is imported", 0, len(made), help=IMPORT_HELP)


async def test_the_start_puts_the_settings_in_the_state(
    app: FastAPI, exercise: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """the lifespan reads the environment and yields the state {"settings": settings}"""
    use_env(monkeypatch, STAGING)
    async with running(app) as (_, state):
        settings = state.get("settings")
    expect(
        isinstance(settings, exercise.Settings),
        f'expected a Settings in the lifespan state under "settings", not {settings!r}',
        help=STATE_HELP,
    )
    read = {**settings.model_dump(), "payment_api_key": settings.payment_api_key.get_secret_value()}
    expect_equal("settings in the state", {**STAGING_INFO, "payment_api_key": KEY}, read)


@pytest.mark.parametrize(
    "variables",
    [
        pytest.param(without("SHOP_PAYMENT_API_KEY"), id="no payment key"),
        pytest.param(without("SHOP_VERSION"), id="no version"),
        pytest.param({**STAGING, "SHOP_ENVIRONMENT": "prod"}, id="an unknown environment"),
        pytest.param({**STAGING, "SHOP_GIFT_CARDS": "maybe"}, id="a flag that is no bool"),
    ],
)
async def test_bad_settings_stop_the_start(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]
) -> None:
    """missing or invalid settings make the start raise pydantic's ValidationError"""
    use_env(monkeypatch, variables)
    raised = await failed_start(app)
    expect(raised is not None, "expected the start to fail, it went on", help=FAIL_FAST_HELP)
    expect_equal(
        "the exception the start raised",
        "ValidationError",
        type(raised).__name__,
        help=FAIL_FAST_HELP,
    )
    expect(isinstance(raised, ValidationError), "expected pydantic's ValidationError")


@pytest.mark.requires("test_bad_settings_stop_the_start")
async def test_a_failed_start_never_shows_the_key(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """the error of a failed start (version missing) never shows the payment key"""
    use_env(monkeypatch, {"SHOP_PAYMENT_API_KEY": KEY})
    raised = await failed_start(app)
    expect(isinstance(raised, ValidationError), "expected the start to fail with ValidationError")
    assert raised is not None
    shown = "".join(traceback.format_exception(raised))
    expect(KEY not in shown, "the payment key shows in the start's error", help=HIDDEN_HELP)


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        pytest.param(STAGING, STAGING_INFO, id="staging"),
        pytest.param(
            {**STAGING, "SHOP_ENVIRONMENT": "production", "SHOP_VERSION": "2.0.0"},
            {**STAGING_INFO, "environment": "production", "version": "2.0.0"},
            id="production",
        ),
        pytest.param(
            {"SHOP_VERSION": "0.9.0", "SHOP_PAYMENT_API_KEY": KEY},
            {"environment": "development", "version": "0.9.0", "gift_cards": False},
            id="defaults",
        ),
    ],
)
async def test_info_answers_the_settings_but_the_key(
    app: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
    variables: dict[str, str],
    expected: dict[str, Any],
) -> None:
    """GET /info answers environment, version and gift_cards, and nothing of the key"""
    use_env(monkeypatch, variables)
    await get_json(app, "/info", expected, help=INFO_HELP)


ON = ["card", "gift_card"]
OFF = ["card"]
STUB_OFF = pytest.mark.stub_may_pass("the stub answers the flag's off side")


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        pytest.param("true", ON, id="true"),
        pytest.param("1", ON, id="1"),
        pytest.param("false", OFF, id="false", marks=STUB_OFF),
        pytest.param("0", OFF, id="0", marks=STUB_OFF),
        pytest.param(None, OFF, id="unset", marks=STUB_OFF),
    ],
)
async def test_payment_methods_follow_the_flag(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch, flag: str | None, expected: list[str]
) -> None:
    """GET /payment-methods offers gift cards when SHOP_GIFT_CARDS is on, and only then"""
    variables = without("SHOP_GIFT_CARDS")
    if flag is not None:
        variables["SHOP_GIFT_CARDS"] = flag
    use_env(monkeypatch, variables)
    await get_json(app, "/payment-methods", expected, help=FLAG_HELP)


async def test_settings_are_read_once_per_start(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch, made: list[BaseSettings]
) -> None:
    """one start reads the settings once, and no request reads them again"""
    use_env(monkeypatch, STAGING)
    async with running(app, raise_app_exceptions=False) as (client, _):
        at_start = len(made)
        for _ in range(REQUESTS):
            expect_status(await client.get("/info"), 200)
            expect_status(await client.get("/payment-methods"), 200)
        during = len(made) - at_start
    expect_equal(f"settings read during {2 * REQUESTS} requests", 0, during, help=PER_REQUEST_HELP)
    expect_equal("settings read for one start", 1, at_start, help=ONCE_HELP)


@pytest.mark.requires("test_info_answers_the_settings_but_the_key")
async def test_a_changed_environment_shows_at_the_next_start(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """a variable changed while the app runs shows at the next start, not before"""
    use_env(monkeypatch, STAGING)
    changed = {"environment": "staging", "version": "1.5.0", "gift_cards": False}
    async with running(app, raise_app_exceptions=False) as (client, _):
        monkeypatch.setenv("SHOP_VERSION", "1.5.0")
        monkeypatch.setenv("SHOP_GIFT_CARDS", "false")
        info, methods = await client.get("/info"), await client.get("/payment-methods")
    expect_json(info, STAGING_INFO, help=PER_REQUEST_HELP)
    expect_json(methods, ON, help=PER_REQUEST_HELP)
    await get_json(app, "/info", changed, help=RESTART_HELP)
    await get_json(app, "/payment-methods", OFF, help=RESTART_HELP)


def overriding(exercise: ModuleType, app: FastAPI) -> None:
    """Override get_settings with production settings, gift cards on."""
    chosen = exercise.Settings(
        environment="production", version="3.0.0", payment_api_key=KEY, gift_cards=True
    )
    app.dependency_overrides[exercise.get_settings] = provide(chosen)


async def test_an_override_needs_no_environment(
    app: FastAPI, exercise: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """with get_settings overridden, the routes answer with no lifespan and no variables set"""
    use_env(monkeypatch, {})
    overriding(exercise, app)
    async with client_for(app, lifespan=False, raise_app_exceptions=False) as client:
        info, methods = await client.get("/info"), await client.get("/payment-methods")
    expect_status(info, 200, help=OVERRIDE_HELP)
    expect_json(info, {"environment": "production", "version": "3.0.0", "gift_cards": True})
    expect_status(methods, 200, help=OVERRIDE_HELP)
    expect_json(methods, ON, help=OVERRIDE_HELP)


async def test_an_override_wins_over_the_environment(
    app: FastAPI, exercise: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """with the lifespan running, an override of get_settings still decides every answer"""
    use_env(monkeypatch, {**STAGING, "SHOP_GIFT_CARDS": "false"})
    overriding(exercise, app)
    async with running(app, raise_app_exceptions=False) as (client, _):
        info, methods = await client.get("/info"), await client.get("/payment-methods")
    expect_json(
        info, {"environment": "production", "version": "3.0.0", "gift_cards": True}, help=INFO_HELP
    )
    expect_json(methods, ON, help=OVERRIDE_HELP)


@pytest.mark.stub_may_pass("the stub gives the alias")
def test_settings_dep_is_the_alias(exercise: ModuleType) -> None:
    """SettingsDep is Annotated[Settings, Depends(get_settings)]"""
    alias = exercise.SettingsDep
    expect(typing.get_origin(alias) is typing.Annotated, "SettingsDep is not an Annotated alias")
    kind, *metadata = typing.get_args(alias)
    expect(kind is exercise.Settings, f"expected SettingsDep to annotate Settings, not {kind!r}")
    dependencies = [item.dependency for item in metadata if isinstance(item, Depends)]
    expect_equal("dependencies of SettingsDep", [exercise.get_settings], dependencies)


async def test_the_start_logs_the_settings_masked(
    app: FastAPI,
    exercise: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """each start logs one INFO line on "shop", the settings with the key masked"""
    use_env(monkeypatch, STAGING)
    expected = LOADED + str(exercise.Settings())
    caplog.set_level(logging.DEBUG)
    async with running(app, raise_app_exceptions=False) as (client, _):
        at_start = [r for r in caplog.records if r.name == "shop" and r.levelno >= logging.INFO]
        for _ in range(3):
            await client.get("/info")
    loaded = [
        (record.levelname, record.getMessage())
        for record in caplog.records
        if record.name == "shop" and record.getMessage().startswith(LOADED)
    ]
    expect_equal(
        'log of "shop" at the start',
        [("INFO", expected)],
        [(record.levelname, record.getMessage()) for record in at_start],
        help=LOG_HELP,
    )
    expect_equal('"settings loaded" records for one start', 1, len(loaded), help=LOG_HELP)
    for record in caplog.records:
        expect(
            KEY not in record.getMessage(), f"a {record.name} record shows the key", help=LEAK_HELP
        )
