from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

# --8<-- [start:checks]
Check = Callable[[], Awaitable[object]]


def database_check(engine: AsyncEngine) -> Check:
    async def check() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    return check


def redis_check(redis: Redis) -> Check:
    async def check() -> None:
        await redis.ping()

    return check


async def run_checks(checks: Mapping[str, Check], per_check: float) -> dict[str, str]:
    """Every check at once, each with its own deadline: "ok", "down" or "timeout"."""
    results: dict[str, str] = {}

    async def run(name: str, check: Check) -> None:
        try:
            with anyio.fail_after(per_check):
                await check()
        except TimeoutError:
            results[name] = "timeout"
        except Exception:
            results[name] = "down"
        else:
            results[name] = "ok"

    async with anyio.create_task_group() as group:
        for name, check in checks.items():
            group.start_soon(run, name, check)
    return {name: results[name] for name in checks}


# --8<-- [end:checks]
# --8<-- [start:app]
@dataclass
class Probe:
    checks: Mapping[str, Check]
    timeout: float = 1.0
    draining: bool = field(default=False)


def get_probe(request: Request) -> Probe:
    return request.state.probe


def create_app(checks: Mapping[str, Check], timeout: float = 1.0) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        probe = Probe(checks, timeout)
        try:
            yield {"probe": probe}
        finally:
            probe.draining = True  # shutting down: stop sending us traffic

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}  # the process answers: that is all liveness asks

    @app.get("/readyz")
    async def readyz(probe: Annotated[Probe, Depends(get_probe)]) -> JSONResponse:
        if probe.draining:
            return JSONResponse({"status": "draining"}, status_code=503)
        results = await run_checks(probe.checks, probe.timeout)
        ready = all(result == "ok" for result in results.values())
        return JSONResponse(results, status_code=200 if ready else 503)

    return app


# --8<-- [end:app]
