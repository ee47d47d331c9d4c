"""413 before it costs you: FastAPI's own body limits, for the app, a router and a route.

Every route below accepts a body of any size. Give each one its limit, with FastAPI's own
`max_body_size` and `form_limits`, so that a body too large is refused before it costs
memory, disk or work.

Contract (the checks rely on every line):
- Given, keep these names and values: `app`, `uploads` (the router), the routes, their
  models and answers, `GET /stats`, APP_LIMIT (4096 bytes), FEEDBACK_LIMIT (512),
  UPLOAD_LIMIT (262144), AVATAR_LIMIT (16384) and ALBUM_FORM_LIMITS.
- A limit counts the bytes of the whole request body (for a form: every part, and the
  multipart framing too). A body of exactly the limit is accepted; one byte more is refused:
  - `POST /items` and `POST /albums`: APP_LIMIT, the app's limit;
  - `POST /feedback`: FEEDBACK_LIMIT, stricter than the app's;
  - `PUT /uploads/files/{name}`: UPLOAD_LIMIT, the limit of every route of `uploads`,
    larger than the app's;
  - `PUT /uploads/avatar`: AVATAR_LIMIT, larger than the app's, smaller than the router's.
- A refused body answers 413, and how depends on what the client announced:
  - a `Content-Length` above the limit: 413 with the plain-text body `Content Too Large`,
    answered before one byte of the body is read;
  - no `Content-Length` (a chunked body), or one that says less than is sent: the bytes
    are counted as they arrive, and the request is refused as soon as they pass the limit,
    the rest left unread: 413 `{"detail": "Content Too Large"}`.
  A body over its limit answers 413 even when it is not valid JSON (size comes first).
- `POST /albums` parses its form with ALBUM_FORM_LIMITS: at most 2 files, 3 text fields
  (title and tags, each value counted), and 1024 bytes per text field (files are not
  capped by it). One more answers 400 with the parser's message as `detail`:
  "Too many files. Maximum number of files is 2.", "Too many fields. Maximum number of
  fields is 3." or "Part exceeded maximum size of 1KB.".
- `GET /stats` counts the requests each route accepted (given): a refused request never
  counts, so no route may do its work before its whole body has been read.
- Warnings are errors in the checks.
"""

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

from fastapi import APIRouter, Depends, FastAPI, File, Form, Request, UploadFile
from pydantic import BaseModel

APP_LIMIT = 4 * 1024  # bytes, for every route without a limit of its own
FEEDBACK_LIMIT = 512
UPLOAD_LIMIT = 256 * 1024
AVATAR_LIMIT = 16 * 1024
ALBUM_FORM_LIMITS = {"max_files": 2, "max_fields": 3, "max_part_size": 1024}
ROUTES = ("items", "feedback", "files", "avatar", "albums")


class Item(BaseModel):
    name: str
    description: str = ""


class Feedback(BaseModel):
    message: str


class Created(BaseModel):
    id: int


class Stored(BaseModel):
    size: int


class Album(BaseModel):
    title: str
    tags: list[str]
    photos: list[int]


class State(TypedDict):
    accepted: Counter[str]


def accepted(request: Request) -> Counter[str]:
    return request.state.accepted


Accepted = Annotated[Counter[str], Depends(accepted)]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    yield {"accepted": Counter()}


# TODO: limit every request body to APP_LIMIT bytes, and the routes of `uploads` to UPLOAD_LIMIT.
app = FastAPI(lifespan=lifespan)
uploads = APIRouter(prefix="/uploads")


@app.post("/items", status_code=201)
async def create_item(item: Item, counts: Accepted) -> Created:
    counts["items"] += 1
    return Created(id=counts["items"])


# TODO: limit this route to FEEDBACK_LIMIT bytes.
@app.post("/feedback", status_code=201)
async def send_feedback(feedback: Feedback, counts: Accepted) -> Created:
    counts["feedback"] += 1
    return Created(id=counts["feedback"])


@uploads.put("/files/{name}", status_code=201)
async def upload_file(name: str, request: Request, counts: Accepted) -> Stored:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
    counts["files"] += 1
    return Stored(size=size)


# TODO: limit this route to AVATAR_LIMIT bytes.
@uploads.put("/avatar", status_code=201)
async def upload_avatar(request: Request, counts: Accepted) -> Stored:
    size = len(await request.body())
    counts["avatar"] += 1
    return Stored(size=size)


app.include_router(uploads)


# TODO: parse this form with ALBUM_FORM_LIMITS.
@app.post("/albums", status_code=201)
async def create_album(
    title: Annotated[str, Form()],
    counts: Accepted,
    tags: Annotated[list[str], Form(default_factory=list)],
    photos: Annotated[list[UploadFile], File(default_factory=list)],
) -> Album:
    counts["albums"] += 1
    return Album(title=title, tags=tags, photos=[photo.size or 0 for photo in photos])


@app.get("/stats")
async def stats(counts: Accepted) -> dict[str, int]:
    return {route: counts[route] for route in ROUTES}
