"""A shop API that reads its settings once, at startup, and hands them to routes."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Literal, TypedDict

from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

logger = logging.getLogger("shop")


class Settings(BaseSettings):
    # a missing field's error would otherwise print every input it got, the key included
    model_config = SettingsConfigDict(env_prefix="SHOP_", hide_input_in_errors=True)

    environment: Literal["development", "staging", "production"] = "development"
    version: str
    payment_api_key: SecretStr
    gift_cards: bool = False


class Info(BaseModel):
    environment: str
    version: str
    gift_cards: bool


class State(TypedDict):
    settings: Settings


async def get_settings(request: Request) -> Settings:
    return request.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    settings = Settings()  # read here, bad settings stop the start before any request is served
    logger.info("settings loaded: %s", settings)
    yield {"settings": settings}


app = FastAPI(lifespan=lifespan)


@app.get("/info")
async def info(settings: SettingsDep) -> Info:
    return Info(
        environment=settings.environment,
        version=settings.version,
        gift_cards=settings.gift_cards,
    )


@app.get("/payment-methods")
async def payment_methods(settings: SettingsDep) -> list[str]:
    return ["card", "gift_card"] if settings.gift_cards else ["card"]
