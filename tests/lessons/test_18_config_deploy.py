"""Every snippet of lessons/18-config-deploy.md runs and does what the page says.

Settings are read from variables set with ``monkeypatch``, from a ``.env`` file and a secrets
folder in ``tmp_path``. Nothing here builds an image or talks to a cluster: the Dockerfile and
the manifests are parsed as data and checked against the app, its settings and the installed
fastapi-cli, uvicorn and uv. The shutdown is driven step by step with events, and where a real
server behaves in a way the in-process harness cannot show, uvicorn serves on a local port.
"""

import inspect
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import anyio.lowlevel
import fastapi_cli.cli
import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from fastapi_cli.config import FastAPIConfig
from pydantic import BaseModel, PostgresDsn, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)
from typer.testing import CliRunner

from workbook.loader import load_copy
from workbook.testing import AppStartError, running

ROOT = Path(__file__).resolve().parents[2]
LESSON = ROOT / "lessons" / "18-config-deploy.md"
SNIPPETS = ROOT / "lessons" / "snippets" / "18_config_deploy"
TESTED = {"settings.py", "app.py", "dockerfile_check.py", "manifests.py", "shutdown.py"}
STATIC = {"Dockerfile", ".dockerignore", "pyproject.toml", "k8s.yaml"}
NEIGHBOURS = ("settings",)
DOCKERFILE = (SNIPPETS / "Dockerfile").read_text()
MANIFESTS = (SNIPPETS / "k8s.yaml").read_text()
API_KEY = "sk-live-4f9a2c"  # values that must never be printed
SIGNING_KEY = "prod-signing-key-81d0"


