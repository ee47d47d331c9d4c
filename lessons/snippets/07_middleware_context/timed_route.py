import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


# --8<-- [start:route]
def timed_route(clock: Callable[[], float] = time.perf_counter) -> type[APIRoute]:
    """A route class that adds `Server-Timing: app;dur=<ms>`, measured with `clock`."""

    class TimedRoute(APIRoute):
        def get_route_handler(self) -> Handler:
            handler = super().get_route_handler()

            async def timed_handler(request: Request) -> Response:
                started = clock()
                response = await handler(request)
                elapsed_ms = (clock() - started) * 1000
                response.headers["server-timing"] = f"app;dur={elapsed_ms:.1f}"
                return response

            return timed_handler

    return TimedRoute


# --8<-- [end:route]
# --8<-- [start:app]
def create_app(clock: Callable[[], float] = time.perf_counter) -> FastAPI:
    timed = APIRouter(route_class=timed_route(clock))

    @timed.get("/reports/{year}")
    async def read_report(year: int) -> dict[str, int]:
        if year < 2000:
            raise HTTPException(status_code=404, detail="no such report")
        return {"year": year}

    @timed.get("/reports.csv")
    async def export_reports() -> StreamingResponse:
        async def rows() -> AsyncIterator[str]:
            clock()  # the stream reads the clock too, after the handler has returned
            yield "2026\n"

        return StreamingResponse(rows(), media_type="text/csv")

    app = FastAPI()
    app.include_router(timed)

    @app.get("/health")  # declared on the app: an ordinary APIRoute
    async def health() -> dict[str, bool]:
        return {"ok": True}

    return app


# --8<-- [end:app]
