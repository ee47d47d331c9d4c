"""Hidden suite for 19_capstone/01_tasks_service: the task tracker's tasks, over async SQL.

Every check starts the app on a fresh, empty database (the `database_url` fixture: a SQLite
file, or a new PostgreSQL database when DATABASE_URL names a server) and goes through HTTP
only. The checks form a chain: the app must start and list nothing first, then create, then
read, and each later clause names what it builds on, so a learner sees the first reason, not
forty failures. The list's single query is proved by counting the SQL statements the app's
engine sends (`count_statements`). Last, a schemathesis run over the app's own OpenAPI
(`fuzzing.py` beside this file, shared by the later steps) sends a fixed set of generated
requests and fails on any 5xx or any answer the schema does not document.
"""

import importlib.util
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from workbook.services import count_statements
from workbook.testing import (
    expect,
    expect_equal,
    expect_header,
    expect_json,
    expect_keys,
    expect_status,
    response_json,
    running,
)


def _load_fuzzing() -> ModuleType:
    """fuzzing.py beside this file, loaded by path: the grader imports test files one by one."""
    name = "capstone_fuzzing"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("fuzzing.py"))
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


fuzzing = _load_fuzzing()

pytestmark = pytest.mark.filterwarnings("error")

FIELDS = {"id", "title", "notes", "due", "done", "created_at"}
NOT_FOUND = {"detail": "Task not found"}
MAX_ID = 2**31 - 1

NO_ROUTE = (
    "Is there a route for {route}? Each route is one decorated function on `app`, e.g. "
    '@app.post("/tasks", status_code=201).'
)
NOT_PARTIAL = (
    "Does the update apply only the fields the client sent? "
    "body.model_dump(exclude_unset=True) leaves out the ones it did not send."
)
NOT_STRIPPED = (
    "Is the title stripped before its length is checked? "
    "StringConstraints(strip_whitespace=True, min_length=1, max_length=200) does both, in order."
)
NOT_CLAMPED = (
    "Is limit clamped on both sides? min(max(limit, 1), 100): 0 or a negative number asks "
    "for one task, more than 100 for 100."
)
NEXT = (
    "Is next the id of the page's last task only when more tasks follow? Ask the database for "
    "limit + 1 rows: the extra one says whether there is a next page, and is not shown."
)


@pytest.fixture(autouse=True)
def services(database_url: str) -> None:
    """Each check gets an empty database, named by DATABASE_URL."""


@asynccontextmanager
async def tracker(exercise: ModuleType) -> AsyncIterator[httpx.AsyncClient]:
    """The app running on a fresh database."""
    async with running(exercise.app) as (client, _):
        yield client


async def create(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    """A task made through the API; the check fails here when creating does not work."""
    response = await client.post("/tasks", json=fields)
    expect_status(response, 201, help=NO_ROUTE.format(route="POST /tasks"))
    return response_json(response)


async def create_many(client: httpx.AsyncClient, count: int) -> list[dict[str, Any]]:
    return [await create(client, title=f"task {n}") for n in range(1, count + 1)]


# -- the chain's root: the app starts --------------------------------------------------------


async def test_the_app_starts_with_no_tasks(exercise):
    """the app starts on an empty database and GET /tasks answers {"items": [], "next": null}"""
    async with tracker(exercise) as client:
        response = await client.get("/tasks")
    expect_status(response, 200, help=NO_ROUTE.format(route="GET /tasks"))
    expect_json(response, {"items": [], "next": None})


# -- create ----------------------------------------------------------------------------------


@pytest.mark.requires("test_the_app_starts_with_no_tasks")
async def test_create_answers_201_with_the_task(exercise):
    """POST /tasks answers 201 with the task: id, title, notes, due, done false, created_at"""
    async with tracker(exercise) as client:
        response = await client.post("/tasks", json={"title": "Write the report"})
    expect_status(response, 201, help=NO_ROUTE.format(route="POST /tasks"))
    task = response_json(response)
    expect_keys("the task's fields", FIELDS, task)
    expect(isinstance(task["id"], int), f"expected an integer id, not {task['id']!r}")
    expect_equal("title", "Write the report", task["title"])
    expect_equal("notes", None, task["notes"])
    expect_equal("due", None, task["due"])
    expect_equal("done", False, task["done"])
    try:
        created = datetime.fromisoformat(task["created_at"])
    except (TypeError, ValueError):
        created = None
    expect(
        created is not None,
        f"expected created_at as an ISO 8601 date-time, not {task['created_at']!r}",
    )


@pytest.mark.requires("test_create_answers_201_with_the_task")
async def test_create_sets_location(exercise):
    """a created task's answer has a Location header /tasks/{id}"""
    async with tracker(exercise) as client:
        response = await client.post("/tasks", json={"title": "Call the bank"})
    expect_status(response, 201)
    expect_header(response, "location", f"/tasks/{response_json(response)['id']}")


@pytest.mark.requires("test_create_answers_201_with_the_task")
async def test_create_keeps_notes_and_due(exercise):
    """notes and due are stored as sent: due as an ISO date"""
    async with tracker(exercise) as client:
        task = await create(client, title="Renew", notes="passport", due="2026-02-28")
    expect_equal("notes", "passport", task["notes"])
    expect_equal("due", "2026-02-28", task["due"])


@pytest.mark.requires("test_create_answers_201_with_the_task")
async def test_ids_are_distinct(exercise):
    """each created task gets its own id, growing"""
    async with tracker(exercise) as client:
        first, second = await create_many(client, 2)
    expect(
        first["id"] < second["id"], f"expected growing ids, not {first['id']} then {second['id']}"
    )


@pytest.mark.requires("test_create_answers_201_with_the_task")
@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("  Plan the week  ", "Plan the week"),
        ("x" * 200, "x" * 200),
        (" " + "y" * 200 + " ", "y" * 200),
        ("z", "z"),
    ],
    ids=["stripped", "200-chars", "200-after-strip", "one-char"],
)
async def test_title_is_stripped_and_accepted(exercise, sent, stored):
    """the title is stripped of surrounding spaces; 1 to 200 characters after that are accepted"""
    async with tracker(exercise) as client:
        response = await client.post("/tasks", json={"title": sent})
    expect_status(response, 201, help=NOT_STRIPPED)
    expect_equal("title", stored, response_json(response)["title"], help=NOT_STRIPPED)


