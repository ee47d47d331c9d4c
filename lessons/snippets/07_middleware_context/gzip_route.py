import gzip
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class GzipRequest(Request):
    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            raw = await super().body()
            gzipped = self.headers.get("content-encoding", "").lower() == "gzip"
            self._body = gzip.decompress(raw) if gzipped else raw  # unbounded: see below
        return self._body


class GzipRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def gzip_handler(request: Request) -> Response:
            return await handler(GzipRequest(request.scope, request.receive))

        return gzip_handler


class Reading(BaseModel):
    sensor: str
    celsius: float


ingest = APIRouter(prefix="/ingest", route_class=GzipRoute)


@ingest.post("/readings")
async def ingest_readings(readings: list[Reading]) -> dict[str, int]:
    return {"stored": len(readings)}


app = FastAPI()
app.include_router(ingest)


@app.post("/feedback")  # not on the gzip router: bodies are read as they arrive
async def feedback(readings: list[Reading]) -> dict[str, int]:
    return {"stored": len(readings)}
