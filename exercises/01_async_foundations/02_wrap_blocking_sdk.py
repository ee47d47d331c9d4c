"""Wrap a blocking SDK: async endpoints must call it without blocking the event loop.

`Directory` is a blocking SDK: each call holds its thread until the directory server
answers. Finish `AsyncDirectory`, an awaitable facade over it, and turn the SDK's errors
into HTTP answers.

The contract (the checks rely on it):
- `app` (keep this name): the FastAPI app.
- `AsyncDirectory(directory)` (keep this name): `await find(username)` and
  `await search(prefix, limit=...)` (limit defaults to 10, as in the SDK) return what the
  SDK's calls return and raise the SDK's own errors as they are (not HTTP errors), but run
  the SDK on a worker thread, never on the event loop's thread.
- `get_people` (keep this name): the dependency that hands endpoints an AsyncDirectory.
  The checks override it with an AsyncDirectory around a fake SDK, so use only it. Left
  alone, it hands out `shared_people`, the AsyncDirectory around the given Directory.
- `Directory`, `NotFound`, `Unavailable`: given; do not edit them.
- GET /people/{username} answers 200 {"username": ..., "name": ...}, or 404
  {"detail": "no such person"} when the SDK raises NotFound.
- GET /people?prefix=...&limit=... hands prefix and limit to the SDK's search() as they
  are (prefix defaults to "", limit to 10; a limit of 0 or below is passed on too) and
  answers 200 with its matches: a list of at most `limit` people, empty when limit is 0
  or nobody matches (search() never raises NotFound; only find() does).
- Every endpoint answers 503 {"detail": "directory unavailable"} when the SDK raises
  Unavailable.
"""

from typing import Annotated

from fastapi import Depends, FastAPI
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
        # TODO: Run the blocking SDK call on a worker thread instead of the event loop.
        return self._directory.find(username)

    async def search(self, prefix: str, *, limit: int = 10) -> list[dict[str, str]]:
        # TODO: Run this call on a worker thread too, passing prefix and limit through.
        return self._directory.search(prefix, limit=limit)


class Person(BaseModel):
    username: str
    name: str


shared_people = AsyncDirectory(Directory({"ada": "Ada Lovelace", "grace": "Grace Hopper"}))


async def get_people() -> AsyncDirectory:
    return shared_people


PeopleDep = Annotated[AsyncDirectory, Depends(get_people)]

app = FastAPI()

# TODO: Answer 503 {"detail": "directory unavailable"} whenever the SDK raises Unavailable.


@app.get("/people/{username}")
async def read_person(username: str, people: PeopleDep) -> Person:
    # TODO: Answer 404 {"detail": "no such person"} when the SDK raises NotFound.
    return Person(**await people.find(username))


@app.get("/people")
async def search_people(people: PeopleDep, prefix: str = "", limit: int = 10) -> list[Person]:
    return [Person(**found) for found in await people.search(prefix, limit=limit)]