@pytest.mark.requires("test_create_answers_201_with_the_task")
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": ""},
        {"title": "   "},
        {"title": "x" * 201},
        {"title": None},
        {"title": "a\x00b"},
        {"title": "ok", "notes": "n" * 2001},
        {"title": "ok", "notes": "a\x00b"},
        {"title": "ok", "due": "not a date"},
        {"title": "ok", "due": "2026-02-30"},
    ],
    ids=[
        "no-title",
        "empty",
        "blank",
        "201-chars",
        "null-title",
        "nul-in-title",
        "2001-notes",
        "nul-in-notes",
        "bad-due",
        "no-such-day",
    ],
)
async def test_invalid_create_is_422(exercise, body):
    """an invalid task answers 422: title missing/blank/over 200, notes over 2000, NUL, bad due"""
    async with tracker(exercise) as client:
        response = await client.post("/tasks", json=body)
        listing = await client.get("/tasks")
    expect_status(response, 422, help=NOT_STRIPPED)
    expect_equal("tasks stored", [], response_json(listing)["items"])


@pytest.mark.requires("test_create_answers_201_with_the_task")
async def test_notes_of_2000_are_accepted(exercise):
    """notes of exactly 2000 characters are accepted, and null notes too"""
    async with tracker(exercise) as client:
        long = await create(client, title="long", notes="n" * 2000)
        empty = await create(client, title="none", notes=None)
    expect_equal("notes length", 2000, len(long["notes"]))
    expect_equal("notes", None, empty["notes"])


# -- read ------------------------------------------------------------------------------------


@pytest.mark.requires("test_create_answers_201_with_the_task")
async def test_read_answers_the_task(exercise):
    """GET /tasks/{id} answers 200 with the task as it was created"""
    async with tracker(exercise) as client:
        task = await create(client, title="Read me", notes="n", due="2030-01-01")
        response = await client.get(f"/tasks/{task['id']}")
    expect_status(response, 200, help=NO_ROUTE.format(route="GET /tasks/{task_id}"))
    read = response_json(response)
    expect_equal("task", {**task, "created_at": None}, {**read, "created_at": None})
    expect_equal(
        "created_at",
        datetime.fromisoformat(task["created_at"]),
        datetime.fromisoformat(read["created_at"]),
    )


@pytest.mark.requires("test_read_answers_the_task")
@pytest.mark.parametrize("task_id", [2, MAX_ID], ids=["next-id", "largest-id"])
async def test_read_missing_is_404(exercise, task_id):
    """a task that does not exist answers 404 {"detail": "Task not found"}"""
    async with tracker(exercise) as client:
        await create(client, title="only one")
        response = await client.get(f"/tasks/{task_id}")
    expect_status(response, 404)
    expect_json(response, NOT_FOUND)


