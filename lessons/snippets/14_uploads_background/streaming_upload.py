import hashlib
import os
import pathlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import anyio
from fastapi import FastAPI, Header, HTTPException, Path, Request, status
from pydantic import BaseModel

UploadId = Annotated[str, Path(pattern=r"^[a-z0-9-]{1,64}$")]


class Stored(BaseModel):
    id: str
    size: int
    sha256: str


def create_app(directory: pathlib.Path) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await anyio.Path(directory).mkdir(parents=True, exist_ok=True)
        yield

    app = FastAPI(lifespan=lifespan)

    @app.put("/uploads/{upload_id}", status_code=status.HTTP_201_CREATED)
    async def upload(
        upload_id: UploadId,
        request: Request,
        expected: Annotated[str | None, Header(alias="x-expected-sha256")] = None,
    ) -> Stored:
        partial = anyio.Path(directory) / f".{upload_id}.{uuid.uuid4().hex}.part"
        digest, size = hashlib.sha256(), 0
        try:
            async with await anyio.open_file(partial, "wb") as file:
                async for chunk in request.stream():
                    digest.update(chunk)
                    size += len(chunk)
                    await file.write(chunk)
            if expected is not None and expected.lower() != digest.hexdigest():
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "Digest mismatch")
            await partial.replace(directory / upload_id)  # whole file or nothing
        finally:
            await partial.unlink(missing_ok=True)  # a failed upload leaves no part behind
        return Stored(id=upload_id, size=size, sha256=digest.hexdigest())

    return app


app = create_app(pathlib.Path(os.environ.get("UPLOAD_DIR", "uploads")))