def fresh(filename: str) -> ModuleType:
    """A new copy of a snippet, and of the neighbours it imports by name."""
    for name in NEIGHBOURS:
        sys.modules.pop(name, None)
    return load_copy(SNIPPETS / filename)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No NOTIFY_ variable from the machine, and a working folder without a .env file."""
    for name in list(os.environ):
        if name.upper().startswith("NOTIFY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


@pytest.fixture
def production(env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    env.setenv("NOTIFY_SENDER", "notifications@shop.example")
    env.setenv("NOTIFY_PROVIDER__API_KEY", API_KEY)
    env.setenv("NOTIFY_SIGNING_KEY", SIGNING_KEY)
    return env


def test_every_snippet_is_on_the_page_and_tested() -> None:
    files = {path.name for path in SNIPPETS.iterdir()}
    text = LESSON.read_text()
    included = set(re.findall(r'--8<-- "18_config_deploy/([\w.]+)', text))
    assert files == TESTED | STATIC
    assert files == included
    for anchor in ("settings", "settings-in-the-app", "dockerfile", "kubernetes"):
        assert f"{{ #{anchor} }}" in text
    assert "{ #graceful-shutdown }" in text


# -- settings from the environment ----------------------------------------------------------


def test_what_pydantic_settings_does_unless_told() -> None:
    config = BaseSettings.model_config
    assert config["case_sensitive"] is False
    assert config["env_prefix"] == ""
    assert config["env_nested_delimiter"] is None  # nested variables need the delimiter set
    assert config["env_ignore_empty"] is False  # an empty variable is a value: ""
    assert config["extra"] == "forbid"
    assert config.get("hide_input_in_errors", False) is False  # pydantic's default: shown


def test_prefix_and_nested_variables(production: pytest.MonkeyPatch) -> None:
    settings = fresh("settings.py")
    production.delenv("NOTIFY_SENDER")
    production.setenv("notify_sender", "ops@shop.example")  # names are not case-sensitive
    production.setenv("NOTIFY_PROVIDER__TIMEOUT", "2.5")
    production.setenv("SENDER", "without the prefix, nobody reads it")
    loaded = settings.Settings()
    assert loaded.sender == "ops@shop.example"
    assert loaded.provider.timeout == 2.5
    assert loaded.provider.url == "https://api.mail.example"
    assert loaded.provider.api_key.get_secret_value() == API_KEY
    assert loaded.environment is settings.Environment.production  # unset: the strict one


def test_a_json_object_and_nested_variables_merge(production: pytest.MonkeyPatch) -> None:
    settings = fresh("settings.py")
    production.setenv("NOTIFY_PROVIDER", '{"url": "https://json.example", "timeout": 3}')
    production.setenv("NOTIFY_PROVIDER__URL", "https://nested.example")
    provider = settings.Settings().provider
    assert (provider.url, provider.timeout) == ("https://nested.example", 3.0)


def test_a_missing_value_fails_at_once_with_every_problem(env: pytest.MonkeyPatch) -> None:
    settings = fresh("settings.py")
    env.setenv("NOTIFY_PROVIDER__URL", "https://api.mail.example")
    with pytest.raises(ValidationError) as caught:
        settings.Settings()
    errors = [(error["loc"], error["type"]) for error in caught.value.errors()]
    assert errors == [(("sender",), "missing"), (("provider", "api_key"), "missing")]
    assert "NOTIFY_SENDER" not in str(caught.value)  # errors name fields, not variables


def test_an_empty_variable_is_a_value_not_a_missing_one(production: pytest.MonkeyPatch) -> None:
    class Loose(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="NOTIFY_")
        sender: str

    production.setenv("NOTIFY_SENDER", "")
    assert Loose().sender == ""  # "required" did not catch it
    with pytest.raises(ValidationError) as caught:
        fresh("settings.py").Settings()
    assert caught.value.errors()[0]["type"] == "string_too_short"


def test_secrets_stay_masked_in_repr_str_json_and_logs(
    production: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    loaded = fresh("settings.py").Settings()
    logging.getLogger("notify.test").warning("settings: %s / %r", loaded, loaded)
    shown = [repr(loaded), str(loaded), loaded.model_dump_json(), caplog.text]
    for text in shown:
        assert "**********" in text
        assert API_KEY not in text
        assert SIGNING_KEY not in text
    dumped = loaded.model_dump()
    assert isinstance(dumped["provider"]["api_key"], SecretStr)  # still wrapped, not revealed
    assert json.loads(loaded.model_dump_json())["signing_key"] == "**********"
    assert loaded.model_dump(mode="json")["provider"]["api_key"] == "**********"
    assert loaded.signing_key.get_secret_value() == SIGNING_KEY


def test_a_password_inside_a_plain_url_is_printed() -> None:
    class Leaky(BaseModel):
        database_url: str

    class Masked(BaseModel):
        database_url: SecretStr

    class Dsn(BaseModel):
        database_url: PostgresDsn

    url = "postgresql://notify:s3cret@db/notify"
    assert "s3cret" in repr(Leaky(database_url=url))
    assert "s3cret" in repr(Dsn(database_url=url))
    assert "s3cret" not in repr(Masked(database_url=url))


@pytest.mark.parametrize(
    ("environment", "signing_key", "accepted"),
    [
        ("development", None, True),
        ("staging", None, False),
        ("production", None, False),
        (None, None, False),  # unset means production
        ("production", SIGNING_KEY, True),
        ("staging", SIGNING_KEY, True),
        ("production", "dev-signing-key-not-for-production", False),  # set, but still the one
    ],
)
def test_the_development_key_is_refused_outside_development(
    env: pytest.MonkeyPatch, environment: str | None, signing_key: str | None, accepted: bool
) -> None:
    settings = fresh("settings.py")
    env.setenv("NOTIFY_SENDER", "notifications@shop.example")
    env.setenv("NOTIFY_PROVIDER__API_KEY", API_KEY)
    if environment is not None:
        env.setenv("NOTIFY_ENVIRONMENT", environment)
    if signing_key is not None:
        env.setenv("NOTIFY_SIGNING_KEY", signing_key)
    if accepted:
        assert settings.Settings().environment == (environment or "production")
        return
    with pytest.raises(ValidationError) as caught:
        settings.Settings()
    message = str(caught.value)
    assert f"NOTIFY_SIGNING_KEY is the development key in {environment or 'production'}" in message
    assert API_KEY not in message  # hide_input_in_errors: the message leaves the values out
    assert API_KEY in repr(caught.value.errors()[0]["input"])  # ...but .errors() keeps them


def test_without_hide_input_the_error_prints_the_secrets(production: pytest.MonkeyPatch) -> None:
    settings = fresh("settings.py")

    class Loud(settings.Settings):
        model_config = SettingsConfigDict(hide_input_in_errors=False)

    production.delenv("NOTIFY_SIGNING_KEY")
    with pytest.raises(ValidationError) as caught:
        Loud()
    assert API_KEY in str(caught.value)


def test_sources_and_their_order(
    env: pytest.MonkeyPatch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Sources(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="NOTIFY_")
        sender: str = "default"

    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (tmp_path / ".env").write_text("NOTIFY_SENDER=dotenv\n")
    (secrets / "NOTIFY_SENDER").write_text("secret file\n")
    both = {"_env_file": tmp_path / ".env", "_secrets_dir": secrets}
    assert Sources(sender="init", **both).sender == "init"
    env.setenv("NOTIFY_SENDER", "env")
    assert Sources(**both).sender == "env"
    env.delenv("NOTIFY_SENDER")
    assert Sources(**both).sender == "dotenv"
    assert Sources(_secrets_dir=secrets).sender == "secret file"
    assert Sources().sender == "default"
    order = Sources.settings_customise_sources(Sources, "init", "env", "dotenv", "secrets")  # type: ignore[arg-type]
    assert order == ("init", "env", "dotenv", "secrets")
    assert Sources.model_config.get("env_file") is None  # no .env is read unless named
    assert PydanticBaseSettingsSource  # the class to subclass for a source of your own


def test_a_list_is_read_as_json(env: pytest.MonkeyPatch) -> None:
    class Origins(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="NOTIFY_")
        origins: list[str] = []

    env.setenv("NOTIFY_ORIGINS", '["https://shop.example"]')
    assert Origins().origins == ["https://shop.example"]
    env.setenv("NOTIFY_ORIGINS", "https://a.example,https://b.example")
    with pytest.raises(SettingsError, match='error parsing value for field "origins"'):
        Origins()
    assert not issubclass(SettingsError, ValidationError)


def test_a_misspelt_variable_is_silent_but_a_misspelt_dotenv_key_is_not(
    production: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = fresh("settings.py")
    production.setenv("NOTIFY_SIGNIN_KEY", "typo")
    assert settings.Settings().signing_key.get_secret_value() == SIGNING_KEY
    (tmp_path / ".env").write_text("NOTIFY_SIGNIN_KEY=typo\n")
    with pytest.raises(ValidationError) as caught:
        settings.Settings(_env_file=tmp_path / ".env")
    assert caught.value.errors()[0]["type"] == "extra_forbidden"
    (tmp_path / ".env").write_text("EDITOR=vim\n")  # another program's line: refused too
    with pytest.raises(ValidationError):
        settings.Settings(_env_file=tmp_path / ".env")

    class Tolerant(settings.Settings):
        model_config = SettingsConfigDict(extra="ignore")

    (tmp_path / ".env").write_text("EDITOR=vim\nNOTIFY_SIGNIN_KEY=typo\n")
    assert Tolerant(_env_file=tmp_path / ".env").sender == "notifications@shop.example"


# -- settings the app can trust -------------------------------------------------------------


def provider_api(seen: list[httpx.Request]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": f"m-{len(seen)}"})

    return httpx.MockTransport(answer)


async def test_settings_are_read_once_per_start(production: pytest.MonkeyPatch) -> None:
    app_module = fresh("app.py")
    built: list[object] = []

    class Counted(app_module.Settings):  # type: ignore[name-defined, misc]
        def __init__(self, **values: Any) -> None:
            built.append(self)
            super().__init__(**values)

    production.setattr(app_module, "Settings", Counted)
    for start in (1, 2):
        async with running(app_module.create_app(provider_api([]))) as (client, state):
            for _ in range(20):
                assert (await client.get("/about")).status_code == 200
            assert state["settings"] is built[-1]
        assert len(built) == start


async def test_a_bad_setting_stops_the_start_without_printing_secrets(
    production: pytest.MonkeyPatch,
) -> None:
    production.delenv("NOTIFY_SIGNING_KEY")
    with pytest.raises(AppStartError) as caught:
        async with running(fresh("app.py").create_app(provider_api([]))):
            pass  # pragma: no cover
    assert "ValidationError" in str(caught.value)
    assert "development key" in str(caught.value)
    assert API_KEY not in str(caught.value)


async def test_the_start_up_log_line_masks_every_secret(
    production: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "notify")
    async with running(fresh("app.py").create_app(provider_api([]))):
        pass
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("starting")]
    assert "api_key=SecretStr('**********')" in line
    assert API_KEY not in line
    assert SIGNING_KEY not in line


async def test_a_test_overrides_the_settings_dependency(production: pytest.MonkeyPatch) -> None:
    app_module = fresh("app.py")
    seen: list[httpx.Request] = []
    app = app_module.create_app(provider_api(seen))
    test_settings = app_module.Settings(
        _env_file=None,
        environment="development",
        sender="test@shop.example",
        provider={"api_key": "test-key"},
    )
    app.dependency_overrides[app_module.get_settings] = lambda: test_settings
    async with running(app) as (client, _):
        about = await client.get("/about")
        sent = await client.post("/notifications", json={"to": "ada@example.com", "body": "hi"})
    assert about.json() == {"environment": "development", "sender": "test@shop.example"}
    assert sent.status_code == 202
    assert sent.json() == {"id": "m-1"}
    message = json.loads(seen[0].content)
    assert message["from"] == "test@shop.example"  # the overridden settings
    assert (
        message["sig"]
        == app_module.hmac.new(
            test_settings.signing_key.get_secret_value().encode(), b"hi", "sha256"
        ).hexdigest()
    )
    # the client was built at start-up, from the settings the lifespan read
    assert seen[0].headers["authorization"] == f"Bearer {API_KEY}"
    assert str(seen[0].url) == "https://api.mail.example/messages"


async def test_settings_built_in_a_route_escape_the_override(
    production: pytest.MonkeyPatch,
) -> None:
    app_module = fresh("app.py")
    app = FastAPI()

    @app.get("/about")
    async def about() -> dict[str, str]:
        return {"sender": app_module.Settings().sender}  # read again, on every request

    app.dependency_overrides[app_module.get_settings] = lambda: None
    async with running(app) as (client, _):
        assert (await client.get("/about")).json() == {"sender": "notifications@shop.example"}


# -- a Dockerfile read as data --------------------------------------------------------------


def test_the_parser_joins_lines_and_counts_stages() -> None:
    check = fresh("dockerfile_check.py")
    instructions = check.parse(DOCKERFILE)
    assert [i.keyword for i in instructions if i.keyword == "FROM"] == ["FROM", "FROM"]
    assert {i.stage for i in instructions} == {0, 1}
    (first_sync, second_sync) = [i for i in instructions if "uv sync" in i.arguments]
    assert first_sync.arguments.endswith("uv sync --locked --no-install-project --no-dev")
    assert check.mounted(first_sync) == ["uv.lock", "pyproject.toml"]  # not the cache mount
    assert "--no-editable" in second_sync.arguments
    assert check.mounted(second_sync) == []
    assert not any(i.keyword.startswith("#") for i in instructions)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('["fastapi", "run"]', ["fastapi", "run"]),
        ("fastapi run", None),  # shell form: /bin/sh -c "fastapi run"
        ("['fastapi', 'run']", None),  # not JSON: Docker runs it through the shell
        ('["fastapi", 8000]', None),
    ],
)
def test_exec_form_is_a_json_array_of_strings(arguments: str, expected: Any) -> None:
    assert fresh("dockerfile_check.py").exec_form(arguments) == expected


def test_the_dockerfile_passes_every_check() -> None:
    assert fresh("dockerfile_check.py").problems(DOCKERFILE) == []


DEPENDENCY_MOUNTS = (
    "RUN --mount=type=cache,target=/root/.cache/uv \\\n"
    "    --mount=type=bind,source=uv.lock,target=uv.lock \\\n"
    "    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \\\n"
)
COPIED_INSTEAD = (
    "COPY pyproject.toml uv.lock ./\nRUN --mount=type=cache,target=/root/.cache/uv \\\n"
)


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("FROM python:3.13-slim\n", "", "one stage: the build tools and caches ship in the image"),
        ("USER 10001:10001\n", "", "the final stage must end on a numeric USER that is not 0"),
        ("USER 10001:10001", "USER notify", "the final stage must end on a numeric USER"),
        ("USER 10001:10001", "USER 0", "the final stage must end on a numeric USER that is not 0"),
        ("--no-dev --no-editable", "--no-dev", None),
        ("sync --locked --no-install", "sync --no-install", "--locked"),
        (DEPENDENCY_MOUNTS, f"COPY . .\n{DEPENDENCY_MOUNTS}", "the code reaches the dependency"),
        ("source=uv.lock,target=uv.lock", "target=.", "the code reaches the dependency layer"),
        ("    --mount=type=bind,source=uv.lock,target=uv.lock \\\n", "", "uv.lock must reach"),
        (DEPENDENCY_MOUNTS, COPIED_INSTEAD, None),  # the two files copied: the layer is the same
        ('CMD ["fastapi", "run", ', 'CMD ["fastapi", "dev", ', "CMD must be `fastapi run`"),
        ('"--port", "8080"]', '"--port", "8080", "--reload"]', "without --reload"),
        ('"--port", "8080"]', '"--port", "8080", "--workers", "4"]', "without --reload"),
        (
            'CMD ["fastapi", "run", "--entrypoint", "notify.main:app", "--port", "8080"]',
            "CMD fastapi run --entrypoint notify.main:app --port 8080",
            "CMD must be in exec form",
        ),
        ('"--port", "8080"]', '"--port", "8000"]', "EXPOSE must name the port"),
        (', "--port", "8080"]', "]", "EXPOSE must name the port"),  # the default is 8000
        ("HEALTHCHECK", "# HEALTHCHECK", None),
    ],
)
def test_each_broken_dockerfile_names_its_problem(old: str, new: str, problem: str | None) -> None:
    assert old in DOCKERFILE
    broken = DOCKERFILE.replace(old, new)
    found = fresh("dockerfile_check.py").problems(broken)
    if old == "HEALTHCHECK":  # the commented-out instruction leaves its continuation behind
        assert "no HEALTHCHECK in the final stage" in found
    elif problem is None:
        assert found == []  # a choice, not a rule: the checks let it pass
    else:
        assert len(found) == 1, found
        assert problem in found[0]


def run_fastapi_cli(args: list[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What `fastapi <args>` would pass to uvicorn.run, without starting a server."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda **kwargs: calls.append(kwargs))
    monkeypatch.setattr(sys, "path", list(sys.path))  # the CLI puts the folder on sys.path
    result = CliRunner().invoke(fastapi_cli.cli.app, args)
    assert result.exit_code == 0, result.output
    (call,) = calls
    return call


def test_uvicorn_handles_sigterm_and_sigint() -> None:
    assert {signal.SIGTERM, signal.SIGINT} <= set(uvicorn.server.HANDLED_SIGNALS)


def test_fastapi_run_defaults() -> None:
    parameters = inspect.signature(fastapi_cli.cli.run).parameters
    assert parameters["host"].default == "0.0.0.0"  # every interface: right for a container
    assert parameters["port"].default == 8000
    assert parameters["reload"].default is False
    assert parameters["workers"].default is None
    assert parameters["proxy_headers"].default is True
    assert not any("graceful" in name for name in parameters)  # no shutdown timeout option


def test_the_cmd_runs_as_written(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    check = fresh("dockerfile_check.py")
    monkeypatch.chdir(tmp_path)  # the final stage has no pyproject.toml
    monkeypatch.delenv("PORT", raising=False)
    (cmd,) = [i for i in check.parse(DOCKERFILE) if i.keyword == "CMD"]
    command = check.exec_form(cmd.arguments)
    call = run_fastapi_cli(command[1:], monkeypatch)
    assert call["app"] == "notify.main:app"
    assert (call["host"], call["port"]) == ("0.0.0.0", 8080)
    assert (call["reload"], call["workers"], call["proxy_headers"]) == (False, None, True)
    assert "timeout_graceful_shutdown" not in call
    monkeypatch.setenv("PORT", "9000")  # --port also reads PORT, when it is not given
    assert run_fastapi_cli(["run", "--entrypoint", "notify.main:app"], monkeypatch)["port"] == 9000


def test_the_pyproject_names_the_same_entrypoint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    project = tomllib.loads((SNIPPETS / "pyproject.toml").read_text())
    check = fresh("dockerfile_check.py")
    (cmd,) = [i for i in check.parse(DOCKERFILE) if i.keyword == "CMD"]
    command = check.exec_form(cmd.arguments)
    entrypoint = project["tool"]["fastapi"]["entrypoint"]
    assert command[command.index("--entrypoint") + 1] == entrypoint
    shutil.copy(SNIPPETS / "pyproject.toml", tmp_path / "pyproject.toml")
    monkeypatch.chdir(tmp_path)  # `fastapi run` with no argument, where pyproject.toml is
    config = FastAPIConfig.resolve()
    assert (config.entrypoint, config.from_pyproject) == (entrypoint, True)
    assert "dev" in project["dependency-groups"]
    assert any(d.startswith("fastapi[standard]") for d in project["project"]["dependencies"])


def test_the_dockerignore_keeps_local_secrets_and_environments_out() -> None:
    ignored = {
        line for line in (SNIPPETS / ".dockerignore").read_text().splitlines() if line[:1] != "#"
    }
    assert {".env", ".env.*", ".venv", ".git"} <= ignored


UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")


@pytest.mark.skipif(UV is None, reason="uv is not installed")
def test_uv_sync_locked_refuses_a_lock_that_is_out_of_date(tmp_path: Path) -> None:
    assert UV is not None
    project = tmp_path / "notify"
    project.mkdir()
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "notify"\nversion = "1.4.0"\n'
        'requires-python = ">=3.11"\ndependencies = []\n'
    )
    isolated = {
        **os.environ,
        "UV_OFFLINE": "1",
        "UV_NO_CONFIG": "1",
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_CACHE_DIR": str(tmp_path / "cache"),
    }
    isolated.pop("VIRTUAL_ENV", None)

    def uv(*args: str) -> subprocess.CompletedProcess[str]:
        command = [UV, *args, "--python", sys.executable]
        return subprocess.run(
            command, cwd=project, env=isolated, capture_output=True, text=True, timeout=60
        )

    assert uv("lock").returncode == 0
    assert uv("sync", "--locked", "--dry-run").returncode == 0
    pyproject.write_text(pyproject.read_text().replace("1.4.0", "1.5.0"))  # lock now stale
    locked = uv("sync", "--locked", "--dry-run")
    assert locked.returncode != 0
    message = " ".join(locked.stderr.split())  # uv wraps its lines to the terminal's width
    assert "needs to be updated, but `--locked` was provided" in message
    assert uv("sync", "--frozen", "--dry-run").returncode == 0  # uses the stale lock as is


CHILD = """
import os, signal, sys
signal.signal(signal.SIGTERM, lambda *_: (print("SIGTERM", flush=True), sys.exit(0)))
print(os.getpid(), flush=True)
signal.pause()
"""


@pytest.mark.skipif(shutil.which("sh") is None or os.name != "posix", reason="needs a POSIX sh")
@pytest.mark.timeout(30)
def test_a_signal_reaches_the_server_only_when_the_shell_is_replaced(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    server = f"{sys.executable} {script}"
    # exec form, or `exec` in a shell: the server is the process that was started
    replaced = subprocess.Popen(["sh", "-c", f"exec {server}"], stdout=subprocess.PIPE, text=True)
    assert replaced.stdout is not None
    assert int(replaced.stdout.readline()) == replaced.pid
    replaced.send_signal(signal.SIGTERM)
    assert replaced.stdout.readline().strip() == "SIGTERM"
    assert replaced.wait(timeout=10) == 0
    replaced.stdout.close()
    # a shell that must run something after the server stays in between
    forked = subprocess.Popen(
        ["sh", "-c", f"{server}; echo done"], stdout=subprocess.PIPE, text=True
    )
    assert forked.stdout is not None
    child = int(forked.stdout.readline())
    try:
        assert child != forked.pid
        forked.send_signal(signal.SIGTERM)  # what `docker stop` sends to the container's PID 1
        assert forked.wait(timeout=10) == -signal.SIGTERM  # the shell is gone...
        os.kill(child, 0)  # ...and the server still runs, never told to stop
    finally:
        os.kill(child, signal.SIGKILL)
        forked.stdout.close()


# -- manifests that match the app -----------------------------------------------------------


class Mailer:
    """A fake mail client: records what it sends, and waits while `hold` is not set."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.hold = anyio.Event()
        self.hold.set()
        self.cancelled = 0

    async def __aenter__(self) -> "Mailer":
        self.log.append("open mailer")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.log.append("close mailer")

    async def send(self, note: Any) -> None:
        try:
            await self.hold.wait()
        except anyio.get_cancelled_exc_class():
            self.cancelled += 1
            raise
        self.log.append(f"sent to {note.to}")


