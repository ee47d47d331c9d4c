"""Hidden suite for 15_graphql/03_dataloader: books and authors in a fixed number of statements.

Every check starts the app on a fresh, empty database of its own (the `database_url`
fixture) and fills the tables `authors` and `books` itself, through the engine in the
app's lifespan state. Queries are POSTed to /graphql as JSON. `count_statements` counts
what every engine sends while one request runs. Names and titles are capitalised single
words, so that SQLite and PostgreSQL sort them alike, in an order unlike their ids: the
books sorted by title ask for their authors in an order unlike the authors' ids.
"""

import gc
import textwrap
import warnings
from collections import Counter
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import text

from workbook.services import count_statements
from workbook.testing import (
    Failure,
    expect,
    expect_equal,
    expect_status,
    response_json,
    running,
)

SIZES = (1, 5, 25)
AUTHORS = 25
BOOKS = 25
WRITERS = 13  # books are written by authors 1 to 13 only, several books each at 25 books
UNKNOWN = 99

BOOKS_AND_AUTHORS = "{ books { id title author { id name } } }"
BOOKS_ALONE = "{ books { id title } }"

SERVER_ERROR = "A 500 means the GraphQL route itself failed: does the context getter work?"
N_PLUS_ONE = (
    "The count grows with the books: does Book.author send a query of its own for each book "
    "(session.get in the resolver, or a DataLoader made inside it)? Load through the one "
    "DataLoader of the request's context: it gathers every key asked in one pass."
)
NOT_TWO = (
    "Exactly 2 statements are expected: one for the books, one for all their authors, sent "
    "by the DataLoader's batch function. Are the authors loaded some other way?"
)
JOINED = (
    "One statement for the books and their authors: are the authors joined to the books' "
    "query? The contract asks for them through the DataLoader, only when a query asks for "
    "them."
)
EAGER = (
    "A query that does not ask for authors should not load them: does the books resolver "
    "load authors itself? Leave that to Book.author and its DataLoader."
)
ORDER = (
    "A DataLoader pairs the answers with the keys by position: does load_authors answer in "
    "the order the database returns the rows? Index the rows by id, then answer one item "
    "per id, in the order of the ids."
)
MISSING = (
    "One missing author must not fail the others: does load_authors look every id up with "
    "found[id]? Use found.get(id), which gives None for an id with no row."
)
BATCHED = (
    "Several author(id:) fields in one query should share one statement: does the root "
    "author field use the request's DataLoader, or a query of its own?"
)
STALE = (
    "The second request saw what the first one loaded: is the DataLoader made once (in the "
    "lifespan or at import) and shared by every request? Its cache would then live forever: "
    "make a new one in the context getter, per request."
)


@pytest.fixture
def app(exercise: ModuleType) -> Any:
    return exercise.app


def author_name(author_id: int) -> str:
    """Names that sort in another order than their ids: the first letters are a shuffle."""
    return chr(ord("A") + author_id * 7 % 26) + "orsk"


def book_title(book_id: int) -> str:
    return chr(ord("A") + book_id * 11 % 26) + "ndor"


def writer(book_id: int) -> int:
    """The author of a book: 13 authors write the 25 books, the first 13 each by another."""
    return book_id * 7 % WRITERS + 1


ALL_AUTHORS = [{"id": n, "name": author_name(n)} for n in range(1, AUTHORS + 1)]
ALL_BOOKS = [{"id": n, "title": book_title(n), "author_id": writer(n)} for n in range(1, BOOKS + 1)]


def author_out(author_id: int) -> dict[str, Any]:
    return {"id": author_id, "name": author_name(author_id)}


def books_body(size: int) -> dict[str, Any]:
    """The answer to BOOKS_AND_AUTHORS with books 1 to ``size`` stored."""
    ordered = sorted(ALL_BOOKS[:size], key=lambda book: book["title"])
    books = [
        {"id": book["id"], "title": book["title"], "author": author_out(book["author_id"])}
        for book in ordered
    ]
    return {"data": {"books": books}}


async def fill_authors(state: dict[str, Any]) -> None:
    expect("engine" in state, 'expected the lifespan state to hold "engine"')
    async with state["engine"].begin() as connection:
        insert = text("INSERT INTO authors (id, name) VALUES (:id, :name)")
        await connection.execute(insert, ALL_AUTHORS)


async def fill_books(state: dict[str, Any], size: int, done: int = 0) -> None:
    """Store books ``done + 1`` to ``size``, as another client would."""
    async with state["engine"].begin() as connection:
        insert = text("INSERT INTO books (id, title, author_id) VALUES (:id, :title, :author_id)")
        await connection.execute(insert, ALL_BOOKS[done:size])


