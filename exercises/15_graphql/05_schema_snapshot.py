"""Write the tests: a schema snapshot, and a check for changes that break clients.

The GraphQL schema below is given and correct. Your job is the part underneath it: two tests
that keep it from changing by accident. The checks run your tests against this app, where
every test must pass, and against copies of it with one change planted in the schema each.
Some of those changes break clients: a field removed or renamed, a field (or a list's
items) made nullable, an argument's type changed, a required argument added, an enum value
or a type removed. Others break none: a new optional field, a new optional argument, a new
enum value, or the removal of a field that was never published. Run your tests yourself
with `pytest exercises/15_graphql/05_schema_snapshot.py`; `print(schema.as_str())` shows
the SDL.

The contract of your code (the checks rely on it):
- `SNAPSHOT` holds, as text pasted into this file, exactly the SDL that `schema.as_str()`
  gives for the app as given (no newline added at either end). It must not be computed
  from `schema`: a snapshot that follows the schema can never fail.
- `test_schema_matches_snapshot` (keep this name) passes when `schema.as_str()` equals
  SNAPSHOT and fails on any difference at all, safe or not: a deliberate change updates
  SNAPSHOT in the same commit. Its assertion's message shows every line that changed, as
  `difflib.unified_diff(SNAPSHOT's lines, the schema's lines)` writes them: each line of
  SNAPSHOT the schema lost as `-<line>`, each line it gained as `+<line>` (spaces after the
  sign, and blank lines, do not matter).
- `test_no_breaking_changes` (keep this name) compares the schema with `PUBLISHED_SDL`
  (given: do not edit; the schema as released, which clients use), not with SNAPSHOT. It
  fails exactly when `graphql.find_breaking_changes(old, new)` returns a change, `old`
  built from PUBLISHED_SDL and `new` from the schema's SDL (`graphql.build_schema`), and
  its message holds each change's `description`. What `find_dangerous_changes` reports
  (a new enum value, a new optional argument, a changed default) does not fail it.
- The checks run your tests without pytest's assertion rewriting: what a failing assert
  says is the message you write after its comma. Tests are module-level
  `async def test_<name>(...)` functions whose parameters are fixtures defined in this file
  (or pytest's `monkeypatch`); the checks provide no other fixture. You may write more
  tests; every one must pass on this app.
"""

from enum import Enum

import strawberry
from graphql import build_schema

# --- the catalogue (given: do not edit) -----------------------------------------------


def catalogue() -> list["Book"]:
    """Every book, made with the types of the app below."""
    le_guin = Author(id=strawberry.ID("1"), name="Ursula K. Le Guin")
    butler = Author(id=strawberry.ID("2"), name="Octavia E. Butler")
    return [
        Book(
            id=strawberry.ID("1"),
            title="A Wizard of Earthsea",
            subtitle=None,
            year=1968,
            format=Format.PAPERBACK,
            author=le_guin,
        ),
        Book(
            id=strawberry.ID("2"),
            title="Kindred",
            subtitle=None,
            year=1979,
            format=Format.EBOOK,
            author=butler,
        ),
    ]


def find_books(format: "Format | None", limit: int) -> list["Book"]:
    return [book for book in catalogue() if format in (None, book.format)][:limit]


def find_book(id: str) -> "Book | None":
    return next((book for book in catalogue() if book.id == id), None)


# --- the app under test (given: do not edit) ------------------------------------------


@strawberry.enum
class Format(Enum):
    HARDCOVER = "hardcover"
    PAPERBACK = "paperback"
    EBOOK = "ebook"


@strawberry.type
class Author:
    id: strawberry.ID
    name: str


@strawberry.type
class Book:
    id: strawberry.ID
    title: str
    subtitle: str | None
    year: int
    format: Format
    author: Author


@strawberry.type
class Query:
    @strawberry.field
    def books(self, format: Format | None = None, limit: int = 10) -> list[Book]:
        return find_books(format, limit)

    @strawberry.field
    def book(self, id: strawberry.ID) -> Book | None:
        return find_book(id)


schema = strawberry.Schema(query=Query)

# --- the tests ------------------------------------------------------------------------

# the schema as released: what the clients in production were built against (given)
PUBLISHED_SDL = """\
type Author {
  id: ID!
  name: String!
}

type Book {
  id: ID!
  title: String!
  year: Int!
  format: Format!
  author: Author!
}

enum Format {
  HARDCOVER
  PAPERBACK
  EBOOK
}

type Query {
  books(format: Format = null, limit: Int! = 10): [Book!]!
  book(id: ID!): Book
}"""

SNAPSHOT = ""  # TODO: Paste here, as text, the SDL that schema.as_str() gives for the app above.


async def test_schema_matches_snapshot() -> None:
    """The schema is exactly SNAPSHOT (keep this name)."""
    sdl = schema.as_str()
    # TODO: Fail unless sdl equals SNAPSHOT, with a unified diff of SNAPSHOT's lines and sdl's.
    assert sdl


async def test_no_breaking_changes() -> None:
    """Nothing a client of PUBLISHED_SDL relies on is gone or changed (keep this name)."""
    published = build_schema(PUBLISHED_SDL)
    # TODO: Fail when find_breaking_changes(published, <the schema>) finds a change, naming each.
    assert published
