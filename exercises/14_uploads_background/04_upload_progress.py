"""Progress you can watch: an upload counts its bytes as they arrive, and a stream shows them.

A client uploads a file with PUT; meanwhile anyone who knows the upload's id can follow it
over Server-Sent Events. The upload below already streams and hashes its body, but nobody
can see how far it has got, and the progress route shows nothing. Make the progress visible.

Contract (the checks rely on every line):
- `app` (keep this name) is what the checks run, with its lifespan. Given: the lifespan
  state holds `uploads`, the registry of the uploads in progress (upload id -> `Upload`),
  one per run of the app; `Upload.notify()` wakes every stream waiting on `upload.changed`
  and hands out a new `changed` for the next change.
- PUT /uploads/{upload_id} reads its body with `request.stream()`, chunk by chunk, and once
  the body has ended answers 201 {"id": upload_id, "size": bytes read, "sha256": the hex
  SHA-256 of the body}.
  - An id whose upload is still in progress gets 409 {"detail": "Upload already in
    progress"}, and that upload goes on untouched.
  - An upload is in progress from before its first chunk is read (received 0) until it
    ends: its body has ended, or reading it failed (the client went away, and
    `request.stream()` raised; what the PUT answers then is not checked). Either way its
    entry is then removed, and its id may be uploaded again.
  - received is the number of bytes read so far (the chunks' lengths added up), updated
    after every chunk; total is the request's Content-Length as an int, or null when the
    request has none (a chunked body). A Content-Length of 0 is a total of 0.
- GET /uploads/{upload_id}/progress:
  - An id with no upload in progress (never started, or ended) gets 404 {"detail": "No
    upload in progress"}, a JSON answer (application/json), not a stream.
  - Otherwise 200, an event stream (text/event-stream; charset=utf-8, as `fastapi.sse`
    sends it). Its events, each with JSON data:
    - "progress", data {"received": n, "total": t}: the first one at once, with the count
      as it is now (a client that reconnects gets the same), then one whenever the count
      differs from the last one sent. A stream that falls behind may skip counts, but it
      catches up with the latest one; counts only grow, and none is sent twice. Any number
      of streams may watch one upload, and each of them gets every change.
    - "done", data {"received": size, "total": t, "sha256": the hex SHA-256}, once the body
      has ended (received reaching total is not the end: the body may go on, or stop), and
      then the stream ends. A progress event with the final count may come before it, or not.
    - "failed", data {"received": n, "total": t}, once reading the body has failed, and
      then the stream ends.
    - The id of every event is the received it reports, as a string: `id: 1012`.
    - Comments (keep-alive pings) may come in between; they are not events.
"""

import hashlib
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import anyio
from fastapi import Depends, FastAPI, Header, Request
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

# TODO: write a dependency that finds the upload in progress by its id, or raises a 404
# TODO: with the contract's body (raised there, the 404 comes before the stream starts).

app = FastAPI(lifespan=lifespan)


@app.put("/uploads/{upload_id}", status_code=201)
async def upload_file(
    upload_id: str,
    request: Request,
    uploads: UploadsDep,
    content_length: Annotated[int | None, Header()] = None,
) -> Uploaded:
    # TODO: refuse an id that is in progress with 409; enter a new Upload in `uploads`.
    # TODO: after every chunk, add its length to the upload's count and notify.
    # TODO: however the upload ends, remove its entry, mark it ended and notify (finally).
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.stream():
        digest.update(chunk)
        size += len(chunk)
    return Uploaded(id=upload_id, size=size, sha256=digest.hexdigest())


@app.get("/uploads/{upload_id}/progress", response_class=EventSourceResponse)
async def watch_upload(upload_id: str) -> AsyncIterable[ServerSentEvent]:
    # TODO: take the upload from your dependency, then loop: take `upload.changed`, read the
    # TODO: upload, yield the event the contract asks for (or end the stream after done or
    # TODO: failed), and wait on the `changed` you took. No sleeps, no polling.
    yield ServerSentEvent(comment="no progress yet")
