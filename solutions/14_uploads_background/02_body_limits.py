"""413 before it costs you: FastAPI's own body limits, for the app, a router and a route."""

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


# the most specific limit wins: route over router over app, larger or smaller
app = FastAPI(lifespan=lifespan, max_body_size=APP_LIMIT)
uploads = APIRouter(prefix="/uploads", max_body_size=UPLOAD_LIMIT)


@app.post("/items", status_code=201)
async def create_item(item: Item, counts: Accepted) -> Created:
    counts["items"] += 1
    return Created(id=counts["items"])


@app.post("/feedback", status_code=201, max_body_size=FEEDBACK_LIMIT)
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


@uploads.put("/avatar", status_code=201, max_body_size=AVATAR_LIMIT)
async def upload_avatar(request: Request, counts: Accepted) -> Stored:
    size = len(await request.body())
    counts["avatar"] += 1
    return Stored(size=size)


app.include_router(uploads)


@app.post("/albums", status_code=201, form_limits=ALBUM_FORM_LIMITS)
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
