from typing import Annotated

from fastapi import FastAPI
from pydantic import BaseModel, Field


class Signup(BaseModel):
    email: str
    age: Annotated[int, Field(ge=18)]


app = FastAPI()


@app.post("/signups", status_code=201)
async def sign_up(signup: Signup) -> Signup:
    return signup
