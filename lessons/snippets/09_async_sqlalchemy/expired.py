from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str]


class NoteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    text: str


async def add_note(sessions: async_sessionmaker[AsyncSession], text: str) -> NoteOut:
    async with sessions() as session:
        note = Note(text=text)
        session.add(note)
        await session.commit()
        return NoteOut.model_validate(note)  # reads note.id and note.text after the commit
