"""Hidden suite for 15_graphql/01_one_service_two_apis: one service, two front doors.

Every check starts the app on a fresh, empty database of its own (the `database_url`
fixture: a SQLite file, or a PostgreSQL database when DATABASE_URL names a server), lets the
app's lifespan create the tables, and seeds them through an engine of its own. The expected
lists are computed here from the seeded rows by the contract's rules (filter, order by
published_year then id, first `limit`); the GraphQL side is compared with the same rows under
the stated name mapping (snake_case in REST, camelCase in GraphQL).
"""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool, Pool

from workbook.testing import (
    Failure,
    expect,
    expect_equal,
    expect_json,
    expect_status,
    response_json,
    running,
)

DEFAULT_LIMIT = 20
MAX_LIMIT = 50
LIMIT_MESSAGE = "limit must be between 1 and 50"
FIELDS = ["id", "title", "published_year", "author_id", "author_name"]
GRAPHQL_FIELDS = "id title publishedYear authorId authorName"

AUTHORS = [(1, "Ursula K. Le Guin"), (2, "Italo Calvino"), (3, "Jorge Luis Borges"), (4, "Nobody")]
# ids out of year order, and two pairs of books from the same year: the order is
# published_year, then id, whatever order the rows were stored in
SMALL = [
    (1, "The Dispossessed", 1974, 1),
    (2, "Invisible Cities", 1972, 2),
    (3, "Ficciones", 1944, 3),
    (4, "The Left Hand of Darkness", 1969, 1),
    (5, "If on a winter's night a traveler", 1979, 2),
    (6, "The Baron in the Trees", 1957, 2),
    (7, "Labyrinths", 1962, 3),
    (8, "Planet of Exile", 1966, 1),
    (9, "Rocannon's World", 1966, 1),
    (10, "Cosmicomics", 1965, 2),
    (11, "The Aleph", 1944, 3),
]
LARGE = [(n, f"Volume {n}", 1900 + (n * 37) % 100, 1 + n % 3) for n in range(1, 61)]
DATASETS = {"empty": [], "small": SMALL, "sixty-books": LARGE}
# (author_id, limit); None leaves the argument out
QUERIES = [
    (None, None),
    (None, 1),
    (None, 5),
    (None, 50),
    (1, None),
    (2, None),
    (3, 2),
    (2, 7),
    (4, None),
    (0, None),
    (99, 3),
]

NOT_MOUNTED = (
    "Nothing answers POST /graphql: is a GraphQLRouter for the schema included in the app "
    'at "/graphql" (app.include_router(router, prefix="/graphql"), or path="/graphql")?'
)
CAMEL_CASE = (
    "GraphQL names the fields in camelCase (publishedYear, authorId, authorName) and the "
    "argument authorId: does the schema keep Strawberry's automatic camelCase conversion?"
)
DIFFERENT = (
    "The GraphQL door answered otherwise than the contract (and REST): does the resolver "
    "call the service's list_books with the same arguments, rather than query on its own?"
)
NOT_SERVICE = (
    "Does list_books run the query itself (the join with authors, the author filter, the "
    "order by published_year then id, and the limit) and return BookOut models?"
)
SERVICE_LIMIT = (
    "The rule on limit belongs to the service, so both doors enforce it: does list_books "
    'raise ValueError("limit must be between 1 and 50") before it queries?'
)
NULL_NOT_ERROR = (
    "An unknown id is not an error in GraphQL: does the book resolver return None when "
    "get_book finds nothing, so that the field is null and the errors list is absent?"
)
DEFAULT = "Both doors default limit to 20 (DEFAULT_LIMIT): is it the default in each of them?"
GRAPHIQL = "GraphiQL is off: is the GraphQLRouter made with graphql_ide=None?"
NOT_DISPOSED = (
    "Connections stayed open after the app shut down: does the lifespan (given) still "
    "dispose of the engine (await engine.dispose()) after its yield?"
)
ZERO_ID = (
    "authorId 0 is an author id like any other (no author has it): is the filter applied "
    "when author_id is not None, rather than when it is truthy?"
)


# -- data ----------------------------------------------------------------------------------


