"""Stream it, hash it, never hold it: an upload written to disk chunk by chunk."""

import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, TypedDict

import anyio
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request
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
    # a name no id can take, in the same directory: the rename below is atomic
    part = anyio.Path(directory / f".{upload_id}.{uuid.uuid4().hex}.part")
    file = await anyio.open_file(part, "wb")
    try:
        async with file:
            # one chunk at a time: the body is never held whole in memory
            async for chunk in request.stream():
                digest.update(chunk)
                size += len(chunk)
                await file.write(chunk)
        if x_expected_sha256 is not None and x_expected_sha256.lower() != digest.hexdigest():
            raise HTTPException(status_code=422, detail=MISMATCH)
        await part.replace(directory / upload_id)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await part.unlink()
        raise
    return Upload(id=upload_id, size=size, sha256=digest.hexdigest())


def create_app(directory: Path) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        yield {"directory": directory}

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    return app
