"""Unblock the event loop: a long poll must not freeze every other request.

GET /messages/next waits for the next message. While it waits, this app serves nothing
else, not even the POST /messages that would deliver the message it waits for. Fix that.

The contract (the checks rely on it):
- `app` (keep this name): the FastAPI app.
- `get_mailbox` (keep this name): the dependency that hands endpoints their Mailbox. The
  checks override it with a fake mailbox, so get the mailbox only through it. Left alone,
  it hands every request the same mailbox, so a message posted while no poll waits is
  delivered by the next GET /messages/next.
- `Mailbox`: the blocking SDK, given; do not edit it.
- GET /messages/next answers 200 {"text": ...} with the next message, or 504
  {"detail": "no message arrived in time"} when receive() gives up and returns None
  (an empty text is still a message: 200 {"text": ""}).
- POST /messages with {"text": ...} hands the text to send() and answers 202 with the
  same body.
- While one GET /messages/next waits, other requests are still served, other long polls
  included: several polls wait at once, and each message posted wakes one of them.
"""

import queue
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel


class Mailbox:
    """A blocking mailbox client, like a sync SDK's long poll (given: do not edit)."""

    def __init__(self, wait_s: float = 2.0) -> None:
        self._messages: queue.Queue[str] = queue.Queue()
        self._wait_s = wait_s

    def receive(self) -> str | None:
        """Block the calling thread until a message arrives; None after wait_s seconds."""
        try:
            return self._messages.get(timeout=self._wait_s)
        except queue.Empty:
            return None

    def send(self, text: str) -> None:
        """Queue a message for the next receive(); never blocks."""
        self._messages.put(text)


class Message(BaseModel):
    text: str


shared_mailbox = Mailbox()


async def get_mailbox() -> Mailbox:
    return shared_mailbox


MailboxDep = Annotated[Mailbox, Depends(get_mailbox)]

app = FastAPI()


@app.get("/messages/next")
async def next_message(mailbox: MailboxDep) -> Message:
    # TODO: Stop this endpoint from blocking the event loop while receive() waits.
    text = mailbox.receive()
    if text is None:
        raise HTTPException(504, "no message arrived in time")
    return Message(text=text)


@app.post("/messages", status_code=202)
async def post_message(message: Message, mailbox: MailboxDep) -> Message:
    mailbox.send(message.text)
    return message
