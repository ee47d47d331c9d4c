"""The shop service's settings: read from SHOP_* variables, checked once, logged without secrets."""

from typing import Any, Literal, Self

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-only-secret"
MIN_PRODUCTION_SECRET = 32


class DatabaseSettings(BaseModel):
    url: str = Field(min_length=1)
    pool_size: int = Field(default=5, ge=1, le=50)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SHOP_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
        # a service that fails to start logs this error: it must not carry the values read
        hide_input_in_errors=True,
    )

    environment: Literal["development", "staging", "production"] = "development"
    database: DatabaseSettings
    jwt_secret: SecretStr = SecretStr(DEV_SECRET)
    allowed_origins: list[str] = []
    debug: bool = False

    @model_validator(mode="after")
    def refuse_weak_secrets(self) -> Self:
        secret = self.jwt_secret.get_secret_value()
        if self.environment != "development" and secret == DEV_SECRET:
            raise ValueError("jwt_secret: the default secret is for development only")
        if self.environment == "production" and len(secret) < MIN_PRODUCTION_SECRET:
            raise ValueError(
                f"jwt_secret: at least {MIN_PRODUCTION_SECRET} characters in production"
            )
        return self


def public_view(settings: Settings) -> dict[str, Any]:
    return settings.model_dump(mode="json")
