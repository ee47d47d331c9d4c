import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, HTTPException, Request, status
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class AuditRow(Base):
    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    upload: Mapped[str]
    size: Mapped[int]


class State(TypedDict):
    sessions: async_sessionmaker[AsyncSession]


def sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    return request.state.sessions


Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(sessions)]


async def record_upload(sessions: async_sessionmaker[AsyncSession], upload: str, size: int) -> None:
    async with sessions() as session, session.begin():  # its own session, its own transaction
        session.add(AuditRow(upload=upload, size=size))


router = APIRouter()


@router.put("/uploads/{upload_id}", status_code=status.HTTP_201_CREATED)
async def upload(
    upload_id: str, request: Request, tasks: BackgroundTasks, sessions: Sessions
) -> dict[str, int | str]:
    size = sum([len(chunk) async for chunk in request.stream()])
    if size == 0:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "Empty upload")
    tasks.add_task(record_upload, sessions, upload_id, size)  # runs after the response
    return {"id": upload_id, "size": size}


def create_app(database_url: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        engine = create_async_engine(database_url)
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        yield {"sessions": async_sessionmaker(engine, expire_on_commit=False)}
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    return app


app = create_app(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///audit.sqlite3"))
