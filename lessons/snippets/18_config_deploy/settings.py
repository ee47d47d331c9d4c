"""The notification service's settings: read from the environment, checked at once."""

from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# --8<-- [start:model]
DEV_SIGNING_KEY = "dev-signing-key-not-for-production"


class Environment(StrEnum):
    development = "development"
    staging = "staging"
    production = "production"


class Provider(BaseModel):
    url: str = "https://api.mail.example"
    api_key: SecretStr
    timeout: Annotated[float, Field(gt=0, le=30)] = 10.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NOTIFY_",  # NOTIFY_SENDER fills `sender`
        env_nested_delimiter="__",  # NOTIFY_PROVIDER__API_KEY fills `provider.api_key`
        hide_input_in_errors=True,  # a failed check must not print the values it read
    )

    environment: Environment = Environment.production  # unset means the strict rules
    sender: Annotated[str, Field(min_length=3)]  # no default: a start without it fails
    provider: Provider
    signing_key: SecretStr = SecretStr(DEV_SIGNING_KEY)
    # --8<-- [end:model]

    # --8<-- [start:refuse]
    @model_validator(mode="after")
    def refuse_development_secrets(self) -> Self:
        if self.environment is Environment.development:
            return self
        if self.signing_key.get_secret_value() == DEV_SIGNING_KEY:
            raise ValueError(f"NOTIFY_SIGNING_KEY is the development key in {self.environment}")
        return self

    # --8<-- [end:refuse]
