import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, TypedDict

import anyio
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent


@dataclass
class Progress:
    total: int | None
    received: int = 0
    sha256: str | None = None
    failed: bool = False
    changed: anyio.Event = field(default_factory=anyio.Event)

    def advance(self, received: int, sha256: str | None = None, failed: bool = False) -> None:
        self.received, self.sha256, self.failed = received, sha256, failed
        self.changed.set()  # wake every watcher, then arm a new event for the next change
        self.changed = anyio.Event()


class State(TypedDict):
    uploads: dict[str, Progress]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    yield {"uploads": {}}


def uploads(request: Request) -> dict[str, Progress]:
    return request.state.uploads


Uploads = Annotated[dict[str, Progress], Depends(uploads)]


def watched(upload_id: str, uploads: Uploads) -> Progress:
    if (progress := uploads.get(upload_id)) is None:
        raise HTTPException(404, "No upload in progress")
    return progress


app = FastAPI(lifespan=lifespan)


@app.put("/uploads/{upload_id}")
async def upload(
    upload_id: str,
    request: Request,
    uploads: Uploads,
    content_length: Annotated[int | None, Header()] = None,
) -> dict[str, int | str]:
    if upload_id in uploads:
        raise HTTPException(409, "Upload already in progress")
    progress = uploads[upload_id] = Progress(total=content_length)
    digest, received = hashlib.sha256(), 0
    try:
        async for chunk in request.stream():
            digest.update(chunk)
            received += len(chunk)
            progress.advance(received)
        progress.advance(received, sha256=digest.hexdigest())
    finally:
        if progress.sha256 is None:
            progress.advance(received, failed=True)
        del uploads[upload_id]  # watchers keep their reference; the registry does not leak
    return {"id": upload_id, "size": received, "sha256": digest.hexdigest()}


@app.get("/uploads/{upload_id}/progress", response_class=EventSourceResponse)
async def watch(progress: Annotated[Progress, Depends(watched)]) -> AsyncIterator[ServerSentEvent]:
    while True:
        changed = progress.changed  # taken before yielding, so no change is missed
        seen = {"received": progress.received, "total": progress.total}
        if progress.sha256 is not None:
            yield ServerSentEvent(
                event="done", id=str(progress.received), data={**seen, "sha256": progress.sha256}
            )
            return
        if progress.failed:
            yield ServerSentEvent(event="failed", id=str(progress.received), data=seen)
            return
        yield ServerSentEvent(event="progress", id=str(progress.received), data=seen)
        await changed.wait()
