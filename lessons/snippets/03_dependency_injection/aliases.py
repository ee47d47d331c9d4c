from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel


class Settings(BaseModel):
    api_keys: dict[str, str] = {"key-ada": "ada", "key-bob": "bob"}


class User(BaseModel):
    name: str


async def get_settings() -> Settings:
    return Settings()


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_current_user(settings: SettingsDep, x_api_key: Annotated[str, Header()]) -> User:
    name = settings.api_keys.get(x_api_key)
    if name is None:
        raise HTTPException(status_code=401, detail="unknown API key")
    return User(name=name)


CurrentUser = Annotated[User, Depends(get_current_user)]
app = FastAPI()


@app.get("/me")
async def me(user: CurrentUser) -> User:
    return user


@app.get("/team")
async def team(user: CurrentUser, settings: SettingsDep) -> dict[str, list[str]]:
    others = sorted(set(settings.api_keys.values()) - {user.name})
    return {"you": [user.name], "others": others}
