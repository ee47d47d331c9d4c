"""Hidden suite for 15_graphql/04_errors_and_limits: errors at their path, queries capped.

Every check starts the app on a fresh, empty database of its own (the `database_url`
fixture) and stores a small catalogue itself, through the engine in the app's lifespan
state: five books whose order by title is unlike their ids, three of them by one author,
two without notes. Queries are POSTed to /graphql as JSON, with a bearer token or none.
`count_statements` counts what every engine sends while one request runs: a refused query
must send none, since no resolver may run for it.
"""

import gc
import warnings
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

EDITOR = "ada-token"
READER = "bob-token"
FORBIDDEN = "Only editors can read internal notes."
UNEXPECTED = "Unexpected error."
MAX_DEPTH = 4
MAX_ALIASES = 10

AUTHORS = [{"id": 1, "name": "Ostrova"}, {"id": 2, "name": "Bellamy"}, {"id": 3, "name": "Castell"}]
BOOKS = [
    {"id": 1, "title": "Zenith", "author_id": 2, "internal_notes": "Reprint in May"},
    {"id": 2, "title": "Dusk", "author_id": 1, "internal_notes": None},
    {"id": 3, "title": "Fjord", "author_id": 2, "internal_notes": "Check the translation"},
    {"id": 4, "title": "Amber", "author_id": 2, "internal_notes": None},
    {"id": 5, "title": "Meadow", "author_id": 3, "internal_notes": "Cover to redo"},
]
BY_TITLE = sorted(BOOKS, key=lambda book: book["title"])

NOTES = "{ books { id title internalNotes } }"
NESTED_NOTES = "{ books { id author { name books { title internalNotes } } } }"
DEPTH_4 = "{ books { author { books { author { name } } } } }"
DEPTH_5 = "{ books { author { books { author { books { title } } } } } }"

SERVER_ERROR = "A 500 means the GraphQL route itself failed: does the context getter work?"
WHOLE_QUERY = (
    "The whole answer is null: is internalNotes declared non-null (str rather than "
    "str | None)? Then its error nulls the book, then the list, then all the data. A "
    "nullable field takes the error alone and the rest of the answer stays."
)
NO_ERROR = (
    "The field is null but no error says why: does the permission fail silently? The "
    "client must find one error per refused field, at its path."
)
WRONG_PATHS = (
    "An error's path names the field that failed, with the list index of its book (its "
    "position in the answer, from 0), never its id. GraphQL builds that path itself when "
    "the error is raised by the field's resolver or its permission."
)
EVERY_BOOK = (
    "Some books got no error: is the permission checked after the notes (a book without "
    "notes answered null at once)? Refuse before reading anything: every book's field."
)
NOT_REFUSED = (
    "The notes were given away: is the permission checked on internalNotes, and does it "
    "ask for the editor role (not just any user)?"
)
MASKED_TOO_MUCH = (
    "Errors raised on purpose lost their message: does MaskErrors mask every error? Give "
    "it should_mask_error, true only for errors whose original_error is not a GraphQLError."
)
LEAK = (
    "The exception's own text reached the client: an unexpected exception must become "
    '"Unexpected error." (strawberry.extensions.MaskErrors).'
)
DEPTH = (
    "A query deeper than MAX_DEPTH is refused, one exactly as deep is answered: "
    "strawberry.extensions.QueryDepthLimiter among the schema's extensions does both. Is it "
    "there, with max_depth=MAX_DEPTH, not one off?"
)
ALIASES = (
    "A query with more than MAX_ALIASES aliases is refused, one with exactly as many is "
    "answered: strawberry.extensions.MaxAliasesLimiter does both. Is it there, with "
    "max_alias_count=MAX_ALIASES?"
)
NO_LIMIT = (
    "Neither limit refused the query: are QueryDepthLimiter and MaxAliasesLimiter both "
    "among the schema's extensions?"
)
BOTH_LIMITS = (
    "Validation reports every rule a query breaks: are both limits validation rules "
    "(QueryDepthLimiter, MaxAliasesLimiter), or does one stop the query before the other "
    "looks at it?"
)
RESOLVERS_RAN = (
    "The refused query still ran resolvers, which sent SQL: a limit must refuse a query "
    "before execution, as a validation rule does (QueryDepthLimiter, MaxAliasesLimiter)."
)


@pytest.fixture
def app(exercise: ModuleType) -> Any:
    return exercise.app


async def fill(state: dict[str, Any]) -> None:
    expect("engine" in state, 'expected the lifespan state to hold "engine"')
    async with state["engine"].begin() as connection:
        await connection.execute(
            text("INSERT INTO authors (id, name) VALUES (:id, :name)"), AUTHORS
        )
        insert = text(
            "INSERT INTO books (id, title, author_id, internal_notes) "
            "VALUES (:id, :title, :author_id, :internal_notes)"
        )
        await connection.execute(insert, BOOKS)


