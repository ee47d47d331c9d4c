"""Hidden suite for 09_async_sqlalchemy/03_keyset_pagination: newest first, signed cursors.

Every check starts the app on a fresh database (the `database_url` fixture) and seeds events
through the app's own sessionmaker (`state["sessions"]`) and its `Event` model, with ids that
do not follow the time order and with several events sharing a `created_at`. Pages are read
over HTTP and walked by `next_cursor`; a cursor is only ever an opaque string here.
"""

import base64
import json
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from sqlalchemy import delete

from workbook.loader import load_copy
from workbook.services import count_statements
from workbook.testing import (
    Failure,
    Mismatch,
    expect,
    expect_equal,
    expect_header,
    expect_json,
    expect_keys,
    expect_status,
    response_json,
    running,
)

PROBLEM_JSON = "application/problem+json"
INVALID_CURSOR = {
    "type": "https://example.com/problems/invalid-cursor",
    "title": "Invalid cursor",
    "status": 400,
    "detail": "The cursor is not one this server issued.",
    "instance": "/events",
}
OTHER_SECRET = b"another key entirely"
MAX_PAGES = 200  # a guard against a cursor that never ends, far above any walk here

T0 = datetime(2025, 3, 1, 9, 0)
Row = tuple[int, datetime, str]


def at(seconds: int, micro: int = 0) -> datetime:
    return T0 + timedelta(seconds=seconds, microseconds=micro)


# ids that do not follow time; ties at 50 s (5, 1) and at 30 s (8, 4, 3); 20 s and 20 s + 1 µs
MIXED: list[Row] = [
    (1, at(50), "deploy started"),
    (2, at(10), "build queued"),
    (3, at(30), "tests passed"),
    (4, at(30), "lint passed"),
    (5, at(50), "deploy finished"),
    (6, at(20, 1), "image pushed"),
    (7, at(20), "image built"),
    (8, at(30), "types checked"),
    (9, at(40), "review approved"),
    (10, at(5), "branch pushed"),
]
MIXED_ORDER = [5, 1, 9, 8, 4, 3, 6, 7, 2, 10]

ORDER = (
    "Are events sorted newest first: by created_at descending, then, among events with the "
    "same created_at, by id descending (the higher id first)?"
)
TIES = (
    "Does the cursor hold both the last event's created_at and its id, and does the next page "
    "start strictly after that pair, (created_at, id) < (last created_at, last id)? A cursor of "
    "created_at alone skips or repeats the events that share it."
)
LOOK_AHEAD = (
    "Do you select limit + 1 rows, to know whether another page follows? next_cursor is null "
    "exactly when no event follows the page, even when the page is exactly full."
)
SHIFT = (
    "Does the cursor hold a position (the last event's created_at and id) rather than a count "
    "of rows to skip? An OFFSET counts rows, so rows added or removed ahead of it shift the "
    "pages after it."
)
MICROSECONDS = (
    "Does the cursor keep created_at to the microsecond? datetime.isoformat() does; a value "
    "cut to the second puts the next page in the wrong place."
)
ONE_STATEMENT = (
    "Is each page one SELECT ... LIMIT, with no COUNT, no second query and no reading of the "
    "whole table to cut it in Python?"
)
SIGNED = (
    "Is the cursor signed with hmac (SHA-256) under CURSOR_SECRET, and is its signature "
    "checked, with hmac.compare_digest, before anything in it is trusted? Any error while "
    "reading a cursor must become the invalid-cursor problem, never a 500 or a page."
)
OTHER_KEY = (
    "A cursor signed under another CURSOR_SECRET was accepted: is the signature checked "
    "against the secret the app has now? Read CURSOR_SECRET when you sign and check (or when "
    "the lifespan starts), not once at import."
)
SELF_CONTAINED = (
    "Does the cursor carry its position itself? A cursor kept in the server's memory is gone "
    "when the app restarts; a signed one stays valid as long as CURSOR_SECRET does."
)
LIMIT_BOUNDS = (
    "Is limit declared as Annotated[int, Query(ge=1, le=100)] with a default of 20, so that "
    "FastAPI answers 422 for anything else?"
)
VALIDATION_FIRST = (
    "FastAPI validates the query parameters before the endpoint runs: is the cursor read in "
    "the endpoint (or after the limit is checked), so that a bad limit is the 422 it reports?"
)
EMPTY = (
    "The page is empty although events are stored: does GET /events select them from the "
    "database, through the session it is given?"
)
TRUTHY = (
    "An empty cursor is a cursor too, and not one the app signed: is the cursor tested with "
    "`cursor is not None` rather than for its truth?"
)
DATABASE_HELP = (
    "Does the lifespan create the engine from os.environ.get('DATABASE_URL', ...) when it "
    "starts, put it in the state as 'engine', and dispose of it at shutdown?"
)


