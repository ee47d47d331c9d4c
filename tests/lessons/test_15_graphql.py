"""Every snippet of lessons/15-graphql.md runs and does what the page says.

The checks that start an app over the catalogue request ``database_url``: a fresh SQLite file
here, a fresh PostgreSQL database when ``DATABASE_URL`` names a server. Statements are counted
with ``count_statements()``, the counter the exercises' checks use.
"""

import importlib.util
import itertools
import logging
import re
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import pytest
import strawberry
import strawberry.dataloader
from fastapi import Depends, FastAPI, Request
from graphql import GraphQLError
from sqlalchemy import event, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.extensions import MaskErrors
from strawberry.fastapi import GraphQLRouter

from workbook.services import count_statements
from workbook.testing import running

ROOT = Path(__file__).resolve().parents[2]
LESSON = ROOT / "lessons" / "15-graphql.md"
SNIPPETS = ROOT / "lessons" / "snippets" / "15_graphql"
TESTED = {
    "catalogue.py",
    "two_apis.py",
    "context.py",
    "loaders.py",
    "errors.py",
    "snapshot.py",
}
NEIGHBOURS = ("catalogue", "two_apis")  # the snippets others import
ALICE = {"Authorization": "Bearer token-alice"}  # an editor
BOB = {"Authorization": "Bearer token-bob"}


def registered_copy(path: Path) -> ModuleType:
    """`load_copy`, with the copy in `sys.modules` while it runs and after: Strawberry
    resolves a type's annotations through the module its class was defined in."""
    copy = f"_lesson_15_{path.stem}_{next(_copies)}"
    spec = importlib.util.spec_from_file_location(copy, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[copy] = module
    spec.loader.exec_module(module)
    return module


_copies = itertools.count()


def fresh(filename: str) -> ModuleType:
    """A new copy of a snippet, importing new copies of the snippets it names."""
    for name in NEIGHBOURS:
        sys.modules.pop(name, None)
    sys.modules["catalogue"] = registered_copy(SNIPPETS / "catalogue.py")
    if filename == "catalogue.py":
        return sys.modules["catalogue"]
    if filename == "snapshot.py":
        sys.modules["two_apis"] = registered_copy(SNIPPETS / "two_apis.py")
    return registered_copy(SNIPPETS / filename)


@pytest.fixture(autouse=True)
def _forget_neighbours() -> Iterator[None]:
    yield
    for name in NEIGHBOURS:
        sys.modules.pop(name, None)


async def seed(sessions: async_sessionmaker[AsyncSession], books: int, authors: int = 0) -> None:
    """`books` books; each with an author of its own, or shared round-robin by `authors`."""
    catalogue = sys.modules["catalogue"]
    authors = authors or books
    if books == 0:
        return
    async with sessions() as session:
        await session.execute(
            insert(catalogue.Author),
            [{"id": n, "name": f"author {n}"} for n in range(1, authors + 1)],
        )
        await session.execute(
            insert(catalogue.Book),
            [
                {"id": n, "title": f"book {n}", "author_id": (n - 1) % authors + 1}
                for n in range(1, books + 1)
            ],
        )
        await session.commit()


async def graphql(client: Any, query: str, headers: Any = None, **variables: Any) -> Any:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers or {}
    )
    assert response.status_code == 200, response.text  # GraphQL errors are 200s too
    return response.json()


def test_every_snippet_is_on_the_page_and_tested() -> None:
    files = {path.name for path in SNIPPETS.glob("*.py")}
    included = set(re.findall(r'--8<-- "15_graphql/(\w+\.py)', LESSON.read_text()))
    assert files == TESTED
    assert files == included


# -- two_apis.py: one service, two front doors ------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 7])
async def test_rest_and_graphql_return_the_same_books(database_url: str, size: int) -> None:
    two_apis = fresh("two_apis.py")
    async with running(two_apis.app) as (client, state):
        await seed(state["sessions"], size)
        rest = (await client.get("/books")).json()
        data = (await graphql(client, "{ books { id title authorId } }"))["data"]["books"]
    assert len(rest) == size
    assert rest == [
        {"id": book["id"], "title": book["title"], "author_id": book["authorId"]} for book in data
    ]


