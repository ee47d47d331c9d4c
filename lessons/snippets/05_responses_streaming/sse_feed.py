from collections.abc import AsyncIterable, AsyncIterator
from typing import Annotated

import anyio
from fastapi import Depends, FastAPI, Header
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel


class Notice(BaseModel):
    id: int
    text: str


class Feed:
    """Notices numbered from 1; readers wait for the next one."""

    def __init__(self) -> None:
        self.notices: list[Notice] = []
        self._grown = anyio.Event()

    def publish(self, text: str) -> Notice:
        notice = Notice(id=len(self.notices) + 1, text=text)
        self.notices.append(notice)
        self._grown.set()
        self._grown = anyio.Event()
        return notice

    async def after(self, last_id: int) -> AsyncIterator[Notice]:
        while True:
            while last_id < len(self.notices):
                yield self.notices[last_id]
                last_id += 1
            await self._grown.wait()


feed = Feed()


def get_feed() -> Feed:
    return feed


FeedDep = Annotated[Feed, Depends(get_feed)]
app = FastAPI()


@app.get("/notices", response_class=EventSourceResponse)
async def stream_notices(
    feed: FeedDep, last_event_id: Annotated[int, Header(ge=0)] = 0
) -> AsyncIterable[ServerSentEvent]:
    async for notice in feed.after(last_event_id):
        yield ServerSentEvent(data=notice, event="notice", id=str(notice.id))