async def ask(client: Any, query: str, token: str | None = None) -> Any:
    """POST ``query`` to /graphql, with ``token`` as a bearer token: the decoded answer."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post("/graphql", json={"query": query}, headers=headers)
    expect_status(response, 200, help=SERVER_ERROR)
    answer = response_json(response)
    expect(isinstance(answer, dict), f"expected a JSON object, not {answer!r}")
    return answer


async def counted_ask(client: Any, query: str) -> tuple[Any, Any]:
    with count_statements() as statements:
        answer = await ask(client, query, EDITOR)
    return answer, statements


def without_locations(errors: Any) -> Any:
    """The errors as the contract grades them: every key but `locations`."""
    if not isinstance(errors, list):
        return errors
    return [
        {key: value for key, value in error.items() if key != "locations"}
        if isinstance(error, dict)
        else error
        for error in errors
    ]


def by_path(errors: list[Any]) -> list[Any]:
    return sorted(
        errors, key=lambda error: str(error.get("path")) if isinstance(error, dict) else ""
    )


def forbidden_at(*path: Any) -> dict[str, Any]:
    return {"message": FORBIDDEN, "path": list(path), "extensions": {"code": "FORBIDDEN"}}


def author_name(author_id: int) -> str:
    return next(author["name"] for author in AUTHORS if author["id"] == author_id)


def books_of(author_id: int) -> list[dict[str, Any]]:
    return [book for book in BY_TITLE if book["author_id"] == author_id]


# -- notes for editors only ---------------------------------------------------------------


@pytest.mark.stub_may_pass("the stub gives the notes to everyone, editors included")
async def test_editor_reads_the_notes(app, database_url):
    """an editor reads every book's internalNotes, null where a book has none, with no error"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state)
        answer = await ask(client, NOTES, EDITOR)
    books = [
        {"id": b["id"], "title": b["title"], "internalNotes": b["internal_notes"]} for b in BY_TITLE
    ]
    expect_equal("editor's answer", {"data": {"books": books}}, answer)


def expect_refused(answer: Any, data: Any, errors: list[Any]) -> None:
    """``data`` with every note null, and exactly ``errors``, whatever their order."""
    expect(
        answer.get("data") is not None, "expected the data to be kept, not null", help=WHOLE_QUERY
    )
    if not answer.get("errors"):
        expect_equal("data", data, answer.get("data"), help=NOT_REFUSED)
        raise Failure("expected an error for each refused internalNotes, not none", help=NO_ERROR)
    expect_equal("data, every note null", data, answer["data"], help=NOT_REFUSED)
    got = without_locations(answer["errors"])
    paths = {str(error.get("path")) for error in got if isinstance(error, dict)}
    help = WRONG_PATHS
    if paths < {str(error["path"]) for error in errors}:
        help = EVERY_BOOK
    if any(isinstance(e, dict) and e.get("message") == UNEXPECTED for e in got):
        help = MASKED_TOO_MUCH
    expect_equal(
        "errors (sorted by path, locations left out)", by_path(errors), by_path(got), help=help
    )


@pytest.mark.parametrize(
    "token", [READER, None, "eve-token"], ids=["reader", "no-token", "unknown-token"]
)
async def test_others_get_null_and_an_error_per_book(app, database_url, token):
    """anyone but an editor gets every note null, the rest of the data, one error per book"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state)
        answer = await ask(client, NOTES, token)
    books = [{"id": b["id"], "title": b["title"], "internalNotes": None} for b in BY_TITLE]
    errors = [forbidden_at("books", index, "internalNotes") for index in range(len(BY_TITLE))]
    expect_refused(answer, {"books": books}, errors)


async def test_errors_at_a_nested_path(app, database_url):
    """a refused note deep in the answer has its error at its full path, every index in it"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state)
        answer = await ask(client, NESTED_NOTES, READER)
    books, errors = [], []
    for index, book in enumerate(BY_TITLE):
        written = books_of(book["author_id"])
        author = {
            "name": author_name(book["author_id"]),
            "books": [{"title": other["title"], "internalNotes": None} for other in written],
        }
        books.append({"id": book["id"], "author": author})
        errors += [
            forbidden_at("books", index, "author", "books", position, "internalNotes")
            for position in range(len(written))
        ]
    expect_refused(answer, {"books": books}, errors)


# -- unexpected errors --------------------------------------------------------------------


