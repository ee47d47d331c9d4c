"""Progress you can watch: an upload counts its bytes as they arrive, and a stream shows them."""

import hashlib
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import anyio
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel


class Uploaded(BaseModel):
    id: str
    size: int
    sha256: str


class Upload:
    """One upload in progress: the bytes received so far, and how it ended."""

    def __init__(self, total: int | None) -> None:
        self.received = 0
        self.total = total
        self.sha256: str | None = None  # set once the whole body has arrived
        self.ended = False
        self.changed = anyio.Event()

    def notify(self) -> None:
        # every watcher waits on the current event: set it, and hand out a new one
        changed, self.changed = self.changed, anyio.Event()
        changed.set()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    yield {"uploads": {}}


async def get_uploads(request: Request) -> dict[str, Upload]:
    return request.state.uploads


UploadsDep = Annotated[dict[str, Upload], Depends(get_uploads)]


async def find_upload(upload_id: str, uploads: UploadsDep) -> Upload:
    # a dependency, so that the 404 is sent before the stream starts
    if (upload := uploads.get(upload_id)) is None:
        raise HTTPException(status_code=404, detail="No upload in progress")
    return upload


app = FastAPI(lifespan=lifespan)


@app.put("/uploads/{upload_id}", status_code=201)
async def upload_file(
    upload_id: str,
    request: Request,
    uploads: UploadsDep,
    content_length: Annotated[int | None, Header()] = None,
) -> Uploaded:
    if upload_id in uploads:
        raise HTTPException(status_code=409, detail="Upload already in progress")
    uploads[upload_id] = upload = Upload(total=content_length)
    digest = hashlib.sha256()
    try:
        async for chunk in request.stream():
            digest.update(chunk)
            upload.received += len(chunk)
            upload.notify()
        upload.sha256 = digest.hexdigest()
    finally:  # a client that goes away mid-upload must not leave its entry behind
        del uploads[upload_id]
        upload.ended = True
        upload.notify()
    return Uploaded(id=upload_id, size=upload.received, sha256=upload.sha256)


@app.get("/uploads/{upload_id}/progress", response_class=EventSourceResponse)
async def watch_upload(
    upload: Annotated[Upload, Depends(find_upload)],
) -> AsyncIterable[ServerSentEvent]:
    sent = None
    while True:
        changed = upload.changed  # taken before reading, so no change slips past
        progress = {"received": upload.received, "total": upload.total}
        if upload.ended:
            if upload.sha256 is None:
                yield ServerSentEvent(data=progress, event="failed", id=str(upload.received))
            else:
                done = {**progress, "sha256": upload.sha256}
                yield ServerSentEvent(data=done, event="done", id=str(upload.received))
            return
        if upload.received != sent:
            sent = upload.received
            yield ServerSentEvent(data=progress, event="progress", id=str(sent))
        await changed.wait()
