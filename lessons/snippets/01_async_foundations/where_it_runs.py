import threading
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, FastAPI
from pydantic import BaseModel, field_validator


def thread() -> str:
    return threading.current_thread().name


def sync_dependency() -> str:
    return thread()


async def async_dependency() -> str:
    return thread()


def sync_yield_dependency() -> Iterator[str]:
    yield thread()


class ClassDependency:  # FastAPI calls the class, and a class is not a coroutine function
    def __init__(self) -> None:
        self.thread = thread()


class AsyncCallable:
    async def __call__(self) -> str:  # an instance with an async __call__ runs on the loop
        return thread()


class Note(BaseModel):
    text: str

    @field_validator("text")
    @classmethod
    def record_thread(cls, text: str) -> str:
        return f"{text} (validated on {thread()})"


app = FastAPI()


@app.get("/async")
async def async_endpoint(
    sync_dep: Annotated[str, Depends(sync_dependency)],
    async_dep: Annotated[str, Depends(async_dependency)],
    yield_dep: Annotated[str, Depends(sync_yield_dependency)],
    class_dep: Annotated[ClassDependency, Depends()],
    instance_dep: Annotated[str, Depends(AsyncCallable())],
) -> dict[str, str]:
    return {
        "endpoint": thread(),
        "sync dependency": sync_dep,
        "async dependency": async_dep,
        "sync yield dependency": yield_dep,
        "class dependency": class_dep.thread,
        "async __call__ instance": instance_dep,
    }


@app.post("/sync")
def sync_endpoint(note: Note) -> dict[str, str]:
    return {"endpoint": thread(), "body": note.text}