async def ask(client: Any, query: str) -> Any:
    """POST ``query`` to /graphql: the decoded answer."""
    response = await client.post("/graphql", json={"query": query})
    expect_status(response, 200, help=SERVER_ERROR)
    return response_json(response)


async def counted_ask(client: Any, query: str) -> tuple[Any, Any]:
    """POST ``query``: the answer and the statements sent while it was served."""
    with count_statements() as statements:
        answer = await ask(client, query)
    return answer, statements


def sent(statements: Any) -> str:
    """The statements sent, each different one once with how many times it was sent."""
    counts = Counter(" ".join(sql.split()) for sql in statements.sql)
    lines = [
        f"  {'once' if n == 1 else f'{n} times'}: {textwrap.shorten(sql, 80, placeholder=' ...')}"
        for sql, n in counts.items()
    ]
    return "the statements sent:\n" + "\n".join(lines[:8])


def expect_answer(what: str, expected: Any, answer: Any, help: str | None = None) -> None:
    """The whole answer, data and (absent) errors alike."""
    if help is None and isinstance(answer, dict) and answer.get("errors"):
        messages = [str(error.get("message")) for error in answer["errors"]]
        if any("wrong number of results" in message for message in messages):
            help = ORDER  # the batch answered fewer items than keys
        elif any(message in (str(UNKNOWN), "KeyError") for message in messages):
            help = MISSING  # a KeyError's message is the key alone
    expect_equal(what, expected, answer, help=help)


def expect_count(what: str, expected: int, statements: Any, help: str) -> None:
    if statements.count != expected:
        raise Failure(
            f"expected {expected} statement{'s' if expected > 1 else ''} for {what}, "
            f"not {statements.count}; " + sent(statements),
            help=help,
        )


# -- books with their authors -------------------------------------------------------------


@pytest.mark.stub_may_pass("the stub answers right, one query per book")
async def test_books_with_their_authors(app, database_url):
    """books lists the books by title, each with its author"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill_authors(state)
        answer = await ask(client, BOOKS_AND_AUTHORS)
        expect_answer("answer with no book", {"data": {"books": []}}, answer)
        await fill_books(state, 9)
        answer = await ask(client, BOOKS_AND_AUTHORS)
        expect_answer("answer with 9 books", books_body(9), answer)


async def test_books_and_authors_in_two_statements(app, database_url):
    """books with their authors cost exactly 2 statements, at 1, 5 and 25 books"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill_authors(state)
        counts: dict[int, int] = {}
        done = 0
        for size in SIZES:
            await fill_books(state, size, done)
            done = size
            answer, statements = await counted_ask(client, BOOKS_AND_AUTHORS)
            expect_answer(f"answer with {size} books", books_body(size), answer, help=ORDER)
            counts[size] = statements.count
            grows = len(set(counts.values())) > 1
            help = N_PLUS_ONE if grows else JOINED if statements.count == 1 else NOT_TWO
            expect_count(f"the books and their authors with {size} books", 2, statements, help)


@pytest.mark.stub_may_pass("the stub loads no author when none is asked for")
async def test_books_alone_in_one_statement(app, database_url):
    """books without their authors cost 1 statement: no author is loaded"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill_authors(state)
        await fill_books(state, 5)
        answer, statements = await counted_ask(client, BOOKS_ALONE)
        books = sorted(ALL_BOOKS[:5], key=lambda book: book["title"])
        expected = {"data": {"books": [{"id": b["id"], "title": b["title"]} for b in books]}}
        expect_answer("answer", expected, answer)
        expect_count("books without their authors", 1, statements, EAGER)


@pytest.mark.stub_may_pass("with no book there is no author to load")
async def test_no_book_in_one_statement(app, database_url):
    """books with their authors cost 1 statement when there is no book"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill_authors(state)
        answer, statements = await counted_ask(client, BOOKS_AND_AUTHORS)
        expect_answer("answer with no book", {"data": {"books": []}}, answer)
        expect_count("no book", 1, statements, EAGER)


# -- authors by id ------------------------------------------------------------------------


