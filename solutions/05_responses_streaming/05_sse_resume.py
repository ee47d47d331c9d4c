"""Server-Sent Events: follow an order's updates, and resume after Last-Event-ID."""

from collections.abc import AsyncIterable, AsyncIterator
from typing import Annotated

import anyio
from fastapi import Depends, FastAPI, Header
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel


class Update(BaseModel):
    id: int
    order_id: int
    status: str


class Feed:
    """The shop's order updates, numbered from 1; readers wait for the next one."""

    def __init__(self) -> None:
        self.updates: list[Update] = []
        self._grown = anyio.Event()

    def publish(self, order_id: int, status: str) -> Update:
        update = Update(id=len(self.updates) + 1, order_id=order_id, status=status)
        self.updates.append(update)
        grown, self._grown = self._grown, anyio.Event()  # later readers wait for the next
        grown.set()
        return update

    async def after(self, last_id: int) -> AsyncIterator[Update]:
        """Every update numbered above `last_id` (0 to the last number), then each new one."""
        while True:
            if last_id == len(self.updates):
                await self._grown.wait()  # publish() appends, then wakes every reader
            update = self.updates[last_id]
            last_id = update.id
            yield update


FEED = Feed()
FEED.publish(1, "paid")
FEED.publish(2, "paid")
FEED.publish(1, "shipped")


async def get_feed() -> Feed:
    return FEED


FeedDep = Annotated[Feed, Depends(get_feed)]

app = FastAPI()


@app.get("/orders/{order_id}/updates", response_class=EventSourceResponse)
async def follow_order(
    order_id: int, feed: FeedDep, last_event_id: Annotated[int, Header(ge=0)] = 0
) -> AsyncIterable[ServerSentEvent]:
    # an id the feed never reached comes from before a restart: resuming would skip updates
    start = last_event_id if last_event_id <= len(feed.updates) else 0
    async for update in feed.after(start):
        if update.order_id == order_id:
            # the feed's own number, so a reconnecting client resumes from its place in it
            yield ServerSentEvent(data=update, event=update.status, id=str(update.id))