class Store:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def __aenter__(self) -> "Store":
        self.log.append("open store")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.log.append("close store")


def main_app(drain_seconds: float | None = None) -> tuple[ModuleType, FastAPI, Mailer, list[str]]:
    shutdown = fresh("shutdown.py")
    log: list[str] = []
    mailer = Mailer(log)
    extra = {} if drain_seconds is None else {"drain_seconds": drain_seconds}
    return shutdown, shutdown.create_app(Store(log), mailer, **extra), mailer, log


def deployment() -> dict[str, Any]:
    return fresh("manifests.py").load(MANIFESTS)["Deployment/notify"]


def container() -> dict[str, Any]:
    (only,) = deployment()["spec"]["template"]["spec"]["containers"]
    return only


def test_the_manifests_hold_these_objects_and_no_secret() -> None:
    manifests = fresh("manifests.py").load(MANIFESTS)
    assert set(manifests) == {
        "ConfigMap/notify-config",
        "Deployment/notify",
        "Service/notify",
        "PodDisruptionBudget/notify",
    }
    assert all(isinstance(v, str) for v in manifests["ConfigMap/notify-config"]["data"].values())


def test_the_probes_ask_routes_the_app_has() -> None:
    check = fresh("manifests.py")
    _, app, _, _ = main_app()
    assert check.get_paths(app) == {"/healthz", "/readyz"}  # /docs and co. are not APIRoutes
    assert check.probe_problems(deployment(), app) == []
    probes = {
        kind: container()[kind]["httpGet"]["path"] for kind in ("readinessProbe", "livenessProbe")
    }
    assert probes == {"readinessProbe": "/readyz", "livenessProbe": "/healthz"}