@pytest.mark.stub_may_pass("the stub finds one author by id already")
@pytest.mark.parametrize("author_id", [3, 25, UNKNOWN], ids=["three", "last", "unknown"])
async def test_one_author(app, database_url, author_id):
    """author(id:) answers that author, or null with no error when there is none"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill_authors(state)
        answer = await ask(client, f"{{ author(id: {author_id}) {{ id name }} }}")
        found = author_out(author_id) if author_id <= AUTHORS else None
        expect_answer(f"answer for author {author_id}", {"data": {"author": found}}, answer)


async def test_authors_by_id_in_one_statement(app, database_url):
    """several author(id:) fields share 1 statement, each answered right, null when unknown"""
    asked = {"a": 24, "b": UNKNOWN, "c": 3, "d": 24, "e": 1}
    query = "{ " + " ".join(f"{key}: author(id: {n}) {{ id name }}" for key, n in asked.items())
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill_authors(state)
        answer, statements = await counted_ask(client, query + " }")
    data = {key: author_out(n) if n <= AUTHORS else None for key, n in asked.items()}
    expect_answer(f"answer to {query} }}", {"data": data}, answer)
    expect_count("five author(id:) fields", 1, statements, BATCHED)


# -- one loader per request ---------------------------------------------------------------


@pytest.mark.stub_may_pass("the stub has no DataLoader, so nothing outlives a request")
async def test_a_change_between_requests_is_seen(app, database_url):
    """a request sees what changed since the one before: no loader outlives its request"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill_authors(state)
        await fill_books(state, 5)
        expect_answer("first answer", books_body(5), await ask(client, BOOKS_AND_AUTHORS))
        first = await ask(client, "{ author(id: 3) { name } }")
        expect_answer("author 3", {"data": {"author": {"name": author_name(3)}}}, first)
        async with state["engine"].begin() as connection:
            rename = "UPDATE authors SET name = 'Renamed' WHERE id IN (3, :writer)"
            await connection.execute(text(rename), {"writer": writer(1)})
        second = await ask(client, "{ author(id: 3) { name } }")
        renamed = {"data": {"author": {"name": "Renamed"}}}
        expect_answer("author 3 once renamed", renamed, second, help=STALE)
        expected = books_body(5)
        for book in expected["data"]["books"]:
            if book["author"]["id"] in (3, writer(1)):
                book["author"]["name"] = "Renamed"
        answer = await ask(client, BOOKS_AND_AUTHORS)
        expect_answer("books once their author is renamed", expected, answer, help=STALE)


# -- the batch function -------------------------------------------------------------------


@pytest.mark.parametrize(
    "ids",
    [[3, 1, 2], [25, UNKNOWN, 7, 2], [UNKNOWN, 5, 5, 0], [UNKNOWN]],
    ids=["reversed", "one-unknown", "twice-and-zero", "only-unknown"],
)
async def test_load_authors(exercise: ModuleType, app, database_url, ids):
    """load_authors answers one author per id in the order of the ids, None for an unknown id"""
    async with running(app) as (_, state):
        await fill_authors(state)
        expect("sessions" in state, 'expected the lifespan state to hold "sessions"')
        async with state["sessions"]() as session:
            with count_statements() as statements:
                try:
                    found = await exercise.load_authors(session, ids)
                except Exception as error:
                    raise Failure(
                        f"expected load_authors(session, {ids}) to answer, not to raise "
                        f"{type(error).__name__}: {error}",
                        help=MISSING,
                    ) from None
    got = [None if author is None else author_out_of(author) for author in found]
    expected = [author_out(n) if 1 <= n <= AUTHORS else None for n in ids]
    expect_equal(f"load_authors(session, {ids})", expected, got, help=ORDER)
    expect_count(f"load_authors(session, {ids})", 1, statements, N_PLUS_ONE)


def author_out_of(author: Any) -> Any:
    """What an answered author holds: its id and name, or what it is instead."""
    try:
        return {"id": author.id, "name": author.name}
    except AttributeError:
        return repr(author)


# -- the given lifespan -------------------------------------------------------------------

GIVEN = (
    "The lifespan is given as module 09 built it: sessions made with expire_on_commit=False, "
    "and the engine disposed of after the yield. Has it changed?"
)


@pytest.mark.stub_may_pass("the lifespan is given code")
async def test_the_given_lifespan(exercise: ModuleType, app, database_url):
    """the lifespan still works as given: values kept after a commit, the engine disposed of"""
    async with running(app) as (_, state):
        async with state["sessions"]() as session:
            author = exercise.AuthorRow(name="Borges")
            session.add(author)
            await session.commit()
            with warnings.catch_warnings(), count_statements() as statements:
                warnings.simplefilter("ignore", RuntimeWarning)  # the coroutine a reload left
                try:
                    name = author.name
                except Exception as error:
                    name = type(error).__name__
                    gc.collect()
        expect_equal("a committed author's name, read with no SQL", "Borges", name, help=GIVEN)
        expect_equal("statements sent to read it", 0, statements.count, help=GIVEN)
        engine = state["engine"]
    expect_equal(
        "connections left in the pool after shutdown", 0, engine.pool.checkedin(), help=GIVEN
    )
