from typing import Annotated

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field


class Reading(BaseModel):
    sensor: str
    count: int
    value: int | str


class Animal(BaseModel):
    name: str


class Dog(Animal):
    barks: bool


class Kennel(BaseModel):
    resident: Animal


class Voucher(BaseModel):
    model_config = ConfigDict(regex_engine="python-re")  # the Rust engine has no look-ahead

    code: Annotated[str, Field(pattern=r"^(?=.*\d)[a-z\d]{8}$")]


app = FastAPI()


@app.get("/kennel")
async def kennel() -> Kennel:
    return Kennel(resident=Dog(name="Rex", barks=True))
