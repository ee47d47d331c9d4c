"""The lessons site, built once per test process for every test that reads it."""

import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import uvicorn

ROOT = Path(__file__).resolve().parents[2]

# Building the site runs every notebook once per test process (then they come from the
# cache). The first test to ask for the build pays for it, so the tests that use it get
# this hang guard instead of the suite's 120 s: a cold build of 15 notebooks took 60 s on
# a busy 2-core machine, and two xdist workers may build at the same time.
SITE_BUILD_TIMEOUT = 600


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "site_build" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.timeout(SITE_BUILD_TIMEOUT))


@dataclass(frozen=True)
class Build:
    folder: Path
    returncode: int
    stderr: str


@pytest.fixture(scope="session")
def site_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """`mkdocs build --strict` of the whole site, notebooks run, into a temporary folder."""
    folder = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    return Build(folder, done.returncode, done.stderr)


@asynccontextmanager
async def serve_with_uvicorn(app: Any, **config: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Serve `app` with uvicorn on a free local port; a client that talks to it over TCP."""
    settings = {"log_config": None, "lifespan": "off", **config}
    server = uvicorn.Server(uvicorn.Config(app, **settings))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        async with anyio.create_task_group() as group:
            group.start_soon(server.serve, [sock])
            with anyio.fail_after(10):
                while not server.started:  # noqa: ASYNC110 -- uvicorn has no event to wait on
                    await anyio.sleep(0.01)
            try:
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                    yield client
            finally:
                server.should_exit = True


@pytest.fixture
def real_server() -> Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]:
    """`async with real_server(app, **uvicorn_config) as client`: the app behind a real server,
    for the claims where the in-process harness and a server differ."""
    return serve_with_uvicorn