def item(row: Row) -> dict[str, Any]:
    event_id, created_at, title = row
    return {"id": event_id, "created_at": created_at.isoformat(), "title": title}


def newest_first(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda row: (row[1], row[0]), reverse=True)


def chunks(ids: list[int], size: int) -> list[list[int]]:
    return [ids[start : start + size] for start in range(0, len(ids), size)] or [[]]


def many(count: int) -> list[Row]:
    """`count` events, one a second, each with its own created_at."""
    return [(n, at(n), f"event {n}") for n in range(1, count + 1)]


async def seed(exercise: ModuleType, state: dict[str, Any], rows: list[Row]) -> None:
    async with state["sessions"]() as session:
        session.add_all(exercise.Event(id=i, created_at=c, title=t) for i, c, t in rows)
        await session.commit()


async def remove(exercise: ModuleType, state: dict[str, Any], ids: list[int]) -> None:
    async with state["sessions"]() as session:
        await session.execute(delete(exercise.Event).where(exercise.Event.id.in_(ids)))
        await session.commit()


async def get_page(
    client: httpx.AsyncClient, limit: int | str | None = None, cursor: str | None = None
) -> httpx.Response:
    params: dict[str, Any] = {}
    if limit is not None:
        params["limit"] = limit
    if cursor is not None:
        params["cursor"] = cursor
    return await client.get("/events", params=params)


