"""Stream it, hash it, never hold it: an upload written to disk chunk by chunk.

The route below stores nothing and answers a made-up size and hash. Make it stream the body
to disk, hashing it as it goes, so that an upload of any size costs a few chunks of memory.

Contract (the checks rely on every line):
- `create_app(directory)` (keep this name) returns the app; it stores uploads in
  `directory` (a `Path` that exists), read through the `storage` dependency (given: the
  lifespan state holds it). Nothing else is written anywhere.
- `PUT /uploads/{upload_id}` (keep this route) takes the raw request body, any size, any
  content type, and answers 201 with `{"id": upload_id, "size": n, "sha256": hex}`: n the
  number of bytes received and hex the lowercase hex SHA-256 of them (0 bytes are an upload
  too). The bytes are then stored in `<directory>/<upload_id>`; a later upload of the same
  id replaces them, and answers 201 too.
- The body is read with `request.stream()` chunk by chunk (every `http.request` message
  counts, the last one included), each chunk hashed and written as it comes. The body is
  never held whole: no `await request.body()`, no list of all the chunks, no reading the
  file back. The measure: a 16 MiB upload allocates less than 4 MiB at its peak.
- The bytes go to a temporary file in `directory` whose name starts with "." (no id can,
  see `UploadId`) and is new for every request; it is renamed onto `<directory>/<upload_id>`
  only once the whole body has arrived and its digest was checked. Until then that path
  keeps its old bytes (or stays absent). Uploads never wait for each other: two uploads
  of one id at once each write their own temporary file, and the last to finish wins.
- Header `X-Expected-SHA256` (optional): when sent, it is compared with the hex digest of
  the bytes received, in any letter case. If they differ, the answer is 422
  `{"detail": "SHA-256 mismatch"}` (`MISMATCH`) and nothing changes in the directory.
- When reading the body fails (the client disconnects: `ClientDisconnect`; or any other
  error), or the request's task is cancelled mid-upload, the temporary file is deleted and
  the error (or the cancellation) goes on up. Afterwards the directory holds exactly what
  it held before. What the app answers a client that left is not graded.
- `upload_id` must match `UploadId` (given): 1 to 64 letters, digits, "_" or "-"; any other
  id answers FastAPI's 422 and stores nothing.
- Warnings are errors in the checks.
"""

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, TypedDict

from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi import Path as PathParam
from pydantic import BaseModel

MISMATCH = "SHA-256 mismatch"

UploadId = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class Upload(BaseModel):
    id: str
    size: int
    sha256: str


class State(TypedDict):
    directory: Path


def storage(request: Request) -> Path:
    return request.state.directory


Storage = Annotated[Path, Depends(storage)]

router = APIRouter()


@router.put("/uploads/{upload_id}", status_code=201)
async def put_upload(
    upload_id: UploadId,
    request: Request,
    directory: Storage,
    x_expected_sha256: Annotated[str | None, Header()] = None,
) -> Upload:
    digest, size = hashlib.sha256(), 0
    # TODO: open a temporary file in `directory` (a new name starting with "." per request).
    # TODO: for each chunk of request.stream(), update the digest and the size, and write it.
    # TODO: refuse a digest that is not X-Expected-SHA256 with 422 MISMATCH.
    # TODO: rename the temporary file onto directory / upload_id only when all went well,
    # TODO: and delete it (then re-raise) when anything failed.
    return Upload(id=upload_id, size=size, sha256=digest.hexdigest())


def create_app(directory: Path) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        yield {"directory": directory}

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    return app
