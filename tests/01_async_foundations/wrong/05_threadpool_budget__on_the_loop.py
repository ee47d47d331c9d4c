"""Calls the hanging geocoder directly on the event loop."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import anyio
from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel

GEOCODER_THREADS = 4


class Geocoder:
    """A blocking geocoding client that can take seconds to answer (given: do not edit)."""

    def locate(self, address: str) -> dict[str, float]:
        return {"lat": 48.8584, "lon": 2.2945}  # the stand-in always finds the Eiffel Tower


class Settings(BaseModel):
    region: str = "eu-west"


settings = Settings()
geocoder = Geocoder()


async def get_settings() -> Settings:
    # trivial and non-blocking: async keeps it on the loop, a def would borrow a thread
    return settings


async def get_geocoder() -> Geocoder:
    return geocoder


SettingsDep = Annotated[Settings, Depends(get_settings)]
GeocoderDep = Annotated[Geocoder, Depends(get_geocoder)]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, anyio.CapacityLimiter]]:
    yield {"geocoder_limiter": anyio.CapacityLimiter(GEOCODER_THREADS)}


app = FastAPI(lifespan=lifespan)


@app.get("/health")
async def health(settings: SettingsDep) -> dict[str, str]:
    return {"status": "ok", "region": settings.region}


@app.get("/locate")
async def locate(address: str, geocoder: GeocoderDep, request: Request) -> dict[str, float]:
    return geocoder.locate(address)