async def read_page(
    client: httpx.AsyncClient, limit: int | None = None, cursor: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """The items and next_cursor of a page that must be there."""
    response = await get_page(client, limit, cursor)
    expect_status(response, 200, help=SIGNED if cursor is not None else None)
    body = response_json(response)
    expect(isinstance(body, dict), f"expected a JSON object, not {body!r}")
    expect_keys("the page's keys", {"items", "next_cursor"}, body)
    next_cursor = body["next_cursor"]
    expect(
        next_cursor is None or (isinstance(next_cursor, str) and next_cursor != ""),
        f"expected next_cursor to be a non-empty string or null, not {next_cursor!r}",
    )
    return body["items"], next_cursor


def ids_of(items: list[dict[str, Any]]) -> list[int]:
    return [entry.get("id") for entry in items]


def expect_count(expected: int, items: list[dict[str, Any]]) -> None:
    help = LIMIT_BOUNDS if items else EMPTY
    expect_equal("the number of events on the page", expected, len(items), help=help)


def expect_ids(what: str, expected: Any, actual: Any, help: str | None = None) -> None:
    """Ids (or pages of ids) as expected, on one line; no help for a page that is empty."""
    if expected != actual:
        help = EMPTY if actual in ([], [[]]) else help
        raise Mismatch(what, expected, actual, help=help)


async def walk(client: httpx.AsyncClient, limit: int) -> list[list[int]]:
    """The event ids of every page, from the first one to the one whose next_cursor is null."""
    pages: list[list[int]] = []
    cursor = None
    for _ in range(MAX_PAGES):
        items, cursor = await read_page(client, limit, cursor)
        pages.append(ids_of(items))
        if cursor is None:
            return pages
    raise Failure(f"expected next_cursor to be null after {MAX_PAGES} pages", help=LOOK_AHEAD)


def expect_pages(expected: list[list[int]], actual: list[list[int]], limit: int) -> None:
    """Pages of ids as expected, with the help that fits the way they differ."""
    every = [event_id for page in expected for event_id in page]
    seen = [event_id for page in actual for event_id in page]
    if seen == every:
        help = LOOK_AHEAD
    elif actual[:1] != expected[:1]:
        help = ORDER
    else:
        help = TIES
    expect_ids(f"pages of event ids with limit={limit}", expected, actual, help)


async def test_first_page_is_the_newest(exercise, database_url):
    """the first page lists the events newest first, ties on created_at by the higher id"""
    async with running(exercise.app) as (client, state):
        await seed(exercise, state, MIXED)
        response = await get_page(client, limit=4)
    expect_status(response, 200)
    expected = [item(row) for row in newest_first(MIXED)[:4]]
    body = response_json(response)
    expect_keys("the page's keys", {"items", "next_cursor"}, body)
    expect_equal("items", expected, body["items"], help=ORDER if body["items"] else EMPTY)
    expect(isinstance(body["next_cursor"], str), "expected a next_cursor: six more events follow")


@pytest.mark.parametrize(
    ("limit", "count", "more"),
    [(1, 10, True), (9, 10, True), (10, 10, False), (11, 10, False)],
    ids=["one", "all-but-one", "exactly-all", "more-than-all"],
)
async def test_page_size_and_next_cursor(exercise, database_url, limit, count, more):
    """a page holds `limit` events, and has a next_cursor only when more events follow"""
    async with running(exercise.app) as (client, state):
        await seed(exercise, state, MIXED)
        items, cursor = await read_page(client, limit)
    expect_ids("event ids", MIXED_ORDER[:limit], ids_of(items), ORDER)
    expect_equal("a next_cursor", more, cursor is not None, help=LOOK_AHEAD)


@pytest.mark.stub_may_pass("the stub answers an empty page already")
async def test_empty_table(exercise, database_url):
    """with no events at all, the first page is empty and its next_cursor null"""
    async with running(exercise.app) as (client, _):
        response = await get_page(client)
    expect_status(response, 200)
    expect_json(response, {"items": [], "next_cursor": None})


@pytest.mark.parametrize(("count", "more"), [(20, False), (21, True)], ids=["20", "21"])
async def test_default_limit(exercise, database_url, count, more):
    """without limit, a page holds 20 events"""
    async with running(exercise.app) as (client, state):
        await seed(exercise, state, many(count))
        items, cursor = await read_page(client)
    expect_count(20, items)
    expect_ids("event ids", list(range(count, count - 20, -1)), ids_of(items), LIMIT_BOUNDS)
    expect_equal("a next_cursor", more, cursor is not None, help=LOOK_AHEAD)


async def test_limit_out_of_bounds(exercise, database_url):
    """a limit that is not a whole number from 1 to 100 answers 422"""
    async with running(exercise.app) as (client, state):
        await seed(exercise, state, MIXED)
        for limit in [0, -1, 101, "ten", "", "2.5"]:
            response = await get_page(client, limit)
            if response.status_code != 422:
                message = f"expected status 422 for limit={limit!r}, not {response.status_code}"
                raise Failure(message, help=LIMIT_BOUNDS)


@pytest.mark.parametrize("limit", [1, 100])
async def test_limit_at_the_bounds(exercise, database_url, limit):
    """a limit of 1 and a limit of 100 are both served"""
    async with running(exercise.app) as (client, state):
        await seed(exercise, state, many(101))
        items, cursor = await read_page(client, limit)
    expect_count(limit, items)
    expect_ids("event ids", list(range(101, 101 - limit, -1)), ids_of(items), LIMIT_BOUNDS)
    expect(cursor is not None, "expected a next_cursor: more events follow", help=LOOK_AHEAD)


async def test_walk_visits_every_event_once(exercise, database_url):
    """following next_cursor visits every event once, in order, and the last page's is null"""
    async with running(exercise.app) as (client, state):
        await seed(exercise, state, MIXED)
        for limit in [1, 2, 3, 4, 5]:
            expect_pages(chunks(MIXED_ORDER, limit), await walk(client, limit), limit)


async def test_ties_straddle_the_page_boundary(exercise, database_url):
    """events that share a created_at across a page boundary are neither skipped nor repeated"""
    same = [(n, at(30), f"retry {n}") for n in range(1, 8)]
    rows = [*same, (8, at(29, 999_999), "gave up"), (9, at(30, 1), "started")]
    async with running(exercise.app) as (client, state):
        await seed(exercise, state, rows)
        pages = await walk(client, 3)
    expect_pages([[9, 7, 6], [5, 4, 3], [2, 1, 8]], pages, 3)


async def test_cursor_keeps_microseconds(exercise, database_url):
    """events a microsecond apart come in their order across pages"""
    # ids run against time, so a position cut to the second lands on the wrong side
    rows = [(n, at(7, 5 - n), f"tick {n}") for n in range(1, 6)]
    async with running(exercise.app) as (client, state):
        await seed(exercise, state, rows)
        pages = await walk(client, 1)
    help = MICROSECONDS if pages[:1] == [[1]] else ORDER
    expect_ids("pages of event ids with limit=1", [[1], [2], [3], [4], [5]], pages, help)


async def test_changes_ahead_of_the_cursor_do_not_shift_pages(exercise, database_url):
    """events added or removed ahead of a cursor do not shift the next page; those behind show"""
    async with running(exercise.app) as (client, state):
        await seed(exercise, state, MIXED)
        items, cursor = await read_page(client, 3)
        expect_ids("event ids", [5, 1, 9], ids_of(items), ORDER)
        expect(cursor is not None, "expected a next_cursor: seven more events follow")
        # 9, the last event sent, goes; two arrive ahead of the cursor's place, one behind it
        await remove(exercise, state, [9])
        ahead = [(11, at(60), "hotfix"), (12, at(40), "review approved again")]
        await seed(exercise, state, [*ahead, (13, at(35), "coverage uploaded")])
        items, _ = await read_page(client, 3, cursor)
    actual = ids_of(items)
    help = SHIFT if actual == [12, 13, 8] else TIES
    expect_ids("event ids on the second page", [13, 8, 4], actual, help)


async def test_cursor_does_not_fix_the_limit(exercise, database_url):
    """the page after a cursor has the size its own request asks for"""
    async with running(exercise.app) as (client, state):
        await seed(exercise, state, MIXED)
        _, cursor = await read_page(client, 2)
        expect(cursor is not None, "expected a next_cursor: eight more events follow")
        items, _ = await read_page(client, 5, cursor)
    expect_ids("event ids on the second page", [9, 8, 4, 3, 6], ids_of(items))


async def test_one_statement_per_page(exercise, database_url):
    """every page, however deep, is one SQL statement with a LIMIT"""
    async with running(exercise.app) as (client, state):
        await seed(exercise, state, many(60))
        cursor, depth = None, 0
        while True:
            with count_statements() as statements:
                _, cursor = await read_page(client, 5, cursor)
            depth += 1
            sent = f"page {depth} sent:\n{statements.listing()}"
            if statements.count != 1:
                message = f"expected 1 SQL statement per page, not {statements.count}; {sent}"
                raise Failure(message, help=ONE_STATEMENT if statements.count else EMPTY)
            has_limit = "LIMIT" in statements.sql[0].upper()
            expect(has_limit, f"expected a LIMIT in the statement; {sent}", help=ONE_STATEMENT)
            if cursor is None:
                break
            expect(depth < 12, "expected the twelfth page of five to be the last", help=LOOK_AHEAD)
    expect_equal("pages read", 12, depth, help=LOOK_AHEAD)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


UNSIGNED = {
    "empty": "",
    "not a cursor": "not-a-cursor",
    "a dot": ".",
    "not ASCII": "événement.é",
    "an unsigned JSON list": b64(json.dumps(["2025-03-01T09:00:40", 9]).encode()),
    "an unsigned JSON object": b64(
        json.dumps({"created_at": "2025-03-01T09:00:40", "id": 9}).encode()
    ),
    "a JSON list with a made-up signature": b64(b'["2025-03-01T09:00:40", 9]') + "." + "A" * 43,
    "a plain position": "2025-03-01T09:00:40,9",
}


async def expect_refused(client: httpx.AsyncClient, cursor: str, how: str, help: str) -> None:
    response = await get_page(client, 3, cursor)
    if response.status_code != 400:
        message = f"expected status 400 for {how}, not {response.status_code}"
        raise Failure(message, help=help)
    expect_header(response, "content-type", PROBLEM_JSON)
    expect_json(response, INVALID_CURSOR)


async def test_unsigned_cursor_is_refused(exercise, database_url):
    """a cursor the app did not sign answers 400 with the invalid-cursor problem"""
    async with running(exercise.app) as (client, state):
        await seed(exercise, state, MIXED)
        for how, cursor in UNSIGNED.items():
            help = TRUTHY if cursor == "" else SIGNED
            await expect_refused(client, cursor, f"a cursor that is {how} ({cursor!r})", help)


def changed(cursor: str) -> dict[str, str]:
    first = "B" if cursor[0] == "A" else "A"
    return {
        "its first character changed": first + cursor[1:],
        "its last character dropped": cursor[:-1],
    }


async def test_changed_cursor_is_refused(exercise, database_url):
    """a cursor cut short or with a character changed answers 400 with the invalid-cursor problem"""
    async with running(exercise.app) as (client, state):
        await seed(exercise, state, MIXED)
        _, cursor = await read_page(client, 3)
        expect(cursor is not None, "expected a next_cursor: seven more events follow")
        for how, bad in changed(cursor).items():
            await expect_refused(client, bad, f"a cursor with {how}", SIGNED)


async def test_cursor_survives_a_restart(exercise, database_url):
    """a cursor stays valid when the app restarts in a new process, with the same secret"""
    async with running(exercise.app) as (client, state):
        await seed(exercise, state, MIXED)
        _, cursor = await read_page(client, 3)
    expect(cursor is not None, "expected a next_cursor: seven more events follow")
    restarted = load_copy(Path(exercise.__file__))  # a fresh module: nothing kept in memory
    async with running(restarted.app) as (client, _):
        response = await get_page(client, 3, cursor)
    expect_status(response, 200, help=SELF_CONTAINED)
    expect_ids("event ids", [8, 4, 3], ids_of(response_json(response)["items"]))


async def test_cursor_of_another_secret_is_refused(exercise, database_url, monkeypatch):
    """a cursor signed under another CURSOR_SECRET answers 400"""
    async with running(exercise.app) as (client, state):
        await seed(exercise, state, MIXED)
        _, cursor = await read_page(client, 3)
    expect(cursor is not None, "expected a next_cursor: seven more events follow")
    with monkeypatch.context() as patch:
        patch.setattr(exercise, "CURSOR_SECRET", OTHER_SECRET)
        async with running(exercise.app) as (client, _):
            response = await get_page(client, 3, cursor)
    expect_status(response, 400, help=OTHER_KEY)
    expect_json(response, INVALID_CURSOR)


async def test_cursor_signed_with_the_current_secret(exercise, database_url, monkeypatch):
    """cursors are signed under the CURSOR_SECRET of the running app"""
    monkeypatch.setattr(exercise, "CURSOR_SECRET", OTHER_SECRET)
    async with running(exercise.app) as (client, state):
        await seed(exercise, state, MIXED)
        _, cursor = await read_page(client, 3)
        expect(cursor is not None, "expected a next_cursor: seven more events follow")
        items, _ = await read_page(client, 3, cursor)
    expect_ids("event ids on the second page", [8, 4, 3], ids_of(items), OTHER_KEY)


async def test_bad_limit_wins_over_bad_cursor(exercise, database_url):
    """a bad limit answers 422 even when the cursor is bad too"""
    async with running(exercise.app) as (client, state):
        await seed(exercise, state, MIXED)
        response = await get_page(client, 0, "not-a-cursor")
    help = VALIDATION_FIRST if response.status_code == 400 else LIMIT_BOUNDS
    expect_status(response, 422, help=help)


@pytest.mark.stub_may_pass("the lifespan is given")
async def test_database_from_the_environment(exercise, database_url):
    """the app keeps its events in the database DATABASE_URL names, and closes it at shutdown"""
    async with running(exercise.app) as (client, state):
        engine = state["engine"]
        url = engine.url.render_as_string(hide_password=False)
        expect_equal("the engine's database", database_url, url, help=DATABASE_HELP)
        expect_status(await get_page(client), 200)
    expect_equal(
        "connections left open after shutdown", 0, engine.pool.checkedin(), help=DATABASE_HELP
    )
