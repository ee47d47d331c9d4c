"""Write the tests: an async test suite that catches bugs in a small link shortener.

The app below is given and correct. Your job is the suite underneath it. The checks run
your tests against this app, where every test must pass, and then against copies of it
with one bug planted in each, where at least one of your tests must fail. Run your tests
yourself with `pytest exercises/01_async_foundations/04_write_the_tests.py`.

What the app promises (its HTTP contract):
- POST /links {"slug": ..., "url": ...} creates a link: 201 {"slug", "url", "visits": 0}.
  A slug that is already taken answers 409 {"detail": "slug already taken"} and leaves
  the existing link as it was.
- GET /links/{slug} answers 200 with the link, visits included.
- GET /go/{slug} redirects: 307 with a `location` header holding the link's url, and
  counts one visit, however many requests arrive at the same time.
- DELETE /links/{slug} answers 204; afterwards the link is gone from every endpoint:
  reading, following or deleting it answers 404, and its slug is free to be taken again.
- Any endpoint answers 404 {"detail": "link not found"} for a slug it does not know.
- Every app made by create_app() starts empty, once its lifespan has started: the links
  one app made are not in another.

The contract of your suite (the checks rely on it):
- Tests are module-level `async def test_<name>(client)` functions: one argument, an
  httpx.AsyncClient (base_url http://test) wired to a fresh app with its lifespan running.
- `client` (keep this fixture) builds that client when you run pytest yourself; the
  checks call each test, in the order written, with a client of their own.
- Write at least 4 tests (the example counts), and make each one pass on this app.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

# --- the app under test (given: do not edit) ------------------------------------------


class NewLink(BaseModel):
    slug: str
    url: str


class Link(NewLink):
    visits: int = 0


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, dict[str, Link]]]:
    yield {"links": {}}


async def get_links(request: Request) -> dict[str, Link]:
    return request.state.links


LinksDep = Annotated[dict[str, Link], Depends(get_links)]


async def get_link(slug: str, links: LinksDep) -> Link:
    if slug not in links:
        raise HTTPException(404, "link not found")
    return links[slug]


LinkDep = Annotated[Link, Depends(get_link)]
router = APIRouter()


@router.post("/links", status_code=201)
async def create_link(new: NewLink, links: LinksDep) -> Link:
    if new.slug in links:
        raise HTTPException(409, "slug already taken")
    links[new.slug] = Link(slug=new.slug, url=new.url)
    return links[new.slug]


@router.get("/links/{slug}")
async def read_link(link: LinkDep) -> Link:
    return link


@router.get("/go/{slug}")
async def follow_link(link: LinkDep) -> RedirectResponse:
    link.visits += 1
    return RedirectResponse(link.url, status_code=307)


@router.delete("/links/{slug}", status_code=204)
async def delete_link(link: LinkDep, links: LinksDep) -> None:
    del links[link.slug]


def create_app() -> FastAPI:
    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    return app


# --- the tests ------------------------------------------------------------------------

DOCS = {"slug": "docs", "url": "https://example.com/docs"}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """A client for a fresh app, its lifespan running (keep this fixture)."""
    app = create_app()
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_unknown_link_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/links/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "link not found"}


# TODO: Write more tests until every promise in the contract above is checked.
