r"""Server-Sent Events: follow an order's updates, and resume after Last-Event-ID.

Task: a customer's browser follows the updates of one order with `EventSource`. Today
`GET /orders/{order_id}/updates` answers a JSON list once and closes. Turn it into an
event stream that stays open, sends each new update as it happens, and picks up where the
browser left off when it reconnects.

The contract (the checks rely on it):
- `Update`, `Feed`, `FEED`, `get_feed`, `FeedDep` and `app` (keep these names) stay as they
  are. The feed holds the shop's updates of every order, numbered 1, 2, 3, ... in the order
  they were published (`feed.updates[n - 1].id == n`). `feed.after(last_id)`, for a
  `last_id` from 0 to the last number, yields every update numbered above `last_id`, then
  waits for each new one and yields it too, forever (beyond the last number it fails with
  an `IndexError`). The checks override `get_feed` to hand out a feed of their own (perhaps
  still empty: its last number is then 0), and publish to it while a client is connected.
- `GET /orders/{order_id}/updates` (any order id, even one without updates) answers 200 with
  `response_class=EventSourceResponse`: FastAPI's `text/event-stream; charset=utf-8`, with
  its `Cache-Control: no-cache`, `X-Accel-Buffering: no` and keep-alive comment (`: ping`,
  sent when the stream has been idle for 15 seconds; the checks shorten the wait). It never
  ends by itself, only when the client leaves.
- It sends the updates of that order only, oldest first, each one as
  `ServerSentEvent(data=update, event=update.status, id=str(update.id))`, which FastAPI
  writes as (here update 3, of order 7):

      event: packed
      data: {"id":3,"order_id":7,"status":"packed"}
      id: 3
      <blank line>

  The `id` is the update's own number in the feed, so the ids of one order's events may
  skip numbers (1, 3, 5).
- Where the stream starts is set by the request's `Last-Event-ID` header, declared as an
  integer header parameter of at least 0 (`Last-Event-ID` becomes `last_event_id`):
  - no header, or `0`: from the first update of the order;
  - a number from 1 to the feed's last number (`len(feed.updates)` when the request
    arrives), whichever order that update belongs to: the order's updates numbered above
    it; at the last number, none of the stored ones, only the new ones;
  - a number greater than the feed's last number (an id the feed never reached, sent by a
    browser that followed a feed since restarted): from the first update of the order,
    as without a header;
  - anything else (`abc`, `-1`, `1.5`): FastAPI's 422 for a header parameter, before any
    event is sent: `detail` holds one error, at `loc` `["header", "last-event-id"]` (the
    header's name in any letter case), of type `int_parsing` or, for `-1`,
    `greater_than_equal`.
  - Not graded: other ways to write a number (`+3`, `03`, ` 3`).
- After the stored updates, each update of the order published while the client is
  connected is sent as it is published, once, in order, to every connected client.
"""

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import Depends, FastAPI
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


# TODO: Answer with response_class=EventSourceResponse, and make the route a generator.
@app.get("/orders/{order_id}/updates")
async def follow_order(order_id: int, feed: FeedDep) -> list[Update]:
    # TODO: Read the Last-Event-ID header (an int of at least 0) and decide where to start.
    # TODO: Follow feed.after(...) and yield a ServerSentEvent for each update of the order.
    return [update for update in feed.updates if update.order_id == order_id]
