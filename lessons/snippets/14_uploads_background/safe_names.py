import os
import pathlib
import unicodedata
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, HTTPException, UploadFile, status

MAX_LENGTH = 255
ALLOWED = {".jpeg", ".jpg", ".pdf", ".png", ".txt"}
RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{n}" for p in ("COM", "LPT") for n in range(1, 10)}
CHUNK = 64 * 1024


def stored_name(original: str) -> str:
    """A new name to store `original` under, or ValueError saying why it is refused."""
    if not original or len(original) > MAX_LENGTH:
        raise ValueError("name is empty or too long")
    if any(unicodedata.category(c) == "Cc" for c in original):
        raise ValueError("name has control characters")
    if any(c in original for c in "/\\:"):
        raise ValueError("name has a path in it")
    if original[0] == "." or original[-1] in ". ":
        raise ValueError("name starts with a dot, or ends with a dot or a space")
    if original.split(".")[0].upper().rstrip(" ") in RESERVED:
        raise ValueError("name is reserved on Windows")
    extension = pathlib.PurePath(original).suffix.lower()
    if extension not in ALLOWED:
        raise ValueError("extension not allowed")
    return uuid.uuid4().hex + extension


def create_app(directory: pathlib.Path) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await anyio.Path(directory).mkdir(parents=True, exist_ok=True)
        yield

    app = FastAPI(lifespan=lifespan)

    @app.post("/files", status_code=status.HTTP_201_CREATED)
    async def add_file(file: UploadFile) -> dict[str, str | int]:
        try:
            name = stored_name(file.filename or "")
        except ValueError as refused:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(refused)) from None
        size = 0
        async with await anyio.open_file(directory / name, "xb") as out:
            while chunk := await file.read(CHUNK):
                size += len(chunk)
                await out.write(chunk)
        return {"id": name, "original": file.filename or "", "size": size}

    return app


app = create_app(pathlib.Path(os.environ.get("UPLOAD_DIR", "uploads")))
