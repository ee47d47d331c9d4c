from contextlib import suppress
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Part(Base):
    __tablename__ = "parts"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(5), unique=True)
    rank: Mapped[int | None]
    made_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    kit_id: Mapped[int | None] = mapped_column(ForeignKey("parts.id"))


async def add(connection: AsyncConnection, **values: object) -> int:
    return (await connection.execute(insert(Part).values(**values).returning(Part.id))).scalar_one()


async def insert_twice(connection: AsyncConnection, savepoint: bool) -> None:
    await add(connection, code="a")
    with suppress(IntegrityError):  # carry on in the same transaction after the error
        if savepoint:
            async with connection.begin_nested():  # rolled back to, on the error
                await add(connection, code="a")
        else:
            await add(connection, code="a")


async def count_after_a_failed_insert(connection: AsyncConnection, savepoint: bool) -> int:
    await insert_twice(connection, savepoint)
    return (await connection.execute(select(func.count()).select_from(Part))).scalar_one()


async def id_after_a_failed_insert(connection: AsyncConnection) -> int:
    await insert_twice(connection, savepoint=True)
    return await add(connection, code="b")


async def unique_violation(connection: AsyncConnection) -> IntegrityError:
    await add(connection, code="a")
    try:
        await add(connection, code="a")
    except IntegrityError as exc:
        return exc
    raise AssertionError("the duplicate was accepted")


async def stored_code(connection: AsyncConnection, code: str) -> str:
    row_id = await add(connection, code=code)
    return (await connection.execute(select(Part.code).where(Part.id == row_id))).scalar_one()


async def stored_rank(connection: AsyncConnection, raw: str) -> object:
    await connection.execute(
        text("INSERT INTO parts (code, rank) VALUES ('r', :raw)"), {"raw": raw}
    )
    return (await connection.execute(text("SELECT rank FROM parts"))).scalar_one()


async def stored_time(connection: AsyncConnection, made_at: datetime) -> datetime:
    row_id = await add(connection, code="t", made_at=made_at)
    query = select(Part.made_at).where(Part.id == row_id)
    return (await connection.execute(query)).scalar_one()


async def dangling_reference(connection: AsyncConnection) -> int:
    return await add(connection, code="k", kit_id=999)  # no part 999


async def ranks_in_order(connection: AsyncConnection, nulls_last: bool = False) -> list[int | None]:
    for code, rank in (("x", 2), ("y", None), ("z", 1)):
        await add(connection, code=code, rank=rank)
    order = Part.rank.asc().nulls_last() if nulls_last else Part.rank.asc()
    return list((await connection.execute(select(Part.rank).order_by(order))).scalars())


async def codes_like(
    connection: AsyncConnection, pattern: str, ignore_case: bool = False
) -> list[str]:
    await add(connection, code="Ab")
    match = Part.code.ilike(pattern) if ignore_case else Part.code.like(pattern)
    query = select(Part.code).where(match)
    return list((await connection.execute(query)).scalars())