async def seed(url: str, books: list[tuple[int, str, int, int]]) -> None:
    """Store the authors and ``books`` through a connection of the checks' own."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO authors (id, name) VALUES (:id, :name)"),
                [{"id": id_, "name": name} for id_, name in AUTHORS],
            )
            if books:
                await connection.execute(
                    text(
                        "INSERT INTO books (id, title, published_year, author_id) "
                        "VALUES (:id, :title, :year, :author)"
                    ),
                    [
                        {"id": id_, "title": title, "year": year, "author": author}
                        for id_, title, year, author in reversed(books)
                    ],
                )
    finally:
        await engine.dispose()


@asynccontextmanager
async def session_on(url: str) -> AsyncIterator[AsyncSession]:
    """A session of the checks' own on the check's database, for calling the service."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with async_sessionmaker(engine)() as session:
            yield session
    finally:
        await engine.dispose()


def row(book: tuple[int, str, int, int]) -> dict[str, Any]:
    id_, title, year, author = book
    name = dict(AUTHORS)[author]
    return dict(zip(FIELDS, (id_, title, year, author, name), strict=True))


def expected_list(books: list[tuple[int, str, int, int]], author_id: int | None, limit: int | None):
    chosen = [book for book in books if author_id is None or book[3] == author_id]
    chosen.sort(key=lambda book: (book[2], book[0]))
    return [row(book) for book in chosen[: limit or DEFAULT_LIMIT]]


def camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def as_graphql(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{camel(key): value for key, value in item.items()} for item in rows]


def described(author_id: int | None, limit: int | None) -> str:
    parts = [f"author_id={author_id}" if author_id is not None else ""]
    parts.append(f"limit={limit}" if limit is not None else "")
    return ", ".join(part for part in parts if part) or "no arguments"


# -- the two doors ----------------------------------------------------------------------------


def rest_params(author_id: int | None, limit: int | None) -> dict[str, int]:
    params = {"author_id": author_id, "limit": limit}
    return {key: value for key, value in params.items() if value is not None}


def books_query(author_id: int | None, limit: int | None) -> str:
    arguments = [f"authorId: {author_id}" if author_id is not None else ""]
    arguments.append(f"limit: {limit}" if limit is not None else "")
    listed = ", ".join(argument for argument in arguments if argument)
    return f"{{ books{f'({listed})' if listed else ''} {{ {GRAPHQL_FIELDS} }} }}"


async def graphql(client: Any, query: str) -> dict[str, Any]:
    """POST one GraphQL query; the decoded body of the 200."""
    response = await client.post("/graphql", json={"query": query})
    expect_status(response, 200, help=NOT_MOUNTED if response.status_code in (404, 405) else None)
    body = response_json(response)
    expect(isinstance(body, dict), f"expected a GraphQL result object, not {body!r}")
    return body


def expect_data(body: dict[str, Any], expected: dict[str, Any], *, help: str | None = None):
    """A GraphQL result with exactly this data and no errors list."""
    errors = body.get("errors")
    if errors is not None:
        messages = [error.get("message") for error in errors]
        unknown = any("Cannot query field" in str(message) for message in messages)
        raise Failure(
            f"expected no GraphQL errors, not {messages}", help=CAMEL_CASE if unknown else help
        )
    expect_equal("GraphQL data", expected, body.get("data"), help=help)


def expect_limit_error(body: dict[str, Any]) -> None:
    """The GraphQL answer to a limit out of range: no data, one error at path ["books"]."""
    errors = body.get("errors")
    expect(errors, f"expected a GraphQL error, not {body!r}", help=SERVICE_LIMIT)
    expect_equal("number of GraphQL errors", 1, len(errors))
    expect_equal("error message", LIMIT_MESSAGE, errors[0].get("message"), help=SERVICE_LIMIT)
    expect_equal("error path", ["books"], errors[0].get("path"))
    expect_equal("GraphQL data", None, body.get("data"))


@pytest.fixture
def app(exercise: ModuleType) -> Any:
    return exercise.app


