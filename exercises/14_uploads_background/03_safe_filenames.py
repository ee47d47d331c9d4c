"""Names you can trust: store uploads under names of your own, refuse every unsafe client name.

The upload route below writes each file under the name the client sent, so `../../app.py`
overwrites your code and `/etc/cron.d/x` lands wherever the server may write. Make
`safe_name` refuse every name that is not plainly a file name, and store every upload under
a new name that `safe_name` makes; the client's name is kept only as data, in the answer.

Contract (the checks rely on every line):
- Given, keep these names: MAX_NAME_LENGTH (100), ALLOWED_EXTENSIONS, RESERVED_NAMES,
  SEPARATORS, `UnsafeName` and `StoredFile`.
- `safe_name(original)` (keep this name) raises `UnsafeName` (with a message saying why, and
  no other exception whatever the string) when `original`:
  - is longer than MAX_NAME_LENGTH characters (exactly 100 is fine);
  - holds a character of SEPARATORS (`/`, `\\` or `:`), which covers `../x`, `..\\x`,
    `/etc/x`, `C:\\x`, `C:x` and `x:stream`;
  - holds a control character, Unicode category "Cc": U+0000 (NUL) to U+001F, and U+007F to
    U+009F (`unicodedata.category`); a space or U+00A0 is not one;
  - starts with a dot (`.`, `..`, `.env`, `.txt`);
  - is a Windows device name of RESERVED_NAMES in any case, with or without an extension:
    its part before the first dot, upper-cased with `str.upper()`, is in RESERVED_NAMES
    (`con`, `CON.txt`, `Nul.tar.gz`; `COM10.txt` and `CONSOLE.txt` are fine);
  - has no allowed extension. Its extension is the text after its last dot, lower-cased with
    `str.lower()`, and it must be in ALLOWED_EXTENSIONS; a name without a dot (the empty name
    included) has none. So a name that ends with a dot or a space is refused too.
  Every other name is accepted, whatever else it holds (spaces, `..` inside a name as in
  `a..txt`, accents). For an accepted name it returns a new name every call: `uuid4().hex`
  (32 lowercase hex digits), a dot, and the lower-cased extension (`Report.PDF` gives
  `<hex>.pdf`). Nothing of the client's name but that extension is in it.
- `create_app(directory)` (keep this name) returns an app that stores uploads in
  `directory`, an existing folder: `POST /files` takes a multipart form with one file field
  named `file` (`UploadFile`). When `safe_name` accepts its file name, the file's bytes are
  written to `directory / <the name safe_name returned>` and the answer is 201
  `{"name": <the client's file name, as sent>, "stored_as": <that new name>, "size": <bytes>}`.
  When `safe_name` refuses it, the answer is 422 `{"detail": "Unsafe file name."}` (the same
  body whatever the rule) and nothing is written anywhere. A form without a file field gets
  FastAPI's own 422. Nothing is ever written outside `directory`.
"""

import shutil
from pathlib import Path

from fastapi import FastAPI, UploadFile
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
    # TODO: raise UnsafeName for every name the contract refuses.
    # TODO: return a new name instead: uuid4().hex, a dot, and the lower-cased extension.
    return original


def create_app(directory: Path) -> FastAPI:
    app = FastAPI()

    @app.post("/files", status_code=201)
    def upload(file: UploadFile) -> StoredFile:  # def: file I/O blocks, so a worker thread
        name = file.filename or ""
        # TODO: answer 422 {"detail": "Unsafe file name."} when safe_name refuses the name.
        stored_as = safe_name(name)
        with (directory / stored_as).open("xb") as target:
            shutil.copyfileobj(file.file, target)
            return StoredFile(name=name, stored_as=stored_as, size=target.tell())

    return app
