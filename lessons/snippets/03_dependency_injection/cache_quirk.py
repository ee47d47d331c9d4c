from typing import Annotated

from fastapi import Depends, FastAPI

runs: list[str] = []


async def stamp() -> None:
    runs.append("stamp")


async def load_user(_: Annotated[None, Depends(stamp, use_cache=False)]) -> str:
    runs.append("load_user")
    return "ada"


User = Annotated[str, Depends(load_user)]
app = FastAPI()


@app.get("/profile")
async def profile(user: User, author: User) -> dict[str, str]:
    return {"user": user, "author": author}
