"""Hidden suite for 09_async_sqlalchemy/02_kill_the_n_plus_one: a fixed number of queries.

Every check starts the app on a fresh, empty database of its own (the `database_url`
fixture) and fills the tables `authors` and `books` itself, through the engine in the
app's lifespan state. `count_statements` counts what every engine sends while one request
runs. The library's names and titles are capitalised single words, so that SQLite and
PostgreSQL (whatever its collation) sort them alike, in an order unlike their ids.
"""

import gc
import textwrap
import warnings
from collections import Counter
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import InvalidRequestError, MissingGreenlet

from workbook.services import count_statements
from workbook.testing import (
    Failure,
    expect,
    expect_equal,
    expect_json,
    expect_status,
    running,
)

SIZES = (1, 5, 25)
MOST = 2
AUTHORS = 25

N_PLUS_ONE = (
    "The count grows with the data: is there one more query for each author (a relationship "
    "loaded or awaited in a loop)? Load it on the route's own query with an eager-loading "
    "option: selectinload for a list of books, joinedload (or selectinload) for one author."
)
TOO_MANY = (
    "More than 2 statements even for one item: does the route send a query of its own per "
    "relationship? One query for the rows, one more at most for what they relate to."
)
SERVER_ERROR = (
    "A 500 here often means a relationship was read without being loaded (lazy='raise' says "
    "so in the server's log), or a joined collection without .unique() on the result."
)
NOT_RAISE = (
    'Is the relationship declared with lazy="raise"? Then reading it on an object whose '
    "query did not load it raises InvalidRequestError at once, and sends no SQL."
)
LAZY_LOAD = (
    "The relationship tried to load itself, which async code cannot do without an await "
    '(MissingGreenlet): declare it lazy="raise" so that a forgotten option fails clearly.'
)


@pytest.fixture
def app(exercise: ModuleType) -> Any:
    return exercise.app


GIVEN = (
    "The lifespan is given as exercise 01 built it: sessions made with expire_on_commit=False, "
    "and the engine disposed of after the yield. Has it changed?"
)


def author_name(author_id: int) -> str:
    """Names that sort in another order than their ids: the first letters are a shuffle."""
    return chr(ord("A") + author_id * 7 % 26) + "orsk"