@pytest.mark.requires("test_read_answers_the_task")
@pytest.mark.parametrize("task_id", ["0", "-1", str(MAX_ID + 1), "abc"])
async def test_id_out_of_range_is_422(exercise, task_id):
    """an id that is not a whole number from 1 to 2147483647 answers 422, on every route"""
    async with tracker(exercise) as client:
        answers = [
            await client.get(f"/tasks/{task_id}"),
            await client.patch(f"/tasks/{task_id}", json={}),
            await client.delete(f"/tasks/{task_id}"),
        ]
    for response in answers:
        expect_status(
            response, 422, help="Does the path declare the id's range? Path(ge=1, le=2**31 - 1)"
        )


# -- update ----------------------------------------------------------------------------------


@pytest.mark.requires("test_read_answers_the_task")
async def test_patch_changes_only_what_is_sent(exercise):
    """PATCH /tasks/{id} changes the fields sent and leaves the others as they were"""
    async with tracker(exercise) as client:
        task = await create(client, title="Paint", notes="blue", due="2026-05-01")
        response = await client.patch(f"/tasks/{task['id']}", json={"done": True})
        read = await client.get(f"/tasks/{task['id']}")
    expect_status(response, 200, help=NO_ROUTE.format(route="PATCH /tasks/{task_id}"))
    expected = {**task, "done": True, "created_at": None}
    expect_equal(
        "task after the patch",
        expected,
        {**response_json(response), "created_at": None},
        help=NOT_PARTIAL,
    )
    expect_equal(
        "task read back", expected, {**response_json(read), "created_at": None}, help=NOT_PARTIAL
    )


@pytest.mark.requires("test_patch_changes_only_what_is_sent")
async def test_patch_every_field(exercise):
    """a patch can change title (stripped), notes, due and done together"""
    async with tracker(exercise) as client:
        task = await create(client, title="Old")
        response = await client.patch(
            f"/tasks/{task['id']}",
            json={"title": "  New  ", "notes": "more", "due": "2027-12-31", "done": True},
        )
        read = await client.get(f"/tasks/{task['id']}")
    expect_status(response, 200)
    changed = {"title": "New", "notes": "more", "due": "2027-12-31", "done": True}
    for body in (response_json(response), response_json(read)):
        expect_equal("changed fields", changed, {key: body[key] for key in changed})


@pytest.mark.requires("test_patch_changes_only_what_is_sent")
async def test_patch_reopens_a_done_task(exercise):
    """a patch with done false reopens a done task: false is a value, not "nothing sent\""""
    async with tracker(exercise) as client:
        task = await create(client, title="Again")
        await client.patch(f"/tasks/{task['id']}", json={"done": True})
        response = await client.patch(f"/tasks/{task['id']}", json={"done": False})
        read = await client.get(f"/tasks/{task['id']}")
    expect_status(response, 200)
    for body in (response_json(response), response_json(read)):
        expect_equal("done", False, body["done"], help=NOT_PARTIAL)


@pytest.mark.requires("test_patch_changes_only_what_is_sent")
async def test_patch_null_clears_optional_fields(exercise):
    """a patch with notes or due null clears them"""
    async with tracker(exercise) as client:
        task = await create(client, title="Clear", notes="old", due="2026-01-01")
        response = await client.patch(f"/tasks/{task['id']}", json={"notes": None, "due": None})
        read = await client.get(f"/tasks/{task['id']}")
    expect_status(response, 200)
    for body in (response_json(response), response_json(read)):
        expect_equal(
            "notes and due",
            {"notes": None, "due": None},
            {"notes": body["notes"], "due": body["due"]},
        )


@pytest.mark.requires("test_patch_changes_only_what_is_sent")
async def test_empty_patch_changes_nothing(exercise):
    """an empty patch {} answers 200 with the task unchanged"""
    async with tracker(exercise) as client:
        task = await create(client, title="Same", notes="n", due="2026-01-01")
        response = await client.patch(f"/tasks/{task['id']}", json={})
    expect_status(response, 200, help=NOT_PARTIAL)
    expect_equal(
        "task",
        {**task, "created_at": None},
        {**response_json(response), "created_at": None},
        help=NOT_PARTIAL,
    )


