from typing import Literal

from fastapi import FastAPI
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BOOKSHOP_")

    environment: Literal["development", "staging", "production"] = "development"


def create_app(settings: Settings) -> FastAPI:
    public_docs = settings.environment != "production"
    app = FastAPI(
        title="Bookshop API",
        version="2.4.0",
        openapi_url="/openapi.json" if public_docs else None,  # None: no /docs, no /redoc
    )

    @app.get("/books")
    async def list_books() -> list[str]:
        return ["Dune"]

    return app


app = create_app(Settings())
