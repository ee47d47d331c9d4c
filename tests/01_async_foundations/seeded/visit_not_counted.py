"""redirects without counting the visit"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel


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
    return RedirectResponse(link.url, status_code=307)


@router.delete("/links/{slug}", status_code=204)
async def delete_link(link: LinkDep, links: LinksDep) -> None:
    del links[link.slug]


def create_app() -> FastAPI:
    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    return app
