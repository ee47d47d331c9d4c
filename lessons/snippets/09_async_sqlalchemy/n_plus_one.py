from sqlalchemy import ForeignKey, select
from sqlalchemy.ext.asyncio import AsyncAttrs, AsyncSession
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    joinedload,
    mapped_column,
    relationship,
    selectinload,
)


class Base(AsyncAttrs, DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    books: Mapped[list["Book"]] = relationship(back_populates="author", order_by="Book.id")


class Book(Base):
    __tablename__ = "books"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"))
    author: Mapped[Author] = relationship(back_populates="books")


# --8<-- [start:loaders]
def titles(author: Author) -> list[str]:
    return [book.title for book in author.books]  # sends no SQL only if books is loaded


async def one_by_one(session: AsyncSession) -> dict[str, list[str]]:
    authors = await session.scalars(select(Author).order_by(Author.id))
    return {
        author.name: [book.title for book in await author.awaitable_attrs.books]
        for author in authors
    }


async def with_selectinload(session: AsyncSession) -> dict[str, list[str]]:
    query = select(Author).options(selectinload(Author.books)).order_by(Author.id)
    return {author.name: titles(author) for author in await session.scalars(query)}


async def with_joinedload(session: AsyncSession) -> dict[str, list[str]]:
    query = select(Author).options(joinedload(Author.books)).order_by(Author.id)
    authors = (await session.scalars(query)).unique()  # one row per book: merge the authors
    return {author.name: titles(author) for author in authors}


async def books_with_authors(session: AsyncSession) -> list[tuple[str, str]]:
    query = select(Book).options(joinedload(Book.author)).order_by(Book.id)
    return [(book.title, book.author.name) for book in await session.scalars(query)]
    # --8<-- [end:loaders]
