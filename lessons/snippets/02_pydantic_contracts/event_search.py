from typing import Annotated, Literal

from fastapi import FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field


class EventFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    city: str | None = None
    kind: Literal["concert", "talk", "workshop"] | None = None
    free: bool = False
    page: Annotated[int, Field(ge=1)] = 1
    size: Annotated[int, Field(ge=1, le=100)] = 20


app = FastAPI()


@app.get("/events")
async def search_events(filters: Annotated[EventFilters, Query()]) -> EventFilters:
    return filters  # echoed, so you can see what FastAPI built
