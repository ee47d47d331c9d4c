"""Store every upload under a name of our own; keep the client's name only once it is plain."""

import shutil
import unicodedata
import uuid
from pathlib import Path

from fastapi import FastAPI, HTTPException, UploadFile
from pydantic import BaseModel

MAX_NAME_LENGTH = 100  # characters
ALLOWED_EXTENSIONS = frozenset({"csv", "jpeg", "jpg", "pdf", "png", "txt"})
RESERVED_NAMES = frozenset(  # Windows device names: "con.txt" opens the console, not a file
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{digit}" for digit in range(1, 10)}
    | {f"LPT{digit}" for digit in range(1, 10)}
)
SEPARATORS = frozenset("/\\:")  # ":" too: "C:x.txt" is relative to drive C on Windows


class UnsafeName(ValueError):
    """A file name that must not be trusted; the message says why."""


class StoredFile(BaseModel):
    name: str
    stored_as: str
    size: int


def safe_name(original: str) -> str:
    if len(original) > MAX_NAME_LENGTH:
        raise UnsafeName(f"longer than {MAX_NAME_LENGTH} characters")
    for char in original:
        if char in SEPARATORS or unicodedata.category(char) == "Cc":
            raise UnsafeName(f"holds {char!r}: a path, or a control character")
    if original.startswith("."):
        raise UnsafeName("starts with a dot")
    if original.partition(".")[0].upper() in RESERVED_NAMES:
        raise UnsafeName("a Windows device name")
    # "", "x.", "x.txt " and every name without a dot fail here: no allowed extension
    extension = original.rpartition(".")[2].lower()
    if "." not in original or extension not in ALLOWED_EXTENSIONS:
        raise UnsafeName("not an allowed extension")
    # the client's name never reaches the disk: only its checked extension does
    return f"{uuid.uuid4().hex}.{extension}"


def create_app(directory: Path) -> FastAPI:
    app = FastAPI()

    @app.post("/files", status_code=201)
    def upload(file: UploadFile) -> StoredFile:  # def: file I/O blocks, so a worker thread
        name = file.filename or ""
        try:
            stored_as = safe_name(name)
        except UnsafeName:
            raise HTTPException(422, "Unsafe file name.") from None
        with (directory / stored_as).open("xb") as target:
            shutil.copyfileobj(file.file, target)
            return StoredFile(name=name, stored_as=stored_as, size=target.tell())

    return app