LIVENESS = "{path: /healthz, port: http}\n            periodSeconds: 10"


@pytest.mark.parametrize(
    ("old", "new", "problems"),
    [
        ("path: /readyz", "path: /ready", ["readinessProbe asks /ready, not a route"]),
        (
            LIVENESS,
            LIVENESS.replace("/healthz", "/live"),
            ["livenessProbe asks /live, not a route"],
        ),
        ("/readyz, port: http", "/readyz, port: web", ["readinessProbe port web is not declared"]),
        ("/readyz, port: http", "/readyz, port: 8080", []),  # the number works as well
        ("          readinessProbe:\n", "          otherProbe:\n", ["no readinessProbe"]),
    ],
)
def test_a_probe_that_misses_the_app_is_named(old: str, new: str, problems: list[str]) -> None:
    check = fresh("manifests.py")
    _, app, _, _ = main_app()
    assert old in MANIFESTS
    broken = check.load(MANIFESTS.replace(old, new))["Deployment/notify"]
    assert check.probe_problems(broken, app) == [f"notify: {problem}" for problem in problems]


def test_every_variable_is_one_the_settings_read() -> None:
    check = fresh("manifests.py")
    settings = fresh("settings.py").Settings
    assert check.env_names(settings) == {
        "NOTIFY_ENVIRONMENT",
        "NOTIFY_SENDER",
        "NOTIFY_PROVIDER__URL",
        "NOTIFY_PROVIDER__API_KEY",
        "NOTIFY_PROVIDER__TIMEOUT",
        "NOTIFY_SIGNING_KEY",
    }
    manifests = check.load(MANIFESTS)
    assert check.env_problems(manifests, settings) == []
    typo = check.load(MANIFESTS.replace("NOTIFY_PROVIDER__TIMEOUT", "NOTIFY_PROVIDER_TIMEOUT"))
    assert check.env_problems(typo, settings) == ["NOTIFY_PROVIDER_TIMEOUT is read by nothing"]
    secret = "---\napiVersion: v1\nkind: Secret\nmetadata: {name: notify-secrets}\n"
    assert check.env_problems(check.load(MANIFESTS + secret), settings) == [
        "Secret notify-secrets is written in the file",
        "Secret notify-secrets is written in the file",
    ]