# -- the service layer ------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", DATASETS)
async def test_service_lists_books(exercise, app, database_url, dataset):
    """list_books returns the books as BookOut models, filtered, ordered and limited"""
    books = DATASETS[dataset]
    async with running(app):
        await seed(database_url, books)
        async with session_on(database_url) as session:
            for author_id, limit in QUERIES:
                arguments = rest_params(author_id, limit)
                found = await exercise.list_books(session, **arguments)
                expect(
                    isinstance(found, list)
                    and all(isinstance(book, exercise.BookOut) for book in found),
                    f"expected list_books to return a list of BookOut, not {found!r}",
                    help=NOT_SERVICE,
                )
                expect_equal(
                    f"books from list_books({described(author_id, limit)})",
                    expected_list(books, author_id, limit),
                    [book.model_dump() for book in found],
                    help=ZERO_ID if author_id == 0 else NOT_SERVICE,
                )


async def test_service_gets_one_book(exercise, app, database_url):
    """get_book returns the book as a BookOut model, or None for an unknown id"""
    async with running(app):
        await seed(database_url, SMALL)
        async with session_on(database_url) as session:
            for book in (SMALL[0], SMALL[6], SMALL[-1]):
                found = await exercise.get_book(session, book[0])
                expect(
                    isinstance(found, exercise.BookOut),
                    f"expected get_book({book[0]}) to return a BookOut, not {found!r}",
                    help=NOT_SERVICE,
                )
                expect_equal(f"book from get_book({book[0]})", row(book), found.model_dump())
            for unknown in (0, 12, 99):
                found = await exercise.get_book(session, unknown)
                expect_equal(f"result of get_book({unknown})", None, found)


@pytest.mark.parametrize("limit", [0, -1, 51, 1000])
async def test_service_refuses_limit_out_of_range(exercise, app, database_url, limit):
    """list_books raises ValueError("limit must be between 1 and 50") for a limit out of range"""
    async with running(app):
        await seed(database_url, SMALL)
        async with session_on(database_url) as session:
            try:
                found = await exercise.list_books(session, limit=limit)
            except ValueError as error:
                expect_equal("ValueError message", LIMIT_MESSAGE, str(error), help=SERVICE_LIMIT)
            except NotImplementedError:
                raise Failure("list_books is not written yet", help=SERVICE_LIMIT) from None
            else:
                raise Failure(
                    f"expected list_books(limit={limit}) to raise ValueError, "
                    f"not to return {len(found)} books",
                    help=SERVICE_LIMIT,
                )


# -- REST ----------------------------------------------------------------------------------


@pytest.mark.stub_may_pass("the stub's REST routes already answer by the contract")
@pytest.mark.parametrize("dataset", DATASETS)
async def test_rest_lists_books(app, database_url, dataset):
    """GET /books answers the books filtered by author_id, ordered and limited"""
    books = DATASETS[dataset]
    async with running(app) as (client, _):
        await seed(database_url, books)
        for author_id, limit in QUERIES:
            response = await client.get("/books", params=rest_params(author_id, limit))
            expect_status(response, 200)
            help = DEFAULT if limit is None and len(books) > DEFAULT_LIMIT else None
            expect_json(response, expected_list(books, author_id, limit), help=help)


@pytest.mark.stub_may_pass("the stub's REST routes already answer by the contract")
async def test_rest_reads_one_book(app, database_url):
    """GET /books/{id} answers the book, or 404 {"detail": "Book <id> not found."}"""
    async with running(app) as (client, _):
        await seed(database_url, SMALL)
        for book in (SMALL[0], SMALL[-1]):
            response = await client.get(f"/books/{book[0]}")
            expect_status(response, 200)
            expect_json(response, row(book))
        for unknown in (0, 12):
            response = await client.get(f"/books/{unknown}")
            expect_status(response, 404)
            expect_json(response, {"detail": f"Book {unknown} not found."})


@pytest.mark.stub_may_pass("the stub's REST routes already validate limit")
@pytest.mark.parametrize(("limit", "status"), [(0, 422), (1, 200), (50, 200), (51, 422)])
async def test_rest_limit_bounds(app, database_url, limit, status):
    """GET /books takes a limit from 1 to 50; outside that range it answers 422"""
    async with running(app, raise_app_exceptions=False) as (client, _):
        await seed(database_url, LARGE)
        response = await client.get("/books", params={"limit": limit})
        expect_status(response, status)
        if status == 422:
            locations = [error.get("loc") for error in response_json(response).get("detail", [])]
            expect_equal("locations of the validation errors", [["query", "limit"]], locations)
        else:
            expect_json(response, expected_list(LARGE, None, limit))


