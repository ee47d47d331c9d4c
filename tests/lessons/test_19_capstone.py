"""Every snippet of lessons/19-capstone.md runs and does what the page says.

The bookmarks service runs on the `database_url` fixture (a SQLite file, or PostgreSQL when
DATABASE_URL names a server); the fuzzer sends its derandomized cases through an in-process
client, so every run sends the same requests and needs no network.
"""

import re
from pathlib import Path
from types import ModuleType

import pytest

from workbook.loader import load_copy
from workbook.services import count_statements
from workbook.testing import running

ROOT = Path(__file__).resolve().parents[2]
LESSON = ROOT / "lessons" / "19-capstone.md"
SNIPPETS = ROOT / "lessons" / "snippets" / "19_capstone"
TESTED = {"bookmarks.py", "fuzz.py"}


@pytest.fixture(autouse=True)
def services(database_url: str) -> None:
    """Each check gets an empty database, named by DATABASE_URL."""


@pytest.fixture
def bookmarks() -> ModuleType:
    return load_copy(SNIPPETS / "bookmarks.py")


@pytest.fixture
def fuzz() -> ModuleType:
    return load_copy(SNIPPETS / "fuzz.py")


def test_every_snippet_is_on_the_page_and_tested() -> None:
    files = {path.name for path in SNIPPETS.glob("*.py")}
    included = set(re.findall(r'--8<-- "19_capstone/(\w+\.py)', LESSON.read_text()))
    assert files == TESTED
    assert files == included


async def test_bookmarks_save_read_and_page_in_one_statement(bookmarks) -> None:
    async with running(bookmarks.app) as (client, _):
        saved = await client.post("/bookmarks", json={"label": "  Docs ", "url": "https://a.b/"})
        assert saved.status_code == 201
        assert saved.headers["location"] == f"/bookmarks/{saved.json()['id']}"
        assert saved.json()["label"] == "Docs"
        for n in range(4):
            await client.post("/bookmarks", json={"label": f"b{n}", "url": "https://a.b/"})
        with count_statements() as statements:
            first = (await client.get("/bookmarks", params={"limit": 2, "after": 1})).json()
        assert statements.count == 1
        assert [b["id"] for b in first["items"]] == [2, 3]
        assert first["next"] == 3
        last = (await client.get("/bookmarks", params={"limit": 2, "after": 3})).json()
        assert last["next"] is None
        assert (await client.get("/bookmarks/99")).json() == {"detail": "Bookmark not found"}
        assert (await client.get(f"/bookmarks/{2**31}")).status_code == 422
        assert (await client.post("/bookmarks", json={"label": " ", "url": "x"})).status_code == 422


def test_draw_is_the_same_every_run(fuzz, bookmarks) -> None:
    openapi = bookmarks.app.openapi()
    first = [(c.method, c.formatted_path, c.query, c.body) for c in fuzz.draw(openapi, 5)]
    again = [(c.method, c.formatted_path, c.query, c.body) for c in fuzz.draw(openapi, 5)]
    assert first == again
    assert {method for method, *_ in first} == {"GET", "POST"}


async def test_the_fuzzer_finds_nothing_in_the_documented_service(fuzz, bookmarks) -> None:
    async with running(bookmarks.app, raise_app_exceptions=False) as (client, _):
        await client.post("/bookmarks", json={"label": "one", "url": "https://a.b/"})
        assert await fuzz.fuzz(client, bookmarks.app.openapi()) == []


async def test_the_fuzzer_finds_an_undocumented_404(fuzz, bookmarks) -> None:
    # the page's pitfall: the same service without responses= on the read route
    openapi = bookmarks.app.openapi()
    del openapi["paths"]["/bookmarks/{bookmark_id}"]["get"]["responses"]["404"]
    async with running(bookmarks.app, raise_app_exceptions=False) as (client, _):
        found = await fuzz.fuzz(client, openapi)
    assert found
    assert all("GET /bookmarks/" in line and "-> 404" in line for line in found)
    assert "Undocumented" in found[0]
