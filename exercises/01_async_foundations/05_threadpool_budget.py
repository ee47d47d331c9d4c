"""Mind the threadpool: keep its threads for the work that needs them.

FastAPI runs every `def` endpoint, every `def` dependency and every run_in_threadpool call
on one shared pool of worker threads (40 of them by default). Here a trivial dependency
borrows a thread on every request, and a geocoder that can hang for seconds borrows them
too. Under load the pool runs dry, and then even /health stops answering. Fix both.

The contract (the checks rely on it):
- `app` (keep this name): the FastAPI app.
- `get_geocoder` (keep this name): the dependency that hands /locate its Geocoder. The
  checks override it with a fake geocoder that can hang, so use only it.
- `Geocoder`: the blocking SDK, given; do not edit it.
- GET /health answers 200 {"status": "ok", "region": "eu-west"} without needing any
  thread from the shared pool.
- GET /locate?address=... answers 200 with the geocoder's {"lat": ..., "lon": ...} for
  that address. The blocking call runs on a worker thread, never on the event loop, and
  on a budget of its own rather than the shared pool's: while geocoder calls hang, other
  work still finds a free thread in the shared pool.
- That budget is exactly GEOCODER_THREADS (given: 4) threads, one budget shared by every
  request: 4 geocoder calls can hang at once, and a 5th waits, however many requests
  arrive together.
"""

from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.concurrency import run_in_threadpool
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


# TODO: Keep this trivial dependency from borrowing a pool thread on every request.
def get_settings() -> Settings:
    return settings


async def get_geocoder() -> Geocoder:
    return geocoder


SettingsDep = Annotated[Settings, Depends(get_settings)]
GeocoderDep = Annotated[Geocoder, Depends(get_geocoder)]

app = FastAPI()


@app.get("/health")
async def health(settings: SettingsDep) -> dict[str, str]:
    return {"status": "ok", "region": settings.region}


@app.get("/locate")
async def locate(address: str, geocoder: GeocoderDep) -> dict[str, float]:
    # TODO: Run the geocoder on a thread budget of its own, not on the shared pool.
    return await run_in_threadpool(geocoder.locate, address)