@pytest.mark.parametrize("token", [EDITOR, READER], ids=["editor", "reader"])
async def test_unexpected_error_is_masked(app, database_url, token):
    """an unexpected exception reaches the client as "Unexpected error." at its path, no more"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state)
        async with state["engine"].begin() as connection:
            await connection.execute(text("DROP TABLE books"))
        answer = await ask(client, NOTES, token)
    expected = {"data": None, "errors": [{"message": UNEXPECTED, "path": ["books"]}]}
    got = {**answer, "errors": without_locations(answer.get("errors"))}
    expect_equal("answer once the books table is gone", expected, got, help=LEAK)


# -- depth --------------------------------------------------------------------------------


def deep_data() -> dict[str, Any]:
    """The answer to DEPTH_4."""

    def author(author_id: int) -> dict[str, Any]:
        return {"name": author_name(author_id)}

    def books(author_id: int) -> list[dict[str, Any]]:
        return [{"author": author(b["author_id"])} for b in books_of(author_id)]

    return {"books": [{"author": {"books": books(b["author_id"])}} for b in BY_TITLE]}


def expect_refusal(what: str, message: str, answer: Any, statements: Any, help: str) -> None:
    """A refused query: null data, only errors with ``message``, no statement sent."""
    errors = without_locations(answer.get("errors"))
    expect(errors, f"expected {what} to be refused with errors, not answered", help=help)
    got = {"data": answer.get("data"), "messages": sorted({str(e.get("message")) for e in errors})}
    expect_equal(f"refusal of {what}", {"data": None, "messages": [message]}, got, help=help)
    expect_equal(f"statements sent for {what}", 0, statements.count, help=RESOLVERS_RAN)


@pytest.mark.stub_may_pass("the stub sets no limit, so a query as deep as the limit passes")
async def test_query_as_deep_as_the_limit(app, database_url):
    """a query exactly MAX_DEPTH (4) deep is answered"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state)
        answer, _ = await counted_ask(client, DEPTH_4)
    expect_equal("answer to a query 4 deep", {"data": deep_data()}, answer, help=DEPTH)


@pytest.mark.parametrize(
    ("query", "name"),
    [
        (DEPTH_5, "anonymous"),
        ("query Deep " + DEPTH_5, "Deep"),
        (
            "query Spread { books { ...Deeper } } fragment Deeper on Book "
            "{ author { books { author { books { id } } } } }",
            "Spread",
        ),
    ],
    ids=["anonymous", "named", "through-a-fragment"],
)
async def test_query_deeper_than_the_limit(app, database_url, query, name):
    """a query deeper than MAX_DEPTH is refused before any resolver runs"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state)
        answer, statements = await counted_ask(client, query)
    message = f"'{name}' exceeds maximum operation depth of {MAX_DEPTH}"
    expect_refusal(f"a query 5 deep ({name})", message, answer, statements, DEPTH)


@pytest.mark.stub_may_pass("the stub sets no limit at all")
async def test_introspection_is_not_limited(app, database_url):
    """introspection fields (__schema, __type) do not count towards the depth"""
    query = (
        "{ __schema { queryType { fields { type { ofType { ofType { ofType { name } } } } } } } }"
    )
    async with running(app, raise_app_exceptions=False) as (client, _):
        answer = await ask(client, query)
    expect(
        not answer.get("errors") and answer.get("data"),
        f"expected an introspection query 7 deep to be answered, not {answer!r}",
        help="QueryDepthLimiter leaves introspection fields out of the count by itself.",
    )


# -- aliases ------------------------------------------------------------------------------


def aliased(count: int) -> str:
    return "{ " + " ".join(f"b{n}: books {{ id }}" for n in range(count)) + " }"


@pytest.mark.stub_may_pass("the stub sets no limit, so 10 aliases pass")
async def test_as_many_aliases_as_the_limit(app, database_url):
    """a query with MAX_ALIASES (10) aliases is answered"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state)
        answer, _ = await counted_ask(client, aliased(MAX_ALIASES))
    ids = [{"id": book["id"]} for book in BY_TITLE]
    data = {f"b{n}": ids for n in range(MAX_ALIASES)}
    expect_equal("answer to 10 aliases", {"data": data}, answer, help=ALIASES)


@pytest.mark.parametrize(
    "query",
    [
        aliased(MAX_ALIASES + 1),
        "{ b0: books { ...Named } b1: books { ...Named } b2: books { id } } "
        "fragment Named on Book { t1: title t2: title a1: author { n1: name } }",
    ],
    ids=["in-the-query", "in-a-fragment-used-twice"],
)
async def test_more_aliases_than_the_limit(app, database_url, query):
    """a query with more than MAX_ALIASES aliases, fragments included, is refused unrun"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state)
        answer, statements = await counted_ask(client, query)
    message = f"{MAX_ALIASES + 1} aliases found. Allowed: {MAX_ALIASES}"
    expect_refusal("a query with 11 aliases", message, answer, statements, ALIASES)


async def test_every_limit_broken_is_reported(app, database_url):
    """a query too deep with too many aliases is refused with both errors"""
    aliases = " ".join(f"b{n}: books {{ id }}" for n in range(MAX_ALIASES))
    query = "{ " + aliases + " deep: " + DEPTH_5.removeprefix("{ ")
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state)
        answer, statements = await counted_ask(client, query)
    errors = without_locations(answer.get("errors")) or []
    messages = sorted({str(error.get("message")) for error in errors})
    expected = sorted(
        [
            f"'anonymous' exceeds maximum operation depth of {MAX_DEPTH}",
            f"{MAX_ALIASES + 1} aliases found. Allowed: {MAX_ALIASES}",
        ]
    )
    help = BOTH_LIMITS if messages else NO_LIMIT
    expect_equal("messages of the refusal", expected, messages, help=help)
    expect_equal("data of the refusal", None, answer.get("data"))
    expect_equal("statements sent for the refused query", 0, statements.count, help=RESOLVERS_RAN)


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