def book_title(book_id: int) -> str:
    return chr(ord("A") + book_id * 11 % 26) + chr(ord("a") + book_id // 26) + "ndor"


def make_library() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """25 authors with 0 to 3 books each (author 4 has none), books numbered in order."""
    authors = [{"id": n, "name": author_name(n)} for n in range(1, AUTHORS + 1)]
    books: list[dict[str, Any]] = []
    for author in authors:
        for _ in range(author["id"] % 4):
            book_id = len(books) + 1
            books.append({"id": book_id, "title": book_title(book_id), "author_id": author["id"]})
    return authors, books


ALL_AUTHORS, ALL_BOOKS = make_library()


def authors_up_to(size: int) -> list[dict[str, Any]]:
    return [author for author in ALL_AUTHORS if author["id"] <= size]


def books_up_to(size: int) -> list[dict[str, Any]]:
    return [book for book in ALL_BOOKS if book["author_id"] <= size]


def book_out(book: dict[str, Any]) -> dict[str, Any]:
    return {"id": book["id"], "title": book["title"]}


def author_out(author: dict[str, Any]) -> dict[str, Any]:
    """An author as GET /authors answers it: with their books, ordered by title."""
    books = [book for book in ALL_BOOKS if book["author_id"] == author["id"]]
    ordered = sorted(books, key=lambda book: book["title"])
    return {**author, "books": [book_out(book) for book in ordered]}


def authors_body(size: int) -> list[dict[str, Any]]:
    ordered = sorted(authors_up_to(size), key=lambda author: author["name"])
    return [author_out(author) for author in ordered]


def books_body(size: int) -> list[dict[str, Any]]:
    names = {author["id"]: author["name"] for author in ALL_AUTHORS}
    ordered = sorted(books_up_to(size), key=lambda book: book["title"])
    return [
        {**book_out(book), "author": {"id": book["author_id"], "name": names[book["author_id"]]}}
        for book in ordered
    ]


async def fill(state: dict[str, Any], size: int, done: int = 0) -> None:
    """Store authors ``done + 1`` to ``size`` and their books, as another client would."""
    authors = [author for author in authors_up_to(size) if author["id"] > done]
    books = [book for book in books_up_to(size) if book["author_id"] > done]
    expect("engine" in state, 'expected the lifespan state to hold "engine"')
    async with state["engine"].begin() as connection:
        insert_author = text("INSERT INTO authors (id, name) VALUES (:id, :name)")
        await connection.execute(insert_author, authors)
        if books:
            insert_book = (
                "INSERT INTO books (id, title, author_id) VALUES (:id, :title, :author_id)"
            )
            await connection.execute(text(insert_book), books)


async def counted_get(client: Any, path: str) -> tuple[Any, Any]:
    """GET ``path``: the response and the statements sent while it was served."""
    with count_statements() as statements:
        response = await client.get(path)
    help = SERVER_ERROR if response.status_code == 500 else None
    expect_status(response, 200, help=help)
    return response, statements


def sent(statements: Any) -> str:
    """The statements sent, each different one once with how many times it was sent."""
    counts = Counter(" ".join(sql.split()) for sql in statements.sql)
    lines = [
        f"  {'once' if n == 1 else f'{n} times'}: {textwrap.shorten(sql, 80, placeholder=' ...')}"
        for sql, n in counts.items()
    ]
    return "the statements sent:\n" + "\n".join(lines[:8])


def expect_at_most(statements: Any, what: str) -> None:
    if statements.count > MOST:
        raise Failure(
            f"expected at most {MOST} statements for {what}, not {statements.count}; "
            + sent(statements),
            help=TOO_MANY,
        )


async def expect_fixed_count(client: Any, state: dict[str, Any], path: str, body: Any) -> None:
    """At 1, 5 and 25 authors: the right answer, in the same number of statements, at most 2."""
    counts: dict[int, int] = {}
    done = 0
    for size in SIZES:
        await fill(state, size, done)
        done = size
        response, statements = await counted_get(client, path)
        expect_json(response, body(size))
        counts[size] = statements.count
        if statements.count > MOST:
            help = N_PLUS_ONE if len(set(counts.values())) > 1 else TOO_MANY
            raise Failure(
                f"expected at most {MOST} statements for GET {path} with {size} authors, "
                f"not {statements.count}; " + sent(statements),
                help=help,
            )
    expect(
        len(set(counts.values())) == 1,
        f"expected the same number of statements for GET {path} at every size, not {counts}",
        help=N_PLUS_ONE,
    )


# -- GET /authors -------------------------------------------------------------------------


@pytest.mark.stub_may_pass("the stub answers right, one query per author")
async def test_authors_with_their_books(app, database_url):
    """GET /authors lists the authors by name, each with their books by title"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        response = await client.get("/authors")
        expect_status(response, 200, help=SERVER_ERROR)
        expect_json(response, [])
        await fill(state, 5)
        response = await client.get("/authors")
        expect_status(response, 200, help=SERVER_ERROR)
        expect_json(response, authors_body(5))


async def test_authors_in_a_fixed_number_of_statements(app, database_url):
    """GET /authors sends at most 2 statements, the same for 1, 5 and 25 authors"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await expect_fixed_count(client, state, "/authors", authors_body)


# -- GET /authors/{id} --------------------------------------------------------------------


@pytest.mark.stub_may_pass("one author's books cost one query in the stub too")
@pytest.mark.parametrize("author_id", [3, 2, 4], ids=["three-books", "two-books", "no-book"])
async def test_one_author_with_their_books(app, database_url, author_id):
    """GET /authors/{id} answers the author with their books, in at most 2 statements"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state, 9)
        response, statements = await counted_get(client, f"/authors/{author_id}")
        expect_json(response, author_out(ALL_AUTHORS[author_id - 1]))
        expect_at_most(statements, f"GET /authors/{author_id}")


@pytest.mark.stub_may_pass("the stub answers 404 for an unknown author already")
async def test_unknown_author(app, database_url):
    """GET /authors/{id} answers 404 for an author that does not exist"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state, 5)
        response = await client.get("/authors/6")
        expect_status(response, 404)
        expect_json(response, {"detail": "Author 6 not found."})


# -- GET /books ---------------------------------------------------------------------------


@pytest.mark.stub_may_pass("the stub answers right, one query per author")
async def test_books_with_their_author(app, database_url):
    """GET /books lists the books by title, each with its author"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        response = await client.get("/books")
        expect_status(response, 200, help=SERVER_ERROR)
        expect_json(response, [])
        await fill(state, 5)
        response = await client.get("/books")
        expect_status(response, 200, help=SERVER_ERROR)
        expect_json(response, books_body(5))


async def test_books_in_a_fixed_number_of_statements(app, database_url):
    """GET /books sends at most 2 statements, the same for the books of 1, 5 and 25 authors"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await expect_fixed_count(client, state, "/books", books_body)


# -- lazy="raise" -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "relationship", "row_id"),
    [("Author", "books", 3), ("Book", "author", 2)],
    ids=["Author.books", "Book.author"],
)
async def test_relationship_raises_when_not_loaded(
    exercise: ModuleType, app, database_url, model, relationship, row_id
):
    """a relationship no query loaded raises InvalidRequestError at once, sending no SQL"""
    async with running(app) as (_, state):
        await fill(state, 5)
        expect("sessions" in state, 'expected the lifespan state to hold "sessions"')
        async with state["sessions"]() as session:
            row = await session.get(getattr(exercise, model), row_id)
            expect(row is not None, f"expected {model} {row_id} to be found")
            got = ""  # what reading it did instead of raising InvalidRequestError
            lazy_load = False
            with warnings.catch_warnings(), count_statements() as statements:
                warnings.simplefilter("ignore", RuntimeWarning)  # the coroutine a lazy load left
                try:
                    got = f"to give {getattr(row, relationship)!r}"
                except InvalidRequestError as error:
                    lazy_load = isinstance(error, MissingGreenlet)
                except Exception as error:
                    lazy_load = isinstance(getattr(error, "orig", None), MissingGreenlet)
                    got = f"to raise {type(error).__name__}"
                if lazy_load:
                    got = "to try a lazy load"
                    gc.collect()
    what = f"{model}.{relationship}"
    help = LAZY_LOAD if lazy_load else NOT_RAISE
    expect(not got, f"expected reading {what} to raise InvalidRequestError, not {got}", help=help)
    expect_equal(f"statements sent by reading {what}", 0, statements.count, help=NOT_RAISE)


# -- the given lifespan -------------------------------------------------------------------


@pytest.mark.stub_may_pass("the lifespan is given code")
async def test_the_given_lifespan(exercise: ModuleType, app, database_url):
    """the lifespan still works as given: values kept after a commit, the engine disposed of"""
    async with running(app) as (_, state):
        async with state["sessions"]() as session:
            author = exercise.Author(name="Borges")
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
