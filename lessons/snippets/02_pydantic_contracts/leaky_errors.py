from typing import Annotated

from fastapi import FastAPI, Header
from pydantic import BaseModel, Field


class Login(BaseModel):
    username: str
    password: Annotated[str, Field(min_length=12)]


class ClientHeaders(BaseModel):
    x_client_id: str


app = FastAPI()


@app.post("/login")
async def log_in(login: Login) -> dict[str, str]:
    return {"username": login.username}


@app.get("/me")
async def me(headers: Annotated[ClientHeaders, Header()]) -> dict[str, str]:
    return {"client_id": headers.x_client_id}