@pytest.mark.requires("test_patch_changes_only_what_is_sent")
@pytest.mark.parametrize(
    "body",
    [
        {"title": None},
        {"done": None},
        {"title": "   "},
        {"title": "x" * 201},
        {"notes": "n" * 2001},
        {"due": "soon"},
    ],
    ids=["null-title", "null-done", "blank-title", "201-title", "2001-notes", "bad-due"],
)
async def test_invalid_patch_is_422_and_changes_nothing(exercise, body):
    """an invalid patch answers 422 and changes nothing: title and done cannot be null"""
    async with tracker(exercise) as client:
        task = await create(client, title="Keep", notes="n")
        response = await client.patch(f"/tasks/{task['id']}", json=body)
        read = await client.get(f"/tasks/{task['id']}")
    expect_status(
        response,
        422,
        help="Can title or done be sent as null? Only notes and due may be null in a patch: "
        "a field_validator refusing None on title and done does it.",
    )
    expect_equal("task", {**task, "created_at": None}, {**response_json(read), "created_at": None})


@pytest.mark.requires("test_patch_changes_only_what_is_sent")
async def test_patch_missing_is_404(exercise):
    """patching a task that does not exist answers 404 {"detail": "Task not found"}"""
    async with tracker(exercise) as client:
        response = await client.patch("/tasks/1", json={"done": True})
    expect_status(response, 404)
    expect_json(response, NOT_FOUND)


# -- delete ----------------------------------------------------------------------------------


@pytest.mark.requires("test_read_answers_the_task")
async def test_delete_then_404(exercise):
    """DELETE /tasks/{id} answers 204, no body; then read, patch and delete of it answer 404"""
    async with tracker(exercise) as client:
        task = await create(client, title="Bin me")
        kept = await create(client, title="Keep me")
        response = await client.delete(f"/tasks/{task['id']}")
        after = [
            await client.get(f"/tasks/{task['id']}"),
            await client.patch(f"/tasks/{task['id']}", json={}),
            await client.delete(f"/tasks/{task['id']}"),
        ]
        still = await client.get(f"/tasks/{kept['id']}")
    expect_status(response, 204, help=NO_ROUTE.format(route="DELETE /tasks/{task_id}"))
    expect_equal("body", b"", response.content)
    for answer in after:
        expect_status(answer, 404)
        expect_json(answer, NOT_FOUND)
    expect_status(still, 200, help="Does DELETE remove only the task it names?")


# -- list ------------------------------------------------------------------------------------


@pytest.mark.requires("test_create_answers_201_with_the_task")
async def test_list_orders_by_id_default_20(exercise):
    """GET /tasks lists tasks by id, 20 by default, next the 20th id when more follow"""
    async with tracker(exercise) as client:
        tasks = await create_many(client, 21)
        response = await client.get("/tasks")
    expect_status(response, 200)
    page = response_json(response)
    expect_equal("ids listed", [t["id"] for t in tasks[:20]], [t["id"] for t in page["items"]])
    expect_equal("next", tasks[19]["id"], page["next"], help=NEXT)
    expect_equal("a listed task", tasks[0]["title"], page["items"][0]["title"])


@pytest.mark.requires("test_list_orders_by_id_default_20")
async def test_list_pages_with_after(exercise):
    """after=<id> lists the tasks after it; the last page answers next null"""
    async with tracker(exercise) as client:
        ids = [t["id"] for t in await create_many(client, 5)]
        first = response_json(await client.get("/tasks", params={"limit": 2}))
        second = response_json(
            await client.get("/tasks", params={"limit": 2, "after": first["next"]})
        )
        last = response_json(
            await client.get("/tasks", params={"limit": 2, "after": second["next"]})
        )
    expect_equal("first page", ids[:2], [t["id"] for t in first["items"]])
    expect_equal("first next", ids[1], first["next"], help=NEXT)
    expect_equal("second page", ids[2:4], [t["id"] for t in second["items"]])
    expect_equal("second next", ids[3], second["next"], help=NEXT)
    expect_equal("last page", ids[4:], [t["id"] for t in last["items"]])
    expect_equal("last next", None, last["next"], help=NEXT)


@pytest.mark.requires("test_list_orders_by_id_default_20")
@pytest.mark.parametrize(
    ("count", "has_next"), [(3, False), (4, True)], ids=["exactly-full", "one-more"]
)
async def test_next_only_when_more_follow(exercise, count, has_next):
    """a full page answers next only when at least one more task follows it"""
    async with tracker(exercise) as client:
        ids = [t["id"] for t in await create_many(client, count)]
        page = response_json(await client.get("/tasks", params={"limit": 3}))
    expect_equal("ids listed", ids[:3], [t["id"] for t in page["items"]])
    expect_equal("next", ids[2] if has_next else None, page["next"], help=NEXT)


