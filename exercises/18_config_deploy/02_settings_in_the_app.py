"""Read the shop's settings once, at startup, and hand them to routes through a dependency.

The app below reads the environment again on every request, starts happily with its settings
missing (and fails later, at the first request), and answers `GET /info` with every setting,
the payment key's field included. Make it an app whose settings can be trusted.

Contract (the checks rely on every line):
- `Settings` (keep this name and its fields) reads `SHOP_ENVIRONMENT` (`development`,
  `staging` or `production`; `development` when unset), `SHOP_VERSION` (required),
  `SHOP_PAYMENT_API_KEY` (required, a secret) and `SHOP_GIFT_CARDS` (a feature flag, off when
  unset; "1" or "true" turn it on, "0" or "false" off). Its validation errors never show the
  values it was given: without that, a missing `SHOP_VERSION` prints the whole input, the key
  included.
- Importing the module reads nothing: it imports with no `SHOP_` variable set.
- `lifespan` (keep this name) makes `Settings()` exactly once per app start, first: invalid or
  missing settings make the start raise pydantic's `ValidationError` as it is (do not catch
  it), so the app never serves a request. Then it logs exactly one INFO record on the logger
  named "shop": `settings loaded: ` followed by `str(settings)` (pydantic writes each field
  as `name=value`, the key as `payment_api_key=SecretStr('**********')`), and yields the
  state `{"settings": settings}`. No log record of any logger ever shows the key.
- `get_settings(request)` (keep this name) answers the settings of the request's lifespan
  state. Nothing reads the environment again while the app runs: a variable changed after the
  start shows at the next start, not before.
- `SettingsDep` (keep this name) is `Annotated[Settings, Depends(get_settings)]`, and every
  route takes its settings from it, so a test replaces them with
  `app.dependency_overrides[get_settings]`, with or without the lifespan running.
- `GET /info` answers 200 with the settings that are not secret, as an `Info`:
  `{"environment", "version", "gift_cards"}` and nothing else.
- `GET /payment-methods` answers 200 with `["card"]`, or `["card", "gift_card"]` when the
  `gift_cards` flag is on.
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Literal, TypedDict

from fastapi import Depends, FastAPI
from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

logger = logging.getLogger("shop")


class Settings(BaseSettings):
    # TODO: keep the inputs out of this model's validation errors: one of them is a secret.
    model_config = SettingsConfigDict(env_prefix="SHOP_")

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


# TODO: answer the settings of the lifespan state (request.state) instead of reading the
# environment on every request.
async def get_settings() -> Settings:
    return Settings()


SettingsDep = Annotated[Settings, Depends(get_settings)]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State | None]:
    # TODO: read the Settings here, log them (the key masked), and yield them as the state.
    yield None


app = FastAPI(lifespan=lifespan)


# TODO: answer an Info: the settings without the secret.
@app.get("/info")
async def info(settings: SettingsDep) -> Settings:
    return settings


@app.get("/payment-methods")
async def payment_methods(settings: SettingsDep) -> list[str]:
    # TODO: offer "gift_card" after "card" when the gift_cards flag is on.
    return ["card"]