def test_the_config_the_pod_gets_is_accepted_by_the_settings(env: pytest.MonkeyPatch) -> None:
    settings = fresh("settings.py")
    manifests = fresh("manifests.py").load(MANIFESTS)
    for name, value in manifests["ConfigMap/notify-config"]["data"].items():
        env.setenv(name, value)
    secrets = {"provider-api-key": API_KEY, "signing-key": SIGNING_KEY}
    for variable in container()["env"]:
        env.setenv(variable["name"], secrets[variable["valueFrom"]["secretKeyRef"]["key"]])
    loaded = settings.Settings()
    assert loaded.environment is settings.Environment.production
    assert loaded.provider.timeout == 8.0


def test_ports_users_and_labels_agree_with_the_image() -> None:
    check = fresh("dockerfile_check.py")
    instructions = check.parse(DOCKERFILE)
    (expose,) = [i.arguments for i in instructions if i.keyword == "EXPOSE"]
    (user,) = [i.arguments for i in instructions if i.keyword == "USER"]
    manifests = fresh("manifests.py").load(MANIFESTS)
    pod = manifests["Deployment/notify"]["spec"]["template"]
    assert container()["ports"] == [{"name": "http", "containerPort": int(expose)}]
    assert manifests["Service/notify"]["spec"]["ports"][0]["targetPort"] == "http"
    security = pod["spec"]["securityContext"]
    assert security["runAsNonRoot"] is True
    assert f"{security['runAsUser']}:{security['runAsGroup']}" == user
    labels = pod["metadata"]["labels"]
    for selector in (
        manifests["Deployment/notify"]["spec"]["selector"]["matchLabels"],
        manifests["PodDisruptionBudget/notify"]["spec"]["selector"]["matchLabels"],
        manifests["Service/notify"]["spec"]["selector"],
    ):
        assert selector.items() <= labels.items()
    assert pod["spec"]["enableServiceLinks"] is False