async def test_not_found_is_a_404_in_rest_and_null_in_graphql(database_url: str) -> None:
    two_apis = fresh("two_apis.py")
    async with running(two_apis.app) as (client, state):
        await seed(state["sessions"], 1)
        missing = await client.get("/books/9")
        found = await graphql(client, "{ book(id: 1) { title } }")
        answer = await graphql(client, "{ book(id: 9) { title } }")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "There is no book 9."}
    assert found == {"data": {"book": {"title": "book 1"}}}
    assert answer == {"data": {"book": None}}  # no "errors" key at all


@pytest.mark.parametrize(("limit", "accepted"), [(0, False), (1, True), (50, True), (51, False)])
async def test_one_limit_rule_at_both_doors(database_url: str, limit: int, accepted: bool) -> None:
    two_apis = fresh("two_apis.py")
    async with running(two_apis.app) as (client, state):
        await seed(state["sessions"], 3)
        rest = await client.get("/books", params={"limit": limit})
        answer = await graphql(client, f"{{ books(limit: {limit}) {{ id }} }}")
    if accepted:
        assert rest.status_code == 200
        assert answer == {"data": {"books": [{"id": n} for n in range(1, min(limit, 3) + 1)]}}
        return
    assert rest.status_code == 422
    assert rest.json()["detail"][0]["loc"] == ["query", "limit"]
    assert answer["data"] is None  # `books` is non-null: its error nulls the whole data
    assert answer["errors"] == [
        {
            "message": f"limit must be between 1 and 50, not {limit}",
            "locations": [{"line": 1, "column": 3}],
            "path": ["books"],
        }
    ]


async def test_graphiql_is_served_only_when_asked(database_url: str) -> None:
    two_apis = fresh("two_apis.py")
    html = {"Accept": "text/html"}
    async with running(two_apis.create_app(graphiql=False)) as (client, _):
        off = await client.get("/graphql", headers=html)
    async with running(two_apis.create_app(graphiql=True)) as (client, _):
        on = await client.get("/graphql", headers=html)
    assert off.status_code == 404
    assert on.status_code == 200
    assert "<title>Strawberry GraphiQL</title>" in on.text


async def test_get_answers_queries_and_refuses_mutations(database_url: str) -> None:
    context = fresh("context.py")
    async with running(context.app) as (client, _):
        query = await client.get("/graphql", params={"query": "{ me { username } }"})
        mutation = await client.get(
            "/graphql", params={"query": 'mutation { addAuthor(name: "x", titles: []) }'}
        )
    assert query.json() == {"data": {"me": None}}
    assert mutation.status_code == 400
    assert mutation.text == "mutations are not allowed when using GET"


# -- context.py: the context is a FastAPI dependency -------------------------------------------


