from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel


class Settings(BaseModel):
    upstream: str = "https://weather.example"
    units: str = "metric"


class AppState(TypedDict):
    settings: Settings
    http: httpx.AsyncClient


async def get_settings(request: Request) -> Settings:
    return request.state["settings"]


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_http(request: Request) -> httpx.AsyncClient:
    return request.state["http"]


Http = Annotated[httpx.AsyncClient, Depends(get_http)]

router = APIRouter()


@router.get("/weather/{city}")
async def weather(city: str, http: Http, settings: SettingsDep) -> dict[str, object]:
    reply = await http.get(f"/now/{city}", params={"units": settings.units})
    return {"city": city, "units": settings.units, "temperature": reply.json()["temperature"]}


def create_app(transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[AppState]:
        settings = Settings()
        async with httpx.AsyncClient(base_url=settings.upstream, transport=transport) as http:
            yield {"settings": settings, "http": http}

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    return app


app = create_app()