def quantity(value: str) -> float:
    units = {"m": 1e-3, "Mi": 2**20, "Gi": 2**30}
    for suffix, factor in units.items():
        if value.endswith(suffix):
            return float(value.removesuffix(suffix)) * factor
    return float(value)


def uvicorn_command(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The container's command, parsed by uvicorn's own command line."""
    for name in list(os.environ):
        if name.startswith("UVICORN_"):
            monkeypatch.delenv(name)
    program, *args = container()["command"]
    assert program == "uvicorn"
    return uvicorn.main.make_context("uvicorn", list(args)).params


def test_the_command_is_one_uvicorn_process_with_a_shutdown_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    check = fresh("dockerfile_check.py")
    assert all(isinstance(part, str) for part in container()["command"])  # "8080", quoted
    params = uvicorn_command(monkeypatch)
    (cmd,) = [i for i in check.parse(DOCKERFILE) if i.keyword == "CMD"]
    image_command = check.exec_form(cmd.arguments)
    assert params["app"] == image_command[image_command.index("--entrypoint") + 1]
    port = container()["ports"][0]["containerPort"]
    assert (params["host"], params["port"]) == ("0.0.0.0", port)
    assert params["timeout_graceful_shutdown"] == 10
    assert (params["workers"], params["reload"]) == (None, False)  # one process per container
    assert "args" not in container()


def test_uvicorn_defaults_differ_from_fastapi_run(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("UVICORN_"):
            monkeypatch.delenv(name)
    params = uvicorn.main.make_context("uvicorn", ["notify.main:app"]).params
    assert (params["host"], params["port"]) == ("127.0.0.1", 8000)  # not reachable from outside
    assert params["timeout_graceful_shutdown"] is None
    assert uvicorn.Config(FastAPI()).timeout_graceful_shutdown is None
    monkeypatch.setenv("UVICORN_TIMEOUT_GRACEFUL_SHUTDOWN", "7")  # every option has a variable
    params = uvicorn.main.make_context("uvicorn", ["notify.main:app"]).params
    assert params["timeout_graceful_shutdown"] == 7


def test_resources_replicas_and_budget() -> None:
    manifests = fresh("manifests.py").load(MANIFESTS)
    spec = manifests["Deployment/notify"]["spec"]
    resources = container()["resources"]
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
    for name in ("cpu", "memory"):
        assert quantity(resources["requests"][name]) <= quantity(resources["limits"][name])
    budget = manifests["PodDisruptionBudget/notify"]["spec"]["maxUnavailable"]
    assert spec["replicas"] - budget >= 2  # a drain of one node leaves two serving
    assert spec["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    assert container()["securityContext"]["readOnlyRootFilesystem"] is True
    assert "UV_COMPILE_BYTECODE=1" in DOCKERFILE  # nothing to write to __pycache__ at run time


def test_the_grace_period_covers_every_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    shutdown = fresh("shutdown.py")
    pod = deployment()["spec"]["template"]["spec"]
    (sleep, seconds) = container()["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep == "sleep"
    requests = uvicorn_command(monkeypatch)["timeout_graceful_shutdown"]
    slack = 5  # the closes, and the time between the steps
    waits = int(seconds) + requests + shutdown.DRAIN_SECONDS + slack
    assert waits <= pod["terminationGracePeriodSeconds"] == 35
    assert shutdown.SEND_SECONDS <= shutdown.DRAIN_SECONDS


# -- shutting down in order -----------------------------------------------------------------


async def settle(condition: Any) -> None:
    """Let the loop run until ``condition()`` holds: checkpoints, no clock."""
    with anyio.fail_after(5):
        while not condition():
            await anyio.lowlevel.checkpoint()


@asynccontextmanager
async def started(app: FastAPI) -> AsyncIterator[tuple[httpx.AsyncClient, LifespanManager]]:
    manager = LifespanManager(app)
    await manager.__aenter__()
    transport = httpx.ASGITransport(app=manager.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, manager


async def test_shutdown_goes_not_ready_then_drains_then_closes_in_reverse() -> None:
    _, app, mailer, log = main_app()
    async with started(app) as (client, manager):
        assert (await client.get("/readyz")).json() == {"status": "ready"}
        mailer.hold = anyio.Event()  # the sends wait until the test lets them go
        for to in ("a@x", "b@x", "c@x"):
            queued = await client.post("/notifications", json={"to": to, "body": "hi"})
            assert queued.status_code == 202
        service = manager._state["service"]
        async with anyio.create_task_group() as group:
            group.start_soon(manager.__aexit__, None, None, None)
            await settle(lambda: not service.ready)
            # draining: the probe fails, new work is refused, the process is still alive
            readyz = await client.get("/readyz")
            refused = await client.post("/notifications", json={"to": "d@x", "body": "hi"})
            healthz = await client.get("/healthz")
            assert (readyz.status_code, readyz.json()) == (503, {"status": "draining"})
            assert (refused.status_code, refused.headers["retry-after"]) == (503, "1")
            assert healthz.status_code == 200
            assert "close mailer" not in log
            mailer.hold.set()
    assert log == [
        "open store",
        "open mailer",
        "sent to a@x",
        "sent to b@x",
        "sent to c@x",
        "close mailer",
        "close store",
    ]
    assert mailer.cancelled == 0


async def test_the_steps_are_logged_in_order(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "notify")
    _, app, _, log = main_app()
    async with running(app) as (client, _):
        await client.post("/notifications", json={"to": "a@x", "body": "hi"})
    steps = [r.getMessage() for r in caplog.records if r.name == "notify"]
    assert steps == ["not ready", "drained"]
    assert log[-2:] == ["close mailer", "close store"]


async def test_a_drain_past_its_deadline_is_cut_short(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "notify")
    _, app, mailer, log = main_app(drain_seconds=0)
    async with started(app) as (client, manager):
        mailer.hold = anyio.Event()  # never set: the first send hangs
        for to in ("a@x", "b@x", "c@x"):
            await client.post("/notifications", json={"to": to, "body": "hi"})
        await manager.__aexit__(None, None, None)
    steps = [r.getMessage() for r in caplog.records if r.name == "notify"]
    assert steps == ["not ready", "drain cut short, 2 unsent"]  # one was being sent
    assert mailer.cancelled == 1
    assert log == ["open store", "open mailer", "close mailer", "close store"]


async def test_a_failed_send_does_not_stop_the_worker(caplog: pytest.LogCaptureFixture) -> None:
    _, app, mailer, log = main_app()
    sent = mailer.send

    async def flaky(note: Any) -> None:
        if note.to == "bad@x":
            raise ConnectionError("provider refused")
        await sent(note)

    mailer.send = flaky  # type: ignore[method-assign]
    async with running(app) as (client, _):
        for to in ("bad@x", "ok@x"):
            await client.post("/notifications", json={"to": to, "body": "hi"})
    assert "sent to ok@x" in log
    assert "sending to bad@x failed" in caplog.text


@asynccontextmanager
async def served(app: FastAPI, **config: Any) -> AsyncIterator[tuple[uvicorn.Server, str]]:
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on", **config))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        async with anyio.create_task_group() as group:
            group.start_soon(server.serve, [sock])
            await settle(lambda: server.started)
            try:
                yield server, url
            finally:
                server.should_exit = True


async def refused(url: str) -> bool:
    try:
        async with httpx.AsyncClient(base_url=url) as probe:
            await probe.get("/healthz")
    except httpx.ConnectError:
        return True
    return False


def slow_app(log: list[str]) -> tuple[FastAPI, anyio.Event, anyio.Event]:
    began, release = anyio.Event(), anyio.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        log.append("lifespan shutdown")

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        began.set()
        try:
            await release.wait()
        except anyio.get_cancelled_exc_class():
            log.append("request cancelled")
            raise
        log.append("request finished")
        return {"status": "done"}

    return app, began, release


@pytest.mark.timeout(30)
async def test_uvicorn_stops_listening_then_finishes_requests_then_the_lifespan() -> None:
    log: list[str] = []
    app, began, release = slow_app(log)
    answers: list[httpx.Response] = []
    async with served(app) as (server, url), httpx.AsyncClient(base_url=url) as client:

        async def call() -> None:
            answers.append(await client.get("/slow"))

        async with anyio.create_task_group() as group:
            group.start_soon(call)
            await began.wait()
            server.should_exit = True  # what SIGTERM sets
            with anyio.fail_after(5):
                while not await refused(url):  # noqa: ASYNC110 -- the socket closes first
                    await anyio.sleep(0.01)
            assert log == []  # the request is still running, the lifespan not yet told
            release.set()
    assert log == ["request finished", "lifespan shutdown"]
    assert answers[0].status_code == 200
    assert answers[0].headers["connection"] == "close"


@pytest.mark.timeout(30)
async def test_timeout_graceful_shutdown_cancels_what_is_left(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: list[str] = []
    app, began, _ = slow_app(log)  # never released
    answers: list[httpx.Response] = []
    async with (
        served(app, timeout_graceful_shutdown=1) as (server, url),
        httpx.AsyncClient(base_url=url) as client,
    ):

        async def call() -> None:
            answers.append(await client.get("/slow"))

        async with anyio.create_task_group() as group:
            group.start_soon(call)
            await began.wait()
            server.should_exit = True
    assert log == ["request cancelled", "lifespan shutdown"]
    assert answers[0].status_code == 500
    assert "Cancel 1 running task(s), timeout graceful shutdown exceeded" in caplog.text