async def test_one_session_per_request_shared_by_its_resolvers(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_apis = fresh("two_apis.py")
    seen: list[AsyncSession] = []

    def recording(service: Any) -> Any:
        async def call(session: AsyncSession, *args: Any) -> Any:
            seen.append(session)
            return await service(session, *args)

        return call

    monkeypatch.setattr(two_apis, "list_books", recording(two_apis.list_books))
    monkeypatch.setattr(two_apis, "get_book", recording(two_apis.get_book))
    async with running(two_apis.app) as (client, state):
        await seed(state["sessions"], 2)
        engine = state["sessions"].kw["bind"]
        query = "{ books { id } first: book(id: 1) { id } second: book(id: 2) { id } }"
        await graphql(client, query)
        first_request = list(seen)
        await graphql(client, query)
        checked_out = engine.pool.checkedout()
    assert len(first_request) == 3
    assert len({id(session) for session in first_request}) == 1  # one session, three resolvers
    assert seen[3] is not seen[0]  # the next request has its own
    assert checked_out == 0  # and each was closed, its connection back in the pool


@pytest.fixture
def timeline() -> Iterator[list[str]]:
    """Commits of any engine in the process, in order with what the test appends."""
    steps: list[str] = []

    def committed(connection: Any) -> None:
        steps.append("commit")

    event.listen(Engine, "commit", committed)
    try:
        yield steps
    finally:
        event.remove(Engine, "commit", committed)


def noting_response_start(app: Any, steps: list[str]) -> Any:
    async def serve(scope: Any, receive: Any, send: Any) -> None:
        async def note(message: Any) -> None:
            if message["type"] == "http.response.start":
                steps.append("response starts")
            await send(message)

        await app(scope, receive, note)

    return serve


ADD = "mutation ($name: String!, $titles: [String!]!) { addAuthor(name: $name, titles: $titles) }"


async def test_the_commit_comes_before_the_response(database_url: str, timeline: list[str]) -> None:
    context = fresh("context.py")
    async with running(noting_response_start(context.app, timeline)) as (client, _):
        timeline.clear()  # create_all committed at start-up
        answer = await graphql(client, ADD, ALICE, name="Ursula", titles=["Lathe"])
    assert answer == {"data": {"addAuthor": 1}}
    assert timeline == ["commit", "response starts"]


async def test_with_the_default_scope_the_commit_comes_after_the_response(
    database_url: str, timeline: list[str]
) -> None:
    context = fresh("context.py")
    catalogue = sys.modules["catalogue"]

    async def late_context(
        session: Annotated[AsyncSession, Depends(catalogue.get_session)],  # scope="request"
        user: Annotated[Any, Depends(context.current_user)],
    ) -> Any:
        return context.Context(session, user)

    app = FastAPI(lifespan=catalogue.lifespan)
    app.include_router(
        GraphQLRouter(context.schema, context_getter=late_context), prefix="/graphql"
    )
    async with running(noting_response_start(app, timeline)) as (client, _):
        timeline.clear()
        await graphql(client, ADD, ALICE, name="Ursula", titles=["Lathe"])
    assert timeline == ["response starts", "commit"]


async def test_me_is_the_user_or_null(database_url: str) -> None:
    context = fresh("context.py")
    async with running(context.app) as (client, _):
        alice = await graphql(client, "{ me { username editor } }", ALICE)
        nobody = await graphql(client, "{ me { username editor } }")
        stranger = await graphql(client, "{ me { username } }", {"Authorization": "Bearer x"})
    assert alice == {"data": {"me": {"username": "alice", "editor": True}}}
    assert nobody == {"data": {"me": None}}
    assert stranger == {"data": {"me": None}}


async def count_rows(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    catalogue = sys.modules["catalogue"]
    async with sessions() as session:
        authors = await session.scalar(select(func.count()).select_from(catalogue.Author))
        books = await session.scalar(select(func.count()).select_from(catalogue.Book))
    return authors or 0, books or 0


async def test_a_mutation_needs_a_user(database_url: str) -> None:
    context = fresh("context.py")
    async with running(context.app) as (client, state):
        refused = await graphql(client, ADD, name="Ursula", titles=["Lathe"])
        rows = await count_rows(state["sessions"])
    assert refused == {
        "data": None,
        "errors": [
            {
                "message": "Sign in to add authors.",
                "locations": [{"line": 1, "column": 50}],
                "path": ["addAuthor"],
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ],
    }
    assert rows == (0, 0)


async def test_a_failing_mutation_undoes_its_own_writes(database_url: str) -> None:
    context = fresh("context.py")
    async with running(context.app) as (client, state):
        failed = await graphql(client, ADD, ALICE, name="Ursula", titles=["Lathe", " "])
        rows = await count_rows(state["sessions"])
    assert failed["errors"][0]["message"] == "A title cannot be blank."
    assert rows == (0, 0)  # the savepoint was rolled back; the commit kept nothing


async def test_a_resolver_error_never_reaches_the_session_dependency(database_url: str) -> None:
    context = fresh("context.py")
    catalogue = sys.modules["catalogue"]

    @strawberry.type
    class Mutation:
        @strawberry.mutation
        async def add_author(self, info: context.Info, name: str) -> int:
            info.context.session.add(catalogue.Author(name=name))
            await info.context.session.flush()
            raise ValueError("the second step failed")

    schema = strawberry.Schema(query=context.Query, mutation=Mutation)
    app = FastAPI(lifespan=catalogue.lifespan)
    app.include_router(GraphQLRouter(schema, context_getter=context.get_context), prefix="/graphql")
    async with running(app) as (client, state):
        answer = await graphql(client, 'mutation { addAuthor(name: "half done") }', ALICE)
        rows = await count_rows(state["sessions"])
    assert answer["errors"][0]["message"] == "the second step failed"
    assert rows == (1, 0)  # get_session saw no exception, and committed the flushed author


async def test_dependency_overrides_reach_the_graphql_route(database_url: str) -> None:
    context = fresh("context.py")
    catalogue = sys.modules["catalogue"]
    opened: list[AsyncSession] = []

    async def counted_session(request: Request) -> AsyncIterator[AsyncSession]:
        async with request.state["sessions"]() as session:
            opened.append(session)
            yield session
            await session.commit()

    async def always_alice() -> Any:
        return context.TOKENS["token-alice"]

    context.app.dependency_overrides[catalogue.get_session] = counted_session
    context.app.dependency_overrides[context.current_user] = always_alice
    async with running(context.app) as (client, _):
        me = await graphql(client, "{ me { username } }")  # no Authorization header
    assert me == {"data": {"me": {"username": "alice"}}}
    assert len(opened) == 1


# -- loaders.py: a DataLoader per request ------------------------------------------------------

BOOKS_WITH_AUTHORS = "{ books(limit: 50) { title author { name } } }"


@pytest.mark.parametrize(("size", "one_by_one"), [(1, 2), (5, 6), (25, 26)])
async def test_statements_per_request_at_each_size(
    database_url: str, size: int, one_by_one: int
) -> None:
    loaders = fresh("loaders.py")
    counts = {}
    answers = []
    for name, getter in (
        ("loader", loaders.get_context),
        ("one_by_one", loaders.get_context_one_by_one),
    ):
        loaders.app.dependency_overrides[loaders.get_context] = getter
        async with running(loaders.app) as (client, state):
            if name == "loader":
                await seed(state["sessions"], size)
            with count_statements() as sent:
                answers.append(await graphql(client, BOOKS_WITH_AUTHORS))
        counts[name] = sent.count
        if name == "loader":
            assert "WHERE authors.id IN" in " ".join(sent.sql[1].split())
    assert counts == {"loader": 2, "one_by_one": one_by_one}
    assert answers[0] == answers[1]
    assert answers[0]["data"]["books"][-1] == {
        "title": f"book {size}",
        "author": {"name": f"author {size}"},
    }


async def test_the_loader_sends_each_key_once_in_one_batch(database_url: str) -> None:
    loaders = fresh("loaders.py")
    catalogue = sys.modules["catalogue"]
    batches: list[list[int]] = []
    original = catalogue.authors_by_id

    async def recording(session: AsyncSession, ids: list[int]) -> Any:
        batches.append(list(ids))
        return await original(session, ids)

    loaders.authors_by_id = recording
    async with running(loaders.app) as (client, state):
        await seed(state["sessions"], books=5, authors=2)  # authors 1, 2, 1, 2, 1
        answer = await graphql(client, BOOKS_WITH_AUTHORS)
    assert batches == [[1, 2]]
    names = [book["author"]["name"] for book in answer["data"]["books"]]
    assert names == ["author 1", "author 2", "author 1", "author 2", "author 1"]


async def test_the_load_function_answers_in_key_order_with_none_for_missing(
    database_url: str,
) -> None:
    loaders = fresh("loaders.py")
    async with running(loaders.app) as (_, state):
        await seed(state["sessions"], 3)
        async with state["sessions"]() as session:
            loader = loaders.author_loader(session)
            with count_statements() as sent:
                found = await loader.load_many([3, 99, 1])
    assert [None if author is None else author.name for author in found] == [
        "author 3",
        None,
        "author 1",
    ]
    assert sent.count == 1


async def test_a_loader_shared_across_requests_serves_stale_data(database_url: str) -> None:
    loaders = fresh("loaders.py")
    catalogue = sys.modules["catalogue"]
    kept: dict[str, Any] = {}

    async def shared_loader(session: catalogue.SessionDep) -> Any:
        context = loaders.Context(session)
        context.authors = kept.setdefault("loader", context.authors)  # the first request's
        return context

    async def rename(sessions: async_sessionmaker[AsyncSession]) -> None:
        async with sessions() as session:
            await session.execute(
                update(catalogue.Author).where(catalogue.Author.id == 1).values(name="renamed")
            )
            await session.commit()

    names, statements = {}, {}
    for label, getter in (("per request", loaders.get_context), ("shared", shared_loader)):
        loaders.app.dependency_overrides[loaders.get_context] = getter
        async with running(loaders.app) as (client, state):
            await seed(state["sessions"], 1)
            await graphql(client, BOOKS_WITH_AUTHORS)
            await rename(state["sessions"])
            with count_statements() as sent:
                answer = await graphql(client, BOOKS_WITH_AUTHORS)
            statements[label] = sent.count
            async with state["sessions"]() as session:
                await session.execute(catalogue.Book.__table__.delete())
                await session.execute(catalogue.Author.__table__.delete())
                await session.commit()
        names[label] = answer["data"]["books"][0]["author"]["name"]
    assert names == {"per request": "renamed", "shared": "author 1"}
    assert statements == {"per request": 2, "shared": 1}  # the stale name came from the cache


async def test_an_exception_in_a_keys_place_fails_that_key_alone() -> None:
    fresh("loaders.py")

    async def load(keys: list[int]) -> list[Any]:
        return [KeyError(key) if key == 2 else f"value {key}" for key in keys]

    loader = strawberry.dataloader.DataLoader(load_fn=load)
    first, second, third = loader.load(1), loader.load(2), loader.load(3)
    assert await first == "value 1"
    with pytest.raises(KeyError):
        await second
    assert await third == "value 3"


async def test_max_batch_size_splits_the_batch(database_url: str) -> None:
    loaders = fresh("loaders.py")
    catalogue = sys.modules["catalogue"]
    async with running(loaders.app) as (_, state):
        await seed(state["sessions"], 5)
        async with state["sessions"]() as session:

            async def load(ids: list[int]) -> list[Any]:
                found = await catalogue.authors_by_id(session, ids)
                return [found.get(author_id) for author_id in ids]

            loader = loaders.DataLoader(load_fn=load, max_batch_size=2)
            with count_statements() as sent:
                await loader.load_many([1, 2, 3, 4, 5])
    assert sent.count == 3


def test_a_private_field_is_not_in_the_schema() -> None:
    loaders = fresh("loaders.py")
    sdl = loaders.schema.as_str()
    assert "type Book {\n  id: Int!\n  title: String!\n  author: Author\n}" in sdl
    assert "authorId" not in sdl


# -- errors.py: errors at the right path, queries with a budget --------------------------------


async def test_a_forbidden_field_is_null_with_an_error_at_its_path() -> None:
    errors = fresh("errors.py")
    async with running(errors.app) as (client, _):
        answer = await graphql(client, "{ books { title internalNotes } }", BOB)
    assert answer["data"] == {
        "books": [
            {"title": "The Dispossessed", "internalNotes": None},
            {"title": "Kindred", "internalNotes": None},
        ]
    }
    assert answer["errors"] == [
        {
            "message": "Only editors can read internal notes.",
            "locations": [{"line": 1, "column": 17}],
            "path": ["books", n, "internalNotes"],
            "extensions": {"code": "FORBIDDEN"},
        }
        for n in (0, 1)
    ]


async def test_a_refused_non_null_field_nulls_the_whole_data() -> None:
    errors = fresh("errors.py")

    @strawberry.type
    class StrictBook:
        title: str
        internal_notes: str = strawberry.field(permission_classes=[errors.IsEditor])

    @strawberry.type
    class Query:
        @strawberry.field
        def books(self) -> list[StrictBook]:
            return [StrictBook(title="Kindred", internal_notes="cover to redo")]

    app = FastAPI()
    schema = strawberry.Schema(query=Query)
    app.include_router(GraphQLRouter(schema, context_getter=errors.get_context), prefix="/graphql")
    async with running(app) as (client, _):
        answer = await graphql(client, "{ books { title internalNotes } }", BOB)
    assert answer["data"] is None
    assert answer["errors"][0]["path"] == ["books", 0, "internalNotes"]


async def test_editors_read_the_notes() -> None:
    errors = fresh("errors.py")
    async with running(errors.app) as (client, _):
        answer = await graphql(client, "{ books { internalNotes } }", ALICE)
    assert answer == {
        "data": {"books": [{"internalNotes": "reprint in May"}, {"internalNotes": "cover to redo"}]}
    }


async def test_an_unexpected_error_is_masked_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    errors = fresh("errors.py")
    with caplog.at_level(logging.ERROR, logger="strawberry.execution"):
        async with running(errors.app) as (client, _):
            response = await client.post("/graphql", json={"query": "{ salesReport }"})
    assert response.json() == {
        "data": None,
        "errors": [
            {
                "message": "Unexpected error.",
                "locations": [{"line": 1, "column": 3}],
                "path": ["salesReport"],
            }
        ],
    }
    assert "10.0.4.7" not in response.text
    [logged] = [r for r in caplog.records if r.name == "strawberry.execution"]
    assert "10.0.4.7" in logged.getMessage()
    assert logged.exc_info is not None  # with its traceback
    assert isinstance(logged.exc_info[1], RuntimeError)


async def test_expected_errors_are_logged_too(caplog: pytest.LogCaptureFixture) -> None:
    errors = fresh("errors.py")
    with caplog.at_level(logging.ERROR, logger="strawberry.execution"):
        async with running(errors.app) as (client, _):
            await graphql(client, "{ books { internalNotes } }", BOB)
    logged = [r.getMessage() for r in caplog.records if r.name == "strawberry.execution"]
    assert len(logged) == 2
    assert all(m.startswith("Only editors can read internal notes.") for m in logged)


async def test_a_base_context_gets_the_request_set(database_url: str) -> None:
    two_apis = fresh("two_apis.py")

    @strawberry.type
    class Query:
        @strawberry.field
        def where(self, info: two_apis.Info) -> str:
            context = info.context
            return f"{type(context).__name__} {context.request.url.path} {context.response}"

    app = FastAPI(lifespan=two_apis.lifespan)
    schema = strawberry.Schema(query=Query)
    app.include_router(
        GraphQLRouter(schema, context_getter=two_apis.get_context), prefix="/graphql"
    )
    async with running(app) as (client, _):
        answer = await graphql(client, "{ where }")
    assert answer["data"]["where"].startswith("Context /graphql <starlette.responses.Response")


async def test_a_dict_context_gets_the_request_merged_in() -> None:
    errors = fresh("errors.py")

    @strawberry.type
    class Query:
        @strawberry.field
        def where(self, info: strawberry.Info) -> str:
            return f"{info.context['request'].url.path} editor={info.context['editor']}"

    app = FastAPI()
    schema = strawberry.Schema(query=Query)
    app.include_router(GraphQLRouter(schema, context_getter=errors.get_context), prefix="/graphql")
    async with running(app) as (client, _):
        answer = await graphql(client, "{ where }", ALICE)
    assert answer == {"data": {"where": "/graphql editor=True"}}


async def test_without_masking_the_exception_text_reaches_the_client() -> None:
    errors = fresh("errors.py")
    schema = strawberry.Schema(query=errors.Query)
    app = FastAPI()
    app.include_router(GraphQLRouter(schema, context_getter=errors.get_context), prefix="/graphql")
    async with running(app) as (client, _):
        answer = await graphql(client, "{ salesReport }")
    assert answer["errors"][0]["message"] == (
        "could not connect to server at 10.0.4.7:5432, user 'sales_rw'"
    )


async def test_mask_errors_by_default_masks_every_error() -> None:
    errors = fresh("errors.py")
    schema = strawberry.Schema(query=errors.Query, extensions=[MaskErrors])
    app = FastAPI()
    app.include_router(GraphQLRouter(schema, context_getter=errors.get_context), prefix="/graphql")
    async with running(app) as (client, _):
        forbidden = await graphql(client, "{ books { internalNotes } }", BOB)
        invalid = await graphql(client, "{ books { isbn } }")
    assert forbidden["errors"][0] == {
        "message": "Unexpected error.",
        "locations": [{"line": 1, "column": 11}],
        "path": ["books", 0, "internalNotes"],
    }  # the FORBIDDEN code is gone too
    assert invalid["errors"][0]["message"] == "Unexpected error."


def test_extension_instances_are_deprecated() -> None:
    errors = fresh("errors.py")
    with pytest.warns(DeprecationWarning, match="Pass the class itself, or a factory"):
        strawberry.Schema(query=errors.Query, extensions=[MaskErrors()])


def test_the_masking_rule() -> None:
    errors = fresh("errors.py")
    assert not errors.unexpected(GraphQLError("Cannot query field 'isbn' on type 'Book'."))
    assert not errors.unexpected(GraphQLError("no", original_error=GraphQLError("on purpose")))
    assert errors.unexpected(GraphQLError("x", original_error=RuntimeError("10.0.4.7")))


def counting_all_books(errors: ModuleType, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A call recorded each time a resolver asks for the books."""
    calls: list[str] = []
    original = errors.all_books

    def counted() -> Any:
        calls.append("all_books")
        return original()

    monkeypatch.setattr(errors, "all_books", counted)
    return calls


DEPTH_4 = "{ books { author { books { author { name } } } } }"
DEPTH_5 = "query Deep { books { author { books { author { books { id } } } } } }"


@pytest.mark.parametrize(("query", "refused"), [(DEPTH_4, False), (DEPTH_5, True)])
async def test_the_depth_limit_refuses_before_any_resolver_runs(
    query: str, refused: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    errors = fresh("errors.py")
    calls = counting_all_books(errors, monkeypatch)
    async with running(errors.app) as (client, _):
        answer = await graphql(client, query)
    if not refused:
        assert answer["data"]["books"][0] == {
            "author": {"books": [{"author": {"name": "Ursula K. Le Guin"}}]}
        }
        assert calls
        return
    assert answer == {
        "data": None,
        "errors": [
            {
                "message": "'Deep' exceeds maximum operation depth of 4",
                "locations": [{"line": 1, "column": 56}],
            }
        ],
    }
    assert calls == []


async def test_an_operation_without_a_name_is_anonymous() -> None:
    errors = fresh("errors.py")
    async with running(errors.app) as (client, _):
        answer = await graphql(client, DEPTH_5.removeprefix("query Deep "))
    assert [error["message"] for error in answer["errors"]] == [
        "'anonymous' exceeds maximum operation depth of 4"
    ]


@pytest.mark.parametrize(("aliases", "refused"), [(10, False), (11, True)])
async def test_the_alias_limit(
    aliases: int, refused: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    errors = fresh("errors.py")
    calls = counting_all_books(errors, monkeypatch)
    query = "{ " + " ".join(f"a{n}: books {{ id }}" for n in range(aliases)) + " }"
    async with running(errors.app) as (client, _):
        answer = await graphql(client, query)
    if refused:
        assert answer == {"data": None, "errors": [{"message": "11 aliases found. Allowed: 10"}]}
        assert calls == []
    else:
        assert len(answer["data"]) == aliases
        assert len(calls) == aliases


async def test_the_token_limit_stops_the_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    errors = fresh("errors.py")
    calls = counting_all_books(errors, monkeypatch)
    async with running(errors.app) as (client, _):
        answer = await graphql(client, "{ books { " + "id " * 500 + "} }")
    assert answer["data"] is None
    assert answer["errors"][0]["message"] == (
        "Syntax Error: Document contains more than 500 tokens. Parsing aborted."
    )
    assert calls == []


# -- snapshot.py: a schema that does not change by accident ------------------------------------

SDL = """type Book {
  id: Int!
  title: String!
  authorId: Int!
}

type Query {
  books(limit: Int! = 10): [Book!]!
  book(id: Int!): Book
}
"""


def test_as_str_prints_the_sdl() -> None:
    two_apis = fresh("two_apis.py")
    assert two_apis.schema.as_str() + "\n" == SDL


CHANGES = {
    "field removed": (
        ("  authorId: Int!\n", ""),
        ["FIELD_REMOVED: Field Book.authorId was removed."],
        [],
    ),
    "field renamed": (
        ("  title: String!", "  name: String!"),
        ["FIELD_REMOVED: Field Book.title was removed."],
        [],
    ),
    "field made nullable": (
        ("  title: String!", "  title: String"),
        ["FIELD_CHANGED_KIND: Field Book.title changed type from String! to String."],
        [],
    ),
    "argument type changed": (
        ("book(id: Int!)", "book(id: ID!)"),
        ["ARG_CHANGED_KIND: Argument Query.book(id:) has changed type from Int! to ID!."],
        [],
    ),
    "required argument added": (
        ("book(id: Int!)", "book(id: Int!, isbn: String!)"),
        ["REQUIRED_ARG_ADDED: A required argument Query.book(isbn:) was added."],
        [],
    ),
    "default changed": (
        ("limit: Int! = 10", "limit: Int! = 20"),
        [],
        ["ARG_DEFAULT_VALUE_CHANGE: Query.books(limit:) has changed defaultValue from 10 to 20."],
    ),
    "output field made non-null": (
        ("book(id: Int!): Book\n", "book(id: Int!): Book!\n"),
        [],
        [],
    ),
    "optional field added": (
        ("  authorId: Int!\n", "  authorId: Int!\n  subtitle: String\n"),
        [],
        [],
    ),
}


@pytest.mark.parametrize("change", CHANGES)
def test_what_find_breaking_changes_reports(change: str) -> None:
    snapshot = fresh("snapshot.py")
    (old, new), breaking, dangerous = CHANGES[change]
    assert snapshot.schema_changes(SDL, SDL.replace(old, new)) == (breaking, dangerous)


def test_a_nullable_argument_made_required_breaks() -> None:
    snapshot = fresh("snapshot.py")
    before = "type Query {\n  books(author: String): [String!]!\n}\n"
    after = before.replace("String)", "String!)")
    assert snapshot.schema_changes(before, after) == (
        [
            "ARG_CHANGED_KIND: Argument Query.books(author:)"
            " has changed type from String to String!."
        ],
        [],
    )


class Printed:
    """Stands in for a schema: check_snapshot only calls as_str()."""

    def __init__(self, sdl: str) -> None:
        self.sdl = sdl

    def as_str(self) -> str:
        return self.sdl.removesuffix("\n")


def test_the_snapshot_passes_when_nothing_changed(tmp_path: Path) -> None:
    snapshot = fresh("snapshot.py")
    stored = tmp_path / "schema.graphql"
    stored.write_text(SDL)
    snapshot.check_snapshot(sys.modules["two_apis"].schema, stored)


def test_a_breaking_change_fails_with_its_name_and_a_diff(tmp_path: Path) -> None:
    snapshot = fresh("snapshot.py")
    stored = tmp_path / "schema.graphql"
    stored.write_text(SDL)
    with pytest.raises(AssertionError) as failed:
        snapshot.check_snapshot(Printed(SDL.replace("  title: String!", "  title: String")), stored)
    message = str(failed.value)
    assert message.splitlines()[:2] == [
        "The schema differs from schema.graphql.",
        "BREAKING  FIELD_CHANGED_KIND: Field Book.title changed type from String! to String.",
    ]
    assert "-  title: String!\n+  title: String\n" in message


def test_a_safe_change_still_fails_until_the_snapshot_is_updated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot = fresh("snapshot.py")
    stored = tmp_path / "schema.graphql"
    stored.write_text(SDL)
    grown = Printed(SDL.replace("  authorId: Int!\n", "  authorId: Int!\n  subtitle: String\n"))
    with pytest.raises(AssertionError) as failed:
        snapshot.check_snapshot(grown, stored)
    assert "BREAKING" not in str(failed.value)
    assert "+  subtitle: String" in str(failed.value)
    monkeypatch.setenv("UPDATE_SCHEMA_SNAPSHOT", "1")
    snapshot.check_snapshot(grown, stored)
    assert "subtitle: String" in stored.read_text()


def test_the_example_test_passes_against_the_stored_snapshot() -> None:
    snapshot = fresh("snapshot.py")
    assert snapshot.SNAPSHOT == SNIPPETS / "schema.graphql"
    assert snapshot.SNAPSHOT.read_text() == SDL
    snapshot.test_the_schema_matches_its_snapshot()


def test_the_strawberry_cli_needs_its_extra() -> None:
    try:
        import libcst  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("strawberry-graphql[cli] is installed here")
    from strawberry.exceptions import MissingOptionalDependenciesError

    with pytest.raises(MissingOptionalDependenciesError):
        import strawberry.cli  # noqa: F401
