"""A small catalogue schema (given) and the tests that keep it from changing by accident."""

import difflib
from enum import Enum

import strawberry
from graphql import build_schema, find_breaking_changes

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

SNAPSHOT = """\
type Author {
  id: ID!
  name: String!
}

type Book {
  id: ID!
  title: String!
  subtitle: String
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


async def test_schema_matches_snapshot() -> None:
    sdl = schema.as_str()
    # the message is the review: each line the schema lost (-) and gained (+)
    diff = difflib.unified_diff(SNAPSHOT.splitlines(), sdl.splitlines(), lineterm="")
    assert sdl == SNAPSHOT, "\n".join(["the schema changed; if on purpose, update SNAPSHOT", *diff])


async def test_no_breaking_changes() -> None:
    # compared with what clients use, not with SNAPSHOT: additions are safe, removals are not
    changes = find_breaking_changes(build_schema(PUBLISHED_SDL), build_schema(schema.as_str()))
    described = [change.description for change in changes]
    assert not changes, "\n".join(["changes that break clients:", *described])
