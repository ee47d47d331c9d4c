"""A long poll that waits for the next message without freezing the other requests."""

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


# a def endpoint runs in the threadpool: its blocking wait leaves the event loop free
@app.get("/messages/next")
def next_message(mailbox: MailboxDep) -> Message:
    text = mailbox.receive()
    if text is None:
        raise HTTPException(504, "no message arrived in time")
    return Message(text=text)


@app.post("/messages", status_code=202)
async def post_message(message: Message, mailbox: MailboxDep) -> Message:
    mailbox.send(message.text)
    return message
