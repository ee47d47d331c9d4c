"""Switches to anyio.to_thread.run_sync, which takes no keywords, and drops limit."""

from typing import Annotated

import anyio
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel


class NotFound(Exception):
    """The directory has no such person."""


class Unavailable(Exception):
    """The directory server cannot be reached."""


class Directory:
    """A blocking directory client, like a sync LDAP or CRM SDK (given: do not edit)."""

    def __init__(self, people: dict[str, str]) -> None:
        self._people = people  # username -> full name

    def find(self, username: str) -> dict[str, str]:
        if username not in self._people:
            raise NotFound(username)
        return {"username": username, "name": self._people[username]}

    def search(self, prefix: str, *, limit: int = 10) -> list[dict[str, str]]:
        usernames = sorted(name for name in self._people if name.startswith(prefix))
        return [self.find(username) for username in usernames[:limit]]


class AsyncDirectory:
    """Directory's calls as coroutines that never block the event loop."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory

    async def find(self, username: str) -> dict[str, str]:
        # the SDK blocks its thread: let a worker thread wait while the loop keeps serving
        return await run_in_threadpool(self._directory.find, username)

    async def search(self, prefix: str, *, limit: int = 10) -> list[dict[str, str]]:
        return await anyio.to_thread.run_sync(self._directory.search, prefix)


class Person(BaseModel):
    username: str
    name: str


shared_people = AsyncDirectory(Directory({"ada": "Ada Lovelace", "grace": "Grace Hopper"}))


async def get_people() -> AsyncDirectory:
    return shared_people


PeopleDep = Annotated[AsyncDirectory, Depends(get_people)]

app = FastAPI()


@app.exception_handler(Unavailable)
async def directory_unavailable(request: Request, exc: Unavailable) -> JSONResponse:
    return JSONResponse({"detail": "directory unavailable"}, status_code=503)


@app.get("/people/{username}")
async def read_person(username: str, people: PeopleDep) -> Person:
    try:
        return Person(**await people.find(username))
    except NotFound:
        raise HTTPException(404, "no such person") from None


@app.get("/people")
async def search_people(people: PeopleDep, prefix: str = "", limit: int = 10) -> list[Person]:
    return [Person(**found) for found in await people.search(prefix, limit=limit)]
