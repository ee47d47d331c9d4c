from collections.abc import AsyncIterable

from fastapi import FastAPI
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel


class Score(BaseModel):
    home: int
    away: int


app = FastAPI()


@app.get("/match", response_class=EventSourceResponse)
async def match() -> AsyncIterable[ServerSentEvent]:
    yield ServerSentEvent(comment="kick-off", retry=5000)
    yield ServerSentEvent(data=Score(home=1, away=0), event="goal", id="17")
    yield ServerSentEvent(data="half time")
    yield ServerSentEvent(raw_data="line one\nline two")
    yield ServerSentEvent(data={"minute": 90})


@app.get("/scores", response_class=EventSourceResponse)
async def scores() -> AsyncIterable[Score]:
    yield Score(home=2, away=1)
    yield {"home": 3, "away": "1"}