@pytest.mark.requires("test_list_orders_by_id_default_20")
async def test_after_the_last_is_empty(exercise):
    """after the last id, or after a deleted one, the list goes on from there"""
    async with tracker(exercise) as client:
        ids = [t["id"] for t in await create_many(client, 3)]
        await client.delete(f"/tasks/{ids[1]}")
        past = response_json(await client.get("/tasks", params={"after": ids[2]}))
        gap = response_json(await client.get("/tasks", params={"after": ids[1]}))
        zero = response_json(await client.get("/tasks", params={"after": 0}))
    expect_equal("after the last", {"items": [], "next": None}, past)
    expect_equal("after a deleted id", [ids[2]], [t["id"] for t in gap["items"]])
    expect_equal("after 0", [ids[0], ids[2]], [t["id"] for t in zero["items"]])


@pytest.mark.requires("test_list_orders_by_id_default_20")
@pytest.mark.parametrize(
    ("limit", "shown"), [(0, 1), (-5, 1), (1, 1), (100, 100), (101, 100), (10**6, 100)]
)
async def test_limit_is_clamped(exercise, limit, shown):
    """limit is clamped to 1..100: less than 1 lists one task, more than 100 lists 100"""
    async with tracker(exercise) as client:
        tasks = await create_many(client, 101 if shown == 100 else 2)
        response = await client.get("/tasks", params={"limit": limit})
    expect_status(response, 200, help=NOT_CLAMPED)
    page = response_json(response)
    expect_equal("tasks listed", shown, len(page["items"]), help=NOT_CLAMPED)
    expect_equal("next", tasks[shown - 1]["id"], page["next"], help=NEXT)


@pytest.mark.requires("test_list_orders_by_id_default_20")
@pytest.mark.parametrize(
    "params", [{"after": -1}, {"after": MAX_ID + 1}, {"done": "maybe"}, {"limit": "ten"}]
)
async def test_bad_list_query_is_422(exercise, params):
    """after outside 0..2147483647, a done not a boolean, a limit not a number answer 422"""
    async with tracker(exercise) as client:
        response = await client.get("/tasks", params=params)
    expect_status(response, 422)


@pytest.mark.requires("test_list_pages_with_after", "test_patch_changes_only_what_is_sent")
async def test_list_filters_by_done(exercise):
    """done=true lists only done tasks, done=false only the others, and pages within the filter"""
    async with tracker(exercise) as client:
        ids = [t["id"] for t in await create_many(client, 6)]
        for task_id in ids[::2]:
            await client.patch(f"/tasks/{task_id}", json={"done": True})
        done = response_json(await client.get("/tasks", params={"done": "true", "limit": 2}))
        rest = response_json(
            await client.get("/tasks", params={"done": "true", "after": done["next"]})
        )
        open_ = response_json(await client.get("/tasks", params={"done": "false"}))
    expect_equal("done tasks, first page", ids[0:4:2], [t["id"] for t in done["items"]])
    expect_equal("next within the filter", ids[2], done["next"], help=NEXT)
    expect_equal("done tasks, last page", [ids[4]], [t["id"] for t in rest["items"]])
    expect_equal("next", None, rest["next"])
    expect_equal("open tasks", ids[1::2], [t["id"] for t in open_["items"]])
    expect(all(t["done"] for t in done["items"]), "expected only done tasks for done=true")


@pytest.mark.requires("test_list_pages_with_after")
@pytest.mark.parametrize("after", [None, 30], ids=["first-page", "deep-page"])
async def test_one_select_per_page(exercise, after):
    """a page is one SQL statement, at any depth: no count, no second query"""
    async with tracker(exercise) as client:
        await create_many(client, 40)
        params: dict[str, Any] = {"limit": 5, "done": "false"}
        if after is not None:
            params["after"] = after
        with count_statements() as statements:
            response = await client.get("/tasks", params=params)
    expect_status(response, 200)
    expect(
        len(response_json(response)["items"]) == 5 and response_json(response)["next"] is not None,
        "expected a full page of 5 with a next id",
    )
    expect(
        statements.count == 1,
        f"expected one SQL statement for a page, not {statements.count}:\n" + statements.listing(),
        help=NEXT,
    )


# -- the fuzzer ------------------------------------------------------------------------------


@pytest.mark.requires(
    "test_read_answers_the_task", "test_patch_changes_only_what_is_sent", "test_delete_then_404"
)
async def test_fuzzing_finds_no_error(exercise):
    """generated requests to every operation get no 5xx, only answers the OpenAPI documents"""
    async with running(exercise.app, raise_app_exceptions=False) as (client, _):
        await create_many(client, 3)
        await fuzzing.fuzz(client, exercise.app.openapi())
