"""Settings read once, in the lifespan, and handed to routes through one dependency."""

import hashlib
import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

import httpx
from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel
from settings import Settings

logger = logging.getLogger("notify")


class Note(BaseModel):
    to: str
    body: str


class Receipt(BaseModel):
    id: str


# --8<-- [start:dependency]
def get_settings(request: Request) -> Settings:
    return request.state.settings  # the object the lifespan built; tests override this


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_provider(request: Request) -> httpx.AsyncClient:
    return request.state.provider


ProviderDep = Annotated[httpx.AsyncClient, Depends(get_provider)]
# --8<-- [end:dependency]


# --8<-- [start:lifespan]
class State(TypedDict):
    settings: Settings
    provider: httpx.AsyncClient


def create_app(transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        settings = Settings()  # once per start; a missing or refused value stops it here
        logger.info("starting with %s", settings)  # each SecretStr prints as **********
        key = settings.provider.api_key.get_secret_value()
        async with httpx.AsyncClient(
            base_url=settings.provider.url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=settings.provider.timeout,
            transport=transport,
        ) as provider:
            yield {"settings": settings, "provider": provider}

    app = FastAPI(lifespan=lifespan)
    # --8<-- [end:lifespan]

    # --8<-- [start:routes]
    @app.get("/about")
    async def about(settings: SettingsDep) -> dict[str, str]:
        return {"environment": settings.environment, "sender": settings.sender}

    @app.post("/notifications", status_code=202)
    async def send(note: Note, settings: SettingsDep, provider: ProviderDep) -> Receipt:
        key = settings.signing_key.get_secret_value().encode()
        signature = hmac.new(key, note.body.encode(), hashlib.sha256).hexdigest()
        message = {"from": settings.sender, "to": note.to, "body": note.body, "sig": signature}
        answer = await provider.post("/messages", json=message)
        answer.raise_for_status()
        return Receipt(id=answer.json()["id"])

    # --8<-- [end:routes]
    return app
