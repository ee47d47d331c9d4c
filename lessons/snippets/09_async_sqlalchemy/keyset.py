from datetime import datetime

from sqlalchemy import DateTime, Index, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

Position = tuple[datetime, int]


class Base(DeclarativeBase):
    pass


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_created_at_id", "created_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    name: Mapped[str]


# --8<-- [start:pages]
ORDER = (Event.created_at, Event.id)  # id breaks ties between equal timestamps


async def page_by_offset(session: AsyncSession, page: int, size: int) -> list[Event]:
    query = select(Event).order_by(*ORDER).offset((page - 1) * size).limit(size)
    return list(await session.scalars(query))


async def page_after(
    session: AsyncSession, after: Position | None, limit: int
) -> tuple[list[Event], Position | None]:
    query = select(Event).order_by(*ORDER).limit(limit + 1)  # one extra row: is there more?
    if after is not None:
        query = query.where(tuple_(*ORDER) > after)
    rows = list(await session.scalars(query))
    page, more = rows[:limit], len(rows) > limit
    return page, (page[-1].created_at, page[-1].id) if more else None
    # --8<-- [end:pages]
