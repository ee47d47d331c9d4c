from datetime import date
from typing import Self

from fastapi import FastAPI
from pydantic import BaseModel, model_validator
from pydantic_core import PydanticCustomError


class Window(BaseModel):
    start: date
    end: date


class WithValueError(Window):
    @model_validator(mode="after")
    def check_order(self) -> Self:
        if self.end < self.start:
            raise ValueError("end must not be before start")
        return self


class WithCustomError(Window):
    @model_validator(mode="after")
    def check_order(self) -> Self:
        if self.end < self.start:
            raise PydanticCustomError(
                "window_order",
                "end must not be before start by {days} days",
                {"days": (self.start - self.end).days},
            )
        return self


app = FastAPI()


@app.post("/value-error")
async def with_value_error(window: WithValueError) -> Window:
    return window


@app.post("/custom-error")
async def with_custom_error(window: WithCustomError) -> Window:
    return window
