"""A link shortener (given) and the async test suite that pins its behaviour down."""

import asyncio
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
BLOG = {"slug": "blog", "url": "https://example.com/blog"}


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


async def test_create_link(client: httpx.AsyncClient) -> None:
    response = await client.post("/links", json=DOCS)
    assert response.status_code == 201
    assert response.json() == {**DOCS, "visits": 0}


async def test_read_created_link(client: httpx.AsyncClient) -> None:
    await client.post("/links", json=DOCS)
    response = await client.get("/links/docs")
    assert response.status_code == 200
    assert response.json() == {**DOCS, "visits": 0}


async def test_taken_slug_is_409_and_keeps_the_first_link(client: httpx.AsyncClient) -> None:
    await client.post("/links", json=DOCS)
    response = await client.post("/links", json={"slug": "docs", "url": "https://evil.test"})
    assert response.status_code == 409
    assert response.json() == {"detail": "slug already taken"}
    assert (await client.get("/links/docs")).json()["url"] == DOCS["url"]


async def test_follow_redirects_and_counts_the_visit(client: httpx.AsyncClient) -> None:
    await client.post("/links", json=DOCS)
    response = await client.get("/go/docs")
    assert response.status_code == 307
    assert response.headers["location"] == DOCS["url"]
    assert (await client.get("/links/docs")).json()["visits"] == 1


async def test_deleted_link_is_gone(client: httpx.AsyncClient) -> None:
    await client.post("/links", json=DOCS)
    response = await client.delete("/links/docs")
    assert response.status_code == 204
    assert (await client.get("/links/docs")).status_code == 404
    assert (await client.get("/go/docs")).status_code == 404


async def test_concurrent_visits_are_all_counted(client: httpx.AsyncClient) -> None:
    await client.post("/links", json=DOCS)
    # requests fired together interleave at every await inside the app
    async with asyncio.TaskGroup() as group:
        for _ in range(20):
            group.create_task(client.get("/go/docs"))
    assert (await client.get("/links/docs")).json()["visits"] == 20


async def test_each_slug_redirects_to_its_own_url(client: httpx.AsyncClient) -> None:
    await client.post("/links", json=DOCS)
    await client.post("/links", json=BLOG)  # with one link, "its url" and "a url" look alike
    response = await client.get("/go/docs")
    assert response.status_code == 307
    assert response.headers["location"] == DOCS["url"]


async def test_unknown_link_cannot_be_followed(client: httpx.AsyncClient) -> None:
    response = await client.get("/go/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "link not found"}


async def test_unknown_link_cannot_be_deleted(client: httpx.AsyncClient) -> None:
    response = await client.delete("/links/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "link not found"}


async def test_visited_link_stops_redirecting_once_deleted(client: httpx.AsyncClient) -> None:
    await client.post("/links", json=DOCS)
    await client.get("/go/docs")  # whatever a visit leaves behind must go with the link
    await client.delete("/links/docs")
    response = await client.get("/go/docs")
    assert response.status_code == 404
    assert response.json() == {"detail": "link not found"}


async def test_deleted_slug_can_be_taken_again(client: httpx.AsyncClient) -> None:
    await client.post("/links", json=DOCS)
    await client.delete("/links/docs")
    response = await client.post("/links", json={**BLOG, "slug": "docs"})
    assert response.status_code == 201
    assert response.json() == {**BLOG, "slug": "docs", "visits": 0}


async def test_new_app_starts_empty(client: httpx.AsyncClient) -> None:
    # every test gets an app of its own: the links the tests above made must not be here
    response = await client.get("/links/docs")
    assert response.status_code == 404
