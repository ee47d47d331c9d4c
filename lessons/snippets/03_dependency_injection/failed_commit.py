from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI, HTTPException


async def commit_or_fail() -> AsyncIterator[None]:
    yield
    raise HTTPException(status_code=409, detail="commit failed: a concurrent update won")


app = FastAPI()


@app.post("/function-scoped", dependencies=[Depends(commit_or_fail, scope="function")])
async def function_scoped() -> dict[str, bool]:
    return {"saved": True}


@app.post("/request-scoped", dependencies=[Depends(commit_or_fail)])
async def request_scoped() -> dict[str, bool]:
    return {"saved": True}