# -- GraphQL -------------------------------------------------------------------------------


async def test_graphql_is_mounted_without_graphiql(app, database_url):
    """the GraphQL API answers POST /graphql, and GET /graphql serves no GraphiQL page"""
    async with running(app) as (client, _):
        expect_data(await graphql(client, "{ __typename }"), {"__typename": "Query"})
        response = await client.get("/graphql", headers={"accept": "text/html"})
        expect_status(response, 404, help=GRAPHIQL)


@pytest.mark.parametrize("dataset", DATASETS)
async def test_graphql_lists_books(app, database_url, dataset):
    """query books(authorId, limit) answers the same books as REST, in camelCase"""
    books = DATASETS[dataset]
    async with running(app) as (client, _):
        await seed(database_url, books)
        for author_id, limit in QUERIES:
            body = await graphql(client, books_query(author_id, limit))
            expected = as_graphql(expected_list(books, author_id, limit))
            help = DEFAULT if limit is None and len(books) > DEFAULT_LIMIT else DIFFERENT
            expect_data(body, {"books": expected}, help=ZERO_ID if author_id == 0 else help)


async def test_both_doors_agree(app, database_url):
    """for every query, the GraphQL list is the REST list field by field, renamed to camelCase"""
    async with running(app) as (client, _):
        await seed(database_url, SMALL + [(n + 100, *rest) for n, *rest in LARGE])
        for author_id, limit in QUERIES:
            response = await client.get("/books", params=rest_params(author_id, limit))
            expect_status(response, 200)
            through_rest = as_graphql(response_json(response))
            body = await graphql(client, books_query(author_id, limit))
            expect_data(body, {"books": through_rest}, help=DIFFERENT)


async def test_graphql_reads_one_book(app, database_url):
    """query book(id) answers the book, or null with no errors for an unknown id"""
    async with running(app) as (client, _):
        await seed(database_url, SMALL)
        for book in (SMALL[0], SMALL[-1]):
            body = await graphql(client, f"{{ book(id: {book[0]}) {{ {GRAPHQL_FIELDS} }} }}")
            expect_data(body, {"book": as_graphql([row(book)])[0]})
        for unknown in (0, 12):
            body = await graphql(client, f"{{ book(id: {unknown}) {{ id }} }}")
            expect_data(body, {"book": None}, help=NULL_NOT_ERROR)


@pytest.mark.parametrize("limit", [0, 51])
async def test_graphql_refuses_limit_out_of_range(app, database_url, limit):
    """books(limit) outside 1..50 answers data null and one error at path ["books"]"""
    async with running(app) as (client, _):
        await seed(database_url, LARGE)
        expect_limit_error(await graphql(client, f"{{ books(limit: {limit}) {{ id }} }}"))


@pytest.mark.parametrize("limit", [1, 50])
async def test_graphql_accepts_limit_in_range(app, database_url, limit):
    """books(limit) takes 1 and 50, the ends of the range"""
    async with running(app) as (client, _):
        await seed(database_url, LARGE)
        body = await graphql(client, f"{{ books(limit: {limit}) {{ id }} }}")
        expected = [{"id": item["id"]} for item in expected_list(LARGE, None, limit)]
        expect_data(body, {"books": expected})


# -- the lifespan ----------------------------------------------------------------------------


@contextmanager
def open_connections() -> Iterator[list[int]]:
    """Database connections opened less those closed, by any pool, while the block ran."""
    balance = [0]

    def opened(*args: Any) -> None:
        balance[0] += 1

    def closed(*args: Any) -> None:
        balance[0] -= 1

    event.listen(Pool, "connect", opened)
    event.listen(Pool, "close", closed)
    try:
        yield balance
    finally:
        event.remove(Pool, "connect", opened)
        event.remove(Pool, "close", closed)


@pytest.mark.stub_may_pass("the lifespan is given")
async def test_connections_closed_at_shutdown(app, database_url):
    """when the app shuts down, every database connection it opened is closed"""
    with open_connections() as balance:
        async with running(app) as (client, _):
            await seed(database_url, SMALL)
            expect_status(await client.get("/books"), 200)
            await graphql(client, "{ books { id } }")
    expect_equal("connections still open after shutdown", 0, balance[0], help=NOT_DISPOSED)
